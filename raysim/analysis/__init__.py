"""Analysis of sweep results: per-configuration tables and the Markdown + PNG report.

>>> from raysim.analysis import write_report
>>> write_report("results/sweeps/sweep_default-20250101-120000")  # -> .../report/report.md
"""

from raysim.analysis.report import write_report
from raysim.analysis.tables import best, print_summary, summarize

__all__ = ["best", "print_summary", "summarize", "write_report"]
