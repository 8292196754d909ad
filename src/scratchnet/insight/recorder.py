"""``Recorder``: a callback that watches training from the inside, layer by layer.

Pass one to ``fit`` and it records, on *recording steps* (the first step of every
epoch by default, or every ``k`` optimiser steps):

* per weight layer (every layer with a parameter ``W``: Dense, Conv2D), about ``W``:
  gradient norm ``||dW||`` and mean ``|dW|``; the update-to-weight ratio
  ``||W_after - W_before|| / ||W_before||`` of that step; weight mean, std, norm and
  a histogram;
* per activation layer (Sigmoid, Tanh, ReLU, LeakyReLU, Softmax), about its output
  on the batch of that step: mean, std, a histogram, the share of saturated outputs
  (sigmoid, tanh) and the share of dead units (ReLU); see ``insight.stats`` for the
  definitions;

and, on *every* step, the batch loss and the learning rate used, and at every epoch
end the epoch's logs (loss, accuracy, val_*, lr).

How it uses the hooks of ``fit`` (steps are optimiser steps, ``opt.t``)::

    on_batch_begin(t)     recording step? switch model.record_outputs on
    forward               model.outputs keeps each layer's output
    backward              grads filled
    on_after_backward(t)  gradient, weight and activation statistics; keep a copy
                          of the weights (only on recording steps)
    optimizer.step        weights change
    on_batch_end(t + 1)   ||W_after - W_before|| -> update ratio; loss and lr

The recorder only reads: it never writes a parameter, a gradient or the model's
random generator, so a model trained with a recorder ends with exactly the weights
it would have had without one.

``recorder.recording()`` returns a :class:`~scratchnet.insight.recording.Recording`
(numpy arrays plus a small description), which the plots read and which saves to
``.npz`` + ``.json`` without pickle.
"""

from __future__ import annotations

import math

import numpy as np

from ..callbacks import Callback
from ..errors import ConfigError
from ..layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .recording import Recording
from .stats import (
    SATURATION_TOL,
    SegmentLayout,
    concat_float64,
    saturation_threshold,
    segment_stats,
    unit_view,
)

# Activation layer class -> the kind name used in recordings.
_ACTIVATION_KINDS: tuple[tuple[type, str], ...] = (
    (Sigmoid, "sigmoid"),
    (Tanh, "tanh"),
    (LeakyReLU, "leaky_relu"),
    (ReLU, "relu"),
    (Softmax, "softmax"),
)


def activation_kind(layer) -> str | None:
    """``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"softmax"`` or None."""
    for cls, kind in _ACTIVATION_KINDS:
        if isinstance(layer, cls):
            return kind
    return None


def _layer_label(index: int, layer) -> str:
    kind = type(layer).__name__
    n_in, n_out = getattr(layer, "n_in", None), getattr(layer, "n_out", None)
    if n_in is not None and n_out is not None:
        return f"{index}: {kind} {n_in}→{n_out}"
    return f"{index}: {kind}"


def _positive_or_none(value, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"Recorder {what} must be a positive integer or None, got {value!r}")
    return int(value)


class Recorder(Callback):
    """Record per-layer training statistics on recording steps (see the module doc).

    Args:
        every_steps: record every ``k`` optimiser steps (steps ``0, k, 2k, ...``).
        every_epochs: record at the first step of every ``m``-th epoch
            (epochs ``0, m, 2m, ...``, counted over all ``fit`` calls). The default,
            when neither is given, is every epoch but at least ``MIN_AUTO_GAP`` (40)
            steps apart (short epochs of tiny networks would otherwise make recording
            cost more than 5% of training). Give at most one of the two.
        bins: histogram bins for weights and activations.
        activations: also record activation statistics (switches
            ``model.record_outputs`` on for recording steps only).
        saturation_tol: an output is saturated where the activation's derivative is
            below ``saturation_tol`` times its peak (default 0.1).

    Overhead: a record costs a fixed number of NumPy calls whatever the depth (all
    layers go through one concatenated vector, see ``insight.stats.segment_stats``)
    plus copies of the weights; other steps cost three list appends. For a tiny
    network (8 hidden layers of 16 units, batch 32) one record costs about as much as
    one training step, so record every 20 steps or more there (e.g. ~100 records per
    run); for an MNIST-sized MLP a record costs a fraction of a step.
    """

    MIN_AUTO_GAP = 40

    def __init__(self, every_steps: int | None = None, every_epochs: int | None = None,
                 bins: int = 30, activations: bool = True,
                 saturation_tol: float = SATURATION_TOL):
        every_steps = _positive_or_none(every_steps, "every_steps")
        every_epochs = _positive_or_none(every_epochs, "every_epochs")
        if every_steps is not None and every_epochs is not None:
            raise ConfigError(
                "Recorder: give every_steps or every_epochs, not both "
                f"(got every_steps={every_steps}, every_epochs={every_epochs})"
            )
        # Default: every epoch, but never closer than MIN_AUTO_GAP steps, so that on tiny
        # networks with short epochs (where one record costs about one step) recording
        # stays under ~5% of training time.
        self._auto = every_steps is None and every_epochs is None
        if self._auto:
            every_epochs = 1
        self._last_record_step: int | None = None
        if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
            raise ConfigError(f"Recorder bins must be an integer >= 2, got {bins!r}")
        self.every_steps, self.every_epochs = every_steps, every_epochs
        self.bins = int(bins)
        self.activations = bool(activations)
        self.saturation_tol = float(saturation_tol)
        self._sat_threshold = saturation_threshold(saturation_tol)
        self._layers_known = False
        self.weight_layers: list[dict] = []
        self.activation_layers: list[dict] = []
        # per step
        self._step: list[int] = []
        self._step_loss: list[float] = []
        self._step_lr: list[float] = []
        # per epoch
        self._epoch_logs: dict[str, list[float]] = {}
        self._n_epochs = 0
        # per record
        self._rec: dict[str, list] = {k: [] for k in Recording.RECORD_KEYS}
        self._recording_now = False
        self._epoch_first_step = False
        self._switched_outputs = False
        self._w_before: np.ndarray | None = None
        self._w_starts: np.ndarray | None = None
        self._layouts: dict[tuple, SegmentLayout] = {}

    # -- which layers ----------------------------------------------------------------
    def _discover(self, model) -> None:
        weight_layers, act_layers = [], []
        for i, layer in enumerate(model.layers):
            if "W" in layer.params:
                weight_layers.append({
                    "index": i,
                    "type": type(layer).__name__,
                    "label": _layer_label(i, layer),
                    "shape": list(layer.params["W"].shape),
                })
            kind = activation_kind(layer)
            if kind is not None:
                act_layers.append({
                    "index": i,
                    "type": type(layer).__name__,
                    "label": _layer_label(i, layer),
                    "kind": kind,
                })
        if self._layers_known:
            if [w["index"] for w in weight_layers] != [w["index"] for w in self.weight_layers]:
                raise ConfigError(
                    "Recorder: this recorder already holds records of a different model; "
                    "use a new Recorder for each model"
                )
            return
        if not weight_layers:
            raise ConfigError(
                "Recorder: the model has no layer with a weight matrix W (Dense, Conv2D); "
                "nothing to record"
            )
        self.weight_layers, self.activation_layers = weight_layers, act_layers
        sizes = [int(np.prod(w["shape"])) for w in weight_layers]
        self._w_starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        kinds = [a["kind"] for a in act_layers]
        self._sat_layers = np.array([j for j, k in enumerate(kinds) if k in ("sigmoid", "tanh")],
                                    dtype=np.int64)
        self._sat_scale = np.array([2.0 if k == "sigmoid" else 1.0 for k in kinds])
        self._sat_shift = np.array([1.0 if k == "sigmoid" else 0.0 for k in kinds])
        self._relu_layers = [j for j, k in enumerate(kinds) if k == "relu"]
        self._n_w = len(weight_layers)
        self._layers_known = True

    # -- hooks ----------------------------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        self._discover(self.model)
        self._recording_now = False

    def on_epoch_begin(self, epoch: int) -> None:
        self._epoch_first_step = (
            self.every_epochs is not None and self._n_epochs % self.every_epochs == 0
        )
        self._n_epochs += 1

    def on_batch_begin(self, step: int) -> None:
        if self.every_steps is not None:
            record = step % self.every_steps == 0
        else:
            record = self._epoch_first_step
            self._epoch_first_step = False
            if record and self._auto and self._last_record_step is not None:
                record = step - self._last_record_step >= self.MIN_AUTO_GAP
        if record:
            self._last_record_step = step
        self._recording_now = record
        if record and self.activations and self.activation_layers and not self.model.record_outputs:
            self.model.record_outputs = True
            self._switched_outputs = True

    def _layout(self, arrays) -> SegmentLayout:
        # Sizes only change when the batch size does (the last, smaller batch of an
        # epoch): one cached layout per size pattern.
        key = tuple(a.size for a in arrays)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = SegmentLayout(key, self.bins)
            # Per element of the activation part (after the L gradients and L weights):
            # |scale * a - shift| is |u| of the saturation test (u = 2a - 1 for
            # sigmoid, u = a for tanh).
            first = 2 * self._n_w
            seg = layout.segment[layout.starts[first]:] - first \
                if len(key) > first else np.zeros(0, dtype=np.int64)
            layout.sat_scale = self._sat_scale[seg]
            layout.sat_shift = self._sat_shift[seg]
        return layout

    def on_after_backward(self, step: int) -> None:
        if not self._recording_now:
            return
        model, rec, L = self.model, self._rec, self._n_w
        layers = [model.layers[w["index"]] for w in self.weight_layers]
        rec["record_step"].append(step)
        rec["record_epoch"].append(self._n_epochs - 1)
        A = len(self.activation_layers)
        fresh = self.activations and A > 0 and len(model.outputs) == len(model.layers)
        outs = [model.outputs[a["index"]] for a in self.activation_layers] if fresh else []
        # One float64 vector holds the gradients, the weights and the activations, in
        # that order: every statistic of the three groups comes from the same few
        # segment reductions (no histograms of the gradients: hist_from=L).
        arrays = [layer.grads["W"] for layer in layers]
        arrays += [layer.params["W"] for layer in layers]
        arrays += outs
        layout = self._layout(arrays)
        flat = concat_float64(arrays)
        w_start = int(layout.starts[L])
        w_end = int(layout.starts[2 * L]) if outs else flat.size
        # The weights' part of the vector is the "before" snapshot of the update ratio
        # (segment_stats does not modify its input).
        self._w_before = flat[w_start:w_end]
        st = segment_stats(arrays, flat=flat, layout=layout, hist_from=L)
        rec["grad_norm"].append(st.norm[:L])
        rec["grad_mean_abs"].append(st.mean_abs[:L])
        w = slice(L, 2 * L)
        rec["weight_mean"].append(st.mean[w])
        rec["weight_std"].append(st.std[w])
        rec["weight_norm"].append(st.norm[w])
        rec["weight_hist"].append(st.counts[w])
        rec["weight_range"].append(st.range[w])
        if outs:
            self._record_activations(st, flat[w_end:], outs, layout)
        else:
            nan = np.full(A, np.nan)
            for key in ("act_mean", "act_std", "act_zero", "act_saturation", "act_dead"):
                rec[key].append(nan)
            rec["act_hist"].append(np.zeros((A, self.bins), dtype=np.int32))
            rec["act_range"].append(np.full((A, 2), np.nan))
        if self._switched_outputs:
            model.record_outputs = False
            model.outputs = []  # release the batch's activations
            self._switched_outputs = False

    def _record_activations(self, st, act_flat, outs, layout) -> None:
        rec, n_w, A = self._rec, 2 * self._n_w, len(outs)  # activations follow 2L segments
        starts = layout.starts[n_w:] - layout.starts[n_w]
        sizes = layout.sizes[n_w:]
        sat = np.full(A, np.nan)
        if self._sat_layers.size:
            u = act_flat * layout.sat_scale
            u -= layout.sat_shift
            saturated = np.abs(u, out=u) > self._sat_threshold
            sat[self._sat_layers] = (np.add.reduceat(saturated, starts) / sizes)[self._sat_layers]
        dead = np.full(A, np.nan)
        for j in self._relu_layers:
            out = outs[j]
            # (batch, units): a unit is alive if any sample's output is non-zero
            alive = out.any(axis=0) if out.ndim == 2 else np.any(unit_view(out), axis=1)
            dead[j] = 1.0 - np.count_nonzero(alive) / alive.size
        rec["act_mean"].append(st.mean[n_w:])
        rec["act_std"].append(st.std[n_w:])
        rec["act_zero"].append(np.add.reduceat(act_flat == 0, starts) / sizes)
        rec["act_hist"].append(st.counts[n_w:])
        rec["act_range"].append(st.range[n_w:])
        rec["act_saturation"].append(sat)
        rec["act_dead"].append(dead)

    def on_batch_end(self, step: int, logs: dict) -> None:
        self._step.append(step - 1)  # the step index of the update just made
        self._step_loss.append(float(logs.get("loss", math.nan)))
        self._step_lr.append(float(logs.get("lr", math.nan)))
        if not self._recording_now:
            return
        layers = [self.model.layers[w["index"]] for w in self.weight_layers]
        diff = concat_float64([layer.params["W"] for layer in layers])
        diff -= self._w_before  # a view into the record's vector: do not modify it
        diff *= diff
        delta = np.sqrt(np.add.reduceat(diff, self._w_starts))
        before_norm = self._rec["weight_norm"][-1]
        if before_norm.all():
            ratio = delta / before_norm
        else:  # a layer of all-zero weights: ratio 0 if it stayed so, inf if it moved
            ratio = np.where(delta > 0, np.inf, 0.0)
            np.divide(delta, before_norm, out=ratio, where=before_norm > 0)
        self._rec["update_ratio"].append(ratio)
        self._rec["record_loss"].append(float(logs.get("loss", math.nan)))
        self._w_before = None
        self._recording_now = False

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        n_before = self._n_epochs - 1
        for key in logs:
            if key not in self._epoch_logs:
                self._epoch_logs[key] = [math.nan] * n_before
        for key, values in self._epoch_logs.items():
            values.append(float(logs.get(key, math.nan)))

    def on_train_end(self, logs=None) -> None:
        # A fit that stopped between a recording step's hooks (an exception inside a
        # step) must not leave the model recording outputs.
        if self._switched_outputs:
            self.model.record_outputs = False
            self.model.outputs = []
            self._switched_outputs = False
        if self._recording_now:
            self._drop_partial_record()

    def _drop_partial_record(self) -> None:
        n = len(self._rec["update_ratio"])
        for values in self._rec.values():
            del values[n:]
        self._recording_now = False

    # -- results ----------------------------------------------------------------------------
    @property
    def n_records(self) -> int:
        return len(self._rec["update_ratio"])

    def recording(self) -> Recording:
        """The records so far as a :class:`Recording` (arrays are copies)."""
        if not self._layers_known:
            raise ConfigError("Recorder: nothing recorded yet; pass it to fit(callbacks=[...])")
        n = self.n_records
        L, A, B = len(self.weight_layers), len(self.activation_layers), self.bins
        shapes = Recording.record_shapes(L, A, B)
        arrays: dict[str, np.ndarray] = {}
        for key in Recording.RECORD_KEYS:
            values = self._rec[key][:n]
            dtype = Recording.DTYPES.get(key, np.float64)
            arrays[key] = (np.array(values, dtype=dtype).reshape((n, *shapes[key]))
                           if values else np.zeros((0, *shapes[key]), dtype=dtype))
        arrays["step"] = np.asarray(self._step, dtype=np.int64)
        arrays["step_loss"] = np.asarray(self._step_loss, dtype=np.float64)
        arrays["step_lr"] = np.asarray(self._step_lr, dtype=np.float64)
        epoch_keys = list(self._epoch_logs)
        for key in epoch_keys:
            arrays[f"epoch_{key}"] = np.asarray(self._epoch_logs[key], dtype=np.float64)
        meta = {
            "weight_layers": [dict(w) for w in self.weight_layers],
            "activation_layers": [dict(a) for a in self.activation_layers],
            "epoch_keys": epoch_keys,
            "settings": {
                "every_steps": self.every_steps,
                "every_epochs": self.every_epochs,
                "bins": self.bins,
                "saturation_tol": self.saturation_tol,
                "activations": self.activations,
            },
        }
        return Recording(meta, arrays)
