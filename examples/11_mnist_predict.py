"""Classify your own handwritten digit with a trained MNIST model.

Draw a digit (dark pen on light paper or in any paint program), save it as PNG or
JPEG, then::

    scratchnet mnist --model mlp --out runs/my-mlp          # once: train and save a model
    python examples/11_mnist_predict.py runs/my-mlp/model.npz my_digit.png

The picture is turned into what the network knows, an MNIST-style 28x28 image (white
ink on black, cropped, longer side 20 px, centred by centre of mass); both are drawn
side by side with the probabilities in ``<picture>-seen.png``. The command-line
equivalent is ``scratchnet predict MODEL IMAGE... --show DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scratchnet import load_model
from scratchnet.lessons.predict import format_prediction, predict_images
from scratchnet.plots.base import savefig_atomic
from scratchnet.plots.images import plot_digit_preprocessing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a model.npz written by `scratchnet mnist`")
    ap.add_argument("images", nargs="+", help="pictures of one digit each")
    args = ap.parse_args()

    model = load_model(args.model)
    for pred in predict_images(model, args.images, top=3):
        print(format_prediction(pred))
        label, name, p = pred.top[0]
        fig = plot_digit_preprocessing(pred.grey, pred.image, pred.probabilities,
                                       pred.class_names, title=f"{name} ({p:.1%})")
        out = Path(pred.path).with_name(Path(pred.path).stem + "-seen.png")
        savefig_atomic(fig, out)
        print(f"  picture: {out}")


if __name__ == "__main__":
    main()
