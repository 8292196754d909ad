"""Conv2D, MaxPool2D, AvgPool2D, BatchNorm1d and BatchNorm2d.

What is checked, per layer:

* gradients of every parameter and of the input against central differences (float64,
  relative error < 1e-6), including stride 2, padding, overlapping pooling, odd sizes;
* a loop-by-loop reference implementation (no PyTorch needed) for random geometries;
* PyTorch parity to 1e-10 in float64 (skipped without torch);
* max-pool ties: exactly one winner per window, the first in row-major order, on
  hand-made windows and on real MNIST digits (skipped when the data are absent);
* the Layer contract: config round trip, output_shape, reset_parameters, astype,
  float32 preserved, gradients written in place, errors that name the problem.
"""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.errors import ConfigError, DTypeError, ScratchnetError, ShapeError
from scratchnet.gradcheck import central_differences
from scratchnet.layers.activations import ReLU
from scratchnet.layers.base import LAYER_TYPES
from scratchnet.layers.batchnorm import BatchNorm1d, BatchNorm2d
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.dense import Dense
from scratchnet.layers.dropout import Flatten
from scratchnet.layers.pooling import AvgPool2D, MaxPool2D
from scratchnet.parallel import even_chunks

REPO_ROOT = Path(__file__).resolve().parents[2]
MNIST_IMAGES = REPO_ROOT.parent / "shared" / "data" / "mnist-t10k" / "t10k-images-idx3-ubyte.gz"


# -- helpers -----------------------------------------------------------------------------
def numeric_grad(loss, arr: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``loss()`` with respect to every element of ``arr`` (in place)."""
    assert arr.flags.c_contiguous  # reshape(-1) below must be a view
    flat = arr.reshape(-1)
    return central_differences(loss, flat, np.arange(flat.size), h).reshape(arr.shape)


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.abs(a).max(), np.abs(b).max())
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def check_gradients(layer, x: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Analytic vs numeric gradients of ``L = sum(layer(x) * R)`` for the input and params."""
    rng = np.random.default_rng(seed)
    y = layer.forward(x)
    r = rng.standard_normal(y.shape)
    dx = layer.backward(r)
    analytic = {"x": dx.copy(), **{k: g.copy() for k, g in layer.grads.items()}}

    def loss() -> float:
        return float(np.sum(layer.forward(x) * r))

    errors = {"x": rel_error(analytic["x"], numeric_grad(loss, x))}
    for name, p in layer.params.items():
        errors[name] = rel_error(analytic[name], numeric_grad(loss, p))
    for name, g in analytic.items():
        assert np.abs(g).max() > 0, f"gradient of {name} is identically zero: nothing checked"
    assert max(errors.values()) < 1e-6, errors
    return errors


def distinct_values(shape, rng) -> np.ndarray:
    """Values 0.1 apart in random order: no max-pool window has a tie or a near-tie."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - n * 0.05).reshape(shape).astype(np.float64)


def conv_reference(x, w, b, stride, padding):
    """Direct convolution and its gradients, one output pixel at a time (slow, obvious)."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    co, _, kh, kw = w.shape
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.empty((x.shape[0], co, ho, wo))
    for r in range(ho):
        for c in range(wo):
            patch = xp[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw]
            y[:, :, r, c] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b

    def backward(dy):
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        for r in range(ho):
            for c in range(wo):
                patch = xp[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw]
                g = dy[:, :, r, c]  # (N, C_out)
                dw += np.tensordot(g, patch, axes=([0], [0]))
                dxp[:, :, r * sh : r * sh + kh, c * sw : c * sw + kw] += np.tensordot(
                    g, w, axes=([1], [0])
                )
        dx = dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
        return dx, dw, dy.sum(axis=(0, 2, 3))

    return y, backward


def pool_reference(x, kernel, stride, padding, kind):
    """Max (first argmax wins) or average pooling and its input gradient, window by window."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    n, c = x.shape[:2]
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.empty((n, c, ho, wo))
    winners = {}
    for r in range(ho):
        for s in range(wo):
            win = xp[:, :, r * sh : r * sh + kh, s * sw : s * sw + kw].reshape(n, c, -1)
            if kind == "max":
                idx = np.argmax(win, axis=-1)  # first maximum in row-major order
                winners[r, s] = idx
                y[:, :, r, s] = np.take_along_axis(win, idx[..., None], -1)[..., 0]
            else:
                y[:, :, r, s] = win.mean(axis=-1)

    def backward(dy):
        dxp = np.zeros_like(xp)
        ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
        for r in range(ho):
            for s in range(wo):
                if kind == "max":
                    i, j = np.divmod(winners[r, s], kw)
                    np.add.at(dxp, (ni, ci, r * sh + i, s * sw + j), dy[:, :, r, s])
                else:
                    dxp[:, :, r * sh : r * sh + kh, s * sw : s * sw + kw] += (
                        dy[:, :, r, s, None, None] / (kh * kw)
                    )
        return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]

    return y, backward


def load_digits(n: int) -> np.ndarray:
    """The first ``n`` MNIST test images as (n, 1, 28, 28) float64 in [0, 1]."""
    if not MNIST_IMAGES.exists():
        pytest.skip(f"MNIST test images not found at {MNIST_IMAGES}")
    with gzip.open(MNIST_IMAGES, "rb") as f:
        raw = f.read(16 + n * 28 * 28)  # IDX header: magic, count, rows, cols (4 bytes each)
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16)
    return pixels.reshape(n, 1, 28, 28).astype(np.float64) / 255.0


def torch_or_skip():
    torch = pytest.importorskip("torch")
    return torch


# -- Conv2D geometry cases -----------------------------------------------------------------
CONV_CASES = {
    "3x3": dict(c_in=2, c_out=3, kernel_size=3, stride=1, padding=0, hw=(6, 7)),
    "3x3-pad1": dict(c_in=2, c_out=3, kernel_size=3, stride=1, padding=1, hw=(5, 6)),
    "3x3-stride2-pad1": dict(c_in=2, c_out=3, kernel_size=3, stride=2, padding=1, hw=(7, 6)),
    "3x2-stride(2,1)-pad(0,1)": dict(
        c_in=1, c_out=2, kernel_size=(3, 2), stride=(2, 1), padding=(0, 1), hw=(7, 5)
    ),
    "2x2-stride3-gaps": dict(c_in=3, c_out=2, kernel_size=2, stride=3, padding=0, hw=(8, 7)),
    "1x1": dict(c_in=3, c_out=2, kernel_size=1, stride=1, padding=0, hw=(3, 4)),
    "kernel=input": dict(c_in=2, c_out=2, kernel_size=(4, 3), stride=1, padding=0, hw=(4, 3)),
}
# auto: the layer's choice; wide/batched: each im2col layout (wide needs stride 1);
# chunked: a workspace so small that every sample is its own chunk (cols rebuilt in backward).
VARIANTS = ["auto", "wide", "batched", "chunked"]
CONV_PARAMS = [
    pytest.param(case, variant, id=f"{case}-{variant}")
    for case, c in CONV_CASES.items()
    for variant in VARIANTS
    if not (variant == "wide" and c["stride"] != 1)
]


def make_conv(case: dict, variant: str, dtype=np.float64, seed: int = 0) -> Conv2D:
    layer = Conv2D(
        case["c_in"], case["c_out"], case["kernel_size"], stride=case["stride"],
        padding=case["padding"], rng=seed, dtype=dtype,
    )
    layer.params["b"][...] = np.random.default_rng(seed + 1).standard_normal(case["c_out"])
    if variant in ("wide", "batched"):
        layer.layout = variant
    elif variant == "chunked":
        layer.workspace_bytes = 1
    return layer


def conv_input(case: dict, n: int = 2, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, case["c_in"], *case["hw"]))


@pytest.mark.parametrize(("case", "variant"), CONV_PARAMS)
def test_conv_gradients_match_central_differences(case, variant):
    c = CONV_CASES[case]
    check_gradients(make_conv(c, variant), conv_input(c))


@pytest.mark.parametrize(("case", "variant"), CONV_PARAMS)
def test_conv_matches_loop_reference(case, variant):
    c = CONV_CASES[case]
    layer = make_conv(c, variant)
    x = conv_input(c, n=3)
    y_ref, backward_ref = conv_reference(x, layer.W, layer.b, layer.stride, layer.padding)
    y = layer.forward(x)
    assert y.shape == y_ref.shape == (3, *layer.output_shape(x.shape[1:]))
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    dy = np.random.default_rng(5).standard_normal(y.shape)
    dx_ref, dw_ref, db_ref = backward_ref(dy)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.dW, dw_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.db, db_ref, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    extra_h=st.integers(0, 5),
    extra_w=st.integers(0, 5),
    layout=st.sampled_from(["auto", "wide", "batched"]),
    seed=st.integers(0, 2**16),
)
def test_conv_random_geometry_matches_reference(
    n, c_in, c_out, kh, kw, sh, sw, ph, pw, extra_h, extra_w, layout, seed
):
    if layout == "wide":
        sh = sw = 1
    h, w = max(1, kh - 2 * ph + extra_h), max(1, kw - 2 * pw + extra_w)
    layer = Conv2D(c_in, c_out, (kh, kw), stride=(sh, sw), padding=(ph, pw), rng=seed,
                   dtype=np.float64)
    layer.layout = layout
    rng = np.random.default_rng(seed)
    layer.params["b"][...] = rng.standard_normal(c_out)
    x = rng.standard_normal((n, c_in, h, w))
    y_ref, backward_ref = conv_reference(x, layer.W, layer.b, layer.stride, layer.padding)
    y = layer.forward(x)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx_ref, dw_ref, db_ref = backward_ref(dy)
    np.testing.assert_allclose(layer.backward(dy), dx_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.dW, dw_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.db, db_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("case", "variant"), CONV_PARAMS)
def test_conv_matches_torch(case, variant):
    torch = torch_or_skip()
    c = CONV_CASES[case]
    layer = make_conv(c, variant)
    x = conv_input(c, n=4)
    y = layer.forward(x)
    dy = np.random.default_rng(7).standard_normal(y.shape)
    dx = layer.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(layer.W, requires_grad=True)
    bt = torch.tensor(layer.b, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=layer.stride, padding=layer.padding)
    yt.backward(torch.tensor(dy))
    for ours, theirs in [(y, yt), (dx, xt.grad), (layer.dW, wt.grad), (layer.db, bt.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)


def test_conv_layouts_and_chunks_agree_in_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 9, 8)).astype(np.float32)
    dy = rng.standard_normal((5, 6, 7, 6)).astype(np.float32)
    results = []
    for variant in ("wide", "batched", "chunked"):
        layer = Conv2D(4, 6, 3, rng=1)
        layer.layout = "wide" if variant == "wide" else "batched"
        if variant == "chunked":
            layer.workspace_bytes = 2 * 37 * 7 * 6 * 4  # two samples per chunk
        y = layer.forward(x)
        dx = layer.backward(dy)
        for a in (y, dx, layer.dW, layer.db):
            assert a.dtype == np.float32
        results.append((y, dx, layer.dW.copy(), layer.db.copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_conv_chunk_boundaries_follow_workspace_bytes():
    import math

    layer = Conv2D(1, 2, 3, dtype=np.float64)
    per_sample = (9 + 1) * 3 * 5 * 8  # (K+1) * Ho * Wp * itemsize, wide grid is Ho x Wp
    layer.workspace_bytes = 2 * per_sample
    # Within the budget (3 batched samples, 2 wide ones), then evened out to an even
    # number of chunks so that 2 threads get equal shares: 5 samples -> 2 chunks of 3
    # (batched), 4 chunks of 2 (wide).
    plan = layer._plan((5, 1, 5, 5))
    assert plan["layout"] == "batched" and plan["chunk"] == 3
    layer.layout = "wide"
    assert layer._plan((5, 1, 5, 5))["chunk"] == 2
    layer.workspace_bytes = 10**9
    assert layer._plan((5, 1, 5, 5))["chunk"] == 5  # one chunk: nothing to even out
    for n in (1, 7, 128, 1000):
        for budget in (1, 3, 11, 64):
            assert even_chunks(n, budget) <= budget or budget >= n
    # The MNIST CNN's batches of 128: 2 chunks of 77 -> 2 of 64; 11 of 12 -> 12 of 11 (and 7).
    assert [even_chunks(128, 77), math.ceil(128 / even_chunks(128, 77))] == [64, 2]
    assert [even_chunks(128, 12), math.ceil(128 / even_chunks(128, 12))] == [11, 12]


def test_conv_uses_each_layout_where_it_is_faster():
    assert Conv2D(1, 32, 3)._plan((8, 1, 28, 28))["layout"] == "batched"  # K = 9
    assert Conv2D(32, 64, 3)._plan((8, 32, 13, 13))["layout"] == "wide"  # K = 288
    assert Conv2D(32, 64, 3, stride=2)._plan((8, 32, 13, 13))["layout"] == "batched"
    layer = Conv2D(32, 64, 3, stride=2)
    layer.layout = "wide"
    with pytest.raises(ConfigError, match="'wide' layout needs stride 1"):
        layer.forward(np.zeros((1, 32, 13, 13), np.float32))
    layer.layout = "tall"
    with pytest.raises(ConfigError, match="layout must be 'auto', 'wide' or 'batched', got 'tall'"):
        layer.forward(np.zeros((1, 32, 13, 13), np.float32))


def test_conv_accepts_non_contiguous_input():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 5, 3, 2))  # transposed below to (2, 3, 5, 6)
    x = base.transpose(3, 2, 1, 0)
    assert not x.flags.c_contiguous
    for padding in (0, 1):
        layer = Conv2D(3, 4, 3, padding=padding, rng=0, dtype=np.float64)
        np.testing.assert_array_equal(layer.forward(x), layer.forward(np.ascontiguousarray(x)))


def test_conv_output_does_not_alias_the_workspace():
    layer = Conv2D(2, 3, 3, rng=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    y1 = layer.forward(x1)
    y1_copy = y1.copy()
    layer.forward(x2)  # reuses the scratch buffers
    np.testing.assert_array_equal(y1, y1_copy)


def test_conv_backward_follows_the_latest_forward():
    layer = Conv2D(2, 3, 3, padding=1, rng=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x_old, x = rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((2, 2, 6, 4))
    layer.forward(x_old)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    _, backward_ref = conv_reference(x, layer.W, layer.b, (1, 1), (1, 1))
    dx_ref, dw_ref, _ = backward_ref(dy)
    np.testing.assert_allclose(dx, dx_ref, atol=1e-12)
    np.testing.assert_allclose(layer.dW, dw_ref, atol=1e-12)


def test_conv_skips_input_gradient_when_not_needed():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 7, 7))
    full = Conv2D(2, 4, 3, rng=0, dtype=np.float64)
    lean = Conv2D(2, 4, 3, rng=0, dtype=np.float64)
    lean.needs_input_grad = False
    dy = rng.standard_normal((3, 4, 5, 5))
    full.forward(x)
    lean.forward(x)
    assert full.backward(dy) is not None
    assert lean.backward(dy) is None
    np.testing.assert_allclose(lean.dW, full.dW, atol=1e-13)
    np.testing.assert_allclose(lean.db, full.db, atol=1e-13)


@pytest.mark.parametrize("layout", ["wide", "batched"])
@pytest.mark.parametrize("per_chunk", [None, 2], ids=["one-chunk", "chunks-of-2"])
def test_conv_backward_twice_after_one_forward_gives_the_same_gradients(layout, per_chunk):
    # Backward reuses the last chunk's cols left in the workspace by forward, then writes
    # dcols over them: a second backward after the same forward must rebuild, not reuse.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 7, 6))
    layer = Conv2D(3, 4, 3, rng=0, dtype=np.float64)
    layer.layout = layout
    if per_chunk is not None:
        plan = layer._plan(x.shape)
        per_sample = (layer.fan_in + 1) * plan["ho"] * plan["wg"] * 8
        layer.workspace_bytes = per_chunk * per_sample
        assert layer._plan(x.shape)["chunk"] == per_chunk
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    _, backward_ref = conv_reference(x, layer.W, layer.b, (1, 1), (0, 0))
    dx_ref, dw_ref, db_ref = backward_ref(dy)
    for _ in range(2):
        np.testing.assert_allclose(layer.backward(dy), dx_ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.dW, dw_ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.db, db_ref, rtol=0, atol=1e-12)
    layer.needs_input_grad = False  # dW only: the cols are rebuilt all the same
    assert layer.backward(dy) is None
    np.testing.assert_allclose(layer.dW, dw_ref, rtol=0, atol=1e-12)


def test_conv_chunks_a_mnist_batch_by_default_and_agrees_with_one_chunk():
    # The second MNIST convolution on a batch of 128: the default workspace (sized for
    # the CPU cache) splits it into several chunks; the numbers are those of one chunk.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 32, 13, 13)).astype(np.float32)
    dy = rng.standard_normal((128, 64, 11, 11)).astype(np.float32)
    chunked, whole = Conv2D(32, 64, 3, rng=1), Conv2D(32, 64, 3, rng=1)
    whole.workspace_bytes = 2**30
    plan = chunked._plan(x.shape)
    assert plan["layout"] == "wide" and 1 < plan["chunk"] < 128
    assert whole._plan(x.shape)["chunk"] == 128
    outs = []
    for layer in (chunked, whole):
        y = layer.forward(x)
        dx = layer.backward(dy)
        outs.append((y, dx, layer.dW.copy(), layer.db.copy()))
    for a, b in zip(*outs, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4 * np.abs(b).max())


def test_conv_shapes_and_config():
    layer = Conv2D(3, 8, (5, 3), stride=(2, 1), padding=(2, 0), name="c1")
    assert layer.W.shape == (8, 3, 5, 3) and layer.b.shape == (8,)
    assert layer.n_params == 8 * 3 * 5 * 3 + 8
    assert layer.output_shape((3, 28, 28)) == (8, 14, 26)
    config = layer.get_config()
    assert config == {
        "in_channels": 3, "out_channels": 8, "kernel_size": [5, 3], "stride": [2, 1],
        "padding": [2, 0], "init": "he_normal", "bias_init": "zeros", "dtype": "float32",
        "name": "c1",
    }
    again = Conv2D(**json.loads(json.dumps(config)))
    assert again.get_config() == config
    assert Conv2D(1, 2, 3).get_config()["kernel_size"] == 3
    assert LAYER_TYPES["Conv2D"] is Conv2D
    assert repr(Conv2D(1, 2, 3)).startswith("Conv2D(in_channels=1, out_channels=2, kernel_size=3")


def test_conv_reset_parameters_is_seeded_he_normal():
    a, b = Conv2D(64, 32, 3, rng=7), Conv2D(64, 32, 3, rng=7)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.W.dtype == np.float32
    std = float(a.W.std())
    assert abs(std - np.sqrt(2.0 / (64 * 9))) < 0.03 * np.sqrt(2.0 / (64 * 9))
    np.testing.assert_array_equal(a.b, 0)
    w_before = a.W.copy()
    a.reset_parameters(np.random.default_rng(8))
    assert not np.array_equal(a.W, w_before)
    assert a.params["W"] is a.W  # reset writes into the same array
    c = Conv2D(2, 3, 3, init={"name": "constant", "value": 0.5}, bias_init="zeros")
    np.testing.assert_array_equal(c.W, 0.5)


def test_conv_float32_end_to_end_and_astype():
    rng = np.random.default_rng(0)
    layer = Conv2D(2, 3, 3, padding=1, rng=0)
    x32 = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    grad_w = layer.grads["W"]
    y = layer.forward(x32)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.dW.dtype == layer.db.dtype == np.float32
    assert layer.grads["W"] is grad_w  # written in place
    with pytest.raises(DTypeError, match="float64.*float32"):
        layer.forward(x32.astype(np.float64))
    layer.astype(np.float64)
    assert layer.W.dtype == layer.dW.dtype == np.float64
    x64 = x32.astype(np.float64)
    y64 = layer.forward(x64)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, y, rtol=1e-5, atol=1e-5)
    check_gradients(layer, x64)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(in_channels=0, out_channels=2, kernel_size=3), "in_channels must be a positive"),
        (dict(in_channels=1, out_channels=-2, kernel_size=3), "out_channels must be a positive"),
        (dict(in_channels=1, out_channels=2, kernel_size=0), "kernel_size must be a positive"),
        (dict(in_channels=1, out_channels=2, kernel_size=(3,)), "kernel_size must be an integer"),
        (dict(in_channels=1, out_channels=2, kernel_size=2.5), "kernel_size must be a positive"),
        (dict(in_channels=1, out_channels=2, kernel_size=3, stride=0), "stride must be a posi"),
        (dict(in_channels=1, out_channels=2, kernel_size=3, padding=-1), "padding must be a >= 0"),
        (dict(in_channels=1, out_channels=2, kernel_size=3, init="nope"), "unknown initialiser"),
    ],
)
def test_conv_rejects_bad_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Conv2D(**kwargs)


def test_conv_rejects_bad_input():
    layer = Conv2D(3, 4, 5, padding=1, name="conv1")
    with pytest.raises(ShapeError, match=r"conv1: expected input of shape \(batch, 3, height, wi"):
        layer.forward(np.zeros((2, 1, 28, 28), np.float32))  # 1 channel instead of 3
    with pytest.raises(ShapeError, match=r"conv1: expected input of shape \(batch, 3, height, wi"):
        layer.forward(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ShapeError, match="conv1: kernel 5x5 is larger than the padded input 4x9"):
        layer.forward(np.zeros((2, 3, 2, 7), np.float32))
    with pytest.raises(ShapeError, match="kernel 5x5 is larger than the padded input"):
        layer.output_shape((3, 2, 7))
    with pytest.raises(ShapeError, match=r"expected a sample shape \(3, height, width\)"):
        layer.output_shape((1, 28, 28))
    with pytest.raises(DTypeError, match="expected a numpy array"):
        layer.forward([[1.0]])
    with pytest.raises(ScratchnetError, match="backward\\(\\) called before forward\\(\\)"):
        Conv2D(1, 1, 1).backward(np.zeros((1, 1, 1, 1), np.float32))
    y = layer.forward(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ShapeError, match=r"grad_out must have shape \(2, 4, 6, 6\)"):
        layer.backward(np.zeros((2, 4, 6, 5), np.float32))
    with pytest.raises(DTypeError, match="grad_out dtype is float64, expected float32"):
        layer.backward(np.zeros(y.shape))


# -- pooling -------------------------------------------------------------------------------
POOL_CASES = {
    "2x2 tiles": dict(kernel_size=2, stride=None, padding=0, hw=(6, 8)),
    "2x2 odd size (cropped)": dict(kernel_size=2, stride=None, padding=0, hw=(7, 5)),
    "3x3 stride2 pad1 (overlap)": dict(kernel_size=3, stride=2, padding=1, hw=(7, 6)),
    "3x3 stride1 (overlap)": dict(kernel_size=3, stride=1, padding=0, hw=(5, 6)),
    "(3,2) stride(1,2) pad(1,0)": dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0),
                                        hw=(5, 7)),
    "2x2 stride3 (gaps)": dict(kernel_size=2, stride=3, padding=0, hw=(8, 7)),
}
POOLS = {"max": MaxPool2D, "avg": AvgPool2D}


def make_pool(kind: str, case: dict):
    return POOLS[kind](case["kernel_size"], stride=case["stride"], padding=case["padding"])


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_pool_gradients_match_central_differences(kind, case):
    c = POOL_CASES[case]
    x = distinct_values((2, 3, *c["hw"]), np.random.default_rng(0))
    check_gradients(make_pool(kind, c), x)


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_pool_matches_loop_reference_with_ties(kind, case):
    c = POOL_CASES[case]
    layer = make_pool(kind, c)
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, size=(3, 2, *c["hw"])).astype(np.float64)  # many ties
    y_ref, backward_ref = pool_reference(x, layer.kernel_size, layer.stride, layer.padding, kind)
    y = layer.forward(x)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=0 if kind == "max" else 1e-14)
    assert y.shape[1:] == layer.output_shape(x.shape[1:])
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(dy), backward_ref(dy), rtol=0, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["max", "avg"]),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    extra_h=st.integers(0, 5),
    extra_w=st.integers(0, 5),
    pad=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pool_random_geometry_matches_reference(kind, kh, kw, sh, sw, extra_h, extra_w, pad, seed):
    padding = (kh // 2, kw // 2) if pad else (0, 0)
    layer = POOLS[kind]((kh, kw), stride=(sh, sw), padding=padding)
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=(2, 2, kh + extra_h, kw + extra_w)).astype(np.float64)
    y_ref, backward_ref = pool_reference(x, layer.kernel_size, layer.stride, padding, kind)
    np.testing.assert_allclose(layer.forward(x), y_ref, rtol=0, atol=1e-14)
    dy = rng.standard_normal(y_ref.shape)
    np.testing.assert_allclose(layer.backward(dy), backward_ref(dy), rtol=0, atol=1e-14)


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_pool_matches_torch_including_ties(kind, case):
    torch = torch_or_skip()
    c = POOL_CASES[case]
    layer = make_pool(kind, c)
    rng = np.random.default_rng(2)
    for x in (rng.standard_normal((3, 2, *c["hw"])),
              rng.integers(-1, 2, size=(3, 2, *c["hw"])).astype(np.float64)):
        y = layer.forward(x)
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
        xt = torch.tensor(x, requires_grad=True)
        fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        yt = fn(xt, layer.kernel_size, layer.stride, layer.padding)
        yt.backward(torch.tensor(dy))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)


def test_maxpool_routes_a_tie_to_the_first_maximum_only():
    x = np.array(
        [[[[0.0, 0.0, 1.0, 3.0],
           [0.0, 0.0, 3.0, 2.0],
           [5.0, 4.0, 7.0, 7.0],
           [5.0, 5.0, 7.0, 7.0]]]]
    )
    layer = MaxPool2D(2)
    np.testing.assert_array_equal(layer.forward(x), [[[[0.0, 3.0], [5.0, 7.0]]]])
    dx = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(
        dx,
        [[[[1.0, 0.0, 0.0, 2.0],  # all-zero window: its top-left; 3 vs 3: the first (row-major)
           [0.0, 0.0, 0.0, 0.0],
           [3.0, 0.0, 4.0, 0.0],  # 5, 5, 5 tie -> first; 7 x 4 -> top-left
           [0.0, 0.0, 0.0, 0.0]]]],
    )


def test_maxpool_overlapping_windows_add_their_gradients():
    x = np.array([[[[1.0, 9.0, 2.0, 0.0]]]])
    layer = MaxPool2D((1, 2), stride=1)  # windows [1,9], [9,2], [2,0]
    np.testing.assert_array_equal(layer.forward(x), [[[[9.0, 9.0, 2.0]]]])
    np.testing.assert_array_equal(
        layer.backward(np.array([[[[1.0, 10.0, 100.0]]]])), [[[[0.0, 11.0, 100.0, 0.0]]]]
    )


def test_maxpool_on_real_digits_gives_one_winner_per_window():
    x = load_digits(32)
    assert (x == 0).mean() > 0.5  # mostly blank background: all-zero windows everywhere
    layer = MaxPool2D(2)
    y = layer.forward(x)
    dy = np.random.default_rng(0).uniform(0.5, 1.5, size=y.shape)  # never zero
    dx = layer.backward(dy)
    winners = (dx.reshape(32, 1, 14, 2, 14, 2) != 0).sum(axis=(3, 5))
    np.testing.assert_array_equal(winners, 1)  # exactly one element per window
    assert dx.sum() == pytest.approx(dy.sum())  # gradient neither lost nor duplicated
    # In an all-zero window the winner is the top-left element (first in row-major order).
    blank = y == 0
    top_left = dx.reshape(32, 1, 14, 2, 14, 2)[:, :, :, 0, :, 0]
    np.testing.assert_array_equal(top_left[blank], dy[blank])


def test_maxpool_on_real_digits_matches_torch():
    torch = torch_or_skip()
    x = load_digits(64)
    for layer in (MaxPool2D(2), MaxPool2D(3, stride=2, padding=1), MaxPool2D(3, stride=3)):
        y = layer.forward(x)
        dy = np.random.default_rng(1).standard_normal(y.shape)
        dx = layer.backward(dy)
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.nn.functional.max_pool2d(xt, layer.kernel_size, layer.stride, layer.padding)
        yt.backward(torch.tensor(dy))
        np.testing.assert_array_equal(y, yt.detach().numpy())
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_maxpool_in_chunks_of_one_sample_matches_the_reference(case):
    # chunk_bytes = 1: every sample is its own chunk, the extreme of the cache blocking.
    c = POOL_CASES[case]
    layer = make_pool("max", c)
    layer.chunk_bytes = 1
    assert len(layer._chunks(3, 8 * c["hw"][0] * c["hw"][1])) == 3
    rng = np.random.default_rng(4)
    x = rng.integers(-2, 3, size=(3, 2, *c["hw"])).astype(np.float64)  # many ties
    y_ref, backward_ref = pool_reference(x, layer.kernel_size, layer.stride, layer.padding, "max")
    np.testing.assert_array_equal(layer.forward(x), y_ref)
    dy = rng.standard_normal(y_ref.shape)
    np.testing.assert_allclose(layer.backward(dy), backward_ref(dy), rtol=0, atol=1e-14)


def test_maxpool_records_the_winning_offset_and_keeps_nothing_else():
    x = np.array([[[[0.0, 0.0, 1.0, 3.0],
                    [0.0, 0.0, 3.0, 2.0],
                    [5.0, 4.0, 7.0, 7.0],
                    [5.0, 5.0, 6.0, 9.0]]]])
    layer = MaxPool2D(2)
    layer.forward(x)
    winner = layer._cache["winner"]
    assert winner.dtype == np.uint8
    # offsets numbered i*kw + j: blank window -> 0, the first 3 -> 1, 5 tie -> 0, 9 -> 3
    np.testing.assert_array_equal(winner, [[[[0, 1], [0, 3]]]])
    assert "x" not in layer._cache and "xp" not in layer._cache
    x[...] = 100.0  # the backward pass does not read the input again
    dx = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(
        dx, [[[[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0],
               [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 4.0]]]]
    )


def test_maxpool_nan_window_outputs_nan_and_passes_no_gradient():
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    x[0, 0, 1, 1] = np.nan  # window (0, 0) of channel 0
    x[0, 1, 2, 3] = np.nan  # window (1, 1) of channel 1, after its max would have been
    for layer in (MaxPool2D(2), MaxPool2D(3, stride=1)):
        y = layer.forward(x)
        assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 1, -1, -1])
        dx = layer.backward(np.ones_like(y))
        assert np.all(np.isfinite(dx))
        # every window without NaN routes its gradient; NaN windows route none
        assert dx.sum() == np.isfinite(y).sum()


@pytest.mark.parametrize("with_minus_inf", [False, True])
def test_maxpool_infinities_route_like_the_reference(with_minus_inf):
    # Infinite values, no NaN: the winners are the reference's first maxima, ties of
    # infinities and windows of -inf included, and nothing warns.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 6, 6)).astype(np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.inf  # a tie of two infinities: the first one wins
    x[1, 1, 3, 3] = np.inf
    if with_minus_inf:
        x[2, 0, 2:4, 2:4] = -np.inf  # a whole window of -inf: its max is -inf
        x[2, 1, 4, 5] = -np.inf
    layer = MaxPool2D(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer.forward(x)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(dy)
    y_ref, backward_ref = pool_reference(x.astype(np.float64), (2, 2), (2, 2), (0, 0), "max")
    np.testing.assert_array_equal(y, y_ref.astype(np.float32))
    assert np.isinf(y).sum() == (3 if with_minus_inf else 2)  # +inf, +inf, a -inf window
    np.testing.assert_array_equal(dx, backward_ref(dy.astype(np.float64)))


def test_maxpool_with_more_than_255_offsets_numbers_them_in_uint16():
    x = np.random.default_rng(0).standard_normal((2, 2, 17, 16))
    layer = MaxPool2D(16, stride=1)  # 256 offsets, plus the NaN mark: uint8 is too small
    y = layer.forward(x)
    assert layer._cache["winner"].dtype == np.uint16
    y_ref, backward_ref = pool_reference(x, (16, 16), (1, 1), (0, 0), "max")
    np.testing.assert_array_equal(y, y_ref)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(dy), backward_ref(dy), rtol=0, atol=1e-14)


def test_maxpool_backward_twice_gives_the_same_gradient():
    x = load_digits(8) if MNIST_IMAGES.exists() else np.random.default_rng(0).random((8, 1, 28, 28))
    layer = MaxPool2D(2)
    layer.chunk_bytes = 3 * 28 * 28 * 8  # three samples per chunk: 3 + 3 + 2
    y = layer.forward(x)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    first = layer.backward(dy)
    np.testing.assert_array_equal(layer.backward(dy), first)
    y_ref, backward_ref = pool_reference(x, (2, 2), (2, 2), (0, 0), "max")
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(first, backward_ref(dy), rtol=0, atol=1e-14)


def test_conv_relu_maxpool_dense_gradients_match_torch_on_real_digits():
    torch = torch_or_skip()
    x = load_digits(16)
    conv = Conv2D(1, 4, 3, rng=0, dtype=np.float64)
    # Positive biases make blank regions tie at b after ReLU, negative ones at 0: both
    # kinds of tie must route the gradient to one element per window.
    conv.params["b"][...] = [0.1, -0.1, 0.05, -0.2]
    dense = Dense(4 * 13 * 13, 10, rng=1, dtype=np.float64)
    layers = [conv, ReLU(), MaxPool2D(2), Flatten(), dense]
    out = x
    for layer in layers:
        out = layer.forward(out)
    r = np.random.default_rng(2).standard_normal(out.shape)
    grad = r
    for layer in reversed(layers):
        grad = layer.backward(grad)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(conv.W, requires_grad=True)
    bt = torch.tensor(conv.b, requires_grad=True)
    dwt = torch.tensor(dense.W.T.copy(), requires_grad=True)  # torch stores (out, in)
    dbt = torch.tensor(dense.b, requires_grad=True)
    h = torch.nn.functional.conv2d(xt, wt, bt).relu()
    h = torch.nn.functional.max_pool2d(h, 2).flatten(1)
    out_t = torch.nn.functional.linear(h, dwt, dbt)
    (out_t * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(conv.db, bt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(conv.dW, wt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dense.dW, dwt.grad.numpy().T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=0, atol=1e-10)


def test_avgpool_values_by_hand():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    layer = AvgPool2D(2)
    np.testing.assert_array_equal(layer.forward(x), [[[[2.5, 4.5], [10.5, 12.5]]]])
    dx = layer.backward(np.array([[[[4.0, 8.0], [12.0, 16.0]]]]))
    np.testing.assert_array_equal(
        dx[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    )
    padded = AvgPool2D(3, stride=1, padding=1)  # zeros count in the mean (PyTorch default)
    np.testing.assert_allclose(padded.forward(np.ones((1, 1, 3, 3)))[0, 0, 0, 0], 4 / 9)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pool_contract_and_dtypes(cls):
    layer = cls(3, stride=2, padding=1, name="pool")
    assert layer.params == {} and layer.n_params == 0
    assert layer.output_shape((4, 28, 28)) == (4, 14, 14)
    assert layer.output_shape((4, 7, 5)) == (4, 4, 3)
    config = layer.get_config()
    assert config == {"kernel_size": 3, "stride": 2, "padding": 1, "name": "pool"}
    assert cls(**json.loads(json.dumps(config))).get_config() == config
    assert cls().get_config() == {"kernel_size": 2, "stride": 2, "padding": 0, "name": None}
    assert LAYER_TYPES[cls.__name__] is cls
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 5)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and y.shape == (2, 4, 4, 3)
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    with pytest.raises(DTypeError, match="grad_out dtype is float64, expected float32"):
        layer.backward(np.ones(y.shape))
    with pytest.raises(ShapeError, match=r"pool: grad_out must have shape \(2, 4, 4, 3\)"):
        layer.backward(np.ones((2, 4, 3, 3), np.float32))
    with pytest.raises(DTypeError, match="pool: input dtype must be float32 or float64"):
        layer.forward(np.zeros((1, 1, 4, 4), dtype=np.int64))
    with pytest.raises(ShapeError, match=r"pool: expected input of shape \(batch, channels, h"):
        layer.forward(np.zeros((4, 4), np.float32))
    with pytest.raises(ShapeError, match="kernel 3x3 is larger than the padded input 2x4"):
        cls(3).forward(np.zeros((1, 1, 2, 4), np.float32))
    with pytest.raises(ShapeError, match=r"expected a sample shape \(channels, height, width\)"):
        layer.output_shape((28, 28))
    with pytest.raises(ScratchnetError, match="backward\\(\\) called before forward\\(\\)"):
        cls().backward(np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(kernel_size=0), "kernel_size must be a positive integer"),
        (dict(kernel_size=2, stride=0), "stride must be a positive integer"),
        (dict(kernel_size=2, padding=-1), "padding must be a >= 0 integer"),
        (dict(kernel_size=3, padding=2), "padding 2 must be at most half the kernel size 3"),
        (dict(kernel_size=(2, 4), padding=(1, 3)), r"at most half the kernel size \[2, 4\]"),
    ],
)
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pool_rejects_bad_config(cls, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        cls(**kwargs)


# -- batch normalisation ---------------------------------------------------------------------
BN_CASES = {
    "1d": (BatchNorm1d, (6, 4)),
    "2d": (BatchNorm2d, (3, 4, 3, 2)),
}


def make_bn(kind: str, momentum: float = 0.1, seed: int = 0):
    cls, shape = BN_CASES[kind]
    layer = cls(shape[1], momentum=momentum, dtype=np.float64)
    rng = np.random.default_rng(seed)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, shape[1])
    layer.params["beta"][...] = rng.standard_normal(shape[1])
    return layer, shape


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("kind", list(BN_CASES))
def test_batchnorm_gradients_match_central_differences(kind, mode):
    layer, shape = make_bn(kind)
    rng = np.random.default_rng(1)
    if mode == "eval":
        layer.buffers["running_mean"][...] = rng.standard_normal(shape[1])
        layer.buffers["running_var"][...] = rng.uniform(0.5, 3.0, shape[1])
        layer.eval()
    x = rng.standard_normal(shape) * 2.0 + 1.0
    check_gradients(layer, x)


def test_batchnorm_normalises_and_tracks_running_statistics():
    layer = BatchNorm2d(3, momentum=0.25, dtype=np.float64)
    layer.params["gamma"][...] = [1.0, 2.0, 0.5]
    layer.params["beta"][...] = [0.0, 1.0, -1.0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 5, 4)) * np.array([1, 3, 0.2])[:, None, None] + 4.0
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), [0.0, 1.0, -1.0], atol=1e-12)
    m = 8 * 5 * 4
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    # the output's std is gamma, shrunk a little by eps: gamma * sqrt(var / (var + eps))
    np.testing.assert_allclose(
        y.std(axis=(0, 2, 3)), [1.0, 2.0, 0.5] * np.sqrt(var / (var + 1e-5)), rtol=1e-12
    )
    unbiased_var = var * m / (m - 1)
    np.testing.assert_allclose(layer.running_mean, 0.25 * mean, atol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.75 + 0.25 * unbiased_var, atol=1e-14)
    # eval: the running statistics normalise and nothing is updated
    layer.eval()
    before = layer.state_dict()
    y_eval = layer.forward(x)
    expected = (x - layer.running_mean[:, None, None]) / np.sqrt(
        layer.running_var[:, None, None] + 1e-5
    ) * layer.gamma[:, None, None] + layer.beta[:, None, None]
    np.testing.assert_allclose(y_eval, expected, atol=1e-12)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # each sample's eval output does not depend on the rest of its batch
    np.testing.assert_allclose(layer.forward(x[2:3]), y_eval[2:3], atol=1e-14)


@pytest.mark.parametrize("kind", list(BN_CASES))
def test_batchnorm_matches_torch_over_several_steps(kind):
    torch = torch_or_skip()
    layer, shape = make_bn(kind, momentum=0.3)
    tcls = torch.nn.BatchNorm1d if kind == "1d" else torch.nn.BatchNorm2d
    ref = tcls(shape[1], momentum=0.3, eps=1e-5).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.gamma))
        ref.bias.copy_(torch.tensor(layer.beta))
    rng = np.random.default_rng(3)
    for step, mode in enumerate(["train"] * 4 + ["eval", "eval"]):
        layer.train(mode == "train")
        ref.train(mode == "train")
        x = rng.standard_normal(shape) * (1.0 + step) + step
        dy = rng.standard_normal(shape)
        y = layer.forward(x)
        dx = layer.backward(dy)
        xt = torch.tensor(x, requires_grad=True)
        ref.zero_grad()
        yt = ref(xt)
        yt.backward(torch.tensor(dy))
        pairs = [
            (y, yt), (dx, xt.grad), (layer.grads["gamma"], ref.weight.grad),
            (layer.grads["beta"], ref.bias.grad), (layer.running_mean, ref.running_mean),
            (layer.running_var, ref.running_var),
        ]
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", list(BN_CASES))
def test_batchnorm_contract(kind):
    cls, shape = BN_CASES[kind]
    layer = cls(shape[1], momentum=0.2, eps=1e-3, name="bn")
    key = "num_features" if kind == "1d" else "num_channels"
    config = layer.get_config()
    assert config == {key: shape[1], "momentum": 0.2, "eps": 1e-3, "dtype": "float32",
                      "name": "bn"}
    assert cls(**json.loads(json.dumps(config))).get_config() == config
    assert LAYER_TYPES[cls.__name__] is cls
    assert set(layer.params) == {"gamma", "beta"} == set(layer.grads)
    assert set(layer.buffers) == {"running_mean", "running_var"}
    assert layer.output_shape(shape[1:]) == shape[1:]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    grads = dict(layer.grads)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(layer.grads[k] is grads[k] for k in grads)  # written in place
    assert all(v.dtype == np.float32 for v in (*layer.params.values(), *layer.buffers.values()))
    # state_dict carries the running statistics; reset_parameters forgets them
    state = layer.state_dict()
    assert set(state) == {"gamma", "beta", "running_mean", "running_var"}
    layer.reset_parameters(np.random.default_rng(0))
    np.testing.assert_array_equal(layer.running_var, 1.0)
    layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.running_mean, state["running_mean"])
    layer.astype(np.float64)
    assert layer.running_var.dtype == layer.gamma.dtype == np.float64
    assert layer.forward(x.astype(np.float64)).dtype == np.float64
    lean = cls(shape[1])
    lean.needs_input_grad = False
    lean.forward(x)
    assert lean.backward(np.ones_like(x)) is None
    np.testing.assert_allclose(lean.grads["beta"], layer.grads["beta"], rtol=1e-6)


def test_batchnorm_rejects_bad_input_and_config():
    with pytest.raises(ConfigError, match="BatchNorm1d num_features must be a positive integer"):
        BatchNorm1d(0)
    with pytest.raises(ConfigError, match="BatchNorm2d num_features must be a positive integer"):
        BatchNorm2d(-3)
    with pytest.raises(ConfigError, match=r"momentum must be a number in \[0, 1\], got 1.5"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ConfigError, match="eps must be a finite number > 0, got 0"):
        BatchNorm2d(3, eps=0)
    bn1 = BatchNorm1d(4, name="bn1")
    with pytest.raises(ShapeError, match=r"bn1: expected input of shape \(batch, features\) wi"):
        bn1.forward(np.zeros((5, 3), np.float32))
    with pytest.raises(ShapeError, match=r"bn1: expected input of shape \(batch, features\)"):
        bn1.forward(np.zeros((5, 4, 1, 1), np.float32))
    with pytest.raises(ShapeError, match="more than one value per feature"):
        bn1.forward(np.zeros((1, 4), np.float32))
    bn1.eval()
    assert bn1.forward(np.zeros((1, 4), np.float32)).shape == (1, 4)  # fine at inference
    bn2 = BatchNorm2d(3, name="bn2")
    with pytest.raises(ShapeError, match=r"bn2: expected input of shape \(batch, channels, hei"):
        bn2.forward(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ShapeError, match=r"bn2: expected a sample shape \(3, height, width\)"):
        bn2.output_shape((4, 5, 5))
    assert bn2.forward(np.zeros((1, 3, 2, 1), np.float32)).shape == (1, 3, 2, 1)  # m = 2
    with pytest.raises(DTypeError, match="bn2: input dtype is float64"):
        bn2.forward(np.zeros((2, 3, 2, 2)))
    with pytest.raises(ShapeError, match=r"bn2: grad_out must have shape \(1, 3, 2, 1\)"):
        bn2.backward(np.zeros((1, 3, 1, 2), np.float32))
    with pytest.raises(ScratchnetError, match="backward\\(\\) called before forward\\(\\)"):
        BatchNorm1d(2).backward(np.zeros((2, 2), np.float32))
