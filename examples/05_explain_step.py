"""One backward pass of the 2-2-1 network by hand, checked against the engine.

Every line is a factor of the chain rule (the order of the seed notes); the engine's
Sequential.backward must give the same dW1, db1, dW2, db2.
Run:  python examples/05_explain_step.py
"""

import numpy as np

import scratchnet as sn
from scratchnet.data import xor_gate

X, y = (a.astype(np.float64) for a in xor_gate())  # (4, 2), (4, 1)
model = sn.Sequential([sn.Dense(2, 2), sn.Sigmoid(), sn.Dense(2, 1), sn.Sigmoid()], seed=0)
model.astype(np.float64)
W1, b1 = model.layers[0].W, model.layers[0].b
W2, b2 = model.layers[2].W, model.layers[2].b


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# forward
z1 = X @ W1 + b1  # (4, 2)
a1 = sigmoid(z1)
z2 = a1 @ W2 + b2  # (4, 1)
a2 = sigmoid(z2)
# backward, mean squared error (seed 000)
dL_da2 = 2 * (a2 - y) / y.size  # (4, 1)
da2_dz2 = a2 * (1 - a2)
dL_dz2 = dL_da2 * da2_dz2
dL_dW2 = a1.T @ dL_dz2  # (2, 4) @ (4, 1) -> (2, 1)
dL_db2 = dL_dz2.sum(axis=0)
dL_da1 = dL_dz2 @ W2.T  # (4, 1) @ (1, 2) -> (4, 2)
da1_dz1 = a1 * (1 - a1)
dL_dz1 = dL_da1 * da1_dz1
dL_dW1 = X.T @ dL_dz1  # (2, 4) @ (4, 2) -> (2, 2)
dL_db1 = dL_dz1.sum(axis=0)

# the engine, same weights
loss = sn.MSELoss()
loss.forward(model.forward(X), y)
model.backward(loss.backward())
pairs = (("dW1", dL_dW1, model.layers[0].dW), ("db1", dL_db1, model.layers[0].db),
         ("dW2", dL_dW2, model.layers[2].dW), ("db2", dL_db2, model.layers[2].db))
for name, mine, engine in pairs:
    print(f"{name}: by hand {np.round(mine.ravel(), 6)}  engine {np.round(engine.ravel(), 6)}"
          f"  max diff {np.abs(mine - engine).max():.1e}")
print(sn.gradcheck(model, X, y, loss="mse"))  # and both against finite differences
