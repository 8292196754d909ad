"""Pictures of the sigmoid lesson: the function and its derivative, and the vanishing gradient."""

from __future__ import annotations

import numpy as np

from .base import new_figure


def sigmoid_figure(z: np.ndarray, s: np.ndarray, ds: np.ndarray):
    """Two panels over the grid ``z (m,)``: ``sigmoid(z)`` and its derivative ``ds (m,)``,
    with the derivative's peak (0.25 at z = 0) marked and the saturated regions shaded."""
    fig, (a1, a2) = new_figure(9.0, 3.6, 1, 2)
    for ax in (a1, a2):
        for lo, hi in ((z[0], -4.0), (4.0, z[-1])):
            ax.axvspan(lo, hi, color="#bbbbbb", alpha=0.25, lw=0)
        ax.set_xlim(z[0], z[-1])
        ax.set_xlabel("z (the unit's input)")
    a1.plot(z, s, color="#1f77b4")
    a1.axhline(0.5, color="grey", ls=":", lw=1)
    a1.set_ylim(-0.03, 1.03)
    a1.set_ylabel("sigmoid(z)")
    a1.set_title("sigmoid(z) = 1 / (1 + e^-z)")
    a1.text(-7.7, 0.9, "saturated:\nflat, tiny slope", fontsize=8.5, color="#555555")
    a2.plot(z, ds, color="#d62728")
    peak = int(np.argmax(ds))
    a2.plot([z[peak]], [ds[peak]], "o", color="#d62728")
    a2.annotate(f"peak {ds[peak]:.2f} at z = {z[peak]:g}", (z[peak], ds[peak]),
                xytext=(1.4, 0.235), fontsize=9, arrowprops={"arrowstyle": "->", "lw": 0.8})
    a2.set_ylim(0, 0.27)
    a2.set_ylabel("sigmoid'(z) = s (1 - s)")
    a2.set_title("its derivative: never above 0.25")
    return fig


def vanishing_figure(k: np.ndarray, bound: np.ndarray, deriv_product: np.ndarray,
                     sigmoid_ratio: np.ndarray, relu_ratio: np.ndarray):
    """Log-scale curves against the number of layers ``k (depth,)``."""
    fig, ax = new_figure(6.4, 4.0)
    ax.plot(k, bound, "k--", marker="o", ms=4, label="0.25^k (the most sigmoid' allows)")
    ax.plot(k, deriv_product, marker="s", ms=4, color="#ff7f0e",
            label="product of the measured mean sigmoid'")
    ax.plot(k, sigmoid_ratio, marker="o", ms=5, color="#d62728", lw=2,
            label="error reaching the layer: sigmoid net")
    ax.plot(k, relu_ratio, marker="^", ms=5, color="#2ca02c", lw=2,
            label="error reaching the layer: ReLU net")
    ax.set_yscale("log")
    ax.set_xticks(k)
    ax.set_xlabel("layers the error has passed back through (k)")
    ax.set_ylabel("size relative to the output's error (log)")
    ax.set_title("The vanishing gradient")
    ax.legend(loc="lower left", fontsize=8.5)
    return fig
