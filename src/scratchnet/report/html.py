"""Build ``report.html`` from a run folder's ``run.json``.

The page is one self-contained file: figures are embedded as base64
``data:image/png`` URIs, the stylesheet is inline, there is no JavaScript and
no reference to anything on the network (a Content-Security-Policy meta tag
makes the browser refuse any, should one ever slip in). It can be mailed,
opened offline, and printed. Every string from run.json goes through
:func:`html.escape`, so a title such as ``<b>`` shows as text.

Missing or damaged figure files do not stop the build: the report shows a
visible note in the figure's place instead.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import os
import shlex
import struct
import urllib.parse
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError
from ..fileio import atomic_write_text
from .run import REPORT_HTML, _check_filename, read_run_json
from .style import CSS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Refuse to inline absurdly large images (the page would take ages to open).
_MAX_EMBED_BYTES = 25 * 1024 * 1024
# Strings run.json uses for floats JSON cannot hold (see run.py).
_NONFINITE = {"NaN": "NaN", "Infinity": "∞", "-Infinity": "−∞"}
# No network, no scripts, no plugins: only inline styles and data: images.
_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def build_report(run_dir: str | os.PathLike) -> Path:
    """Read ``run_dir/run.json`` and (re)write ``run_dir/report.html``; returns its path.

    Raises:
        FileFormatError: run.json is missing or not a valid run record (the
            message names the file).
        OSError: report.html cannot be written.
    """
    run_dir = Path(run_dir)
    record = read_run_json(run_dir)
    page = render_report(record, run_dir)
    out = run_dir / REPORT_HTML
    atomic_write_text(out, page)
    return out


def render_report(record: dict[str, Any], run_dir: str | os.PathLike) -> str:
    """The report page for a checked run record (see :func:`read_run_json`) as a str.

    ``run_dir`` is where figure and listed files are looked up.
    """
    run_dir = Path(run_dir)
    e = _esc
    title = record.get("title") or f"scratchnet {record['command']}"
    sections = record["sections"]
    files = record["files"]

    body: list[str] = []
    body.append(_masthead(record, title))
    body.append(_status_callout(record, run_dir))
    if record["metrics"]:
        body.append(_metrics(record))

    toc: list[tuple[str, str]] = [("setup", "Setup")]
    rendered: list[str] = [_setup(record)]
    n_fig = n_tab = 0
    for i, section in enumerate(sections):
        anchor = f"s{i + 1}"
        kind = section["kind"]
        if kind == "figure":
            n_fig += 1
            heading = section.get("title") or f"Figure {n_fig}"
            rendered.append(_figure(section, anchor, n_fig, run_dir))
        elif kind == "table":
            n_tab += 1
            heading = section.get("title") or f"Table {n_tab}"
            rendered.append(_table(section, anchor, n_tab))
        elif kind == "text":
            heading = section.get("title") or ""
            rendered.append(_text(section, anchor))
        else:
            heading = f"Unknown section ({kind})"
            rendered.append(
                f'<section id="{anchor}"><p class="note">This report has a section of kind '
                f"<code>{e(kind)}</code>, which this version of scratchnet ({e(__version__)}) "
                "does not know how to show.</p></section>"
            )
        if heading:
            toc.append((anchor, heading))
    if files:
        toc.append(("files", "Files"))
        rendered.append(_files(files, run_dir))

    # A table of contents pays off only once there is something to skip over.
    if len(toc) >= 4:
        links = "".join(f'<li><a href="#{a}">{e(label)}</a></li>' for a, label in toc)
        body.append(f'<nav class="toc" aria-label="Contents">Contents<ol>{links}</ol></nav>')
    body.extend(rendered)
    body.append(_footer(record, run_dir))

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f'<meta name="generator" content="scratchnet {e(__version__)}">\n'
        f"<title>{e(title)} · scratchnet report</title>\n"
        f"<style>{CSS}</style>\n"
        "</head>\n<body>\n<main class=\"page\">\n"
        + "\n".join(part for part in body if part)
        + "\n</main>\n</body>\n</html>\n"
    )


# -- parts of the page -----------------------------------------------------------


def _masthead(record: dict[str, Any], title: str) -> str:
    e = _esc
    status = str(record.get("status") or "running")
    meta = [f'<span class="status status-{e(_css_token(status))}">{e(status)}</span>']
    if record.get("started"):
        meta.append(f"<span>started <b>{e(_format_time(record['started']))}</b></span>")
    if isinstance(record.get("duration_s"), int | float):
        meta.append(f"<span>took <b>{e(format_duration(record['duration_s']))}</b></span>")
    meta.append(f"<span>command <b>{e(record['command'])}</b></span>")
    return (
        '<header class="masthead">'
        '<div class="eyebrow">scratchnet · run report</div>'
        f"<h1>{e(title)}</h1>"
        f'<div class="meta">{"".join(meta)}</div>'
        "</header>"
    )


def _status_callout(record: dict[str, Any], run_dir: Path) -> str:
    e = _esc
    status = record.get("status")
    if status == "failed":
        err = record.get("error") or "no error message recorded"
        return (
            '<div class="callout bad" role="alert"><b>This run failed.</b> '
            f"{e(err)}<br>What it recorded before stopping is shown below.</div>"
        )
    if status == "interrupted":
        return (
            '<div class="callout" role="status"><b>This run was interrupted.</b> '
            "What it recorded before stopping is shown below.</div>"
        )
    if status == "running":
        updated = record.get("updated")
        when = f" (last update {e(_format_time(updated))})" if updated else ""
        return (
            '<div class="callout" role="status"><b>This run had not finished</b>'
            f"{when}: it is still running, or it was stopped before it could finish. "
            "Rebuild this page later with "
            f"<code>scratchnet report {e(_folder_label(run_dir))}</code>.</div>"
        )
    return ""


def _metrics(record: dict[str, Any]) -> str:
    e = _esc
    formats = record.get("metric_formats") or {}
    cards = []
    for name, value in record["metrics"].items():
        text, _ = format_value(value, formats.get(name))
        cards.append(
            '<div class="metric">'
            f'<div class="metric-label">{e(name)}</div>'
            f'<div class="metric-value">{e(text)}</div>'
            "</div>"
        )
    return (
        '<section id="metrics" aria-label="Key results">'
        f'<div class="metrics">{"".join(cards)}</div></section>'
    )


def _setup(record: dict[str, Any]) -> str:
    e = _esc
    argv = record.get("argv") or ["scratchnet", record["command"]]
    cmd = " ".join(shlex.quote(str(a)) for a in argv)
    rows = _flatten_config(record["config"])
    if rows:
        trs = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
        config = f'<div class="table-wrap"><table class="kv"><tbody>{trs}</tbody></table></div>'
    else:
        config = '<p class="note">No configuration recorded.</p>'
    return (
        '<section id="setup"><h2>Setup</h2><div class="card">'
        "<h3>Command line</h3>"
        f'<pre class="cmd"><span class="prompt">$ </span>{e(cmd)}</pre>'
        f"<h3>Configuration</h3>{config}"
        "</div></section>"
    )


def _text(section: dict[str, Any], anchor: str) -> str:
    e = _esc
    title = section.get("title") or ""
    heading = f"<h2>{e(title)}</h2>" if title else ""
    return f'<section id="{anchor}">{heading}<pre>{e(section["text"])}</pre></section>'


def _table(section: dict[str, Any], anchor: str, number: int) -> str:
    e = _esc
    columns = [str(c) for c in section["columns"]]
    formats = section.get("formats") or {}
    rows = section["rows"]
    # A column is numeric (right-aligned) when every non-empty cell is a number.
    numeric = [
        all(_is_number(row[c]) for row in rows if row[c] is not None)
        and any(row[c] is not None for row in rows)
        for c in range(len(columns))
    ]
    num_attr = ' class="num"'
    head = "".join(
        f'<th scope="col"{num_attr if numeric[c] else ""}>{e(name)}</th>'
        for c, name in enumerate(columns)
    )
    body_rows = []
    for row in rows:
        cells = []
        for c, value in enumerate(row):
            text, kind = format_value(value, formats.get(columns[c]))
            cls = "num" if numeric[c] and kind != "empty" else kind
            attr = f' class="{cls}"' if cls in ("num", "empty") else ""
            cells.append(f"<td{attr}>{e(text)}</td>")
        body_rows.append(f"<tr>{''.join(cells)}</tr>")
    if not rows:
        body_rows.append(f'<tr><td class="empty" colspan="{len(columns)}">(no rows)</td></tr>')
    caption = section.get("caption")
    cap = (
        f'<p class="caption"><span class="label">Table {number}.</span> {e(caption)}</p>'
        if caption
        else ""
    )
    title = section.get("title") or f"Table {number}"
    return (
        f'<section id="{anchor}"><h2>{e(title)}</h2><div class="card">'
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table></div>{cap}</div></section>"
    )


def _figure(section: dict[str, Any], anchor: str, number: int, run_dir: Path) -> str:
    e = _esc
    caption = section.get("caption") or ""
    title = section.get("title")
    image = _embed_png(run_dir, section["file"], alt=caption or title or section["file"])
    heading = f"<h2>{e(title)}</h2>" if title else ""
    cap = f'<span class="label">Figure {number}.</span> {e(caption)}'
    return (
        f'<section id="{anchor}">{heading}<figure class="card">'
        f'<div class="frame">{image}</div>'
        f'<figcaption class="caption">{cap}</figcaption></figure></section>'
    )


def _files(files: list[dict[str, Any]], run_dir: Path) -> str:
    e = _esc
    items = []
    for entry in files:
        name = entry["file"]
        desc = entry.get("description") or ""
        path = _safe_path(run_dir, name)
        if path is not None and path.is_file():
            href = urllib.parse.quote(name)
            label = f'<a href="{e(href)}">{e(name)}</a>'
            extra = f'<span class="size">{e(format_size(path.stat().st_size))}</span>'
        else:
            label = f'<span class="fname">{e(name)}</span>'
            extra = '<span class="gone">missing from the run folder</span>'
        desc_html = f'<span class="desc">{e(desc)}</span>' if desc else ""
        items.append(f"<li>{label}{extra}{desc_html}</li>")
    return (
        '<section id="files"><h2>Files</h2><div class="card">'
        f'<ul class="files">{"".join(items)}</ul></div></section>'
    )


def _footer(record: dict[str, Any], run_dir: Path) -> str:
    e = _esc
    env = record.get("environment") or {}
    names = (
        ("scratchnet", "scratchnet"),
        ("python", "Python"),
        ("numpy", "NumPy"),
        ("matplotlib", "matplotlib"),
        ("platform", "on"),
    )
    parts = [f"{label} {env[key]}" for key, label in names if isinstance(env.get(key), str)]
    env_line = f"<p>Made with {e(' · '.join(parts))}.</p>" if parts else ""
    folder = _folder_label(run_dir)
    return (
        "<footer>"
        f"{env_line}"
        f"<p>The full record of this run is <code>run.json</code> in its run folder; "
        f"rebuild this page with <code>scratchnet report {e(folder)}</code>.</p>"
        f"<p>Page built {e(_format_time(_dt.datetime.now().astimezone().isoformat()))}.</p>"
        "</footer>"
    )


# -- images ------------------------------------------------------------------------


def _embed_png(run_dir: Path, name: str, alt: str) -> str:
    """An ``<img>`` with the PNG inlined, or a visible note saying why there is none."""
    e = _esc
    path = _safe_path(run_dir, name)
    if path is None:
        return _missing(f"The figure file name <code>{e(name)}</code> in run.json is not a "
                        "plain file name inside the run folder, so it is not shown.")
    try:
        data = path.read_bytes() if path.stat().st_size <= _MAX_EMBED_BYTES else None
    except FileNotFoundError:
        return _missing(f"Image <code>{e(name)}</code> is missing from the run folder "
                        "(the run may have stopped before saving it).")
    except OSError as exc:
        return _missing(f"Image <code>{e(name)}</code> could not be read: "
                        f"{e(exc.strerror or str(exc))}.")
    if data is None:
        return _missing(f"Image <code>{e(name)}</code> is larger than "
                        f"{_MAX_EMBED_BYTES // (1024 * 1024)} MiB and is not embedded; "
                        "open it from the run folder.")
    size = png_size(data)
    if size is None:
        return _missing(f"<code>{e(name)}</code> is not a valid PNG image "
                        "(it may be truncated or damaged).")
    width, height = size
    b64 = base64.b64encode(data).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{b64}" width="{width}" height="{height}" '
        f'alt="{e(alt)}">'
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` in pixels from a PNG's IHDR chunk, or None if ``data`` is no PNG."""
    if len(data) < 33 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        return None
    return width, height


def _missing(message_html: str) -> str:
    return f'<div class="missing" role="note">{message_html}</div>'


def _safe_path(run_dir: Path, name: str) -> Path | None:
    """``run_dir / name`` if ``name`` is a plain relative name (no ``..``), else None.

    run.json could have been edited by hand; this keeps the report from reading
    (and embedding) files outside its run folder.
    """
    try:
        rel = _check_filename(name, "report")
    except ConfigError:
        return None
    return run_dir / rel


# -- formatting -----------------------------------------------------------------------


def format_value(value: Any, spec: str | None = None) -> tuple[str, str]:
    """Text for one table cell or metric, and its kind: ``"num"``, ``"text"`` or ``"empty"``.

    Floats get 4 significant digits (``0.98765 -> "0.9877"``), scientific
    notation outside [1e-4, 1e6), one decimal from 1000 up; ints are shown in
    full. ``spec`` (a Python format spec such as ``".2%"``) overrides that for
    numbers. ``None`` shows as an em dash; non-finite floats stored as
    ``"NaN"``/``"Infinity"`` show as NaN / ∞.
    """
    if value is None:
        return "—", "empty"
    if isinstance(value, bool):
        return str(value), "text"
    if isinstance(value, str):
        if value in _NONFINITE:
            return _NONFINITE[value], "num"
        return value, "text"
    if isinstance(value, int | float):
        if spec:
            try:
                return format(value, spec), "num"
            except (ValueError, TypeError):
                pass  # e.g. an int-only spec on a float; fall back to the default
        if isinstance(value, int):
            return str(value), "num"
        return format_float(value), "num"
    return str(value), "text"


def format_float(x: float) -> str:
    """A float in at most ~5 significant characters of precision, for reading not parsing."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e6 or a < 1e-4:
        return f"{x:.3e}"
    if a >= 1000:
        return f"{x:.1f}"
    return f"{x:.4g}"


def format_duration(seconds: float) -> str:
    """``0.42 -> "0.42 s"``, ``75 -> "1 min 15 s"``, ``3725 -> "1 h 02 min"``."""
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        m, s = divmod(int(round(seconds)), 60)
        return f"{m} min {s:02d} s"
    h, rem = divmod(int(round(seconds)), 3600)
    return f"{h} h {rem // 60:02d} min"


def format_size(n: int) -> str:
    """Bytes as ``"812 B"``, ``"14.2 KiB"``, ``"3.1 MiB"``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable; keeps type checkers happy


def _flatten_config(config: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested settings as ``("optimizer.lr", "0.01")`` rows, in insertion order."""
    rows: list[tuple[str, str]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten_config(value, prefix=f"{name}."))
        else:
            rows.append((name, _config_text(value)))
    return rows


def _config_text(value: Any) -> str:
    # Settings are shown exactly as given (repr-like), unlike computed values.
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and value in _NONFINITE
    )


def _format_time(iso: Any) -> str:
    try:
        t = _dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _folder_label(run_dir: Path) -> str:
    """The run folder as a shell argument for ``scratchnet report``.

    A relative path is shown as given (e.g. ``runs/xor-20250101-120000``); an
    absolute one only by its name, so the page does not reveal where it was built.
    """
    label = run_dir.as_posix() if not run_dir.is_absolute() else run_dir.name
    return shlex.quote(label or run_dir.resolve().name)


def _css_token(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in text.lower())


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


__all__ = [
    "build_report",
    "render_report",
    "format_value",
    "format_float",
    "format_duration",
    "format_size",
    "png_size",
]
