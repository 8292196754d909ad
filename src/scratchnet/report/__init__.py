"""Run folders and their self-contained HTML reports.

* :class:`RunFolder` records a run (configuration, metrics, text, tables,
  figures, files) in ``run.json``, atomically after every addition.
* :func:`build_report` turns a run folder's ``run.json`` into ``report.html``:
  one file, figures embedded, no network, readable offline and printable.
* :func:`default_run_dir` names a fresh folder ``runs/<command>-<timestamp>``.
"""

from .html import build_report, render_report
from .run import REPORT_HTML, RUN_JSON, RunFolder, default_run_dir, read_run_json

__all__ = [
    "REPORT_HTML",
    "RUN_JSON",
    "RunFolder",
    "build_report",
    "default_run_dir",
    "read_run_json",
    "render_report",
]
