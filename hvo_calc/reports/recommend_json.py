"""Recommend as JSON: the report model as is."""

from hvo_calc.reports.compare_json import render as render

__all__ = ["render"]
