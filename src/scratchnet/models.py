"""Ready-made networks for the MNIST lessons, each a plain ``Sequential`` you can read.

Both take 28 x 28 grey images scaled to ``[0, 1]`` and end in 10 *logits* (raw scores,
no softmax layer): ``SoftmaxCrossEntropy`` applies the softmax inside the loss, which
is both cheaper and numerically safer than a Softmax layer followed by a log.

* :func:`mnist_mlp`: ``784 -> 256 -> 128 -> 10`` with ReLU, input ``(batch, 784)``.
* :func:`mnist_cnn`: two convolution blocks then a small dense head, input
  ``(batch, 1, 28, 28)`` (NCHW: one grey channel).

Both come compiled with softmax cross-entropy and Adam (lr 1e-3), so
``model.fit(X, y)`` works at once; ``scratchnet mnist`` recompiles them with its
tuned recipe (a cosine learning-rate schedule, see :mod:`scratchnet.lessons.mnist`).
"""

from __future__ import annotations

from .layers import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
)
from .model import Sequential
from .optim import Adam

#: Shape of one sample each model expects (no batch axis).
INPUT_SHAPES: dict[str, tuple[int, ...]] = {"mlp": (784,), "cnn": (1, 28, 28)}


def mnist_mlp(seed: int | None = None) -> Sequential:
    """The multilayer perceptron: 235,146 parameters.

    Shapes, for a batch of ``n`` flattened images::

        x  (n, 784) -> Dense -> (n, 256) -> ReLU
                    -> Dense -> (n, 128) -> ReLU
                    -> Dense -> (n, 10)             logits, one score per digit

    Weights start Glorot-uniform (``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``),
    biases at zero. ``seed`` fixes the initial weights, the shuffling and nothing else
    (the MLP has no dropout). The ReLUs work in place (``ReLU(inplace=True)``): same
    numbers, less memory written.
    """
    model = Sequential(
        [
            Dense(784, 256), ReLU(inplace=True),
            Dense(256, 128), ReLU(inplace=True),
            Dense(128, 10),
        ],
        seed=seed,
        name="mnist_mlp",
    )
    return model.compile(loss="cross_entropy", optimizer=Adam(lr=1e-3))


def mnist_cnn(seed: int | None = None) -> Sequential:
    """The convolutional network: 225,482 parameters.

    Shapes, for a batch of ``n`` images with one grey channel::

        x (n, 1, 28, 28)
          Conv2D 3x3, 32 filters -> (n, 32, 26, 26) -> BatchNorm2d -> ReLU
          MaxPool2D 2x2          -> (n, 32, 13, 13)
          Conv2D 3x3, 64 filters -> (n, 64, 11, 11) -> BatchNorm2d -> ReLU
          MaxPool2D 2x2          -> (n, 64, 5, 5)      (the odd 11th row/column is dropped)
          Flatten                -> (n, 1600)
          Dense                  -> (n, 128) -> BatchNorm1d -> ReLU -> Dropout(0.25)
          Dense                  -> (n, 10)            logits

    The convolutions and the first dense layer start He-normal (``N(0, 2 / fan_in)``,
    suited to ReLU), the output layer Glorot-uniform. Batch norm after each linear map
    keeps the activations' scale steady, which lets Adam use a larger step; dropout
    (25%) regularises the dense head, where most of the parameters are. ``seed`` fixes
    the initial weights, the shuffling and the dropout masks. The ReLUs work in place.
    """
    model = Sequential(
        [
            Conv2D(1, 32, 3), BatchNorm2d(32), ReLU(inplace=True), MaxPool2D(2),
            Conv2D(32, 64, 3), BatchNorm2d(64), ReLU(inplace=True), MaxPool2D(2),
            Flatten(),
            Dense(1600, 128, init="he_normal"), BatchNorm1d(128), ReLU(inplace=True),
            Dropout(0.25),
            Dense(128, 10),
        ],
        seed=seed,
        name="mnist_cnn",
    )
    return model.compile(loss="cross_entropy", optimizer=Adam(lr=1e-3))


#: Model name (``--model``) -> builder.
MODELS = {"mlp": mnist_mlp, "cnn": mnist_cnn}
