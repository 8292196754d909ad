"""The sigmoid's slope is at most 0.25, so gradients shrink through sigmoid layers.

Run:  python examples/06_sigmoid.py
"""

import numpy as np

import scratchnet as sn

z = np.linspace(-6, 6, 13)
s = 1 / (1 + np.exp(-z))
for zi, si in zip(z, s, strict=True):
    print(f"z = {zi:+.0f}   sigmoid = {si:.4f}   slope s (1 - s) = {si * (1 - si):.4f}")

# Through k sigmoid layers the derivatives alone multiply the error by at most 0.25^k.
# Measure it: a 10-layer sigmoid network, the error (dL/dz) entering each Dense layer.
layers = []
for _ in range(10):
    layers += [sn.Dense(32, 32), sn.Sigmoid()]
model = sn.Sequential([*layers, sn.Dense(32, 1)], seed=0)
rng = np.random.default_rng(1)
X, y = rng.normal(size=(256, 32)), rng.normal(size=(256, 1))
loss = sn.MSELoss()
loss.forward(model.forward(X.astype(np.float32)), y)
grad = loss.backward()
top = np.abs(grad).mean()
k = 0
for layer in reversed(model.layers):
    if isinstance(layer, sn.Dense) and k > 0:
        print(f"after {k:2d} sigmoid layers: error {np.abs(grad).mean() / top:.1e} of the "
              f"output's  (0.25^k = {0.25 ** k:.1e})")
    if isinstance(layer, sn.Sigmoid):
        k += 1
    grad = layer.backward(grad)
