"""``scratchnet predict MODEL IMAGE...``: classify your own digit pictures.

Parses arguments, calls :func:`scratchnet.lessons.predict.predict_images`, prints the
top classes of each picture. No math here.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify your own digit pictures with a model trained by `scratchnet mnist`",
        description=(
            "Read each picture (PNG, JPEG, BMP, GIF; any size), turn it into an MNIST-style "
            "28x28 image (grey, white ink on black: inverted if the background is light, "
            "cropped to the ink, longer side scaled to 20 pixels, centred by centre of mass) "
            "and print the model's most likely classes with their probabilities."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL",
                   help="a model file saved by scratchnet (e.g. runs/mnist-.../model.npz)")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="picture files of one digit each")
    p.add_argument("--top", type=int, default=3, help="how many classes to show per picture")
    ink = p.add_mutually_exclusive_group()
    ink.add_argument("--dark-ink", dest="invert", action="store_const", const=True,
                     default=None, help="the ink is darker than the paper (default: detect)")
    ink.add_argument("--light-ink", dest="invert", action="store_const", const=False,
                     help="the ink is lighter than the background (default: detect)")
    p.add_argument("--show", metavar="DIR", default=None,
                   help="also save, per picture, DIR/<name>-seen.png: the picture, the 28x28 "
                        "image the network sees and its probabilities")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..io import load_model
    from ..lessons.predict import format_prediction, predict_images

    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, got {args.top}")
    model = load_model(args.model)
    results = predict_images(model, args.images, top=args.top, invert=args.invert)
    for res in results:
        print(format_prediction(res))
    if args.show:
        from ..plots.base import savefig_atomic
        from ..plots.images import plot_digit_preprocessing

        folder = Path(args.show)
        folder.mkdir(parents=True, exist_ok=True)
        for res in results:
            best = res.top[0]
            fig = plot_digit_preprocessing(
                res.grey, res.image, res.probabilities, res.class_names,
                title=f"{Path(res.path).name}: {best[1]} ({best[2]:.1%})",
            )
            out = savefig_atomic(fig, folder / f"{Path(res.path).stem}-seen.png")
            print(f"saved {out}")
    return 0
