"""``scratchnet predict``: a user's picture becomes an MNIST digit and is classified."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnet import cli, load_model
from scratchnet.datasets import load_mnist
from scratchnet.errors import ConfigError, DataError, DataFileError
from scratchnet.layers import Dense
from scratchnet.lessons.predict import (
    class_names,
    format_prediction,
    input_shape,
    predict_images,
    read_grey_image,
    to_mnist_format,
)
from scratchnet.model import Sequential
from scratchnet.models import mnist_cnn, mnist_mlp

ROWS = np.arange(28)


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    total = img.sum()
    return float((img.sum(1) * ROWS).sum() / total), float((img.sum(0) * ROWS).sum() / total)


def render_black_on_white(digit: np.ndarray, path, size: int = 200) -> None:
    """An MNIST digit (28x28 uint8, white on black) as a big black-on-white PNG."""
    Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BILINEAR).save(path)


def drawn_seven(size=(300, 240), ink=20, paper=235, width=18) -> Image.Image:
    """A '7' drawn with a thick pen, off-centre, on light paper (grey levels)."""
    img = Image.new("L", size, paper)
    d = ImageDraw.Draw(img)
    d.line([(60, 40), (200, 40), (110, 210)], fill=ink, width=width)
    return img


# -- preprocessing -------------------------------------------------------------------------
def test_rendered_real_digit_comes_back_as_itself(t10k_dir, tmp_path):
    images, _ = load_mnist("test", data_dir=t10k_dir)
    for i in (0, 1, 2, 9000, 9999):
        path = tmp_path / f"d{i}.png"
        render_black_on_white(images[i], path)
        out, inverted = to_mnist_format(read_grey_image(path))
        assert inverted  # light background detected
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
        r, c = centre_of_mass(out)
        assert abs(r - 14) <= 0.5 and abs(c - 14) <= 0.5
        rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20
        original = images[i].astype(np.float32) / 255
        corr = np.corrcoef(out.ravel(), original.ravel())[0, 1]
        assert corr > 0.85, (i, corr)


def test_drawn_digit_is_inverted_cropped_scaled_and_centred(tmp_path):
    path = tmp_path / "seven.jpg"
    drawn_seven().convert("RGB").save(path, quality=85)
    out, inverted = to_mnist_format(read_grey_image(path))
    assert inverted
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert height == 20 and 14 <= width <= 18  # taller than wide, aspect kept
    assert out[0].sum() == 0 and out[:, 0].sum() == 0  # a black frame, like MNIST
    r, c = centre_of_mass(out)
    assert abs(r - 14) <= 0.5 and abs(c - 14) <= 0.5


def test_white_on_black_is_not_inverted(tmp_path):
    path = tmp_path / "light.png"
    Image.eval(drawn_seven(), lambda v: 255 - v).save(path)
    out_light, inv_light = to_mnist_format(read_grey_image(path))
    out_dark, inv_dark = to_mnist_format(np.asarray(drawn_seven(), np.float32) / 255)
    assert not inv_light and inv_dark
    np.testing.assert_allclose(out_light, out_dark, atol=1e-5)


def test_transparent_background_keeps_the_strokes(tmp_path):
    rgba = Image.new("RGBA", (300, 240), (0, 0, 0, 0))  # transparent *black*
    d = ImageDraw.Draw(rgba)
    d.line([(60, 40), (200, 40), (110, 210)], fill=(10, 10, 10, 255), width=18)
    path = tmp_path / "transparent.png"
    rgba.save(path)
    grey = read_grey_image(path)
    assert np.median(grey) > 0.9  # laid on white paper, not on the black under alpha
    out, inverted = to_mnist_format(grey)
    reference, _ = to_mnist_format(np.asarray(drawn_seven(paper=255, ink=10), np.float32) / 255)
    assert inverted
    assert np.abs(out - reference).max() < 0.1


def test_forced_ink_colour():
    grey = np.asarray(drawn_seven(), np.float32) / 255
    out, inverted = to_mnist_format(grey, invert=True)
    assert inverted and out.max() == pytest.approx(1.0)


def test_blank_picture_is_refused(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (100, 80), 240).save(path)
    with pytest.raises(DataError, match="blank.png: the picture is blank"):
        to_mnist_format(read_grey_image(path), name=str(path))
    noisy = 0.9 + 0.02 * np.random.default_rng(0).random((50, 50), dtype=np.float32)
    with pytest.raises(DataError, match="blank"):
        to_mnist_format(noisy)


def test_unreadable_files_are_refused(tmp_path):
    with pytest.raises(DataFileError, match="no such image file"):
        read_grey_image(tmp_path / "missing.png")
    fake = tmp_path / "notes.png"
    fake.write_text("this is not a picture")
    with pytest.raises(DataFileError, match="not an image Pillow can read"):
        read_grey_image(fake)
    with pytest.raises(DataFileError, match="is a folder"):
        read_grey_image(tmp_path)
    truncated = tmp_path / "cut.png"
    drawn_seven().save(tmp_path / "whole.png")
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:200])
    with pytest.raises(DataFileError, match="cut.png"):
        read_grey_image(truncated)


# -- the model side ------------------------------------------------------------------------
def test_input_shape_and_class_names():
    mlp, cnn = mnist_mlp(seed=0), mnist_cnn(seed=0)
    assert input_shape(mlp) == (784,) and input_shape(cnn) == (1, 28, 28)
    assert class_names(mlp, 10) == tuple("0123456789")
    mlp.name = "fashion_mlp"
    assert class_names(mlp, 10)[9] == "Ankle boot"
    assert class_names(mlp, 3) == ("class 0", "class 1", "class 2")
    with pytest.raises(ConfigError, match="does not take 28x28 grey images"):
        input_shape(Sequential([Dense(2, 1)]))


def test_cnn_model_gets_nchw_input(tmp_path):
    path = tmp_path / "seven.png"
    drawn_seven().save(path)
    [pred] = predict_images(mnist_cnn(seed=1), [path], top=3)
    assert pred.probabilities.shape == (10,)
    assert pred.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert [t[2] for t in pred.top] == sorted(pred.probabilities, reverse=True)[:3]
    text = format_prediction(pred)
    assert text.startswith(f"{path}: ") and len(text.splitlines()) == 3


@pytest.fixture(scope="module")
def trained_mlp(t10k_dir, tmp_path_factory):
    """An MLP trained briefly (2 epochs on 6,000 real digits, a few seconds) and saved."""
    images, labels = load_mnist("test", data_dir=t10k_dir)
    model = mnist_mlp(seed=0)
    x = images[:6000].reshape(6000, 784).astype(np.float32) / 255
    model.fit(x, labels[:6000].astype(np.int64), epochs=2, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("model") / "mlp.npz"
    model.save(path)
    return path, images[8000:], labels[8000:]


def test_predict_command_classifies_rendered_digits(trained_mlp, tmp_path, capsys):
    path, images, labels = trained_mlp
    model = load_model(path)
    direct = model.predict(images[:40].reshape(40, 784).astype(np.float32) / 255).argmax(1)
    # Ten held-out digits the model gets right in their original 28x28 form.
    chosen = [i for i in range(40) if direct[i] == labels[i]][:10]
    files = []
    for i in chosen:
        f = tmp_path / f"digit{i}.png"
        render_black_on_white(images[i], f)
        files.append(str(f))
    rc = cli.main(["predict", str(path), *files, "--show", str(tmp_path / "seen")])
    out = capsys.readouterr().out
    assert rc == 0
    got = [int(m.group(1)) for m in re.finditer(r"digit\d+\.png: (\d) +\d+\.\d%", out)]
    assert len(got) == 10
    right = sum(g == labels[i] for g, i in zip(got, chosen, strict=True))
    assert right >= 9, (got, [int(labels[i]) for i in chosen])
    assert len(out.strip().splitlines()) == 10 * 3 + 10  # top-3 each, plus "saved ..."
    seen = sorted((tmp_path / "seen").iterdir())
    assert len(seen) == 10 and seen[0].read_bytes()[:4] == b"\x89PNG"


def test_predict_command_errors(trained_mlp, tmp_path, capsys):
    path = trained_mlp[0]
    image = tmp_path / "seven.png"
    drawn_seven().save(image)
    not_model = tmp_path / "model.npz"
    not_model.write_bytes(b"PK\x03\x04 definitely not a scratchnet model")
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 255).save(blank)
    cases = [
        ([str(not_model), str(image)], "model.npz"),
        ([str(path), str(tmp_path / "nothing.png")], "no such image file"),
        ([str(path), str(tmp_path / "model.npz")], "not an image Pillow can read"),
        ([str(path), str(blank)], "the picture is blank"),
        ([str(tmp_path / "absent.npz"), str(image)], "absent.npz"),
        ([str(path), str(image), "--top", "0"], "--top must be at least 1"),
    ]
    for argv, message in cases:
        rc = cli.main(["predict", *argv])
        err = capsys.readouterr().err
        assert rc == 2, argv
        assert err.startswith("scratchnet predict: error: ") and message in err, err
