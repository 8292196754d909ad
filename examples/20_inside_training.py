"""Watch a small network learn a 2-D data set from the inside, with every insight picture.

A 2-8-8-2 tanh network learns the two moons (or another toy set) with Adam and a
cosine learning-rate schedule. A ``Recorder`` rides along as a callback; afterwards the
recording is saved (``.npz`` + ``.json``, no pickle), loaded back, and every picture is
drawn from the loaded copy, to show that the plots only read recorded data:

* loss per epoch and the learning rate of every step;
* gradient flow (mean |dW| per layer) and the update-to-weight ratio;
* weight and activation distributions per layer at the start, middle and end;
* the share of saturated tanh outputs over time;
* the decision boundary with the training points, and each hidden unit's map.

    python examples/20_inside_training.py                   # writes runs/inside-training
    python examples/20_inside_training.py --dataset circles --out /tmp/inside
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scratchnet as sn
from scratchnet.datasets import make_circles, make_moons, make_spiral, make_xor
from scratchnet.insight import Recorder, Recording, decision_grid, hidden_unit_grids
from scratchnet.layers import Dense, Tanh
from scratchnet.plots.boundary import plot_decision_boundary, plot_hidden_units
from scratchnet.plots.distributions import (
    plot_activation_distributions,
    plot_weight_distributions,
)
from scratchnet.plots.schedules import plot_lr_curves
from scratchnet.plots.training import (
    plot_gradient_flow,
    plot_loss_curves,
    plot_saturation,
    plot_update_ratio,
)
from scratchnet.report import RunFolder

DATASETS = {"moons": make_moons, "circles": make_circles, "xor": make_xor,
            "spiral": lambda n, seed: make_spiral(n, arms=2, seed=seed)}


def main(dataset: str = "moons", epochs: int = 200, seed: int = 0,
         out: str | Path = "runs/inside-training") -> Path:
    X, y = DATASETS[dataset](n=300, seed=seed)
    batch_size = 30
    steps = epochs * (len(X) // batch_size)
    model = sn.Sequential([Dense(2, 8), Tanh(), Dense(8, 8), Tanh(), Dense(8, 2)], seed=seed)
    schedule = sn.CosineWarmup(0.02, total_steps=steps, warmup_steps=steps // 20)
    model.compile("cross_entropy", sn.Adam(lr=schedule))
    recorder = Recorder(every_steps=max(1, steps // 100))
    model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[recorder])

    run = RunFolder(out, "inside-training", {"dataset": dataset, "epochs": epochs, "seed": seed},
                    title=f"Inside training: a 2-8-8-2 tanh network on {dataset}")
    recorder.recording().save(run.path / "recording.npz")
    run.add_file("recording.npz", "The recorded statistics (numpy arrays, no pickle).")
    run.add_file("recording.json", "What the arrays mean: layers, settings, shapes.")
    rec = Recording.load(run.path / "recording.npz")  # from here on: only recorded data

    run.save_figure(plot_loss_curves({"training loss": rec.epoch("loss")}, logy=True),
                    "loss.png", "Mean training loss per epoch.")
    run.save_figure(plot_lr_curves({"cosine with warm-up": rec.step_lr}), "lr.png",
                    "The learning rate of every optimiser step, as recorded.")
    run.save_figure(plot_gradient_flow(rec, title="Gradient flow"), "gradient_flow.png",
                    "Mean |dW| per layer over training (log scale).")
    run.save_figure(plot_update_ratio(rec), "update_ratio.png",
                    "||ΔW|| / ||W|| per step and layer; dashed: the 1e-3 rule of thumb.")
    run.save_figure(plot_weight_distributions(rec), "weights.png",
                    "Each layer's weights at the start, middle and end of training.")
    run.save_figure(plot_activation_distributions(rec), "activations.png",
                    "Each tanh layer's outputs on one batch, start, middle and end.")
    run.save_figure(plot_saturation(rec), "saturation.png",
                    "Share of tanh outputs with |a| > 0.949 (derivative below 10% of its peak).")
    model.eval()
    run.save_figure(plot_decision_boundary(decision_grid(model, X), X, y),
                    "boundary.png", "Predicted class over the plane, with the training points.")
    grid, maps = hidden_unit_grids(model, X, resolution=60)
    run.save_figure(plot_hidden_units(grid, maps, X, y), "hidden_units.png",
                    "Each hidden unit's output over the input plane.")
    report = run.finish()
    print(f"final loss {rec.epoch('loss')[-1]:.4f}, accuracy {rec.epoch('accuracy')[-1]:.1%}")
    print(f"report: {report}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="moons")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/inside-training")
    a = parser.parse_args()
    main(a.dataset, a.epochs, a.seed, a.out)
