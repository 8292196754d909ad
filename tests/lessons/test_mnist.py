"""The MNIST lesson: models, data modes, augmentation, training, Ctrl-C, the run folder."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from mnist_testdata import synthetic_digits

from scratchnet.errors import ConfigError
from scratchnet.lessons.mnist import (
    RECIPES,
    InterruptFlag,
    MnistConfig,
    confusion_matrix,
    format_results,
    load_data,
    mistakes,
    per_class_rows,
    random_affine,
    save_mnist_run,
    to_model_input,
    train_mnist,
)
from scratchnet.models import INPUT_SHAPES, mnist_cnn, mnist_mlp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- the models ---------------------------------------------------------------------------
def test_mlp_summary_shapes_and_parameter_count():
    text = mnist_mlp(seed=0).summary(print_fn=None)
    assert "Total parameters: 235,146" in text
    rows = [line.split() for line in text.splitlines() if line[:1].isdigit()]
    assert [(r[1], " ".join(r[2:-1])) for r in rows] == [
        ("Dense", "(batch, 256)"), ("ReLU", "(batch, 256)"),
        ("Dense", "(batch, 128)"), ("ReLU", "(batch, 128)"), ("Dense", "(batch, 10)"),
    ]
    assert [r[-1] for r in rows] == ["200,960", "0", "32,896", "0", "1,290"]


def test_cnn_summary_shapes_and_parameter_count():
    model = mnist_cnn(seed=0)
    text = model.summary(input_shape=INPUT_SHAPES["cnn"], print_fn=None)
    assert "Total parameters: 225,482" in text
    shapes = [line.split(")")[0].split("(batch, ")[1] for line in text.splitlines()
              if "(batch," in line]
    assert shapes == ["32, 26, 26", "32, 26, 26", "32, 26, 26", "32, 13, 13",
                      "64, 11, 11", "64, 11, 11", "64, 11, 11", "64, 5, 5",
                      "1600", "128", "128", "128", "128", "10"]
    assert model.n_params == 320 + 64 + 18_496 + 128 + 204_928 + 256 + 1_290


def test_models_are_seeded_and_compiled():
    a, b, c = mnist_mlp(seed=3), mnist_mlp(seed=3), mnist_mlp(seed=4)
    assert np.array_equal(a.layers[0].W, b.layers[0].W)
    assert not np.array_equal(a.layers[0].W, c.layers[0].W)
    assert a.loss is not None and a.optimizer is not None


def test_cnn_forward_backward_on_a_batch():
    model = mnist_cnn(seed=0)
    x = np.random.default_rng(0).random((6, 1, 28, 28), dtype=np.float32)
    y = np.array([0, 1, 2, 3, 4, 5])
    model.train()
    out = model.forward(x)
    assert out.shape == (6, 10) and out.dtype == np.float32
    loss = model.loss.forward(out, y)
    assert np.isfinite(loss) and loss > 0
    model.backward(model.loss.backward())
    for p in model.parameters():
        assert p.grad.shape == p.value.shape
        assert np.all(np.isfinite(p.grad))
    conv1 = model.layers[0]
    assert np.abs(conv1.dW).sum() > 0 and np.abs(model.layers[-1].dW).sum() > 0


# -- augmentation -------------------------------------------------------------------------
def test_random_affine_without_distortion_is_the_identity():
    x = np.random.default_rng(1).random((5, 28, 28), dtype=np.float32)
    out = random_affine(x, np.random.default_rng(0), max_rotation=0, max_scale=0, max_shift=0)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_random_affine_moves_ink_but_keeps_it():
    images, _ = synthetic_digits(50)
    x = images.astype(np.float32) / 255
    x[x < 0.5] = 0  # the bars only, so mass is easy to compare
    out = random_affine(x, np.random.default_rng(0))
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    assert not np.allclose(out, x)
    mass_ratio = out.sum(axis=(1, 2)) / x.sum(axis=(1, 2))
    # A zoom in [0.9, 1.1] changes the area by at most ~21%; shifts of 2 px lose no ink.
    assert np.all((mass_ratio > 0.75) & (mass_ratio < 1.3))
    again = random_affine(x, np.random.default_rng(0))
    assert np.array_equal(out, again)  # same generator, same distortion


def test_random_affine_pure_shift_moves_the_centre_of_mass():
    x = np.zeros((1, 28, 28), dtype=np.float32)
    x[0, 10:18, 12:16] = 1.0
    rng = np.random.default_rng(5)
    out = random_affine(x, rng, max_rotation=0, max_scale=0, max_shift=2.0)
    same = np.random.default_rng(5)  # the same draws in the same order: angle, zoom, shift
    same.uniform(0, 0, 1), same.uniform(1, 1, 1)
    shift = same.uniform(-2, 2, (1, 2))
    rows = np.arange(28)

    def com(img):
        return ((img.sum(1) * rows).sum() / img.sum(), (img.sum(0) * rows).sum() / img.sum())

    (r0, c0), (r1, c1) = com(x[0]), com(out[0])
    np.testing.assert_allclose([r1 - r0, c1 - c0], shift[0], atol=1e-4)


# -- data ----------------------------------------------------------------------------------
def test_folder_with_only_test_files_switches_to_split_test_mode(synthetic_t10k):
    data = load_data(MnistConfig(data_dir=str(synthetic_t10k)))
    assert data.mode == "split-test"
    assert data.sizes == {"train": 7200, "validation": 800, "test": 2000}
    assert "SPLIT-TEST MODE" in data.source and "NOT used" in data.source
    assert "0-7,999" in data.source and "8,000-9,999" in data.source
    assert data.train_images.dtype == np.uint8 and data.train_labels.dtype == np.int64
    assert data.class_names == tuple("0123456789")


def test_explicit_split_limits_and_no_validation(synthetic_t10k):
    data = load_data(MnistConfig(data_dir=str(synthetic_t10k), split_test=9000,
                                 train_limit=300, test_limit=50, val_split=0.0))
    assert data.sizes == {"train": 300, "validation": 0, "test": 50}
    full_images, full_labels = synthetic_digits(10_000)
    assert np.array_equal(data.test_images, full_images[9000:9050])
    assert np.array_equal(data.train_labels, full_labels[:300])
    assert "first 300" in data.source and "No validation set" in data.source


def test_fashion_class_names(synthetic_t10k):
    data = load_data(MnistConfig(dataset="fashion", data_dir=str(synthetic_t10k)))
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert data.dataset_title == "Fashion-MNIST"


def test_bad_settings_are_refused(synthetic_t10k):
    with pytest.raises(ConfigError, match="between 1 and 9,999"):
        load_data(MnistConfig(data_dir=str(synthetic_t10k), split_test=10_000))
    with pytest.raises(ConfigError, match="model must be one of mlp, cnn"):
        MnistConfig(model="resnet")
    with pytest.raises(ConfigError, match="validation split"):
        MnistConfig(val_split=1.5)
    with pytest.raises(ConfigError, match="epochs must be an integer"):
        MnistConfig(epochs=0)
    with pytest.raises(ConfigError, match="both must be > 0"):
        load_data(MnistConfig(data_dir=str(synthetic_t10k), train_limit=3, val_split=0.1))


def test_recipe_fills_unset_settings():
    cfg = MnistConfig(model="cnn", epochs=2)
    assert cfg.epochs == 2 and cfg.batch_size == RECIPES["cnn"].batch_size
    assert cfg.lr == RECIPES["cnn"].lr and cfg.augment is RECIPES["cnn"].augment


def test_to_model_input_shapes():
    x = np.zeros((3, 28, 28), dtype=np.float32)
    assert to_model_input(x, "mlp").shape == (3, 784)
    assert to_model_input(x, "cnn").shape == (3, 1, 28, 28)


# -- metrics -------------------------------------------------------------------------------
def test_confusion_matrix_counts():
    conf = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert conf.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


# -- training ------------------------------------------------------------------------------
def _small_data(t10k_dir, n_train=2000, n_test=1000, val=0.0):
    return load_data(MnistConfig(data_dir=str(t10k_dir), split_test=8000, train_limit=n_train,
                                 test_limit=n_test, val_split=val))


def test_mlp_learns_real_digits_in_one_epoch(t10k_dir):
    cfg = MnistConfig(model="mlp", data_dir=str(t10k_dir), epochs=1, augment=False,
                      lr=2e-3, batch_size=32, val_split=0.0)
    data = _small_data(t10k_dir)
    lines = []
    result = train_mnist(cfg, data, progress=lines.append)
    assert result.epochs_done == 1 and not result.interrupted
    assert result.test_accuracy > 0.85, result.test_accuracy
    assert result.test_proba.shape == (1000, 10)
    np.testing.assert_allclose(result.test_proba.sum(axis=1), 1.0, rtol=1e-5)
    assert result.confusion.sum() == 1000
    assert np.trace(result.confusion) == round(result.test_accuracy * 1000)
    assert len(result.batch_losses) == 63  # ceil(2000 / 32)
    assert lines and lines[0].split()[:2] == ["epoch", "1/1"] and "train acc" in lines[0]
    rows = per_class_rows(result)
    assert [r[2] for r in rows] == np.bincount(data.test_labels, minlength=10).tolist()
    text = format_results(result)
    assert f"Test accuracy: {result.test_accuracy:.2%}" in text
    idx = mistakes(result, limit=5)
    assert len(idx) == min(5, int(np.sum(result.test_pred != data.test_labels)))
    conf = result.test_proba[idx, result.test_pred[idx]]
    assert np.all(np.diff(conf) <= 0)  # most confident first
    assert np.all(result.test_pred[idx] != data.test_labels[idx])


def test_same_seed_same_run(synthetic_t10k):
    cfg = MnistConfig(data_dir=str(synthetic_t10k), epochs=1, train_limit=400, test_limit=100)
    data = load_data(cfg)
    a = train_mnist(cfg, data)
    b = train_mnist(cfg, data)
    assert a.batch_losses == b.batch_losses
    assert np.array_equal(a.test_proba, b.test_proba)
    assert a.history["val_accuracy"] == b.history["val_accuracy"]


# -- Ctrl-C --------------------------------------------------------------------------------
def test_interrupt_flag_first_press_asks_second_press_raises():
    seen = []
    with InterruptFlag(lambda: seen.append("asked")) as flag:
        os.kill(os.getpid(), signal.SIGINT)
        assert flag.requested and seen == ["asked"]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_training_keeps_what_was_trained(synthetic_t10k, tmp_path):
    cfg = MnistConfig(data_dir=str(synthetic_t10k), epochs=50, train_limit=640,
                      test_limit=100, batch_size=64)
    data = load_data(cfg)

    def progress(line):
        if line.split()[:2] == ["epoch", "2/50"]:
            os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C now

    result = train_mnist(cfg, data, progress=progress, bars=False)
    assert result.interrupted and result.epochs_done == 2
    assert "interrupted" in result.interrupt_note and "epoch 3 of 50" in result.interrupt_note
    # It stopped before the first batch of epoch 3: exactly two epochs of steps.
    assert len(result.batch_losses) == 2 * 9  # 576 training images / 64 per batch
    assert result.model.optimizer.t == 18
    assert 0 <= result.test_accuracy <= 1
    path = save_mnist_run(result, tmp_path / "run")
    record = json.loads((path / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert any(s.get("title") == "Training was interrupted" for s in record["sections"])
    assert (path / "model.npz").is_file() and (path / "report.html").is_file()


# -- the run folder ------------------------------------------------------------------------
def test_run_folder_holds_every_picture_and_the_report(synthetic_t10k, tmp_path):
    cfg = MnistConfig(model="cnn", data_dir=str(synthetic_t10k), epochs=1, train_limit=200,
                      test_limit=60)
    result = train_mnist(cfg, load_data(cfg))
    path = save_mnist_run(result, tmp_path / "run")
    for name in ("curves.png", "confusion.png", "weights.png", "mistakes.png"):
        data = (path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000, name
    html = (path / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert html.count("data:image/png;base64,") >= 4
    assert "SPLIT-TEST MODE" in html and "Accuracy per class" in html
    record = json.loads((path / "run.json").read_text())
    assert record["status"] == "finished"
    assert record["metrics"]["test accuracy"] == pytest.approx(result.test_accuracy)
    assert record["config"]["data mode"] == "split-test"
    from scratchnet import load_model

    loaded = load_model(path / "model.npz")
    assert loaded.name == "mnist_cnn"
    x = to_model_input(result.data.test_images[:10].astype(np.float32) / 255, "cnn")
    np.testing.assert_allclose(loaded.predict(x), result.model.predict(x), rtol=1e-5, atol=1e-6)


# -- the pictures' own checks ----------------------------------------------------------------
def test_plot_functions_refuse_inconsistent_input_and_handle_empty_cases():
    from scratchnet.errors import ShapeError
    from scratchnet.plots.images import plot_mistakes
    from scratchnet.plots.mnist import plot_confusion, plot_training_curves

    with pytest.raises(ShapeError, match=r"expected \(3, 3\)"):
        plot_confusion(np.zeros((2, 2), int), ["a", "b", "c"])
    with pytest.raises(ConfigError, match="one per epoch"):
        plot_training_curves({"loss": [1.0, 0.5], "accuracy": [0.5]})
    fig = plot_training_curves({"loss": [], "accuracy": []})  # interrupted in epoch 1
    assert "no complete epoch" in [t.get_text() for t in fig.axes[0].texts]
    empty = np.zeros((0, 28, 28), np.uint8)
    fig = plot_mistakes(empty, [], [], [], tuple("0123456789"), n_wrong=0, n_total=50)
    assert any("No mistakes" in t.get_text() for t in fig.axes[0].texts)
    fig = plot_confusion(np.array([[5, 1], [0, 4]]), ["0", "1"])
    assert fig.axes[0].get_title() == "Confusion matrix: 9 of 10 correct (90.00%)"
