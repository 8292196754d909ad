"""2-D convolution by im2col: every output pixel becomes one row of a matrix product.

A convolution layer slides ``C_out`` small filters of shape ``(C_in, kh, kw)`` over the
input and takes a dot product at every position. Written naively that is six nested
loops; written as *im2col* it is one matrix multiplication:

1. **im2col** copies every receptive field (the ``C_in*kh*kw`` input values one output
   pixel sees) into a column of a matrix ``cols`` of shape ``(C_in*kh*kw, N*Ho*Wo)``.
2. The filters, flattened to rows, form ``W2 = W.reshape(C_out, C_in*kh*kw)``.
3. ``y = W2 @ cols + b`` gives every output pixel of every filter at once:
   ``(C_out, K) @ (K, N*Ho*Wo) -> (C_out, N*Ho*Wo)``, reshaped to ``(N, C_out, Ho, Wo)``.

The backward pass is the same three steps read backwards: ``dW2 = dy2 @ cols.T``,
``dcols = W2.T @ dy2``, and **col2im** adds each column of ``dcols`` back onto the input
pixels it was copied from (a pixel seen by several windows collects several terms).

Two helpers live here because the pooling layers share them: :func:`as_pair` (validate
``3`` or ``(3, 5)`` sizes) and :class:`Workspace` (scratch arrays reused between calls).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..backend import as_float_dtype, default_rng, empty
from ..errors import ConfigError, DTypeError, ScratchnetError, ShapeError
from ..init import get_initializer
from ..parallel import even_chunks, run_groups
from .base import Layer, WeightsAndBias, check_positive_int, register_layer


def as_pair(value, what: str, minimum: int = 1) -> tuple[int, int]:
    """Read a size given as ``k`` (meaning ``(k, k)``) or ``(kh, kw)``.

    Raises ConfigError unless both numbers are integers ``>= minimum``.
    """
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ConfigError(f"{what} must be an integer or a pair of integers, got {value!r}")
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            kind = "positive" if minimum == 1 else f">= {minimum}"
            raise ConfigError(
                f"{what} must be a {kind} integer or a pair of them, got {value!r}"
            )
        out.append(int(v))
    return out[0], out[1]


def pair_config(pair: tuple[int, int]) -> int | list[int]:
    """JSON form of a pair: ``3`` when square, ``[3, 5]`` otherwise."""
    return pair[0] if pair[0] == pair[1] else [pair[0], pair[1]]


def pooled_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output length along one axis: ``floor((size + 2*pad - kernel) / stride) + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


class Workspace:
    """Scratch arrays a layer reuses from one call to the next.

    A conv layer on a batch of 128 MNIST images builds a ~20 MB ``cols`` matrix every
    step. Allocating it afresh each time costs page faults on memory the OS hands out
    lazily; keeping one flat buffer per purpose and viewing its first ``prod(shape)``
    elements avoids that, and a smaller last batch simply uses a prefix of the buffer.
    The arrays hold garbage from earlier calls: callers must write every element they read.
    """

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def take(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = math.prod(shape)  # math.prod: np.prod's call overhead showed in profiles
        buf = self._flat.get(key)
        if buf is None or buf.dtype != dtype or buf.size < size:
            buf = np.empty(size, dtype=dtype)
            self._flat[key] = buf
        return buf[:size].reshape(shape)

    def clear(self) -> None:
        self._flat.clear()


@register_layer
class Conv2D(WeightsAndBias, Layer):
    """2-D convolution (cross-correlation) over NCHW images, computed by im2col + matmul.

    Shapes::

        x : (N, C_in, H, W)            W : (C_out, C_in, kh, kw)        b : (C_out,)
        y : (N, C_out, Ho, Wo)         Ho = floor((H + 2*ph - kh) / sh) + 1  (same for Wo)

    Forward, for each sample n, filter o and output pixel (r, c)::

        y[n, o, r, c] = b[o] + sum_{ch, i, j} W[o, ch, i, j] * xp[n, ch, r*sh + i, c*sw + j]

    where ``xp`` is ``x`` with ``ph``/``pw`` rows/columns of zeros on each side. As a matrix
    product (K = C_in*kh*kw, P = Ho*Wo)::

        cols = im2col(xp)                 # (K, N*P): one receptive field per column
        y2   = W.reshape(C_out, K) @ cols + b[:, None]            # (C_out, N*P)
        y    = y2.reshape(C_out, N, Ho, Wo).transpose(1, 0, 2, 3)  # (N, C_out, Ho, Wo)

    Backward, given ``dy = dL/dy`` of shape (N, C_out, Ho, Wo) and ``dy2`` its
    (C_out, N*P) rearrangement::

        db    = dy.sum(axis=(0, 2, 3))                      # (C_out,)
        dW    = (dy2 @ cols.T).reshape(W.shape)             # (C_out, K) -> (C_out, C_in, kh, kw)
        dcols = W.reshape(C_out, K).T @ dy2                 # (K, N*P)
        dx    = col2im(dcols)                               # (N, C_in, H, W)

    ``dW`` correlates each filter's output error with the inputs it saw; ``col2im`` is
    the adjoint of ``im2col``: where im2col *copied* one input pixel into several
    columns, col2im *adds* those columns' gradients back into that pixel. It is a loop
    over the ``kh*kw`` kernel offsets, each a single whole-array slice addition.

    Weight layout ``(C_out, C_in, kh, kw)`` is PyTorch's: ``W[o]`` is filter ``o`` as a
    little image stack (easy to draw), ``W.reshape(C_out, -1)`` is exactly the matrix
    the matmul needs (no copy), and weights can be compared with or loaded from PyTorch
    without transposition.

    How it is computed (all layouts give the same numbers; the choice is speed only):

    * The bias rides along in the matmul: ``cols`` gets an extra row of ones and the
      weights an extra column ``b``, so ``[W2 | b] @ [cols; 1] = W2 @ cols + b``, and in
      backward the last column of ``d[W2 | b]`` *is* ``db``.
    * ``layout="wide"`` (stride 1, many rows K): one big matmul over the whole batch,
      ``cols`` of shape ``(K+1, N*Ho*Wp)``, then one transposing copy to NCHW (and one
      for ``dy`` in backward). im2col works on flattened rows: output pixels are
      computed on a ``Ho x Wp`` grid (``Wp`` the padded input width) so that each kernel
      offset is one *contiguous* run of the flattened image; the ``Wp - Wo`` extra
      columns per row are dropped from ``y`` and given zero gradient. Long contiguous
      copies outweigh the ``Wp/Wo`` extra matmul columns.
    * ``layout="batched"`` (few rows, or any stride): ``cols`` of shape
      ``(N, K+1, Ho*Wo)`` built with ``sliding_window_view``, and a stack of per-sample
      products ``[W2 | b] @ cols[n]`` that lands directly in NCHW order: when K is small
      the matmul is cheap and the two transposes of the wide layout would dominate.
    * ``layout="auto"`` (the default) picks wide for stride 1 and
      ``K >= wide_min_rows`` (128), batched otherwise; measured on the MNIST CNN
      layers (K = 9 -> batched, K = 288 -> wide).
    * The batch is processed in chunks of samples whose ``cols`` fit in
      :attr:`workspace_bytes` (2 MB). Small on purpose: a chunk's ``cols`` is still in
      the CPU cache when the matmul reads it, and its ``dcols`` when col2im reads them.
      Building one 21 MB ``cols`` for a whole MNIST batch and reading it back from main
      memory made the second MNIST convolution's forward pass 1.5x slower (measured).
      It also bounds memory when predicting on 10,000 images at once. The number of
      chunks is made even (``parallel.even_chunks``), and with several worker threads
      (``scratchnet.set_num_threads``) each takes a contiguous group of chunks with its
      own workspace; ``dW`` is summed over the chunks afterwards, in the same order
      whatever the number of threads, so the result does not depend on it.
    * The backward pass needs ``cols`` again for ``dW``. Each thread walks its chunks
      from last to first: the last chunk's ``cols`` is still in its workspace from the
      forward pass, the others are rebuilt from the (kept) input, which is cheaper than
      keeping every chunk's ``cols`` in main memory (measured: keeping them made the
      forward pass 1.3x slower and the backward pass no faster). Once a
      chunk's ``dW`` product is done, its ``dcols`` are written into the same buffer.
    * When ``needs_input_grad`` is False (the first layer during training) backward
      skips ``dcols`` and col2im and returns None.
    * Why ``dx`` goes through ``dcols`` and col2im rather than as a *full convolution*
      (``dy`` padded by ``k-1``, correlated with the flipped, channel-transposed filters,
      which needs no scatter): for the MNIST layers that needs an im2col of ``dy`` with
      ``C_out*kh*kw`` = 576 rows over a 13x15 grid, 2.7x the data of ``dcols``, and a
      36% larger product; measured 17 ms against 10 ms for ``dcols`` + col2im.

    Parameters
    ----------
    in_channels, out_channels : C_in and C_out.
    kernel_size : ``k`` or ``(kh, kw)``.
    stride : ``s`` or ``(sh, sw)``, default 1.
    padding : zeros added on each side, ``p`` or ``(ph, pw)``, default 0.
    init : initialiser of ``W`` (fan_in = C_in*kh*kw, fan_out = C_out*kh*kw),
        default ``"he_normal"`` (the usual choice before ReLU).
    bias_init : initialiser of ``b``, default ``"zeros"``.
    rng : seed or ``numpy.random.Generator`` for the initial draw.
    dtype : float32 (default) or float64.
    """

    batch_parallel = True  # shares each batch between worker threads

    #: Largest ``cols`` matrix (bytes) built at once; bigger batches go in chunks
    #: (sized to stay in the CPU cache between im2col and the matmul, see above).
    workspace_bytes = 2 * 2**20
    #: Smallest K = C_in*kh*kw for which ``layout="auto"`` picks the wide layout.
    wide_min_rows = 128

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        init="he_normal",
        bias_init="zeros",
        rng=None,
        dtype=None,
        name: str | None = None,
    ):
        super().__init__(name)
        self.in_channels = check_positive_int(in_channels, "Conv2D in_channels")
        self.out_channels = check_positive_int(out_channels, "Conv2D out_channels")
        self.kernel_size = as_pair(kernel_size, "Conv2D kernel_size")
        self.stride = as_pair(stride, "Conv2D stride")
        self.padding = as_pair(padding, "Conv2D padding", minimum=0)
        self.init = get_initializer(init)
        self.bias_init = get_initializer(bias_init)
        self.dtype = as_float_dtype(dtype)
        kh, kw = self.kernel_size
        self.params = {
            "W": empty((self.out_channels, self.in_channels, kh, kw), self.dtype),
            "b": empty((self.out_channels,), self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.reset_parameters(default_rng(rng))
        self._ws = Workspace()  # worker 0's (the calling thread's); see _workspace
        self._worker_ws: list[Workspace] = []
        self._cache: dict | None = None
        #: "auto", "wide" or "batched": how im2col lays out the matrix (results are equal).
        self.layout = "auto"

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.kernel_size[0] * self.kernel_size[1]

    @property
    def fan_out(self) -> int:
        return self.out_channels * self.kernel_size[0] * self.kernel_size[1]

    def reset_parameters(self, rng: np.random.Generator) -> None:
        shape = self.params["W"].shape
        self.params["W"][...] = self.init(shape, self.fan_in, self.fan_out, rng, self.dtype)
        self.params["b"][...] = self.bias_init(
            (self.out_channels,), self.fan_in, self.fan_out, rng, self.dtype
        )

    # -- shapes --------------------------------------------------------------------
    def _spatial_out(self, h: int, w: int) -> tuple[int, int]:
        """(Ho, Wo) for an (h, w) input; ShapeError if the kernel does not fit."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ShapeError(
                f"{self.describe()}: kernel {kh}x{kw} is larger than the padded input "
                f"{h + 2 * ph}x{w + 2 * pw} (input {h}x{w}, padding {ph},{pw})"
            )
        return pooled_size(h, kh, sh, ph), pooled_size(w, kw, sw, pw)

    def output_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ShapeError(
                f"{self.describe()}: expected a sample shape ({self.in_channels}, height, "
                f"width), got {tuple(input_shape)}"
            )
        return (self.out_channels, *self._spatial_out(input_shape[1], input_shape[2]))

    # -- im2col / col2im ----------------------------------------------------------------
    def _pad(self, x: np.ndarray) -> np.ndarray:
        """``x`` with zero padding, as a C-contiguous array (a reused buffer when padded)."""
        ph, pw = self.padding
        if ph == 0 and pw == 0:
            return np.ascontiguousarray(x)
        n, c, h, w = x.shape
        xp = self._ws.take("xpad", (n, c, h + 2 * ph, w + 2 * pw), x.dtype)
        # The buffer is shared between shapes, so the border is re-zeroed every call.
        xp[:, :, :ph] = 0
        xp[:, :, ph + h :] = 0
        xp[:, :, ph : ph + h, :pw] = 0
        xp[:, :, ph : ph + h, pw + w :] = 0
        xp[:, :, ph : ph + h, pw : pw + w] = x
        return xp

    def _plan(self, x_shape: tuple[int, ...]) -> dict:
        """Output size, matrix layout and chunk size for an input of shape ``x_shape``."""
        n, _, h, w = x_shape
        ph, pw = self.padding
        ho, wo = self._spatial_out(h, w)
        hp, wp = h + 2 * ph, w + 2 * pw
        layout = self.layout
        if layout == "auto":
            # Measured: with few rows (K = C_in*kh*kw) the matmul is cheap and the two
            # full-size transposes of the wide layout dominate; with many rows the single
            # big matmul of the wide layout wins. The wide layout needs stride 1.
            wide = self.stride == (1, 1) and self.fan_in >= self.wide_min_rows
            layout = "wide" if wide else "batched"
        elif layout not in ("wide", "batched"):
            raise ConfigError(
                f"{self.describe()}: layout must be 'auto', 'wide' or 'batched', got {layout!r}"
            )
        elif layout == "wide" and self.stride != (1, 1):
            raise ConfigError(f"{self.describe()}: the 'wide' layout needs stride 1")
        wg = wp if layout == "wide" else wo  # width of the grid of output pixels computed
        per_sample = (self.fan_in + 1) * ho * wg * self.dtype.itemsize
        # An even number of chunks, whatever the thread count (see parallel.even_chunks).
        chunk = even_chunks(n, max(1, min(n, self.workspace_bytes // per_sample)))
        return {"ho": ho, "wo": wo, "hp": hp, "wp": wp, "wg": wg, "layout": layout,
                "chunk": chunk}

    def _workspace(self, worker: int) -> Workspace:
        """Scratch arrays of one worker thread (0: the calling thread)."""
        if worker == 0:
            return self._ws
        while len(self._worker_ws) < worker:
            self._worker_ws.append(Workspace())
        return self._worker_ws[worker - 1]

    def _im2col(self, xp: np.ndarray, n0: int, n1: int, plan: dict,
                ws: Workspace | None = None) -> np.ndarray:
        """Receptive fields of samples ``n0:n1`` of the padded input, plus a row of ones.

        Rows ``(ch, i, j)`` (K = C_in*kh*kw of them, in the order of the columns of
        ``W.reshape(C_out, -1)``) hold ``xp[n, ch, r*sh + i, c*sw + j]`` for every output
        pixel (r, c); row K is all ones and multiplies the bias.

        Returns ``(K+1, n*Ho*Wp)`` in the wide layout, ``(n, K+1, Ho*Wo)`` in the batched one.
        """
        c_in, k = self.in_channels, self.fan_in
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ho, wo, wg = plan["ho"], plan["wo"], plan["wg"]
        n = n1 - n0
        xs = xp[n0:n1]
        if plan["layout"] == "wide":
            cols = (ws or self._ws).take("cols", (k + 1, n, ho * wg), xp.dtype)
            # Stride 1: flatten each (Hp, Wp) image. Output pixel (r, c) of the Ho x Wp
            # grid reads flat position r*Wp + c + (i*Wp + j), so for kernel offset (i, j)
            # the whole grid is one contiguous run starting at i*Wp + j. The run stops at
            # the last real output pixel, which makes it end exactly at the image's last
            # element ((kh-1 + Ho-1)*Wp + (kw-1) + Wo = Hp*Wp): as_strided stays in bounds.
            run = (ho - 1) * wg + wo
            s_n, s_c, s_h, s_w = xs.strides
            windows = as_strided(
                xs, shape=(c_in, kh, kw, n, run), strides=(s_c, s_h, s_w, s_n, s_w),
                writeable=False,
            )
            cols[:k, :, :run].reshape(c_in, kh, kw, n, run)[...] = windows
            cols[:k, :, run:] = 0  # grid tail past the last output pixel: never read back
            cols[k] = 1
            return cols.reshape(k + 1, n * ho * wg)
        cols = (ws or self._ws).take("cols", (n, k + 1, ho * wo), xp.dtype)
        # (n, C, Hp-kh+1, Wp-kw+1, kh, kw): every window; keep every stride-th one.
        windows = sliding_window_view(xs, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        cols[:, :k].reshape(n, c_in, kh, kw, ho, wo)[...] = windows.transpose(0, 1, 4, 5, 2, 3)
        cols[:, k] = 1
        return cols

    def _col2im_add(self, dcols: np.ndarray, dxp: np.ndarray, plan: dict) -> None:
        """Add every entry of ``dcols`` onto the padded-input pixel it was copied from.

        ``dcols`` is ``(K, n*Ho*Wp)`` (wide) or ``(n, K, Ho*Wo)`` (batched), without the
        ones row; ``dxp`` is this chunk's (n, C_in, Hp, Wp) gradient, zeroed by the caller.
        One slice-add per kernel offset (i, j); neighbouring windows overlap whenever the
        stride is smaller than the kernel, which is why this adds instead of assigning.
        """
        c_in = self.in_channels
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ho, wo, wg = plan["ho"], plan["wo"], plan["wg"]
        n, _, hp, wp = dxp.shape
        if plan["layout"] == "wide":
            run = (ho - 1) * wg + wo
            d5 = dcols.reshape(c_in, kh, kw, n, ho * wg)
            dflat = dxp.reshape(n, c_in, hp * wp).transpose(1, 0, 2)  # (C, n, Hp*Wp) view
            for i in range(kh):
                for j in range(kw):
                    start = i * wp + j
                    # Grid columns c >= Wo carry zero gradient: adding them is harmless.
                    dflat[:, :, start : start + run] += d5[:, i, j, :, :run]
            return
        d6 = dcols.reshape(n, c_in, kh, kw, ho, wo)
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw] += (
                    d6[:, :, i, j]
                )

    # -- the two passes ---------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, 4, f"(batch, {self.in_channels}, height, width)")
        if x.shape[1] != self.in_channels:
            raise ShapeError(
                f"{self.describe()}: expected input of shape (batch, {self.in_channels}, "
                f"height, width), got {x.shape}: {x.shape[1]} channels instead of "
                f"{self.in_channels}"
            )
        plan = self._plan(x.shape)
        n_total, c_out = x.shape[0], self.out_channels
        ho, wo, wg, chunk = plan["ho"], plan["wo"], plan["wg"], plan["chunk"]
        xp = self._pad(x)
        # [W2 | b]: (C_out, K+1), so that one matmul with the ones row adds the bias.
        wb = np.concatenate(
            [self.params["W"].reshape(c_out, -1), self.params["b"][:, None]], axis=1
        )
        y = np.empty((n_total, c_out, ho, wo), dtype=self.dtype)
        starts = range(0, n_total, chunk)

        def chunks(group: range, worker: int) -> int | None:
            """Compute the chunks ``group`` (indices into ``starts``) on one thread."""
            ws = self._workspace(worker)
            for c in group:
                n0 = starts[c]
                n1 = min(n_total, n0 + chunk)
                cols = self._im2col(xp, n0, n1, plan, ws)
                if plan["layout"] == "wide":
                    # y2.T = cols.T @ [W2 | b].T: the same product as [W2 | b] @ cols, but
                    # in this orientation OpenBLAS runs it ~15% faster (measured).
                    y2t = ws.take("y2t", (cols.shape[1], c_out), self.dtype)
                    np.matmul(cols.T, wb.T, out=y2t)  # (n*Ho*Wp, K+1) @ (K+1, C_out)
                    # (n, Ho, Wp, C_out) -> drop the grid's extra columns -> (n, C_out, Ho, Wo)
                    y[n0:n1] = y2t.reshape(n1 - n0, ho, wg, c_out)[:, :, :wo].transpose(
                        0, 3, 1, 2)
                else:
                    # (C_out, K+1) @ (n, K+1, P) -> (n, C_out, P): already NCHW, in place.
                    np.matmul(wb, cols, out=y[n0:n1].reshape(n1 - n0, c_out, ho * wo))
            return group[-1] if len(group) else None

        # Each worker's workspace now holds the cols of its group's last chunk: backward
        # starts there. (One worker, one thread: the batch's last chunk.)
        last = run_groups(chunks, len(starts))
        self._cache = {"x_shape": x.shape, "xp": xp, "plan": plan,
                       "cols_held": dict(enumerate(last))}
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Fill ``grads['W']``, ``grads['b']``; return dL/dx (``None`` when
        ``needs_input_grad`` is False: the dcols matmul and col2im are then skipped)."""
        if self._cache is None:
            raise ScratchnetError(f"{self.describe()}: backward() called before forward()")
        cache = self._cache
        plan = cache["plan"]
        n_total, c_in, h, w = cache["x_shape"]
        c_out, k = self.out_channels, self.fan_in
        ho, wo, wg, chunk = plan["ho"], plan["wo"], plan["wg"], plan["chunk"]
        dy = grad_out
        expected = (n_total, c_out, ho, wo)
        if not isinstance(dy, np.ndarray) or dy.shape != expected:
            got = dy.shape if isinstance(dy, np.ndarray) else type(dy).__name__
            raise ShapeError(f"{self.describe()}: grad_out must have shape {expected}, got {got}")
        if dy.dtype != self.dtype:
            raise DTypeError(
                f"{self.describe()}: grad_out dtype is {dy.dtype}, expected {self.dtype}"
            )
        wide = plan["layout"] == "wide"
        w2 = self.params["W"].reshape(c_out, k)
        want_dx = self.needs_input_grad  # False for a network's first layer during fit
        if want_dx:
            dxp = np.zeros((n_total, c_in, plan["hp"], plan["wp"]), dtype=self.dtype)
        starts = range(0, n_total, chunk)
        # d[W2 | b], one term per chunk: its last column is db, because the bias entered
        # the matmul as a weight on the row of ones. The terms are added up below, in one
        # order whatever the number of threads, so the sum is too.
        terms: list[np.ndarray | None] = [None] * len(starts)
        # Each worker goes through its group from last chunk to first: the last chunk's
        # cols are still in its workspace, unless an earlier backward pass after the same
        # forward has overwritten them, as this one is about to do (rebuilt chunks, dcols).
        held = cache["cols_held"]
        cache["cols_held"] = {}

        def chunks(group: range, worker: int) -> None:
            ws = self._workspace(worker)
            for c in reversed(group):
                n0 = starts[c]
                n1 = min(n_total, n0 + chunk)
                n = n1 - n0
                if held.get(worker) == c:
                    shape = (k + 1, n * ho * wg) if wide else (n, k + 1, ho * wo)
                    cols = ws.take("cols", shape, self.dtype)
                else:
                    cols = self._im2col(cache["xp"], n0, n1, plan, ws)
                if wide:
                    # dy on the output grid as (C_out, n, Ho, Wp); the extra columns get 0.
                    dy4 = ws.take("dy4", (c_out, n, ho, wg), self.dtype)
                    dy4[..., :wo] = dy[n0:n1].transpose(1, 0, 2, 3)
                    dy4[..., wo:] = 0
                    dy2 = dy4.reshape(c_out, n * ho * wg)
                    # d[W2 | b] = dy2 @ cols.T, computed transposed (faster in OpenBLAS)
                    terms[c] = (cols @ dy2.T).T  # ((K+1, n*Ho*Wp) @ (n*Ho*Wp, C_out)).T
                    if want_dx:
                        # dcols go into the cols buffer: this chunk's cols are done with,
                        # and one buffer instead of two keeps the chunk in the CPU cache.
                        dcols = ws.take("cols", (k, n * ho * wg), self.dtype)
                        np.matmul(w2.T, dy2, out=dcols)  # (K, C_out) @ (C_out, n*Ho*Wp)
                else:
                    dy3 = np.ascontiguousarray(dy[n0:n1]).reshape(n, c_out, ho * wo)
                    # per sample (C_out, P) @ (P, K+1), summed over the samples
                    terms[c] = np.matmul(dy3, cols.transpose(0, 2, 1)).sum(axis=0)
                    if want_dx:
                        dcols = ws.take("cols", (n, k, ho * wo), self.dtype)  # as above
                        # (K, C_out) @ (n, C_out, P) -> (n, K, P)
                        np.matmul(w2.T, dy3, out=dcols)
                if want_dx:
                    self._col2im_add(dcols, dxp[n0:n1], plan)

        run_groups(chunks, len(starts))
        gwb = np.zeros((c_out, k + 1), dtype=self.dtype)
        for term in reversed(terms):  # last chunk first, as a single thread goes
            gwb += term
        self.grads["W"][...] = gwb[:, :k].reshape(self.params["W"].shape)
        self.grads["b"][...] = gwb[:, k]
        if not want_dx:
            return None
        ph, pw = self.padding
        if ph or pw:
            return np.ascontiguousarray(dxp[:, :, ph : ph + h, pw : pw + w])
        return dxp

    def astype(self, dtype) -> Conv2D:
        super().astype(dtype)
        self._ws.clear()
        self._worker_ws = []
        self._cache = None
        return self

    @classmethod
    def param_shapes(cls, config):
        c_in = check_positive_int(config["in_channels"], "Conv2D in_channels")
        c_out = check_positive_int(config["out_channels"], "Conv2D out_channels")
        kh, kw = as_pair(config["kernel_size"], "Conv2D kernel_size")
        return {"W": (c_out, c_in, kh, kw), "b": (c_out,)}

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": pair_config(self.kernel_size),
            "stride": pair_config(self.stride),
            "padding": pair_config(self.padding),
            "init": self.init.spec(),
            "bias_init": self.bias_init.spec(),
            "dtype": self.dtype.name,
            "name": self.name,
        }
