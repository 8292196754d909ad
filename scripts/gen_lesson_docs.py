"""Regenerate every number in docs/lessons/*.md by running the lessons.

The lesson pages are hand-written prose with generated blocks::

    <!-- gen:xor-widths -->
    ...whatever this script last wrote...
    <!-- /gen -->

Each block name maps to a function below that runs the code (the same lesson
functions the commands call) and returns the block's Markdown. Nothing between the
markers is typed by hand; edit the prose around them and rerun:

    python scripts/gen_lesson_docs.py            # rewrite every block (a few minutes)
    python scripts/gen_lesson_docs.py --only xor # one page
    python scripts/gen_lesson_docs.py --check    # exit 1 if a block would change

The measurements are seeded, so a rerun on the same software writes the same text.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "lessons"
sys.path.insert(0, str(ROOT / "src"))

from scratchnet.lessons import explain as ex  # noqa: E402
from scratchnet.lessons import neuron as ne  # noqa: E402
from scratchnet.lessons import sigmoid_lesson as sg  # noqa: E402
from scratchnet.lessons import xor as xo  # noqa: E402
from scratchnet.lessons.xor_stacked import initial_weights, train_stacked  # noqa: E402

N_SEEDS = 1000  # seeds per measured setting
# A block is either on its own lines (the body ends with a newline) or inline in a sentence.
BLOCK_RE = re.compile(r"(<!-- gen:(?P<name>[a-z0-9-]+) -->\n?)(?P<body>.*?)(<!-- /gen -->)", re.S)
IMG = DOCS / "img"


def code(text: str, lang: str = "text") -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


def table(columns: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def pct(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.1%})"


# -- xor.md ---------------------------------------------------------------------------------


def xor_defaults() -> str:
    c = xo.XorConfig()
    return (f"learning rate {c.lr:g}, {c.epochs} epochs per attempt, at most {c.attempts} "
            f"attempts, `{c.init}` initial weights, biases at zero")


def xor_stuck_rate() -> str:
    w = _seeds().widths[0]
    return f"{w.n - w.n_solved} of {w.n} random starts"


def xor_rule() -> str:
    c = xo.XorConfig()
    return "\n".join([
        f"1. at least {c.stuck_warmup} epochs have run (`stuck_warmup`);",
        "2. a point is still on the wrong side of 0.5;",
        f"3. the loss is below 90% of the loss of answering the mean target everywhere "
        f"(ln 2 = {xo.baseline_loss(xo.xor_data()[1], 'bce'):.3f} for BCE, "
        f"{xo.baseline_loss(xo.xor_data()[1], 'mse'):.2f} for MSE): the network has left the "
        "starting plateau, where every output is still near 0.5 and many runs that will "
        "succeed spend their first few hundred epochs;",
        f"4. over the last {c.stuck_window} epochs (`stuck_window`) the loss fell by less "
        f"than {c.stuck_tol:.1%} of its value (`stuck_tol`).",
    ]) + "\n"


def xor_detector() -> str:
    """Replay the detector's rule on 1000 recorded runs per loss, trained twice as long."""
    c = xo.XorConfig()
    X, y = xo.xor_data()
    seeds = np.arange(N_SEEDS)
    epochs = 2 * c.epochs
    rows = []
    for loss in ("bce", "mse"):
        run = train_stacked(X, y, initial_weights(seeds, 2, init=c.init), loss=loss, lr=c.lr,
                            epochs=epochs, record_correct=True)
        level = 0.9 * xo.baseline_loss(y, loss)
        flag = xo.stuck_epochs(run.loss, run.all_correct, c.stuck_warmup, c.stuck_window,
                               c.stuck_tol, level)
        unsolved = ~run.solved
        caught = flag[unsolved]
        early_solved = run.all_correct[:, c.epochs - 1]
        false_flags = int(((flag > 0) & run.solved).sum())
        rows.append([loss, int(unsolved.sum()), f"{int((caught > 0).sum())}/{int(unsolved.sum())}",
                     f"{caught[caught > 0].min()}, {int(np.median(caught[caught > 0]))}, "
                     f"{caught.max()}" if (caught > 0).any() else "-",
                     false_flags, int((run.solved & ~early_solved).sum())])
    return table([f"loss (lr {c.lr:g})", f"unsolved after {epochs} epochs",
                  "flagged stuck", "flagged at epoch (min, median, max)",
                  "flagged, but solved later", f"solved only after epoch {c.epochs}"], rows)


def xor_run() -> str:
    cfg = xo.XorConfig(seed=0)
    lines: list[str] = []
    res = xo.run_xor(cfg, progress=lines.append)
    parts = [
        "$ scratchnet xor",
        xo.format_architecture(cfg),
        xo.format_training_setup(cfg) + "\n",
        *lines,
        "",
        xo.format_result_summary(res, show_time=False),
        "",
        "Learned parameters:",
        xo.format_parameters(res),
        "",
        "What the hidden units compute:",
        xo.format_hidden_table(res),
    ]
    return code("\n".join(parts))


def xor_stuck() -> str:
    lines: list[str] = []
    xo.run_xor(xo.XorConfig(seed=1), progress=lines.append)
    keep = [ln for ln in lines if not ln.startswith("  epoch")]
    return code("$ scratchnet xor --seed 1\n...\n" + "\n".join(keep[:3]) + "\n...")


_SEEDS_CACHE: dict[str, xo.SeedsResult] = {}


def _seeds(**kw) -> xo.SeedsResult:
    """``run_xor_seeds`` over N_SEEDS seeds (cached: several blocks share a setting)."""
    key = repr(sorted(kw.items()))
    if key not in _SEEDS_CACHE:
        hiddens = kw.get("hiddens", [2])
        cfg = {k: v for k, v in kw.items() if k != "hiddens"}
        _SEEDS_CACHE[key] = xo.run_xor_seeds(xo.XorConfig(**cfg), N_SEEDS, hiddens)
    return _SEEDS_CACHE[key]


def xor_widths() -> str:
    rows = []
    for loss in ("bce", "mse"):
        res = _seeds(loss=loss, hiddens=[2, 3, 4])
        for w in res.widths:
            unsolved = w.final_loss[~w.solved]
            ends = ", ".join(f"{v:.3f} ({c})" for v, c in
                             sorted(Counter(np.round(unsolved, 3).tolist()).items())[:4])
            rows.append([f"2-{w.hidden}-1", loss, 4 * w.hidden + 1, pct(w.n_solved, w.n),
                         ends or "none"])
    return table(["network", "loss", "parameters", "converged", "where unsolved runs end "
                  "(final loss, count)"], rows)


def xor_plateaus() -> str:
    res = _seeds()
    w = res.widths[0]
    rows = [[count, f"{med:.3f}", kind] for kind, (count, med) in
            sorted(w.merged_counts.items(), key=lambda kv: -kv[1][0])]
    out = table(["runs", "median final loss", "what the hidden layer did"], rows)
    pair, triple = 2 * np.log(2) / 4, (2 * np.log(1.5) + np.log(3)) / 4
    return out + (f"\n{w.n - w.n_solved} of {w.n} runs of the default 2-2-1 setting ended "
                  f"unsolved (`scratchnet xor --seeds {w.n}` prints the same breakdown). The "
                  f"plateau losses predicted above: 2 ln 2 / 4 = {pair:.3f} for a pair, "
                  f"(2 ln 1.5 + ln 3) / 4 = {triple:.3f} for a triple.\n")


def boolean_table() -> str:
    from scratchnet.lessons.boolean import BOOLEAN_FUNCTIONS

    fs = BOOLEAN_FUNCTIONS
    rows = [[" ".join(map(str, a.table)), a.name, " ".join(map(str, b.table)), b.name]
            for a, b in zip(fs[:8], fs[8:], strict=True)]
    return table(["outputs for 00 01 10 11", "name", "outputs for 00 01 10 11", "name"], rows)


def boolean_thresholds() -> str:
    from scratchnet.lessons.boolean import THRESHOLDS

    s, t = THRESHOLDS["sigmoid"], THRESHOLDS["tanh"]
    return (f"within {s.margin:g} of the threshold ({s.value - s.margin:g} to "
            f"{s.value + s.margin:g} for a sigmoid unit, whose threshold is {s.value:g}); tanh "
            f"units use the threshold {t.value:g} and the margin {t.margin:g}")


def xor_lr() -> str:
    rows = []
    for lr in (0.5, 1.0, 2.0, 5.0, 10.0):
        for loss in ("bce", "mse"):
            w = _seeds(loss=loss, lr=lr).widths[0]
            rows.append([f"{lr:g}", loss, pct(w.n_solved, w.n), f"{np.median(w.final_loss):.2g}"])
    return table(["learning rate", "loss", "converged (2-2-1, 3000 epochs)",
                  "median final loss"], rows)


def xor_init_opt() -> str:
    rows = []
    for init in ("xavier_uniform", "xavier_normal", "he_normal", "lecun_normal"):
        w = _seeds(init=init).widths[0]
        rows.append([f"`--init {init}`", "sgd, lr 5", pct(w.n_solved, w.n)])
    for opt in ("momentum", "rmsprop", "adam"):
        cfg = xo.XorConfig(optimizer=opt)
        w = _seeds(optimizer=opt).widths[0]
        rows.append([f"`--optimizer {opt}`", f"lr {cfg.lr:g}", pct(w.n_solved, w.n)])
    for act in ("tanh", "relu"):
        cfg = xo.XorConfig(activation=act)
        w = _seeds(activation=act).widths[0]
        rows.append([f"`--activation {act}`", f"sgd, lr {cfg.lr:g}", pct(w.n_solved, w.n)])
    return table(["setting (rest default)", "optimiser, learning rate", "converged (2-2-1)"],
                 rows)


def xor_long() -> str:
    X, y = xo.xor_data()
    seeds = np.arange(N_SEEDS)
    first = train_stacked(X, y, initial_weights(seeds, 2), lr=5.0, epochs=3000, record_loss=False)
    stuck = seeds[~first.solved]
    more = train_stacked(X, y, first.weights, lr=5.0, epochs=27000, record_loss=False)
    escaped = int(more.solved[~first.solved].sum())
    return (f"Of the {len(stuck)} runs (out of {N_SEEDS}) still unsolved after 3,000 epochs, "
            f"**{escaped}** solved XOR when trained on to 30,000 epochs; the other "
            f"{len(stuck) - escaped} were still on their plateau.\n")


def xor_restarts() -> str:
    counts: Counter[int] = Counter()
    failed = []
    for s in range(100):
        r = xo.run_xor(xo.XorConfig(seed=s))
        counts[len(r.attempts)] += 1
        if not r.solved:
            failed.append(s)
    rows = [[k, counts[k]] for k in sorted(counts)]
    return (table(["attempts needed", "seeds"], rows) +
            f"\n**{100 - len(failed)} of 100** seeds (`--seed 0` to `--seed 99`) end with all four "
            f"points right" + (f"; not solved: {failed}" if failed else "") + ".\n")


# -- neuron.md --------------------------------------------------------------------------------


def neuron_regression() -> str:
    res = ne.run_regression(ne.RegressionConfig())
    return code("$ scratchnet neuron regression\n" + ne.format_regression(res))


def neuron_gates() -> str:
    rows = []
    for gate in ne.GATES:
        r = ne.run_classify(ne.ClassifyConfig(gate=gate))
        outs = " ".join(f"{v:.3f}" for v in r.outputs)
        rows.append([gate.upper(), outs, f"{r.w[0]:.2f}, {r.w[1]:.2f}, {r.b:.2f}",
                     f"{r.correct}/4"])
    return table(["gate", "outputs for 00 01 10 11", "w1, w2, b", "right"], rows)


def neuron_xor() -> str:
    r = ne.run_classify(ne.ClassifyConfig(gate="xor"))
    return code("$ scratchnet neuron classify --gate xor\n" + ne.format_classify(r))


# -- explain.md -------------------------------------------------------------------------------


def explain_mse() -> str:
    led = ex.explain_step(ex.ExplainConfig(loss="mse", sample=(1, 0)))
    md = ex.format_ledger_markdown(led)
    # Drop the page title: the doc has its own headings.
    body = md.split("\n", 2)[2].replace("\n## ", "\n#### ")
    return "Output of `scratchnet explain --loss mse --sample 1,0 --format md`:\n\n" + body


def explain_bce() -> str:
    led = ex.explain_step(ex.ExplainConfig(loss="bce"))
    long, short = led.line("dL/dz2"), led.line("dL/dz2 (short route)")
    rows = [[f"[{a} {b}]", f"{long.value[i, 0]:.6f}", f"{short.value[i, 0]:.6f}"]
            for i, (a, b) in enumerate(ex.INPUTS)]
    return (table(["input", "long chain dL/da2 * da2/dz2", "short route (a2 - y) / 4"], rows)
            + f"\nLargest difference between the two routes: {led.short_route_diff:.1e}. "
            f"Largest difference between any gradient of this ledger and its numerical "
            f"estimate: {led.max_numeric_diff:.1e}; between the ledger and the engine's "
            f"backward pass: {max(led.engine_diff.values()):.1e}.\n")


# -- sigmoid.md -------------------------------------------------------------------------------


def sigmoid_table() -> str:
    return code("$ scratchnet sigmoid\n" + sg.format_sigmoid(sg.run_sigmoid()))


BLOCKS: dict[str, Callable[[], str]] = {
    "xor-defaults": xor_defaults,
    "xor-stuck-rate": xor_stuck_rate,
    "xor-rule": xor_rule,
    "xor-detector": xor_detector,
    "boolean-table": boolean_table,
    "boolean-thresholds": boolean_thresholds,
    "xor-run": xor_run,
    "xor-stuck": xor_stuck,
    "xor-widths": xor_widths,
    "xor-plateaus": xor_plateaus,
    "xor-lr": xor_lr,
    "xor-init-opt": xor_init_opt,
    "xor-long": xor_long,
    "xor-restarts": xor_restarts,
    "neuron-regression": neuron_regression,
    "neuron-gates": neuron_gates,
    "neuron-xor": neuron_xor,
    "explain-mse": explain_mse,
    "explain-bce": explain_bce,
    "sigmoid-table": sigmoid_table,
}


def write_images() -> None:
    """The pictures the pages show, drawn by the same code as the commands' run folders."""
    import shutil
    import tempfile

    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        xo.save_xor_run(xo.run_xor(xo.XorConfig(seed=0)), t / "xor")
        shutil.copy(t / "xor" / "decision_boundary.png", IMG / "xor_decision_boundary.png")
        shutil.copy(t / "xor" / "hidden_units.png", IMG / "xor_hidden_units.png")
        xo.save_seeds_run(_seeds(hiddens=[2, 3, 4]), t / "seeds")
        shutil.copy(t / "seeds" / "seeds_loss.png", IMG / "xor_seeds.png")
        ne.save_regression_run(ne.run_regression(ne.RegressionConfig()), t / "reg")
        shutil.copy(t / "reg" / "descent.png", IMG / "neuron_descent.png")
        shutil.copy(t / "reg" / "fit.png", IMG / "neuron_fit.png")
        for gate in ("and", "xor"):
            ne.save_classify_run(ne.run_classify(ne.ClassifyConfig(gate=gate)), t / gate)
            shutil.copy(t / gate / "boundary.png", IMG / f"neuron_{gate}.png")
        sg.save_sigmoid_run(sg.run_sigmoid(), t / "sig")
        shutil.copy(t / "sig" / "sigmoid.png", IMG / "sigmoid.png")
        shutil.copy(t / "sig" / "vanishing.png", IMG / "vanishing.png")


def regenerate(path: Path, check: bool) -> bool:
    """Rewrite the blocks of one page; returns True if anything changed."""
    text = path.read_text(encoding="utf-8")
    names = [m.group("name") for m in BLOCK_RE.finditer(text)]
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise SystemExit(f"{path}: unknown generated block(s) {unknown}; known: {sorted(BLOCKS)}")
    cache: dict[str, str] = {}
    for name in names:
        t0 = time.perf_counter()
        cache[name] = BLOCKS[name]()
        print(f"  {path.name}: {name} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    new = BLOCK_RE.sub(lambda m: m.group(1) + cache[m.group("name")] + m.group(4), text)
    if new != text and not check:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="one page, e.g. xor (docs/lessons/xor.md)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = p.parse_args(argv)
    pages = sorted(DOCS.glob("*.md"))
    if args.only:
        pages = [DOCS / f"{args.only}.md"]
    changed = []
    for page in pages:
        if regenerate(page, args.check):
            changed.append(page.name)
    if not args.check and not args.only:
        write_images()
    verb = "out of date" if args.check else "rewritten"
    print(f"{verb}: {', '.join(changed) if changed else 'nothing'}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
