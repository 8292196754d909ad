"""The MNIST lesson: train an MLP or a CNN on handwritten digits (or Fashion-MNIST).

What happens, in order::

    load_data       uint8 images (n, 28, 28) and labels (n,) -> train / validation / test
    random_affine   each epoch, a freshly distorted copy of the training images
    fit             one epoch of mini-batch Adam on softmax cross-entropy
    evaluate        validation accuracy after every epoch, test accuracy at the end
    save_mnist_run  model.npz, curves.png, confusion.png, weights.png, mistakes.png,
                    report.html (through RunFolder)

Which data
----------
* ``data_dir=None``: the official split, 60,000 training and 10,000 test images,
  downloaded once into the cache by :mod:`scratchnet.data`.
* ``data_dir`` holding the four IDX files: the same split, read from that folder.
* ``data_dir`` holding only the 10,000-image test files (``t10k-*``), or
  ``split_test=N``: *split-test mode*. The first ``N`` test images (default 8,000)
  train, the rest (2,000) test. This is for machines without the training files; the
  numbers it gives are **not** comparable with published MNIST results (fewer
  training digits, and the last part of the MNIST test set is known to be the
  harder half). The run always says which data it used (:attr:`MnistData.source`).

In both modes the validation set is the last ``val_split`` fraction of the training
part, taken before any shuffling (Keras's rule), and never trained on.

The recipe
----------
The defaults (:data:`RECIPES`) were chosen by measurement on the real digits (see
docs/mnist.md for the figures and the commands): Adam with a cosine learning-rate
schedule (no warm-up, decaying to 0 at the last step) and, every epoch, a random
small rotation, scaling and shift of every training image (:func:`random_affine`).
With 8,000 training digits, augmentation is what lifts the MLP from ~96% to ~98%:
the network sees a slightly different digit every epoch, so it cannot memorise.

Ctrl-C
------
The first Ctrl-C asks training to stop at the next batch boundary: the weights are
those after the last complete optimiser step. The run folder is still written
(model, pictures, report, marked *interrupted*), and :attr:`MnistResult.interrupted`
is True; the command then exits with status 130. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..callbacks import Callback
from ..data import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, scale_images
from ..errors import ConfigError, DataError
from ..layers import Conv2D, Dense
from ..losses import SoftmaxCrossEntropy
from ..model import Sequential
from ..models import INPUT_SHAPES, MODELS
from ..optim import Adam
from ..schedules import CosineWarmup

DATASETS = ("mnist", "fashion")
DIGIT_NAMES = tuple(str(d) for d in range(10))
#: Default number of test-file images that train in split-test mode (the rest test).
DEFAULT_SPLIT_TEST = 8000
#: Images per forward pass when evaluating: bounds memory (a CNN activation of
#: 500 images is ~43 MB) without slowing the matrix products down.
EVAL_BATCH = 500


@dataclass(frozen=True)
class Recipe:
    """How a model is trained by default.

    epochs : passes over the training set.  batch_size : images per Adam step.
    lr : peak learning rate of the cosine schedule (``CosineWarmup(lr, total_steps)``).
    augment : draw a new :func:`random_affine` copy of the training images each epoch.
    """

    epochs: int
    batch_size: int
    lr: float
    augment: bool


#: Tuned by measurement (docs/mnist.md): 8,000 training digits, median of 3 seeds.
RECIPES: dict[str, Recipe] = {
    "mlp": Recipe(epochs=30, batch_size=64, lr=1e-3, augment=True),
    "cnn": Recipe(epochs=15, batch_size=64, lr=1e-3, augment=True),
}


@dataclass
class MnistConfig:
    """Settings of one ``scratchnet mnist`` run.

    model : "mlp" or "cnn".  dataset : "mnist" or "fashion".
    data_dir : folder with the IDX files (.gz or raw); None downloads into the cache.
    split_test : train on the first N images of the *test* file and test on the rest
        (None: only when ``data_dir`` lacks the training files, then N = 8,000).
    epochs, batch_size, lr, augment : None takes the model's :data:`RECIPES` entry.
    train_limit : use only the first N training images (after the split).
    test_limit : use only the first N test images.
    val_split : fraction of the training part held out for validation (0: none).
    seed : initial weights, shuffling, dropout and augmentation.
    download : allow downloading missing files (only used when data_dir is None).
    """

    model: str = "mlp"
    dataset: str = "mnist"
    data_dir: str | None = None
    split_test: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    augment: bool | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    val_split: float = 0.1
    seed: int = 0
    download: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(
                f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        recipe = RECIPES[self.model]
        if self.epochs is None:
            self.epochs = recipe.epochs
        if self.batch_size is None:
            self.batch_size = recipe.batch_size
        if self.lr is None:
            self.lr = recipe.lr
        if self.augment is None:
            self.augment = recipe.augment
        _check_int(self.epochs, "epochs", 1, 100_000)
        _check_int(self.batch_size, "batch size", 1, 60_000)
        _check_int(self.seed, "seed", 0, 2**32 - 1)
        for name in ("split_test", "train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None:
                _check_int(value, name.replace("_", " "), 1, 10**7)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"learning rate must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.val_split, (int, float)) and 0.0 <= self.val_split < 1.0):
            raise ConfigError(
                f"validation split must be a fraction in [0, 1), got {self.val_split!r}"
            )


def _check_int(value, name: str, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer between {lo} and {hi:,}, got {value!r}")


# -- data -------------------------------------------------------------------------------
@dataclass
class MnistData:
    """Images ``(n, 28, 28)`` uint8 and labels ``(n,)`` int64 of each part.

    ``val_images`` is empty (0 images) when there is no validation set.
    ``source`` says in words which files and which images each part came from.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    dataset_title: str
    mode: str  # "official" or "split-test"
    source: str
    notice: str = ""  # one line for split-test mode, printed even by --quiet runs

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_labels), "validation": len(self.val_labels),
                "test": len(self.test_labels)}


def has_training_files(folder: str | Path) -> bool:
    """True when ``folder`` holds a training-images file (``train-images*``)."""
    return any(Path(folder).expanduser().glob("train-images*"))


def load_data(cfg: MnistConfig) -> MnistData:
    """Load and split the images as ``cfg`` says (see the module docstring)."""
    loader = load_mnist if cfg.dataset == "mnist" else load_fashion_mnist
    title = "MNIST" if cfg.dataset == "mnist" else "Fashion-MNIST"
    names = DIGIT_NAMES if cfg.dataset == "mnist" else FASHION_MNIST_CLASSES
    where = f"the folder {cfg.data_dir}" if cfg.data_dir is not None else "the download cache"
    split_test = cfg.split_test
    if split_test is None and cfg.data_dir is not None and not has_training_files(cfg.data_dir):
        split_test = DEFAULT_SPLIT_TEST

    if split_test is not None:
        images, labels = loader("test", data_dir=cfg.data_dir, download=cfg.download,
                                progress=True)
        n = len(labels)
        if not 0 < split_test < n:
            raise ConfigError(
                f"--split-test {split_test}: the {title} test file has {n:,} images; the "
                f"number that train must be between 1 and {n - 1:,} so that some remain to test"
            )
        train_x, train_y = images[:split_test], labels[:split_test]
        test_x, test_y = images[split_test:], labels[split_test:]
        mode = "split-test"
        first_test = split_test
        why = ("" if cfg.split_test is not None else
               " (the folder has no training files, so the test file is split)")
        notice = (
            f"split-test mode: training images come from the first {split_test:,} images of "
            f"the {title} test file, test images from the remaining {n - split_test:,}; "
            "the official training set is not used"
        )
        source = (
            f"SPLIT-TEST MODE{why}: only the {title} test file (t10k, {n:,} images) from "
            f"{where} is used. Training images are test-file images "
            f"0-{split_test - 1:,}; test images are {first_test:,}-{n - 1:,}. The official "
            f"60,000-image training set is NOT used, so accuracies are not comparable "
            f"with published {title} results."
        )
    else:
        train_x, train_y = loader("train", data_dir=cfg.data_dir, download=cfg.download,
                                  progress=True)
        test_x, test_y = loader("test", data_dir=cfg.data_dir, download=cfg.download,
                                progress=True)
        mode, notice = "official", ""
        source = (
            f"The official {title} split from {where}: training images from the "
            f"{len(train_y):,}-image training file, test images from the "
            f"{len(test_y):,}-image test file."
        )

    if cfg.train_limit is not None and cfg.train_limit < len(train_y):
        train_x, train_y = train_x[: cfg.train_limit], train_y[: cfg.train_limit]
        source += f" Training part limited to its first {cfg.train_limit:,} images."
    if cfg.test_limit is not None and cfg.test_limit < len(test_y):
        test_x, test_y = test_x[: cfg.test_limit], test_y[: cfg.test_limit]
        source += f" Test part limited to its first {cfg.test_limit:,} images."

    n_val = int(round(len(train_y) * cfg.val_split))
    if cfg.val_split and (n_val == 0 or n_val >= len(train_y)):
        raise ConfigError(
            f"validation split {cfg.val_split} of {len(train_y)} training images leaves "
            f"{len(train_y) - n_val} to train and {n_val} to validate; both must be > 0 "
            "(use more training images or --val-split 0)"
        )
    val_x, val_y = train_x[len(train_y) - n_val:], train_y[len(train_y) - n_val:]
    train_x, train_y = train_x[: len(train_y) - n_val], train_y[: len(train_y) - n_val]
    if n_val:
        source += (
            f" The last {n_val:,} of the training part are held out for validation; "
            f"{len(train_y):,} images train, {n_val:,} validate, {len(test_y):,} test."
        )
    else:
        source += f" No validation set; {len(train_y):,} images train, {len(test_y):,} test."
    return MnistData(
        train_x, train_y.astype(np.int64), val_x, val_y.astype(np.int64),
        test_x, test_y.astype(np.int64), tuple(names), title, mode, source, notice,
    )


def to_model_input(images: np.ndarray, model_kind: str) -> np.ndarray:
    """Float images ``(n, 28, 28)`` -> ``(n, 784)`` for the MLP, ``(n, 1, 28, 28)`` for the CNN."""
    return images.reshape(len(images), *INPUT_SHAPES[model_kind])


def random_affine(images: np.ndarray, rng: np.random.Generator, max_rotation: float = 10.0,
                  max_scale: float = 0.1, max_shift: float = 2.0,
                  chunk: int = 1024) -> np.ndarray:
    """A randomly rotated, scaled and shifted copy of each image (data augmentation).

    images : ``(n, h, w)`` float32, ink bright on a zero background.
    Each image gets its own angle ``a ~ U(-max_rotation, max_rotation)`` degrees, zoom
    ``s ~ U(1 - max_scale, 1 + max_scale)`` and shift ``t ~ U(-max_shift, max_shift)``
    pixels on each axis. Returns ``(n, h, w)`` float32.

    How: for every *output* pixel ``p`` (coordinates relative to the image centre) we
    ask where it comes from in the input, ``q = R(-a) (p - t) / s``, and read the input
    there by bilinear interpolation between the 4 surrounding pixels (outside the
    image counts as 0, the background). Going output -> input leaves no holes.
    Images are processed ``chunk`` at a time so memory stays small for 60,000 images;
    all random numbers are drawn first, so the result does not depend on ``chunk``.
    """
    n, h, w = images.shape
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    scale = rng.uniform(1.0 - max_scale, 1.0 + max_scale, n)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))
    cos = (np.cos(angle) / scale).astype(np.float32)[:, None, None]
    sin = (np.sin(angle) / scale).astype(np.float32)[:, None, None]
    shift = shift.astype(np.float32)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    rows -= cy
    cols -= cx
    out = np.empty((n, h, w), dtype=np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        u = rows - shift[s:e, 0, None, None]  # (m, h, w) output coordinates
        v = cols - shift[s:e, 1, None, None]
        src_r = cos[s:e] * u + sin[s:e] * v + cy  # where each output pixel is read from
        src_c = cos[s:e] * v - sin[s:e] * u + cx
        out[s:e] = _bilinear(images[s:e], src_r, src_c)
    return out


def _bilinear(images: np.ndarray, src_r: np.ndarray, src_c: np.ndarray) -> np.ndarray:
    """``images`` ``(m, h, w)`` read at fractional positions ``(src_r, src_c)`` (each
    ``(m, h, w)``) by bilinear interpolation; 0 outside the image."""
    m, h, w = images.shape
    r0, c0 = np.floor(src_r), np.floor(src_c)
    fr, fc = src_r - r0, src_c - c0  # weights of the lower / right neighbours
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    # A one-pixel zero border makes neighbours just outside the image read 0; points
    # farther out are zeroed by `inside`.
    inside = (r0 >= -1) & (r0 <= h - 1) & (c0 >= -1) & (c0 <= w - 1)
    wp = w + 2
    flat = np.pad(images, ((0, 0), (1, 1), (1, 1))).reshape(m, -1)
    top_left = (np.clip(r0, -1, h - 1) + 1) * wp + np.clip(c0, -1, w - 1) + 1
    top_left = top_left.reshape(m, -1)

    def at(offset: int) -> np.ndarray:
        return np.take_along_axis(flat, top_left + offset, axis=1).reshape(m, h, w)

    out = (at(0) * (1 - fc) + at(1) * fc) * (1 - fr) + (at(wp) * (1 - fc) + at(wp + 1) * fc) * fr
    out[~inside] = 0.0
    return out


# -- training ------------------------------------------------------------------------------
class TrainingInterrupted(Exception):
    """Raised inside ``fit`` (between batches) once Ctrl-C was pressed; caught by the lesson."""


class InterruptFlag:
    """Context manager: the first Ctrl-C (SIGINT) only sets :attr:`requested`, the second
    raises ``KeyboardInterrupt`` at once. Outside the main thread (where Python cannot
    install signal handlers) it does nothing, and Ctrl-C raises as usual."""

    def __init__(self, on_request: Callable[[], None] | None = None):
        self.requested = False
        self._on_request = on_request
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self._on_request is not None:
            self._on_request()

    def __enter__(self) -> InterruptFlag:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        except ValueError:  # not the main thread
            self._installed = False
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


class _Watch(Callback):
    """Records every batch loss, raises TrainingInterrupted at a batch boundary after
    Ctrl-C, and drives the per-epoch progress bar."""

    def __init__(self, flag: InterruptFlag, batch_losses: list[float], log: _EpochLog):
        self.flag, self.batch_losses, self.log = flag, batch_losses, log
        self._sum, self._count = 0.0, 0

    def on_epoch_begin(self, epoch: int) -> None:
        self._sum, self._count = 0.0, 0

    def on_batch_begin(self, step: int) -> None:
        if self.flag.requested:
            raise TrainingInterrupted

    def on_batch_end(self, step: int, logs: dict) -> None:
        loss = float(logs["loss"])
        self.batch_losses.append(loss)
        self._sum, self._count = self._sum + loss, self._count + 1
        bar = self.log.bar
        if bar is not None:
            bar.update(1)
            if self._count % 10 == 1:
                bar.set_postfix(loss=f"{self._sum / self._count:.4f}")


@dataclass
class MnistResult:
    """What :func:`train_mnist` returns.

    history : per completed epoch: ``loss``, ``accuracy`` (training batches, augmented,
        dropout on), ``val_loss``, ``val_accuracy`` (absent without validation),
        ``lr`` (rate at the epoch's last step), ``seconds``.
    batch_losses : loss of every training batch, in order.
    test_proba : ``(n_test, 10)`` softmax probabilities; ``test_pred`` the argmax.
    confusion : ``(10, 10)`` int64, ``confusion[true, predicted]``.
    """

    config: MnistConfig
    data: MnistData
    model: Sequential
    history: dict[str, list[float]]
    batch_losses: list[float]
    epochs_done: int
    interrupted: bool
    interrupt_note: str | None
    train_seconds: float
    test_proba: np.ndarray = field(repr=False)
    test_pred: np.ndarray = field(repr=False)
    test_accuracy: float = 0.0
    test_loss: float = 0.0
    confusion: np.ndarray = field(default=None, repr=False)

    @property
    def per_class_accuracy(self) -> np.ndarray:
        """``(10,)``: correct / images of each true class (NaN for a class with none)."""
        totals = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.confusion) / np.maximum(totals, 1), np.nan)

    @property
    def epoch_seconds(self) -> float | None:
        """Median seconds per completed epoch (augmentation + training + validation)."""
        s = self.history.get("seconds", [])
        return float(np.median(s)) if s else None


def build_model(cfg: MnistConfig, n_train: int) -> Sequential:
    """The model of ``cfg.model`` compiled with the recipe: softmax cross-entropy and Adam
    whose rate follows a cosine from ``lr`` down to 0 over all ``epochs * batches`` steps."""
    model = MODELS[cfg.model](seed=cfg.seed)
    model.name = f"{cfg.dataset}_{cfg.model}"  # predict reads the class names from this
    steps = cfg.epochs * math.ceil(n_train / cfg.batch_size)
    return model.compile(loss="cross_entropy",
                         optimizer=Adam(lr=CosineWarmup(cfg.lr, total_steps=steps)))


def train_mnist(cfg: MnistConfig, data: MnistData | None = None,
                progress: Callable[[str], None] | None = None,
                bars: bool | None = None, fit_kwargs: dict | None = None) -> MnistResult:
    """Train, validate each epoch, test at the end. Ctrl-C stops cleanly (module docstring).

    data : already loaded data (default: :func:`load_data`).
    progress : called with one line of text per epoch (and notes); None: silent.
    bars : tqdm progress bars per epoch; default when stderr is a terminal and
        ``progress`` is given.
    fit_kwargs : extra arguments for ``Sequential.fit``, e.g. checkpoints
        (``checkpoint_dir``, ``checkpoint_every``, ``resume``).

    Training is one ``fit`` call: the augmentation is ``fit``'s per-epoch ``augment`` hook
    (its random numbers come from a generator seeded with ``(seed, epoch)``), so a run
    resumed from a checkpoint sees exactly the images the uninterrupted run saw.
    """
    data = data if data is not None else load_data(cfg)
    if len(data.train_labels) == 0 or len(data.test_labels) == 0:
        raise DataError("the training and test parts must both hold at least one image")
    say = progress or (lambda line: None)
    if bars is None:
        bars = progress is not None and sys.stderr.isatty()
    model = build_model(cfg, len(data.train_labels))
    x_train = to_model_input(scale_images(data.train_images), cfg.model)
    y_train = data.train_labels
    validation = None
    if len(data.val_labels):
        validation = (to_model_input(scale_images(data.val_images), cfg.model), data.val_labels)
    n_batches = math.ceil(len(y_train) / cfg.batch_size)

    def augment(X: np.ndarray, epoch: int, rng: np.random.Generator) -> np.ndarray:
        # A fresh random distortion of every training image each epoch.
        images = X.reshape(-1, 28, 28)
        moved = random_affine(images, np.random.default_rng([cfg.seed, 1, epoch]))
        return to_model_input(moved, cfg.model)

    batch_losses: list[float] = []
    epochs_log = _EpochLog(cfg, say, bars, n_batches, validation is not None)
    interrupted, note = False, None
    start = time.perf_counter()

    def requested() -> None:
        say("\nCtrl-C: stopping after the current batch and saving what was trained "
            "(press Ctrl-C again to stop at once)...")

    with InterruptFlag(requested) as flag:
        watch = _Watch(flag, batch_losses, epochs_log)
        try:
            model.fit(x_train, y_train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                      shuffle=True, verbose=0, validation_data=validation,
                      callbacks=[watch, epochs_log],
                      augment=augment if cfg.augment else None, **(fit_kwargs or {}))
        except TrainingInterrupted:
            interrupted = True
            done = len(epochs_log.history["loss"])
            note = (f"Training was interrupted (Ctrl-C) during epoch {done + 1} of "
                    f"{cfg.epochs}; the model keeps the weights after its last complete "
                    f"step ({len(batch_losses):,} steps this session, {done} complete epochs).")
        except KeyboardInterrupt:
            interrupted = True
            note = (f"Training was stopped at once by a second Ctrl-C during epoch "
                    f"{len(epochs_log.history['loss']) + 1} of {cfg.epochs}; the last step "
                    "may be incomplete.")
        finally:
            epochs_log.close_bar()
        # Evaluating 2,000-10,000 test images takes seconds; a Ctrl-C during it would
        # lose the run, so it stays inside the handler (a second Ctrl-C still aborts).
        train_seconds = time.perf_counter() - start
        model.eval()
        x_test = to_model_input(scale_images(data.test_images), cfg.model)
        logits = model.predict(x_test, batch_size=EVAL_BATCH)
    history = epochs_log.history
    loss = SoftmaxCrossEntropy()
    proba = loss.to_probabilities(logits)
    pred = proba.argmax(axis=1)
    confusion = confusion_matrix(data.test_labels, pred, len(data.class_names))
    return MnistResult(
        config=cfg, data=data, model=model, history=history, batch_losses=batch_losses,
        epochs_done=len(history["loss"]), interrupted=interrupted, interrupt_note=note,
        train_seconds=train_seconds, test_proba=proba, test_pred=pred,
        test_accuracy=float(np.mean(pred == data.test_labels)),
        test_loss=float(loss.forward(logits, data.test_labels)), confusion=confusion,
    )


class _EpochLog(Callback):
    """Per-epoch history, timing, the printed epoch line and the per-epoch progress bar.

    Epochs a resumed run had already finished are not in ``history`` (the checkpoint's own
    history holds them); the printed line numbers epochs from the start of the run.
    """

    def __init__(self, cfg: MnistConfig, say, bars: bool, n_batches: int, has_val: bool):
        self.cfg, self.say, self.bars, self.n_batches = cfg, say, bars, n_batches
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": [], "lr": [],
                                                "seconds": []}
        if has_val:
            self.history.update(val_loss=[], val_accuracy=[])
        self.bar = None
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch: int) -> None:
        self._t0 = time.perf_counter()
        if self.bars:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.n_batches, desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
                            unit="batch", leave=False, mininterval=0.2)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.close_bar()
        for key in self.history:
            if key != "seconds":
                self.history[key].append(float(logs[key]))
        self.history["seconds"].append(time.perf_counter() - self._t0)
        width = len(str(self.cfg.epochs))
        line = (f"epoch {epoch + 1:>{width}}/{self.cfg.epochs}  loss {logs['loss']:.4f}  "
                f"train acc {logs['accuracy']:.2%}")
        if "val_loss" in logs:
            line += f"  val loss {logs['val_loss']:.4f}  val acc {logs['val_accuracy']:.2%}"
        self.say(line + f"  lr {logs['lr']:.2e}  {self.history['seconds'][-1]:.1f} s")

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` int64 counts: row = true class, column = predicted."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(true, dtype=np.intp), np.asarray(pred, dtype=np.intp)), 1)
    return out


def mistakes(result: MnistResult, limit: int = 40) -> np.ndarray:
    """Indices of misclassified test images, most confident first (at most ``limit``)."""
    wrong = np.flatnonzero(result.test_pred != result.data.test_labels)
    confidence = result.test_proba[wrong, result.test_pred[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:limit]


def first_layer(model: Sequential):
    """The first Dense or Conv2D layer (the one whose weights ``weights.png`` draws)."""
    for layer in model.layers:
        if isinstance(layer, (Dense, Conv2D)):
            return layer
    raise ConfigError("the model has no Dense or Conv2D layer")


def first_block_output(model: Sequential, image: np.ndarray) -> np.ndarray:
    """What the first convolution block (conv -> batch norm -> ReLU) outputs for one
    ``(28, 28)`` image, in inference mode: ``(C_out, Ho, Wo)``."""
    end = next(i for i, layer in enumerate(model.layers) if type(layer).__name__ == "ReLU")
    x = image.reshape(1, 1, *image.shape).astype(model.dtype)
    model.eval()
    for layer in model.layers[: end + 1]:
        x = layer.forward(x)
    return x[0]


# -- text -----------------------------------------------------------------------------------
def describe_recipe(cfg: MnistConfig) -> str:
    """One line: epochs, batch size, optimiser and schedule, augmentation, seed."""
    aug = ("random rotation +-10 deg, zoom +-10%, shift +-2 px, new each epoch"
           if cfg.augment else "none")
    return (f"Recipe: {cfg.epochs} epochs, batch {cfg.batch_size}, Adam with a cosine learning "
            f"rate from {cfg.lr:g} down to 0, augmentation: {aug}, seed {cfg.seed}")


def format_setup(cfg: MnistConfig, data: MnistData, model: Sequential) -> str:
    """The lines printed before training: data, model, recipe."""
    sizes = data.sizes
    return "\n".join([
        f"Data: {data.source}",
        f"Images: {sizes['train']:,} train, {sizes['validation']:,} validation, "
        f"{sizes['test']:,} test",
        f"Model: {cfg.model.upper()} ({model.n_params:,} parameters; "
        f"input {INPUT_SHAPES[cfg.model]})",
        describe_recipe(cfg),
    ])


def per_class_rows(result: MnistResult) -> list[list]:
    """Rows ``[label, name, images, correct, accuracy, most often mistaken for]``."""
    names, conf = result.data.class_names, result.confusion
    rows = []
    for k in range(len(names)):
        off = conf[k].copy()
        off[k] = 0
        worst = int(off.argmax())
        confused = f"{names[worst]} ({off[worst]})" if off[worst] else "-"
        total = int(conf[k].sum())
        acc = float(conf[k, k] / total) if total else float("nan")
        rows.append([k, names[k], total, int(conf[k, k]), acc, confused])
    return rows


def format_results(result: MnistResult) -> str:
    """Final test accuracy and the per-class table, as printed by the command."""
    data = result.data
    lines = []
    if result.interrupted:
        lines.append(f"INTERRUPTED: {result.interrupt_note}")
    lines.append(
        f"Test accuracy: {result.test_accuracy:.2%} "
        f"({int(np.trace(result.confusion)):,} of {len(data.test_labels):,} "
        f"{data.dataset_title} test images; test loss {result.test_loss:.4f})"
    )
    if result.history.get("val_accuracy"):
        lines.append(f"Validation accuracy after the last epoch: "
                     f"{result.history['val_accuracy'][-1]:.2%}")
    if result.epoch_seconds is not None:
        lines.append(f"Training time: {result.train_seconds:.1f} s "
                     f"({result.epoch_seconds:.1f} s per epoch, median)")
    width = max(len(n) for n in data.class_names)
    lines.append("")
    lines.append(f"{'class':<{width + 4}} {'images':>6} {'correct':>7} {'accuracy':>8}  "
                 "most often mistaken for")
    for k, name, total, correct, acc, confused in per_class_rows(result):
        label = f"{k} {name}" if name != str(k) else name
        acc_text = f"{acc:.2%}" if total else "-"
        lines.append(f"{label:<{width + 4}} {total:>6} {correct:>7} {acc_text:>8}  {confused}")
    return "\n".join(lines)


# -- the run folder ----------------------------------------------------------------------------
def save_mnist_run(result: MnistResult, out_dir: str | Path,
                   argv: list[str] | None = None) -> Path:
    """Write the run folder: model.npz, curves.png, confusion.png, weights.png,
    mistakes.png, run.json and report.html. Returns the folder."""
    from ..plots.images import plot_first_layer, plot_mistakes
    from ..plots.mnist import plot_confusion, plot_training_curves
    from ..report import RunFolder

    cfg, data = result.config, result.data
    config = asdict(cfg)
    config["data mode"] = data.mode
    run = RunFolder(out_dir, "mnist", config, argv=argv,
                    title=f"scratchnet mnist: {cfg.model.upper()} on {data.dataset_title}")
    status = "interrupted" if result.interrupted else "finished"
    if result.interrupted:
        run.add_text("Training was interrupted", result.interrupt_note
                     + " Everything below describes that partly trained model.")
    run.add_text("Which data", data.source)
    metrics = {
        "test accuracy": result.test_accuracy,
        "test loss": result.test_loss,
        "epochs completed": result.epochs_done,
        "training images": len(data.train_labels),
        "test images": len(data.test_labels),
        "training time (s)": round(result.train_seconds, 1),
    }
    formats = {"test accuracy": ".2%", "test loss": ".4f"}
    if result.history.get("val_accuracy"):
        metrics["validation accuracy (last epoch)"] = result.history["val_accuracy"][-1]
        formats["validation accuracy (last epoch)"] = ".2%"
    if result.epoch_seconds is not None:
        metrics["seconds per epoch"] = round(result.epoch_seconds, 2)
    run.add_metrics(metrics, formats=formats)

    model_path = run.path / "model.npz"
    result.model.save(model_path)
    run.add_file("model.npz", "The trained network (architecture and weights); load it with "
                 "scratchnet.load_model, or classify your own pictures with "
                 "`scratchnet predict model.npz digit.png`.")
    summary = result.model.summary(input_shape=INPUT_SHAPES[cfg.model], print_fn=None)
    run.add_text("The model and how it was trained", summary + "\n\n" + describe_recipe(cfg))

    run.save_figure(
        plot_training_curves(result.history, result.batch_losses,
                             steps_per_epoch=math.ceil(len(data.train_labels) / cfg.batch_size)),
        "curves.png",
        "Left: loss of every training batch (faint), its epoch mean, and the validation loss. "
        "Right: accuracy. Training figures are measured on the augmented images while "
        "training (dropout on); validation figures on untouched held-out images.",
        title="Learning curves",
    )
    run.save_figure(
        plot_confusion(result.confusion, data.class_names),
        "confusion.png",
        "Test images by true class (rows) and predicted class (columns); the diagonal is "
        "correct. Off-diagonal cells show which classes the model mixes up.",
        title="Confusion matrix",
    )
    layer = first_layer(result.model)
    # The first test image the model gets right: a readable example, not a hard case.
    right = np.flatnonzero(result.test_pred == data.test_labels)
    sample = scale_images(data.test_images[right[0] if len(right) else 0])
    responses = first_block_output(result.model, sample) if cfg.model == "cnn" else None
    run.save_figure(
        plot_first_layer(layer, sample_image=sample, responses=responses),
        "weights.png",
        _weights_caption(layer),
        title="What the first layer looks for",
    )
    idx = mistakes(result, limit=40)
    run.save_figure(
        plot_mistakes(data.test_images[idx], data.test_labels[idx], result.test_pred[idx],
                      result.test_proba[idx, result.test_pred[idx]], data.class_names,
                      n_wrong=int(np.sum(result.test_pred != data.test_labels)),
                      n_total=len(data.test_labels)),
        "mistakes.png",
        "Misclassified test images, most confident mistakes first: predicted class with "
        "the model's probability for it, and the true label.",
        title="Mistakes",
    )
    run.add_table(
        "Accuracy per class",
        ["label", "class", "test images", "correct", "accuracy", "most often mistaken for"],
        per_class_rows(result),
        formats={"accuracy": ".2%"},
    )
    if result.epochs_done:
        cols = ["epoch", "train loss", "train accuracy"]
        has_val = bool(result.history.get("val_accuracy"))
        if has_val:
            cols += ["val loss", "val accuracy"]
        cols += ["learning rate", "seconds"]
        rows = []
        for e in range(result.epochs_done):
            row = [e + 1, result.history["loss"][e], result.history["accuracy"][e]]
            if has_val:
                row += [result.history["val_loss"][e], result.history["val_accuracy"][e]]
            row += [result.history["lr"][e], round(result.history["seconds"][e], 2)]
            rows.append(row)
        formats = {"train accuracy": ".2%", "val accuracy": ".2%", "train loss": ".4f",
                   "val loss": ".4f", "learning rate": ".2e"}
        run.add_table("Training, epoch by epoch", cols, rows,
                      formats={k: v for k, v in formats.items() if k in cols})
    run.finish(status=status)
    return run.path


def _weights_caption(layer) -> str:
    if isinstance(layer, Dense):
        return ("Each square is one hidden unit of the first Dense layer: its 784 incoming "
                "weights drawn as a 28x28 image (red positive, blue negative, each square on "
                "its own symmetric scale). A unit fires for ink on red and no ink on blue. "
                "Pixels at the very edge are blank in almost every image, so their weights "
                "barely move from their random start; a square that is noise all over "
                "belongs to a unit that (almost) never fires, a 'dead' ReLU.")
    return ("Top: the first convolution's 3x3 filters (red positive, blue negative, each on "
            "its own symmetric scale). Below: what the first block (convolution, batch norm, "
            "ReLU) outputs for one test image the model classifies correctly, one map per "
            "filter on a shared colour scale: edges of one orientation, the ink, or the "
            "background light up, depending on the filter.")
