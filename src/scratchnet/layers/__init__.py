"""Layers: each one's forward and backward side by side, math and shapes in the docstring."""

from .activations import (
    ACTIVATIONS,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    get_activation,
    log_sigmoid,
    log_softmax,
    sigmoid,
    softmax,
)
from .base import LAYER_TYPES, Layer, register_layer
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout, Flatten
from .pooling import AvgPool2D, MaxPool2D

__all__ = [
    "ACTIVATIONS",
    "LAYER_TYPES",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "get_activation",
    "log_sigmoid",
    "log_softmax",
    "register_layer",
    "sigmoid",
    "softmax",
    "AvgPool2D",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2D",
    "MaxPool2D",
]
