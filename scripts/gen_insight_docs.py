"""Regenerate the pictures and numbers of docs/insight.md.

Runs every insight experiment and the learning-rate range test with fixed seeds
(their default settings, the same as ``scratchnet experiment NAME``), copies the key
pictures into ``docs/images/`` (shrunk to about 80 dpi and reduced to a 256-colour
palette, so the docs stay small), redraws one picture from a saved recording, measures
the recorder's overhead (``examples/21_recorder_overhead.py``), and writes the numbers
into ``docs/insight.md`` between marker lines::

    <!-- insight:NAME -->
    ...generated, replaced on every run...
    <!-- /insight:NAME -->

Everything outside the markers is hand-written and left alone.

    python scripts/gen_insight_docs.py                  # everything (several minutes)
    python scripts/gen_insight_docs.py --skip-overhead  # keep the overhead table as it is
    python scripts/gen_insight_docs.py --quick          # tiny sizes: a smoke test of the script
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import math
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "insight.md"
IMAGES = ROOT / "docs" / "images"

#: Docs pictures are shrunk from the run folders' 110 dpi to this.
DOC_DPI = 80
RUN_DPI = 110


def _shrink_png(src: Path, dst: Path, scale: float = DOC_DPI / RUN_DPI) -> int:
    """Write ``src`` scaled by ``scale`` with a 256-colour palette to ``dst``; returns bytes."""
    from PIL import Image

    from scratchnet.fileio import atomic_write_bytes

    with Image.open(src) as im:
        im = im.convert("RGB")
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.LANCZOS)
        pal = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        pal.save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(dst, buffer.getvalue())
    return len(buffer.getvalue())


def _cell(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, fmt) if fmt else f"{value:.4g}"
    return str(value)


def markdown_table(columns, rows, formats=None) -> str:
    formats = formats or {}
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in columns) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    for row in rows:
        cells = [_cell(v, formats.get(c)) for c, v in zip(columns, row, strict=True)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def replace_block(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- insight:{re.escape(name)} -->\n).*?(<!-- /insight:"
                         rf"{re.escape(name)} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{DOC}: marker block 'insight:{name}' not found")
    return pattern.sub(lambda m: m.group(1) + content.rstrip() + "\n" + m.group(2), text)


def _load_example(name: str):
    path = ROOT / "examples" / name
    spec = importlib.util.spec_from_file_location(path.stem.lstrip("0123456789_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def overhead_block(quick: bool) -> str:
    example = _load_example("21_recorder_overhead.py")
    rows = example.run(quick=quick)
    columns = ["workload", "recording", "records", "steps", "without (s)", "with (s)",
               "A/B overhead", "in-run share", "same weights"]
    table = [[r["workload"], r["recording"].replace("_", "\\_"), r["records"], r["steps"],
              r["without_s"], r["with_s"], f"{r['ab']:+.1%}", f"{r['share']:+.1%}",
              r["identical"]] for r in rows]
    return markdown_table(columns, table, {"without (s)": ".2f", "with (s)": ".2f"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, for testing the script (the docs get quick numbers)")
    parser.add_argument("--skip-overhead", action="store_true",
                        help="do not re-measure the recorder overhead")
    args = parser.parse_args(argv)

    from scratchnet.insight import Recording
    from scratchnet.lessons.experiments import (
        run_activations,
        run_init,
        run_optimizers,
        run_schedules,
    )
    from scratchnet.lessons.lr_find import lr_find
    from scratchnet.plots.base import savefig_atomic
    from scratchnet.plots.training import plot_update_ratio

    text = DOC.read_text(encoding="utf-8")
    IMAGES.mkdir(parents=True, exist_ok=True)
    seed = 0
    pictures = {
        "activations": ["loss.png", "gradient_flow.png", "gradient_by_depth.png",
                        "saturation.png", "activations_tanh.png", "weights_sigmoid.png",
                        "boundaries.png"],
        "init": ["loss_by_init.png", "gradient_by_init.png", "units_zeros.png",
                 "units_xavier.png", "boundaries.png"],
        "schedules": ["schedules.png"],
        "optimizers": ["loss.png", "paths.png"],
        "lr-find": ["lr_find.png"],
    }
    runners = {
        "activations": run_activations, "init": run_init, "schedules": run_schedules,
        "optimizers": run_optimizers, "lr-find": lr_find,
    }
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, runner in runners.items():
            print(f"running {name} ...", file=sys.stderr, flush=True)
            result = runner(seed=seed, quick=args.quick, out=Path(tmp) / name)
            for pic in pictures[name]:
                if not (result.run_dir / pic).is_file():
                    continue  # quick runs draw fewer pictures
                dst = IMAGES / f"insight_{name.replace('-', '_')}_{pic}"
                total += _shrink_png(result.run_dir / pic, dst)
            block = markdown_table(result.columns, result.rows, result.formats)
            block += "\n\n" + "\n".join(f"- {note}" for note in result.notes)
            text = replace_block(text, f"{name}-table", block)
            if name == "activations":
                # One picture redrawn from a saved recording: plots read data, never train.
                rec = Recording.load(result.run_dir / "recordings" / "relu.npz")
                drawn = Path(tmp) / "update_ratio.png"
                savefig_atomic(plot_update_ratio(rec, title="Update / weight ratio (ReLU "
                                                 "network)"), drawn, dpi=DOC_DPI)
                total += _shrink_png(drawn, IMAGES / "insight_activations_update_ratio_relu.png",
                                     scale=1.0)
        if not args.skip_overhead:
            print("measuring the recorder overhead ...", file=sys.stderr, flush=True)
            text = replace_block(text, "overhead-table", overhead_block(args.quick))
    text = replace_block(text, "generated-by", (
        f"_Numbers and pictures generated by `python scripts/gen_insight_docs.py`"
        f"{' --quick' if args.quick else ''} with seed {seed}._"))
    from scratchnet.fileio import atomic_write_text

    atomic_write_text(DOC, text)
    print(f"wrote {DOC} and {total / 1e6:.2f} MB of pictures in {IMAGES}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
