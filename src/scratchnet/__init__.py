"""scratchnet: neural networks from scratch in NumPy.

Every layer's forward and backward pass is written by hand, checked numerically
(``gradcheck``), and readable in one sitting. Start with ``scratchnet xor``.
"""

__version__ = "0.1.0"

from . import init, losses, optim, schedules
from .callbacks import Callback, EarlyStopping, History, LambdaCallback, ModelCheckpoint
from .checkpoint import find_latest, load_checkpoint, save_checkpoint
from .errors import (
    ConfigError,
    DataError,
    DataFileError,
    DivergenceError,
    DownloadError,
    DTypeError,
    FileFormatError,
    ModelFileError,
    ScratchnetError,
    ShapeError,
    WorkerError,
)
from .gradcheck import gradcheck, gradcheck_loss
from .io import load_model, save_model
from .layers import (
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import BCELoss, BCEWithLogitsLoss, MSELoss, SoftmaxCrossEntropy
from .model import Sequential
from .optim import SGD, Adam, AdamW, RMSprop
from .parallel import get_num_threads, set_num_threads
from .schedules import Constant, CosineWarmup, Exponential, ReduceOnPlateau, StepDecay

__all__ = [
    "Adam",
    "AdamW",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Callback",
    "ConfigError",
    "Constant",
    "CosineWarmup",
    "DTypeError",
    "DataError",
    "DataFileError",
    "Dense",
    "DivergenceError",
    "DownloadError",
    "Dropout",
    "EarlyStopping",
    "Exponential",
    "FileFormatError",
    "Flatten",
    "History",
    "LambdaCallback",
    "Layer",
    "LeakyReLU",
    "MSELoss",
    "ModelCheckpoint",
    "ModelFileError",
    "RMSprop",
    "ReLU",
    "ReduceOnPlateau",
    "SGD",
    "ScratchnetError",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "WorkerError",
    "find_latest",
    "get_num_threads",
    "gradcheck",
    "gradcheck_loss",
    "init",
    "load_checkpoint",
    "load_model",
    "losses",
    "optim",
    "save_checkpoint",
    "save_model",
    "schedules",
    "set_num_threads",
]
