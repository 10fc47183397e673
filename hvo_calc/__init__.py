"""hvo-calc: capacity planning for Linux HugeTLB Vmemmap Optimization (HVO)."""

__version__ = "0.1.0"
