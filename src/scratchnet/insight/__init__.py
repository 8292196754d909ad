"""See inside training: recorders (callbacks on ``fit``) and the numbers behind the pictures.

* :class:`Recorder` - per layer, on recording steps: gradient norm and mean |grad|,
  update-to-weight ratio, weight mean/std/histogram, activation mean/std/histogram,
  saturated (sigmoid/tanh) and dead (ReLU) shares; per step: loss and learning rate.
* :class:`Recording` - those records as numpy arrays; saved as ``.npz`` + ``.json``
  (no pickle) and read back by the plots in ``scratchnet.plots``.
* ``stats`` - the definitions (saturation, dead units, histograms) as plain functions.
* ``grids`` - a trained 2-D classifier evaluated over the input plane (decision
  boundaries, per-hidden-unit maps).
* ``surfaces`` - two-parameter toy loss surfaces (Rosenbrock, an elongated quadratic,
  Beale) with hand-written gradients, and the paths optimisers take on them.
"""

from .grids import PlaneGrid, decision_grid, hidden_unit_grids, plane_grid
from .recorder import Recorder, activation_kind
from .recording import Recording
from .stats import (
    SATURATION_TOL,
    column_spread,
    dead_unit_share,
    dead_units,
    histogram,
    saturation_share,
    saturation_threshold,
    segment_norms,
    segment_stats,
)
from .surfaces import SURFACES, OptimizerPath, Surface, get_surface, optimizer_path

__all__ = [
    "SATURATION_TOL",
    "SURFACES",
    "OptimizerPath",
    "PlaneGrid",
    "Recorder",
    "Recording",
    "Surface",
    "activation_kind",
    "column_spread",
    "dead_unit_share",
    "dead_units",
    "decision_grid",
    "get_surface",
    "hidden_unit_grids",
    "histogram",
    "optimizer_path",
    "plane_grid",
    "saturation_share",
    "saturation_threshold",
    "segment_norms",
    "segment_stats",
]
