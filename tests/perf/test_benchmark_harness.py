"""The benchmark's own pieces: FLOP counts, data, statistics, the worker protocol, the report.

No timing is asserted anywhere: only that the harness measures what it says it measures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-t10k"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402
import run as bench  # noqa: E402


def test_mlp_flops_count_every_product_once():
    # forward x@W and dW = x.T@dz for all three layers, dx = dz@W.T for the last two
    pairs = [(784, 256), (256, 128), (128, 10)]
    forward = sum(2 * a * b for a, b in pairs)
    expected = 2 * forward + sum(2 * a * b for a, b in pairs[1:])
    assert _common.mlp_flops_per_row() == expected == 1_007_104
    # with the first layer's input gradient: three products per layer
    assert _common.mlp_flops_per_row(input_grad=True) == 3 * forward == 1_408_512
    # an epoch at 324 GFLOP/s, as the speed issue worked it out: 0.26 s
    assert round(60_000 * 3 * forward / 324e9, 2) == 0.26


def test_cnn_flops_follow_the_layer_shapes():
    from scratchnet.layers import Conv2D, MaxPool2D

    c1, c2 = Conv2D(1, 32, 3), Conv2D(32, 64, 3)
    s1 = c1.output_shape((1, 28, 28))  # (32, 26, 26)
    s2 = c2.output_shape(MaxPool2D(2).output_shape(s1))  # (64, 11, 11)
    flat = int(np.prod(MaxPool2D(2).output_shape(s2)))
    conv1 = 2 * c1.fan_in * int(np.prod(s1))
    conv2 = 2 * c2.fan_in * int(np.prod(s2))
    layers = [conv1, conv2, 2 * flat * 128, 2 * 128 * 10]
    assert flat == 1600
    assert _common.cnn_flops_per_row() == 2 * sum(layers) + sum(layers[1:])


def test_synthetic_rows_look_like_mnist():
    images, labels, what = _common.mnist_rows(300, None)
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9
    assert not images[:, :4].any() and not images[:, :, 24:].any()  # blank border
    assert "synthetic" in what
    x = _common.scaled(images)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1


@pytest.mark.skipif(not _common.has_mnist(MNIST_DIR), reason="MNIST test files not present")
def test_real_digits_are_tiled_to_the_requested_rows():
    images, labels, what = _common.mnist_rows(25_000, MNIST_DIR)
    assert images.shape == (25_000, 28, 28)
    np.testing.assert_array_equal(images[:10_000], images[10_000:20_000])
    np.testing.assert_array_equal(labels[:5_000], labels[20_000:])
    assert np.bincount(labels[:10_000]).tolist()[:3] == [980, 1135, 1032]
    assert "real" in what


def test_idx_reader_refuses_a_wrong_magic_number(tmp_path):
    import gzip

    bad = tmp_path / "x.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc"))
    with pytest.raises(ValueError, match="magic number"):
        _common.read_idx_gz(bad, 0x00000803)
    np.testing.assert_array_equal(_common.read_idx_gz(bad, 0x00000801), [97, 98, 99])


def test_every_thread_pool_variable_is_set():
    env = _common.thread_env(3)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env[name] == "3"


def test_ratios_are_taken_pair_by_pair():
    st = bench.Stat.of(bench._ratios([2.0, 4.0, 9.0], [1.0, 8.0, 3.0]))
    assert (st.median, st.lo, st.hi, st.n) == (2.0, 0.5, 3.0, 3)


def test_the_first_batches_are_counted_once_in_an_extrapolated_epoch():
    # 10 batches of 100 rows: 3 s for the first 2, then 0.5 s a batch
    run = {"seconds": 7.0, "warm_seconds": 3.0}
    assert bench.extrapolate(run, 1000, 2000, warm_rows=200) == pytest.approx(3.0 + 18 * 0.5)
    # without the warm time (or with no warm rows) the whole run is scaled
    assert bench.extrapolate({"seconds": 7.0}, 1000, 2000, warm_rows=200) == 14.0
    assert bench.extrapolate(run, 1000, 2000) == 14.0


@pytest.mark.parametrize("peer", ["scratchnet", "torch"])
def test_the_cnn_peers_time_their_first_batches(peer):
    if peer == "torch":
        pytest.importorskip("torch")
    import _peers

    cfg = {"data_dir": None, "cnn_batches": 3, "cnn_warm_batches": 1}
    work = _peers.PEERS["cnn"][peer](cfg)
    result = work.run()
    assert 0 < result["warm_seconds"] < result["seconds"]
    assert np.isfinite(result["final_loss"])


def test_the_printed_summary_keeps_every_label_whole():
    work = "small CNN, one 60,000-row epoch (extrapolated from 8 batches, 1,024 rows)"
    rows = [
        bench.Row("cnn", work, "torch", bench.Stat.of([2.0, 2.2]), None, None),
        bench.Row("cnn", work, "scratchnet", bench.Stat.of([1.8, 2.0]),
                  bench.Stat.of([0.9, 0.91]), "torch", "<= 1", True),
    ]
    summary = {"rows": rows, "floors": [(work, 1e9, 0.5, {"scratchnet": 1.9}, 2.5)],
               "memory": [], "machine_peak": 100.0}
    lines: list[str] = []
    bench.print_summary(1, summary, lines.append)
    body = [line for line in lines if line.startswith("small CNN")]
    assert len(body) == 2 and all(line.startswith(work + " ") for line in body)
    assert body[1].split(work)[1].split()[:2] == ["scratchnet", "1.9s"]
    assert "target <= 1: met" in body[1]
    # the columns line up: every row's peer starts where the header's does
    header = next(line for line in lines if line.startswith("work"))
    assert body[0].index("PyTorch") == header.index("peer")
    assert f"  floor 0.50s for {work}: scratchnet 3.80x" in lines


def test_rounds_change_who_goes_first_and_who_runs_before_whom():
    peers = ["scratchnet", "torch", "torch-inplace", "scratchnet-dense", "sklearn"]
    orders = [bench.round_order(peers, r) for r in range(5)]
    assert all(sorted(o) == sorted(peers) for o in orders)
    assert orders[0] == peers
    assert orders[1] == ["torch", "scratchnet", "sklearn", "scratchnet-dense", "torch-inplace"]
    assert [o[0] for o in orders] == peers  # each goes first once
    for p in peers:
        before = {o[o.index(p) - 1] for o in orders if o.index(p) > 0}
        assert len(before) == 2, (p, before)  # behind both of its neighbours in turn


def test_thread_counts():
    assert bench._thread_counts(None, 2, quick=False) == [1, 2]
    assert bench._thread_counts(None, 2, quick=True) == [1]
    assert bench._thread_counts(None, 1, quick=False) == [1]
    assert bench._thread_counts("2,1", 2, quick=False) == [2, 1]
    with pytest.raises(SystemExit, match="positive"):
        bench._thread_counts("0", 2, quick=False)


def test_commands_in_the_report_carry_no_machine_paths():
    text = bench.shown([sys.executable, str(BENCH / "torch_mnist_mlp.py"), "--data-dir",
                        str(MNIST_DIR), "--epochs", "3"])
    assert text == "python benchmarks/torch_mnist_mlp.py --data-dir ../shared/data/mnist-t10k " \
                   "--epochs 3"


def test_a_worker_runs_and_reports_over_its_protocol(tmp_path):
    """A real scratchnet worker, a few XOR steps: ready, warm, results, peak memory."""
    from scratchnet.lessons.xor_stacked import initial_weights

    w = initial_weights([0, 1])
    init = tmp_path / "init.npz"
    np.savez(init, W1=w.W1, b1=w.b1, W2=w.W2, b2=w.b2)
    cfg = {"xor_steps": 50, "seeds_steps": 20, "seeds": 2, "init_file": str(init)}
    res = bench.run_task("xor", ["scratchnet-fit", "scratchnet-stacked"], cfg, threads=1,
                         rounds=2, log=lambda msg: None)
    assert res.order == [["scratchnet-fit", "scratchnet-stacked"],
                         ["scratchnet-stacked", "scratchnet-fit"]]
    for peer in res.peers:
        assert len(res.runs[peer]) == 2
        assert all(r["seconds"] > 0 and r["cpu_seconds"] >= 0 for r in res.runs[peer])
        assert res.peak_rss[peer] >= res.ready[peer]["rss_after_setup"] > 0
        pools = res.ready[peer]["threads"]["pools"]
        assert pools is None or all(p["threads"] == 1 for p in pools)
    # the same network from the same weights: fit and the stacked trainer agree
    a = res.runs["scratchnet-fit"][0]["final_loss"]
    b = res.runs["scratchnet-stacked"][0]["final_loss"]
    assert a == pytest.approx(b, rel=1e-4)
    json.dumps(res.runs)  # results are plain JSON


def test_a_failing_worker_reports_its_error():
    with pytest.raises(bench.WorkerError, match="unknown task/peer"):
        bench.run_task("xor", ["nobody"], {}, threads=1, rounds=1, log=lambda msg: None)


def test_cache_sharing_times_both_ways_for_every_shape_and_thread_count(capsys):
    import cache_sharing

    rows = cache_sharing.measure(reps=3)
    shapes = [f"{i}x{o}" for i, o in cache_sharing.SHAPES]
    assert [(r[0], r[1]) for r in rows] == [(s, t) for s in shapes for t in (1, 2)]
    assert all(one > 0 and two > 0 for _, _, one, two in rows)
    cache_sharing.main(["--reps", "2"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["weights", "BLAS", "threads", "in", "place", "two",
                                  "passes", "ratio"]
    assert [line.split()[:2] for line in printed[1:]] == [[s, t] for s in shapes
                                                          for t in ("1", "2")]


def test_cache_sharing_updates_give_the_same_weights():
    import cache_sharing

    rng = np.random.default_rng(1)
    w = rng.standard_normal((30, 20), dtype=np.float32)
    d = rng.standard_normal((30, 20), dtype=np.float32)
    a, b = w.copy(), w.copy()
    cache_sharing.in_place(a, d.copy())
    cache_sharing.two_passes(b, d.copy())
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, w - d)
