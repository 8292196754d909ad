"""Small models and data shared by the trust tests (imported as ``_trust_helpers``)."""

from __future__ import annotations

import numpy as np

import scratchnet as sn
from scratchnet.schedules import CosineWarmup, ReduceOnPlateau


def toy_data(n: int = 90, seed: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = ((X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)).astype(np.int64)
    return X, y


def toy_model(schedule: str = "plateau", seed: int = 7, hidden: int = 16,
              optimizer: str = "adam") -> sn.Sequential:
    model = sn.Sequential(
        [sn.Dense(6, hidden), sn.ReLU(), sn.Dropout(0.3), sn.Dense(hidden, 3)], seed=seed
    )
    if schedule == "plateau":
        lr = ReduceOnPlateau(0.01, factor=0.5, patience=0, threshold=0.05)
    elif schedule == "cosine":
        lr = CosineWarmup(0.01, total_steps=60, warmup_steps=5)
    else:
        lr = 0.01
    opt = sn.Adam(lr=lr) if optimizer == "adam" else sn.SGD(lr=lr, momentum=0.9)
    model.compile(loss="cross_entropy", optimizer=opt)
    return model


def same_weights(a: sn.Sequential, b: sn.Sequential) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].tobytes() == sb[k].tobytes() for k in sa)
