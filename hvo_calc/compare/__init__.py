"""Deciding: what-if scenarios planned side by side, and recommended layouts.

Every scenario is a full `plan()` (same engine, same verification); this room only builds the
requests, runs them, and computes the figures and differences the renderers show.
"""
