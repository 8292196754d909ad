"""Train the MNIST multilayer perceptron with the engine's public API, in a few lines.

The same network and recipe as ``scratchnet mnist --model mlp``, written out by hand:
784-256-128-10 ReLU, softmax cross-entropy, Adam with a cosine learning rate, and a
fresh random rotation/zoom/shift of every training image each epoch.

    python examples/10_mnist_mlp.py                                   # official data (downloads)
    python examples/10_mnist_mlp.py --data-dir ../shared/data/mnist-t10k --epochs 5

With a folder that holds only the 10,000-image test file, the first 8,000 images train
and the last 2,000 test (said in the output): no official training images are used.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from scratchnet.datasets import load_mnist, scale_images
from scratchnet.lessons.mnist import has_training_files, random_affine
from scratchnet.models import mnist_mlp
from scratchnet.optim import Adam
from scratchnet.schedules import CosineWarmup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    # 1. Data: uint8 (n, 28, 28) -> float32 in [0, 1]; labels 0..9.
    if args.data_dir and not has_training_files(args.data_dir):
        images, labels = load_mnist("test", data_dir=args.data_dir)
        x_train, y_train = images[:8000], labels[:8000]
        x_test, y_test = images[8000:], labels[8000:]
        print("Only the test file is there: training on its first 8,000 digits, "
              "testing on the last 2,000.")
    else:
        x_train, y_train = load_mnist("train", data_dir=args.data_dir)
        x_test, y_test = load_mnist("test", data_dir=args.data_dir)
    x_train, x_test = scale_images(x_train), scale_images(x_test)
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)

    # 2. Model: logits out; the softmax lives inside the cross-entropy loss.
    model = mnist_mlp(seed=args.seed)
    batch = 64
    steps = args.epochs * math.ceil(len(y_train) / batch)
    model.compile(loss="cross_entropy", optimizer=Adam(lr=CosineWarmup(1e-3, total_steps=steps)))
    model.summary()

    # 3. Train: each epoch sees a newly distorted copy of the training digits.
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        x_epoch = random_affine(x_train, rng).reshape(len(x_train), 784)
        history = model.fit(x_epoch, y_train, epochs=1, batch_size=batch, verbose=0)
        test = model.evaluate(x_test.reshape(len(x_test), 784), y_test, batch_size=1000)
        print(f"epoch {epoch + 1:2d}: train loss {history['loss'][0]:.4f}, "
              f"test accuracy {test['accuracy']:.2%}")


if __name__ == "__main__":
    main()
