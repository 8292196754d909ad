"""Max and average pooling over NCHW images.

Both layers look at ``kh x kw`` windows moved by ``(sh, sw)`` and reduce each window to
one number per channel. They are computed without any loop over pixels: for each of
the ``kh*kw`` kernel offsets ``(i, j)`` the strided view ::

    x_ij = xp[:, :, i : i + sh*(Ho-1) + 1 : sh, j : j + sw*(Wo-1) + 1 : sw]   # (N, C, Ho, Wo)

holds element ``(i, j)`` of every window at once, so a window reduction is a loop of
``kh*kw`` whole-array operations. When the windows tile the image (stride == kernel,
no padding, the usual 2x2/2 pooling) the same views come from a free reshape to
``(N, C, Ho, kh, Wo, kw)``: average pooling then sums whole rows first (contiguous
memory) and both backward passes can *assign* instead of *add*, since no input pixel
belongs to two windows. Rows/columns that do not fill a whole window are dropped
(PyTorch's floor mode) and get zero gradient.

Max pooling makes a few passes per offset over its input and its input gradient, so it
works through the batch a few samples at a time (:attr:`_Pool2D.chunk_bytes` of input
per chunk): each chunk then stays in the CPU cache across its passes instead of being
read again from main memory for every offset.
"""

from __future__ import annotations

import numpy as np

from ..backend import FLOAT_DTYPES
from ..errors import ConfigError, DTypeError, ScratchnetError, ShapeError
from ..parallel import run_groups, workers_for
from .base import Layer, register_layer
from .conv import as_pair, pair_config, pooled_size


class _Pool2D(Layer):
    """Shared window geometry, validation and config of MaxPool2D and AvgPool2D."""

    batch_parallel = True  # shares each batch between worker threads

    #: value the padding takes in the forward pass (-inf for max, 0 for average)
    pad_value = 0.0
    #: Input bytes processed per chunk of samples by the multi-pass loops (MaxPool2D):
    #: small enough to stay in the CPU cache between passes (measured on the MNIST CNN,
    #: where the first pooling layer sees 11 MB per batch of 128).
    chunk_bytes = 512 * 2**10

    def __init__(self, kernel_size=2, stride=None, padding=0, name: str | None = None):
        super().__init__(name)
        kind = type(self).__name__
        self.kernel_size = as_pair(kernel_size, f"{kind} kernel_size")
        self.stride = self.kernel_size if stride is None else as_pair(stride, f"{kind} stride")
        self.padding = as_pair(padding, f"{kind} padding", minimum=0)
        for k, p in zip(self.kernel_size, self.padding, strict=True):
            # PyTorch's rule: with at most half a kernel of padding, every window keeps
            # at least one real pixel, so no output is made of padding alone.
            if p > k // 2:
                raise ConfigError(
                    f"{kind} padding {pair_config(self.padding)} must be at most half the "
                    f"kernel size {pair_config(self.kernel_size)}"
                )
        self._cache: dict | None = None

    # -- geometry -------------------------------------------------------------------------
    def _spatial_out(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ShapeError(
                f"{self.describe()}: kernel {kh}x{kw} is larger than the padded input "
                f"{h + 2 * ph}x{w + 2 * pw} (input {h}x{w}, padding {ph},{pw})"
            )
        return pooled_size(h, kh, sh, ph), pooled_size(w, kw, sw, pw)

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"{self.describe()}: expected a sample shape (channels, height, width), "
                f"got {tuple(input_shape)}"
            )
        c, h, w = input_shape
        return (c, *self._spatial_out(h, w))

    @property
    def tiles(self) -> bool:
        """True when windows neither overlap nor need padding (the reshape fast path)."""
        return self.stride == self.kernel_size and self.padding == (0, 0)

    def _offsets(self):
        kh, kw = self.kernel_size
        return [(i, j) for i in range(kh) for j in range(kw)]  # row-major order

    def _check(self, x) -> np.ndarray:
        self._check_input(x, 4, "(batch, channels, height, width)")
        if x.dtype not in FLOAT_DTYPES:
            raise DTypeError(
                f"{self.describe()}: input dtype must be float32 or float64, got {x.dtype}"
            )
        return x

    def _chunks(self, n: int, sample_bytes: int) -> list[slice]:
        """Consecutive slices of the batch axis, each about :attr:`chunk_bytes` of input,
        times the number of worker threads: with several, smaller chunks would leave the
        threads waiting for Python's global lock between their many short NumPy calls
        (measured: no gain at all from two threads at 512 KB, 1.3x at 1 MB). The chunks
        change no result (every window is computed on its own)."""
        step = max(1, self.chunk_bytes * workers_for(n) // max(1, sample_bytes))
        return [slice(n0, min(n, n0 + step)) for n0 in range(0, n, step)]

    def _for_each_chunk(self, n: int, sample_bytes: int, body) -> None:
        """``body(rows)`` for every chunk of the batch (:meth:`_chunks`), the chunks shared
        between the worker threads in contiguous groups."""
        chunks = self._chunks(n, sample_bytes)

        def group_of(group: range, worker: int) -> None:  # one thread's chunks
            for g in group:
                body(chunks[g])

        run_groups(group_of, len(chunks))

    def _windows(self, xp: np.ndarray, ho: int, wo: int):
        """Function ``(i, j) -> (N, C, Ho, Wo)`` view of element (i, j) of every window."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if self.tiles:
            n, c = xp.shape[:2]
            # Cropping then splitting each spatial axis in two is always a view.
            x6 = xp[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw)
            return lambda i, j: x6[:, :, :, i, :, j]
        return lambda i, j: xp[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]

    def _reduce(self, xp: np.ndarray, ho: int, wo: int, op) -> np.ndarray:
        """Combine the elements of every window with the binary ufunc ``op`` (np.add).

        Tiling windows go in two steps, which keeps the memory access contiguous: first
        the ``kh`` rows of each band of windows (whole rows of length Wo*kw at a time),
        then the ``kw`` neighbours inside each window row. Otherwise: one whole-array
        operation per kernel offset.
        """
        (kh, kw) = self.kernel_size
        if self.tiles:
            n, c = xp.shape[:2]
            bands = xp[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo * kw)
            rows = bands[:, :, :, 0].copy()  # (N, C, Ho, Wo*kw)
            for i in range(1, kh):
                op(rows, bands[:, :, :, i], out=rows)
            rows = rows.reshape(n, c, ho, wo, kw)
            out = rows[..., 0].copy()
            for j in range(1, kw):
                op(out, rows[..., j], out=out)
            return out
        window = self._windows(xp, ho, wo)
        offsets = self._offsets()
        out = window(*offsets[0]).copy()
        for i, j in offsets[1:]:
            op(out, window(i, j), out=out)
        return out

    def _pad(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        if ph == 0 and pw == 0:
            return x
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=self.pad_value)

    def _check_grad(self, grad_out) -> dict:
        if self._cache is None:
            raise ScratchnetError(f"{self.describe()}: backward() called before forward()")
        expected = self._cache["y_shape"]
        if not isinstance(grad_out, np.ndarray) or grad_out.shape != expected:
            got = grad_out.shape if isinstance(grad_out, np.ndarray) else type(grad_out).__name__
            raise ShapeError(f"{self.describe()}: grad_out must have shape {expected}, got {got}")
        if grad_out.dtype != self._cache["dtype"]:
            raise DTypeError(
                f"{self.describe()}: grad_out dtype is {grad_out.dtype}, expected "
                f"{self._cache['dtype']} (the input's)"
            )
        return self._cache

    def _grad_input(self, x_shape, dtype, ho: int, wo: int) -> np.ndarray:
        """Zeroed gradient of the (padded) input for the backward pass.

        In the tiling case the covered part is fully overwritten by the caller, so only
        the cropped remainder (rows/columns beyond ``Ho*kh``/``Wo*kw``) is zeroed.
        """
        n, c, h, w = x_shape
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if self.tiles:
            dx = np.empty(x_shape, dtype=dtype)
            dx[:, :, ho * kh :] = 0
            dx[:, :, : ho * kh, wo * kw :] = 0
        else:
            dx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
        return dx

    def _crop(self, dxp: np.ndarray, x_shape) -> np.ndarray:
        ph, pw = self.padding
        if ph == 0 and pw == 0:
            return dxp
        h, w = x_shape[2:]
        return np.ascontiguousarray(dxp[:, :, ph : ph + h, pw : pw + w])

    def get_config(self) -> dict:
        return {
            "kernel_size": pair_config(self.kernel_size),
            "stride": pair_config(self.stride),
            "padding": pair_config(self.padding),
            "name": self.name,
        }


@register_layer
class MaxPool2D(_Pool2D):
    """Max pooling: each output is the largest value of its ``kh x kw`` window.

    Shapes::

        x : (N, C, H, W)  ->  y : (N, C, Ho, Wo),   Ho = floor((H + 2*ph - kh) / sh) + 1

    Forward::

        y[n, c, r, s] = max_{i, j} xp[n, c, r*sh + i, s*sw + j]

    with ``xp`` padded by ``-inf`` (padding can never be the maximum).

    Backward: the max passes its gradient to the element that won and nothing to the
    others::

        dx[n, c, r*sh + i*, s*sw + j*] += dy[n, c, r, s]     (i*, j*) = argmax of the window

    **Ties.** When several elements of a window share the maximum (every window of a
    blank MNIST border is all zeros after ReLU) the max is still one function of its
    inputs, and its gradient goes to exactly *one* of them: the first in row-major
    order, as ``argmax`` (and PyTorch) picks it. Giving ``dy`` to every tied element
    would multiply the gradient by the number of ties.

    **How.** The forward pass scans the ``kh*kw`` offsets in row-major order, numbering
    them ``k = i*kw + j``, and keeps for every window its running maximum and the number
    ``winner`` of the offset that holds it. The maximum moves only to an element that is
    *strictly* greater, so a tie keeps the earlier element: the first maximum in
    row-major order. The backward pass then needs one comparison and one multiplication
    per offset::

        dx[n, c, r*sh + i, s*sw + j] += dy[n, c, r, s] * [winner[n, c, r, s] == i*kw + j]

    (A window whose max is NaN passes no gradient: its ``winner`` is ``kh*kw``, which is
    no offset's number.) ``winner`` takes one byte per output: the backward pass keeps
    that instead of the input, 16 times smaller for 2x2 windows of float32.

    Parameters
    ----------
    kernel_size : ``k`` or ``(kh, kw)``, default 2.
    stride : ``s`` or ``(sh, sw)``; default: the kernel size (windows tile the image).
    padding : ``-inf`` rows/columns on each side, at most half the kernel; default 0.
    """

    pad_value = -np.inf

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        ho, wo = self._spatial_out(*x.shape[2:])
        xp = self._pad(x)
        n, c = x.shape[:2]
        offsets = self._offsets()
        no_winner = len(offsets)  # the number of no offset: marks a NaN window
        number = np.min_scalar_type(no_winner).type  # uint8 up to 255 offsets
        y = np.empty((n, c, ho, wo), dtype=x.dtype)
        winner = np.zeros(y.shape, dtype=number)

        def scan(rows: slice) -> None:  # one chunk of the batch
            window = self._windows(xp[rows], ho, wo)
            best, won = y[rows], winner[rows]
            v = np.empty(best.shape, dtype=x.dtype)  # one offset's elements, contiguous
            moved = np.empty(best.shape, dtype=bool)  # v > running max, per window
            mark = np.empty(best.shape, dtype=number)
            best[...] = window(*offsets[0])
            for k, (i, j) in enumerate(offsets[1:], start=1):
                # Copying the strided window once is cheaper than reading it twice below.
                np.copyto(v, window(i, j))
                np.greater(v, best, out=moved)  # strictly: a tie keeps the earlier element
                # winner = k where moved. Offsets come in increasing k, so every recorded
                # winner is below k and max(winner, k * moved) is exactly that update
                # (two whole-array passes; a masked assignment is ~30x slower).
                np.maximum(won, np.multiply(moved, number(k), out=mark), out=won)
                np.maximum(best, v, out=best)  # NaN propagates, like torch
            np.isnan(best, out=moved)
            np.maximum(won, np.multiply(moved, number(no_winner), out=mark), out=won)

        self._for_each_chunk(n, xp[0].nbytes, scan)
        self._cache = {"x_shape": x.shape, "winner": winner, "y_shape": y.shape,
                       "dtype": x.dtype}
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        cache = self._check_grad(grad_out)
        winner, x_shape = cache["winner"], cache["x_shape"]
        ho, wo = winner.shape[2:]
        dxp = self._grad_input(x_shape, grad_out.dtype, ho, wo)

        def scatter(rows: slice) -> None:  # one chunk of the batch
            dwindow = self._windows(dxp[rows], ho, wo)
            won, dy = winner[rows], grad_out[rows]
            hit = np.empty(won.shape, dtype=bool)
            for k, (i, j) in enumerate(self._offsets()):
                np.equal(won, k, out=hit)
                if self.tiles:  # every input pixel is in exactly one window: assign
                    np.multiply(dy, hit, out=dwindow(i, j))
                else:  # overlapping windows add up
                    dwindow(i, j)[...] += dy * hit

        self._for_each_chunk(x_shape[0], dxp[0].nbytes, scatter)
        return self._crop(dxp, x_shape)


@register_layer
class AvgPool2D(_Pool2D):
    """Average pooling: each output is the mean of its ``kh x kw`` window.

    Shapes::

        x : (N, C, H, W)  ->  y : (N, C, Ho, Wo),   Ho = floor((H + 2*ph - kh) / sh) + 1

    Forward (``xp`` padded with zeros that count in the mean, PyTorch's default
    ``count_include_pad=True``)::

        y[n, c, r, s] = (1 / (kh*kw)) * sum_{i, j} xp[n, c, r*sh + i, s*sw + j]

    Backward: every element of a window gets an equal share of its output's gradient::

        dx[n, c, r*sh + i, s*sw + j] += dy[n, c, r, s] / (kh*kw)      for all i, j

    Parameters
    ----------
    kernel_size : ``k`` or ``(kh, kw)``, default 2.
    stride : ``s`` or ``(sh, sw)``; default: the kernel size.
    padding : zero rows/columns on each side, at most half the kernel; default 0.
    """

    pad_value = 0.0

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        ho, wo = self._spatial_out(*x.shape[2:])
        y = self._reduce(self._pad(x), ho, wo, np.add)
        kh, kw = self.kernel_size
        y *= x.dtype.type(1.0 / (kh * kw))
        self._cache = {"x_shape": x.shape, "y_shape": y.shape, "dtype": x.dtype}
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        cache = self._check_grad(grad_out)
        x_shape = cache["x_shape"]
        ho, wo = grad_out.shape[2:]
        kh, kw = self.kernel_size
        share = grad_out * grad_out.dtype.type(1.0 / (kh * kw))  # (N, C, Ho, Wo)
        dxp = self._grad_input(x_shape, grad_out.dtype, ho, wo)
        if self.tiles:
            # every pixel of window (r, s) gets share[r, s]: repeat each share kw times
            # along the row, then copy that row into the kh rows of the band of windows.
            n, c = x_shape[:2]
            row = np.repeat(share, kw, axis=3)  # (N, C, Ho, Wo*kw)
            dxp[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo * kw)[...] = row[
                :, :, :, None, :
            ]
        else:
            dwindow = self._windows(dxp, ho, wo)
            for i, j in self._offsets():
                dwindow(i, j)[...] += share
        return self._crop(dxp, x_shape)
