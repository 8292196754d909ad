"""Classify your own pictures with a trained MNIST model.

A network trained on MNIST has only ever seen one kind of picture: 28 x 28 grey
pixels, white ink on a black background, the digit scaled so its longer side is 20
pixels and moved so its centre of mass sits at the centre (row 14, column 14).
A photo or a drawing from a paint program looks nothing like that, so before it
reaches the network :func:`to_mnist_format` makes it look like MNIST, following the
steps LeCun et al. describe for the original data:

1. grey levels in ``[0, 1]``; transparency is flattened onto a contrasting background;
2. **invert** when the background is light (ink must be bright on black);
3. subtract the paper's level (a plane fitted to the picture's edges, so uneven
   lighting goes too) and stretch so the strongest ink becomes 1; faint specks
   (< 15% of the ink) are cleared, they would only enlarge the bounding box;
4. **crop** to the bounding box of the ink, and thicken strokes much thinner than
   MNIST's pen (a thin brush on a big canvas would shrink to faint hairlines);
5. **scale** the longer side to 20 pixels, keeping the aspect ratio (anti-aliased);
6. **pad** to 28 x 28, placing the centre of mass at (14, 14).

Then the 784 pixels go through the model (reshaped to ``(1, 784)`` for an MLP or
``(1, 1, 28, 28)`` for a CNN) and softmax gives one probability per class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import FASHION_MNIST_CLASSES
from ..errors import ConfigError, DataError, DataFileError
from ..layers import Conv2D, Dense, softmax
from ..model import Sequential

#: Longer side of the digit and size of the canvas, as in MNIST.
BOX, SIZE = 20, 28
#: Ink fainter than this fraction of the strongest stroke is treated as background.
SPECK = 0.15
#: Thinnest stroke kept as it is, as a fraction of the digit's longer side (MNIST's
#: strokes measure about 0.13 of it); thinner strokes are thickened to this.
STROKE = 0.10
#: Pictures whose ink differs from the background by less than this (on a 0..1 grey
#: scale) are called blank.
MIN_CONTRAST = 0.1


def read_grey_image(path: str | os.PathLike) -> np.ndarray:
    """Read any image Pillow can open as grey levels ``(H, W)`` float32, 0 black .. 1 white.

    The EXIF orientation of phone photos is applied. Transparent pixels are laid on
    white when the visible ink is dark and on black when it is light, so a drawing
    saved with a transparent background keeps its strokes.

    Raises ``DataFileError`` for a missing file, a folder, or a file that is not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such image file")
    if path.is_dir():
        raise DataFileError(f"{path}: is a folder, expected an image file (PNG, JPEG, ...)")
    try:
        with Image.open(path) as img:
            img.seek(0)  # first frame of an animated GIF
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
                grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
                alpha = rgba[..., 3]
                visible = alpha > 0.5
                ink_is_dark = visible.any() and float(np.mean(grey[visible])) < 0.5
                paper = 1.0 if ink_is_dark else 0.0
                return (alpha * grey + (1.0 - alpha) * paper).astype(np.float32)
            return np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255.0)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise DataFileError(
            f"{path}: not an image Pillow can read ({type(exc).__name__}); give a PNG, JPEG, "
            "BMP or GIF picture of one digit"
        ) from None
    except OSError as exc:  # truncated or corrupt image data
        raise DataFileError(f"{path}: cannot read the image: {exc}") from None


def to_mnist_format(grey: np.ndarray, invert: bool | None = None,
                    name: str = "image") -> tuple[np.ndarray, bool]:
    """Turn a grey picture ``(H, W)`` (0 black .. 1 white) into an MNIST-style digit.

    invert : True if the ink is darker than the background; None decides from the
        picture (the median pixel is the background: light means invert).
    Returns ``(image, inverted)``: ``image`` is ``(28, 28)`` float32 in ``[0, 1]``,
    bright ink on black, longer side 20 pixels, centre of mass at (14, 14).

    Raises ``DataError`` when the picture is blank (no ink stands out).
    """
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise DataError(f"{name}: expected a 2-D grey image, got shape {grey.shape}")
    if invert is None:
        invert = bool(np.median(grey) > 0.5)
    ink = 1.0 - grey if invert else grey.copy()
    ink -= paper_level(ink)  # background to 0, even under uneven lighting
    np.clip(ink, 0.0, None, out=ink)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise DataError(
            f"{name}: the picture is blank: no strokes stand out from the background "
            f"(largest difference {peak:.3f} on a 0..1 scale, at least {MIN_CONTRAST} needed)"
        )
    ink /= peak
    ink[ink < SPECK] = 0.0
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = thicken_thin_strokes(ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1])
    digit = _resize_longer_side(crop, BOX)
    return _place_by_centre_of_mass(digit, SIZE), invert


def paper_level(ink: np.ndarray) -> np.ndarray:
    """The background's level at every pixel, as a tilted plane ``a + b*row + c*col``.

    A photo of paper is rarely evenly lit: one side is darker. Subtracting one number
    (the median) would leave the darker side as a grey smear that the bounding box then
    includes. The picture's outer frame (5% of its size on each side) is mostly paper,
    so a plane is fitted to it by least squares, twice: the second fit ignores frame
    pixels far above the first plane (ink touching the edge). Returns ``(H, W)`` float32.
    """
    h, w = ink.shape
    m = max(1, round(0.05 * min(h, w)))
    frame = np.zeros((h, w), dtype=bool)
    frame[:m], frame[-m:], frame[:, :m], frame[:, -m:] = True, True, True, True
    rows, cols = np.nonzero(frame)
    step = max(1, len(rows) // 20_000)  # a sample is plenty for 3 numbers
    rows, cols = rows[::step], cols[::step]
    values = ink[rows, cols].astype(np.float64)
    design = np.column_stack([np.ones(len(rows)), rows / max(h, 1), cols / max(w, 1)])
    coef = np.linalg.lstsq(design, values, rcond=None)[0]
    residual = values - design @ coef
    paper = residual <= np.median(residual) + 0.05
    if paper.sum() >= 3:
        coef = np.linalg.lstsq(design[paper], values[paper], rcond=None)[0]
    r, c = np.mgrid[0:h, 0:w]
    return (coef[0] + coef[1] * r / max(h, 1) + coef[2] * c / max(w, 1)).astype(np.float32)


def stroke_width(mask: np.ndarray) -> float:
    """Typical thickness of the strokes in a boolean ink mask, in pixels.

    A stroke of length ``L`` and thickness ``t`` covers ``A = L*t`` pixels and has about
    ``P = 2L`` pixels on its outline, so ``t = 2A / P`` (outline: ink pixels with a
    non-ink 4-neighbour)."""
    padded = np.pad(mask, 1)
    inner = (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
             & padded[1:-1, :-2] & padded[1:-1, 2:])
    outline = int(np.count_nonzero(mask & ~inner))
    return 2.0 * np.count_nonzero(mask) / max(outline, 1)


def thicken_thin_strokes(crop: np.ndarray, target: float = STROKE) -> np.ndarray:
    """Thicken strokes thinner than ``target`` x the crop's longer side (dilation).

    MNIST digits were written with a pen about an eighth as thick as the digit is tall
    (measured on the real digits: median 2.6 px in the 20 px box). A digit drawn with
    a thin brush on a big canvas shrinks to faint 1-pixel lines the network never saw,
    so its strokes are first widened with a maximum filter (each pixel takes the
    largest value within ``r`` pixels, rows then columns). Strokes thick enough are
    left alone. ``crop`` is ``(h, w)`` ink in [0, 1]; the result is ``r`` pixels larger
    on each side so that nothing is cut.
    """
    width = stroke_width(crop > 0.5)
    r = int(round((target * max(crop.shape) - width) / 2))
    if r < 1:
        return crop
    out = np.pad(crop, r)
    for axis in (0, 1):
        shifted = np.pad(out, [(r, r) if a == axis else (0, 0) for a in (0, 1)])
        n = out.shape[axis]
        out = np.max([np.take(shifted, np.arange(k, k + n), axis=axis)
                      for k in range(2 * r + 1)], axis=0)
    return out


def _resize_longer_side(img: np.ndarray, box: int) -> np.ndarray:
    """Scale ``img`` so its longer side is ``box`` pixels, keeping the aspect ratio
    (Pillow's Lanczos filter, which averages when shrinking). Peak stretched back to 1."""
    from PIL import Image

    h, w = img.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # Pillow wants (w, h)
    out = np.asarray(Image.fromarray(img, mode="F").resize(size, Image.Resampling.LANCZOS))
    out = np.clip(out, 0.0, None)  # Lanczos rings slightly below 0 next to edges
    # Shrinking a thin pen stroke averages it with the paper around it; MNIST strokes
    # have a saturated core, so the strongest pixel is made 1 again.
    return (out / max(float(out.max()), 1e-6)).astype(np.float32)


def _place_by_centre_of_mass(digit: np.ndarray, size: int) -> np.ndarray:
    """Paste ``digit`` (h, w <= size) into a ``size x size`` black canvas so that its
    centre of mass lands on pixel ``(size/2, size/2)`` (rounded to whole pixels, as
    MNIST's digits are: their centres of mass average 14.0 +- 0.3), without cutting ink."""
    h, w = digit.shape
    total = float(digit.sum())
    com_r = float((digit.sum(axis=1) * np.arange(h)).sum() / total)
    com_c = float((digit.sum(axis=0) * np.arange(w)).sum() / total)
    top = int(np.clip(round(size / 2 - com_r), 0, size - h))
    left = int(np.clip(round(size / 2 - com_c), 0, size - w))
    canvas = np.zeros((size, size), dtype=np.float32)
    canvas[top: top + h, left: left + w] = digit
    return canvas


# -- the model side --------------------------------------------------------------------
def input_shape(model: Sequential) -> tuple[int, ...]:
    """The sample shape an MNIST model takes: ``(784,)`` (Dense first) or ``(1, 28, 28)``
    (Conv2D first). ``ConfigError`` for a model that does not take 28 x 28 grey images."""
    first = model.layers[0]
    if isinstance(first, Dense) and first.n_in == SIZE * SIZE:
        return (SIZE * SIZE,)
    if isinstance(first, Conv2D) and first.in_channels == 1:
        return (1, SIZE, SIZE)
    got = (f"{first.n_in} inputs" if isinstance(first, Dense)
           else f"{first.in_channels} channels" if isinstance(first, Conv2D)
           else f"a first layer {type(first).__name__}")
    raise ConfigError(
        f"this model does not take 28x28 grey images (its first layer has {got}); use a "
        "model trained by `scratchnet mnist` (a Dense layer with 784 inputs or a Conv2D "
        "layer with 1 input channel)"
    )


def class_names(model: Sequential, n_outputs: int) -> tuple[str, ...]:
    """Fashion-MNIST names for a model ``scratchnet mnist --dataset fashion`` trained (its
    name starts with "fashion"), digits 0-9 for other 10-class models, else "class k"."""
    if n_outputs == 10:
        if (model.name or "").startswith("fashion"):
            return tuple(FASHION_MNIST_CLASSES)
        return tuple(str(d) for d in range(10))
    return tuple(f"class {k}" for k in range(n_outputs))


@dataclass
class Prediction:
    """One classified picture: the 28 x 28 input made from it, every class probability
    and the ``top`` classes as ``(class index, name, probability)``, most likely first."""

    path: str
    grey: np.ndarray
    image: np.ndarray
    inverted: bool
    probabilities: np.ndarray
    top: list[tuple[int, str, float]]
    class_names: tuple[str, ...]


def predict_images(model: Sequential, paths: Sequence[str | os.PathLike], top: int = 3,
                   invert: bool | None = None) -> list[Prediction]:
    """Read, convert and classify each picture (see the module docstring).

    Raises DataFileError / DataError naming the first picture that cannot be used,
    ConfigError for a model that does not take 28 x 28 images.
    """
    if not paths:
        raise ConfigError("no image given: name at least one picture file")
    shape = input_shape(model)
    greys, images, inverted = [], [], []
    for p in paths:
        grey = read_grey_image(p)
        image, inv = to_mnist_format(grey, invert=invert, name=str(p))
        greys.append(grey)
        images.append(image)
        inverted.append(inv)
    x = np.stack(images).reshape(len(images), *shape).astype(model.dtype)
    out = model.predict(x)
    proba = model.predict_proba(x) if model.loss is not None else out
    if not (np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-3)):
        proba = softmax(out, axis=1)  # a model saved without its loss: logits
    names = class_names(model, proba.shape[1])
    k = min(top, proba.shape[1])
    results = []
    for i, p in enumerate(paths):
        order = np.argsort(-proba[i], kind="stable")[:k]
        results.append(Prediction(
            path=str(p), grey=greys[i], image=images[i], inverted=inverted[i],
            probabilities=proba[i],
            top=[(int(c), names[c], float(proba[i, c])) for c in order],
            class_names=names,
        ))
    return results


def format_prediction(pred: Prediction) -> str:
    """``digit.png: 7   97.1%`` then the runners-up aligned below, one per line."""
    labels = [name if name == str(c) else f"{c} {name}" for c, name, _ in pred.top]
    width = max(len(label) for label in labels)
    pad = " " * (len(pred.path) + 2)
    return "\n".join(
        f"{pred.path + ': ' if i == 0 else pad}{label:<{width}}  {p:6.1%}"
        for i, (label, (_, _, p)) in enumerate(zip(labels, pred.top, strict=True))
    )
