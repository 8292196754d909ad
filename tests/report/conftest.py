"""A small but complete run folder shared by the report tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from scratchnet.plots.base import new_figure
from scratchnet.report import RunFolder

TITLE = 'XOR <b>demo</b> & "friends"'
TEXT = "Loss falls when\n  dL/dW = x^T (y - t) / N\nis followed downhill. <script>alert(1)</script>"
COLUMNS = ["x1", "x2", "target", "output"]
ROWS = [
    [0, 0, 0, 0.0213456],
    [0, 1, 1, 0.977123],
    [1, 0, 1, np.float32(0.96875)],
    [1, 1, 0, 0.0312],
]


def make_sample_run(folder: Path) -> RunFolder:
    """A run with a text block, a table, metrics, two figures and a file; not finished."""
    run = RunFolder(folder, "xor", {"epochs": 300, "lr": 0.5, "hidden": (4,)}, title=TITLE)
    run.add_text("What this shows", TEXT)
    run.add_table("Predictions", COLUMNS, ROWS, caption="After training.")
    run.add_metrics({"final loss": 0.00123456, "accuracy": 1.0}, formats={"accuracy": ".1%"})
    fig, ax = new_figure(4.0, 3.0)
    ax.plot(np.arange(300), np.exp(-np.arange(300) / 50.0), label="train")
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax.legend()
    run.save_figure(fig, "loss.png", "Loss per epoch <decreasing>.", title="Loss curve")
    fig2, axes = new_figure(5.0, 2.5, 1, 2)
    axes[0].imshow(np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8))
    axes[1].bar(["a", "b"], [1.0, -0.5])
    run.save_figure(fig2, "figures/weights.png", "Weights as an image and as bars.")
    (run.path / "model.npz").write_bytes(b"not really a model, only bytes to list")
    run.add_file("model.npz", "Trained weights.")
    return run


@pytest.fixture
def sample_run(tmp_path: Path) -> RunFolder:
    return make_sample_run(tmp_path / "run")


@pytest.fixture
def sample_factory() -> Callable[[Path], RunFolder]:
    """``make_sample_run`` itself, for tests that need the run in a chosen folder."""
    return make_sample_run


@pytest.fixture
def sample_content() -> SimpleNamespace:
    """What the sample run holds (shared through a fixture, not an import of conftest)."""
    return SimpleNamespace(title=TITLE, text=TEXT, columns=COLUMNS, rows=ROWS)
