"""Run folders: where every scratchnet command leaves what it did.

A run folder holds ``run.json`` (the record of the run: command, configuration,
versions, metrics, text, tables, figures, files), the PNG figures and files the
run saved, and ``report.html``, one self-contained page built from ``run.json``.

``run.json`` is rewritten atomically after every addition, so a run that is
killed midway still leaves a valid record, and ``scratchnet report RUN_DIR``
can rebuild the page from it.

Typical use in a command::

    run = RunFolder(args.out or default_run_dir("xor"), "xor", args)
    run.add_text("What this run shows", explanation)
    fig, ax = new_figure(6.0, 3.5)
    ax.plot(losses)
    run.save_figure(fig, "loss.png", "Training loss per epoch.")
    run.add_table("Predictions", ["x1", "x2", "target", "output"], rows)
    run.add_metrics({"final loss": losses[-1], "accuracy": acc}, formats={"accuracy": ".1%"})
    model.save(run.path / "model.npz")
    run.add_file("model.npz", "Trained weights; load with scratchnet.io.load_model.")
    report = run.finish()

or ``with RunFolder(...) as run: ...``, which finishes the run on exit and
records an exception (status ``"failed"``) or Ctrl-C (``"interrupted"``).

run.json format (``format_version`` 1)::

    {
      "format": "scratchnet-run", "format_version": 1,
      "title": str, "command": str, "argv": [str, ...], "config": {...},
      "status": "running" | "finished" | "failed" | "interrupted", "error": str | null,
      "started": ISO-8601, "updated": ISO-8601, "finished": ISO-8601 | null,
      "duration_s": float | null,
      "environment": {"scratchnet": str, "python": str, "numpy": str,
                      "matplotlib": str, "platform": str},
      "metrics": {name: number | str | bool | null}, "metric_formats": {name: spec},
      "sections": [
        {"kind": "text", "title": str, "text": str},
        {"kind": "table", "title": str, "columns": [str], "rows": [[cell]],
         "formats": {column: spec}, "caption": str | null},
        {"kind": "figure", "title": str | null, "file": str, "caption": str}
      ],
      "files": [{"file": str, "description": str}]
    }

Numbers stay numbers. JSON has no NaN or infinity, so non-finite floats are
stored as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import enum
import json
import math
import os
import platform
import re
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from .. import __version__
from ..errors import ConfigError, FileFormatError
from ..fileio import atomic_write_text
from ..plots.base import DEFAULT_DPI, savefig_atomic

RUN_JSON = "run.json"
REPORT_HTML = "report.html"
FORMAT_NAME = "scratchnet-run"
FORMAT_VERSION = 1
STATUSES = ("running", "finished", "failed", "interrupted")

# Command names become folder names: keep them to a portable, URL-safe set.
_COMMAND_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Names of files inside a run folder: relative POSIX paths of safe characters,
# so they work as folder entries on every OS and as relative links in HTML.
_FILENAME_PART_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_RESERVED_NAMES = frozenset({RUN_JSON, REPORT_HTML})
# argparse attributes that are CLI plumbing rather than configuration.
_NAMESPACE_PLUMBING = frozenset({"func", "command"})


def default_run_dir(
    command: str, root: str | os.PathLike = "runs", now: _dt.datetime | None = None
) -> Path:
    """``Path(root) / f"{command}-{YYYYmmdd-HHMMSS}"``, made unique if it already exists.

    When that folder exists (two runs in the same second), ``-2``, ``-3``, ...
    is appended. The folder is not created here; :class:`RunFolder` does that.

    Raises:
        ConfigError: ``command`` is not a name of letters, digits, ``_ . -``.
    """
    _check_command(command)
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{command}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


class RunFolder:
    """A run folder being filled: records everything in ``run.json`` as it is added.

    Args:
        path: the folder; created with its parents if needed. An existing
            folder is reused (its ``run.json`` and ``report.html`` are replaced;
            other files in it are left alone but not listed).
        command: the sub-command name, e.g. ``"mnist"``.
        config: the run's settings: a mapping of str keys to JSON-able values
            (numbers, str, bool, None, lists, nested mappings; NumPy scalars and
            arrays, ``Path`` and enums are converted). An ``argparse.Namespace``
            is accepted too, without its ``func``/``command`` attributes.
        title: the report's heading; default ``"scratchnet <command>"``.
        argv: the command line to show in the report. Default: ``sys.argv``
            when the process is the ``scratchnet`` program, otherwise
            ``["scratchnet", command]``.

    Raises:
        ConfigError: the folder cannot be created or written (message names the
            folder and the reason), ``command`` is not a valid name, or
            ``config`` holds something that cannot be stored as JSON.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        command: str,
        config: Mapping[str, Any] | argparse.Namespace | None = None,
        *,
        title: str | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        _check_command(command)
        if title is not None and not isinstance(title, str):
            raise ConfigError(f"RunFolder: title must be a str, got {type(title).__name__}")
        self._path = Path(path)
        self._start = time.monotonic()
        config_map = _config_mapping(config)
        if argv is None:
            argv = _default_argv(command)
        elif isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
            raise ConfigError("RunFolder: argv must be a sequence of str")
        now = _now_iso()
        self._record: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "title": title if title else f"scratchnet {command}",
            "command": command,
            "argv": list(argv),
            "config": to_jsonable(config_map, "config"),
            "status": "running",
            "error": None,
            "started": now,
            "updated": now,
            "finished": None,
            "duration_s": None,
            "environment": {
                "scratchnet": __version__,
                "python": platform.python_version(),
                "numpy": np.__version__,
                "matplotlib": matplotlib.__version__,
                "platform": f"{platform.system()} {platform.machine()}",
            },
            "metrics": {},
            "metric_formats": {},
            "sections": [],
            "files": [],
        }
        self._create_folder()

    # -- properties --------------------------------------------------------

    @property
    def path(self) -> Path:
        """The run folder (save extra files here, then :meth:`add_file` them)."""
        return self._path

    @property
    def run_json(self) -> Path:
        return self._path / RUN_JSON

    @property
    def report_html(self) -> Path:
        return self._path / REPORT_HTML

    @property
    def record(self) -> dict[str, Any]:
        """A deep copy of what ``run.json`` currently holds."""
        return json.loads(json.dumps(self._record))

    def __repr__(self) -> str:
        return f"RunFolder({str(self._path)!r}, command={self._record['command']!r})"

    # -- adding content ------------------------------------------------------

    def add_text(self, title: str, text: str, *, replace: bool = False) -> None:
        """Add a block of preformatted text (an explanation, a model summary).

        Line breaks and spacing are kept in the report. With ``replace=True`` an
        earlier text block of the same title is replaced in place (useful for
        progress notes updated during training) instead of adding another.
        """
        _check_str(title, "add_text: title")
        _check_str(text, "add_text: text")
        self._put_section({"kind": "text", "title": title, "text": text}, replace)

    def add_table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        formats: Mapping[str, str] | None = None,
        caption: str | None = None,
        replace: bool = False,
    ) -> None:
        """Add a table: ``columns`` names ``(n_cols,)``, ``rows`` is ``(n_rows, n_cols)``.

        Cells are numbers (Python or NumPy scalars), str, bool or None; numbers
        stay numbers in run.json and are formatted only in the HTML (4
        significant digits by default). ``formats`` maps a column name to a
        Python format spec for that column, e.g. ``{"accuracy": ".2%"}``.
        A 2-D NumPy array is accepted for ``rows``. With ``replace=True`` an
        earlier table of the same title is replaced in place.

        Raises:
            ConfigError: no columns, a column name that is not a str, a row whose
                length differs from ``len(columns)``, a cell that is not a
                scalar, or a format spec that cannot format a number.
        """
        _check_str(title, "add_table: title")
        if isinstance(columns, str) or not isinstance(columns, Sequence | np.ndarray):
            raise ConfigError("add_table: columns must be a list of column names (str)")
        cols = [c for c in columns]
        if not cols:
            raise ConfigError(f"add_table({title!r}): columns is empty; expected at least one name")
        for i, c in enumerate(cols):
            if not isinstance(c, str):
                raise ConfigError(
                    f"add_table({title!r}): column {i} name must be a str, got {type(c).__name__}"
                )
        if isinstance(rows, np.ndarray):
            if rows.ndim != 2:
                raise ConfigError(
                    f"add_table({title!r}): rows array must be 2-D (n_rows, n_cols), "
                    f"got shape {rows.shape}"
                )
            rows = list(rows)
        if isinstance(rows, str) or not isinstance(rows, Sequence):
            raise ConfigError(f"add_table({title!r}): rows must be a list of rows")
        out_rows: list[list[Any]] = []
        for r, row in enumerate(rows):
            if isinstance(row, str) or not isinstance(row, Sequence | np.ndarray):
                raise ConfigError(f"add_table({title!r}): row {r} must be a list of cells")
            if len(row) != len(cols):
                raise ConfigError(
                    f"add_table({title!r}): row {r} has {len(row)} cell"
                    f"{'' if len(row) == 1 else 's'}, expected {len(cols)} "
                    f"(one per column: {', '.join(cols)})"
                )
            out_rows.append([_scalar(v, f"add_table({title!r}): row {r}, column {cols[c]!r}")
                             for c, v in enumerate(row)])
        fmts = _check_formats(formats, cols, f"add_table({title!r})")
        if caption is not None:
            _check_str(caption, "add_table: caption")
        section = {
            "kind": "table",
            "title": title,
            "columns": cols,
            "rows": out_rows,
            "formats": fmts,
            "caption": caption,
        }
        self._put_section(section, replace)

    def add_metrics(
        self, metrics: Mapping[str, Any], *, formats: Mapping[str, str] | None = None
    ) -> None:
        """Add or update key figures shown at the top of the report.

        ``metrics`` maps a name (str) to a scalar; a name given again replaces
        its earlier value, so this can be called every epoch. ``formats`` maps
        names to format specs (e.g. ``{"test accuracy": ".2%"}``).

        Raises:
            ConfigError: a name is not a str, a value is not a scalar, or a
                format spec cannot format a number.
        """
        if not isinstance(metrics, Mapping):
            raise ConfigError(
                f"add_metrics: expected a mapping of name -> value, got {type(metrics).__name__}"
            )
        new: dict[str, Any] = {}
        for name, value in metrics.items():
            if not isinstance(name, str):
                raise ConfigError(f"add_metrics: metric names must be str, got {name!r}")
            new[name] = _scalar(value, f"add_metrics: metric {name!r}")
        fmts = _check_formats(formats, list(new), "add_metrics")
        self._record["metrics"].update(new)
        self._record["metric_formats"].update(fmts)
        self._save()

    def save_figure(
        self,
        fig: Figure,
        filename: str,
        caption: str,
        title: str | None = None,
        *,
        dpi: int = DEFAULT_DPI,
    ) -> Path:
        """Save ``fig`` as a PNG in the run folder (atomically) and record it.

        ``filename`` is relative to the run folder and ends in ``.png``, e.g.
        ``"loss.png"`` or ``"figures/weights.png"``. Saving a figure under a
        name already recorded replaces the file and keeps its place in the
        report (e.g. a loss curve refreshed every epoch). Returns the file path.

        Raises:
            ConfigError: ``fig`` is not a matplotlib Figure, ``filename`` is
                not a safe relative ``.png`` name, or caption/title not str.
        """
        if not isinstance(fig, Figure):
            raise ConfigError(
                f"save_figure: expected a matplotlib.figure.Figure, got {type(fig).__name__} "
                "(make figures with scratchnet.plots.base.new_figure)"
            )
        rel = _check_filename(filename, "save_figure")
        if not rel.lower().endswith(".png"):
            raise ConfigError(f"save_figure: {filename!r} must end in .png")
        _check_str(caption, "save_figure: caption")
        if title is not None:
            _check_str(title, "save_figure: title")
        target = self._path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        savefig_atomic(fig, target, dpi=dpi)
        section = {"kind": "figure", "title": title, "file": rel, "caption": caption}
        for i, old in enumerate(self._record["sections"]):
            if old["kind"] == "figure" and old["file"] == rel:
                self._record["sections"][i] = section
                break
        else:
            self._record["sections"].append(section)
        self._save()
        return target

    def add_file(self, filename: str | os.PathLike, description: str) -> Path:
        """Record a file the run wrote into its folder (a saved model, a CSV...).

        ``filename`` is relative to the run folder (or an absolute path inside
        it); the file must already exist. Adding the same file again updates
        its description. Returns the file path.

        Raises:
            ConfigError: the file is outside the run folder, does not exist,
                or has an unsafe name.
        """
        _check_str(description, "add_file: description")
        p = Path(filename)
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(self._path.resolve())
            except ValueError:
                raise ConfigError(
                    f"add_file: {filename} is outside the run folder {self._path}; "
                    "save it inside the run folder (run.path / name) and add it by name"
                ) from None
        rel = _check_filename(p.as_posix(), "add_file")
        target = self._path / rel
        if not target.is_file():
            raise ConfigError(
                f"add_file: {target} does not exist (or is not a file); write it first, then add it"
            )
        entry = {"file": rel, "description": description}
        files = self._record["files"]
        for i, old in enumerate(files):
            if old["file"] == rel:
                files[i] = entry
                break
        else:
            files.append(entry)
        self._save()
        return target

    # -- finishing -------------------------------------------------------------

    def finish(self, *, status: str = "finished", error: str | None = None) -> Path:
        """Mark the run done, write run.json and build ``report.html``; returns its path.

        ``status`` is ``"finished"``, ``"failed"`` or ``"interrupted"``;
        ``error`` is a one-line description shown in the report for a failed
        run. May be called again after more additions to rebuild the report.
        """
        if status not in STATUSES or status == "running":
            raise ConfigError(
                f"finish: status must be 'finished', 'failed' or 'interrupted', got {status!r}"
            )
        if error is not None:
            _check_str(error, "finish: error")
        self._record["status"] = status
        self._record["error"] = error
        self._record["finished"] = _now_iso()
        self._record["duration_s"] = round(time.monotonic() - self._start, 3)
        self._save()
        from .html import build_report  # here, not at import time: html imports this module

        return build_report(self._path)

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
            return
        if issubclass(exc_type, KeyboardInterrupt):
            status, error = "interrupted", "interrupted by the user (Ctrl-C)"
        else:
            status, error = "failed", f"{exc_type.__name__}: {exc}"
        try:
            self.finish(status=status, error=error)
        except Exception as secondary:  # noqa: BLE001 - the original exception matters more
            # The run's own exception propagates; a failure to write the report
            # (disk full...) must not replace it, so it is only reported.
            warnings.warn(
                f"could not write the report of {self._path}: {secondary}",
                RuntimeWarning,
                stacklevel=2,
            )

    # -- internals -------------------------------------------------------------

    def _create_folder(self) -> None:
        p = self._path
        try:
            if p.exists() and not p.is_dir():
                raise ConfigError(f"cannot use {p} as a run folder: it exists and is not a folder")
            p.mkdir(parents=True, exist_ok=True)
            # Writing run.json now proves the folder is writable, and leaves a
            # valid record even if the run dies before adding anything.
            self._save()
            # A report left by an earlier run in this folder would contradict
            # the new run.json until finish() rebuilds it.
            (p / REPORT_HTML).unlink(missing_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigError(f"cannot create run folder {p}: {reason}") from exc

    def _put_section(self, section: dict[str, Any], replace: bool) -> None:
        sections = self._record["sections"]
        if replace:
            for i, old in enumerate(sections):
                if old["kind"] == section["kind"] and old["title"] == section["title"]:
                    sections[i] = section
                    self._save()
                    return
        sections.append(section)
        self._save()

    def _save(self) -> None:
        self._record["updated"] = _now_iso()
        text = json.dumps(self._record, indent=2, ensure_ascii=False, allow_nan=False)
        atomic_write_text(self._path / RUN_JSON, text + "\n")


# -- reading -------------------------------------------------------------------


def read_run_json(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``run_dir/run.json``; returns the record as a dict.

    Raises:
        FileFormatError: run.json is missing, unreadable, not JSON, not a
            scratchnet run record, written by a newer format version, or has a
            field of the wrong type. The message names the file.
    """
    path = Path(run_dir) / RUN_JSON
    if not Path(run_dir).is_dir():
        raise FileFormatError(f"{path}: not found; {run_dir} is not a folder")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(
            f"{path}: not found; {run_dir} is not a scratchnet run folder (no {RUN_JSON})"
        ) from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise FileFormatError(
            f"{path}: not a scratchnet run record (expected an object with "
            f"\"format\": \"{FORMAT_NAME}\")"
        )
    version = record.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FileFormatError(f"{path}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path}: format_version {version} was written by a newer scratchnet "
            f"(this one reads up to {FORMAT_VERSION}); upgrade scratchnet"
        )
    expected: dict[str, type | tuple[type, ...]] = {
        "command": str,
        "config": dict,
        "metrics": dict,
        "sections": list,
        "files": list,
    }
    for key, typ in expected.items():
        if not isinstance(record.get(key), typ):
            name = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
            raise FileFormatError(
                f"{path}: field {key!r} must be {_json_type_name(name)}, "
                f"got {_json_type_name(type(record.get(key)).__name__)}"
            )
    for i, section in enumerate(record["sections"]):
        _check_section(path, i, section)
    for i, entry in enumerate(record["files"]):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("file"), str)
            and isinstance(entry.get("description", ""), str)
        ):
            raise FileFormatError(f"{path}: files[{i}] must be an object with a \"file\" string")
    return record


def _check_section(path: Path, i: int, section: Any) -> None:
    where = f"{path}: sections[{i}]"
    if not isinstance(section, dict) or not isinstance(section.get("kind"), str):
        raise FileFormatError(f"{where} must be an object with a \"kind\" string")
    kind = section["kind"]
    if kind == "text":
        if not isinstance(section.get("text"), str):
            raise FileFormatError(f"{where} (text) needs a \"text\" string")
    elif kind == "table":
        cols, rows = section.get("columns"), section.get("rows")
        if not isinstance(cols, list) or not isinstance(rows, list):
            raise FileFormatError(f"{where} (table) needs \"columns\" and \"rows\" lists")
        for r, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(cols):
                raise FileFormatError(
                    f"{where} (table) row {r} must be a list of {len(cols)} cells"
                )
    elif kind == "figure":
        if not isinstance(section.get("file"), str):
            raise FileFormatError(f"{where} (figure) needs a \"file\" string")
    # Unknown kinds are tolerated (a newer minor addition); the report notes them.


def _json_type_name(py_name: str) -> str:
    return {
        "dict": "an object",
        "list": "an array",
        "str": "a string",
        "NoneType": "null",
        "int": "a number",
        "float": "a number",
        "bool": "true/false",
    }.get(py_name, py_name)


# -- helpers -------------------------------------------------------------------


def to_jsonable(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON types, or raise ConfigError naming ``where``.

    NumPy scalars become Python numbers (float32 values keep their short
    decimal form: ``np.float32(0.1)`` -> ``0.1``, not ``0.10000000149...``),
    arrays become nested lists, ``Path`` becomes str, enums their value,
    tuples lists, dataclasses dicts; non-finite floats become "NaN"/"Infinity".
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _float(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        if value.size > 100_000:
            raise ConfigError(
                f"{where}: array of shape {value.shape} is too large to record in run.json "
                "(limit 100000 values); save it as a file and add_file() it"
            )
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, str | int):
                raise ConfigError(f"{where}: keys must be str, got {k!r}")
            out[str(k)] = to_jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(
        f"{where} is a {type(value).__name__}, which cannot be stored in run.json; "
        "expected a number, str, bool, None, list or mapping"
    )


def _float(value: float | np.floating) -> float | str:
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        # str() of a float32 is its shortest round-trip decimal: 0.1, not 0.10000000149.
        value = float(str(value))
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if value is None or isinstance(
        value, bool | str | int | float | np.bool_ | np.integer | np.floating
    ):
        return to_jsonable(value, where)
    raise ConfigError(
        f"{where} is a {type(value).__name__}; expected a number, str, bool or None"
    )


def _check_formats(
    formats: Mapping[str, str] | None, names: list[str], where: str
) -> dict[str, str]:
    if formats is None:
        return {}
    if not isinstance(formats, Mapping):
        raise ConfigError(f"{where}: formats must be a mapping of name -> format spec")
    out: dict[str, str] = {}
    for name, spec in formats.items():
        if name not in names:
            raise ConfigError(
                f"{where}: formats names {name!r}, which is not one of: {', '.join(names)}"
            )
        if not isinstance(spec, str):
            raise ConfigError(f"{where}: format for {name!r} must be a str such as '.3f'")
        try:
            format(0.5, spec)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{where}: format {spec!r} for {name!r} cannot format a number ({exc}); "
                "expected a Python format spec such as '.3f', '.2%' or '.3e'"
            ) from None
        out[name] = spec
    return out


def _check_filename(filename: Any, where: str) -> str:
    if not isinstance(filename, str | os.PathLike):
        raise ConfigError(f"{where}: filename must be a str, got {type(filename).__name__}")
    name = os.fspath(filename).replace("\\", "/")
    pure = PurePosixPath(name)
    parts = pure.parts
    ok = (
        bool(parts)
        and not pure.is_absolute()
        and all(_FILENAME_PART_RE.fullmatch(part) for part in parts)
    )
    if not ok:
        raise ConfigError(
            f"{where}: {filename!r} is not a valid file name in a run folder; expected a "
            "relative name of letters, digits and _ . + - (sub-folders with /), "
            "no '..', e.g. 'loss.png' or 'figures/weights.png'"
        )
    rel = pure.as_posix()
    if rel in _RESERVED_NAMES:
        raise ConfigError(f"{where}: {rel!r} is reserved for the run record and its report")
    return rel


def _check_command(command: Any) -> None:
    if not isinstance(command, str) or not _COMMAND_RE.fullmatch(command):
        raise ConfigError(
            f"command must be a short name of letters, digits, '_', '.', '-' "
            f"(it names the run folder), got {command!r}"
        )


def _check_str(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a str, got {type(value).__name__}")


def _config_mapping(config: Any) -> Mapping[str, Any]:
    if config is None:
        return {}
    if isinstance(config, argparse.Namespace):
        return {k: v for k, v in vars(config).items() if k not in _NAMESPACE_PLUMBING}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"RunFolder: config must be a mapping (dict) of settings, got {type(config).__name__}"
        )
    return config


def _default_argv(command: str) -> list[str]:
    # Only trust sys.argv when this process is the scratchnet program itself
    # (console script or ``python -m scratchnet``), not e.g. pytest or a notebook.
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    is_cli = argv0.name == "scratchnet" or (
        argv0.name == "__main__.py" and argv0.parent.name == "scratchnet"
    )
    if is_cli and command in sys.argv[1:]:
        return ["scratchnet", *sys.argv[1:]]
    return ["scratchnet", command]


def _now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")
