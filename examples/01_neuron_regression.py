"""One neuron fits a line: y_hat = w * x + b, trained by gradient descent on the MSE.

Run:  python examples/01_neuron_regression.py
Change the true line, the noise or the learning rate and watch w and b.
"""

import numpy as np

import scratchnet as sn
from scratchnet.data import make_regression_line

TRUE_W, TRUE_B = 2.0, 0.5
x, y = make_regression_line(n=100, w=TRUE_W, b=TRUE_B, noise=0.2, seed=0)  # (100, 1) each

neuron = sn.Sequential([sn.Dense(1, 1)], seed=0)  # W (1, 1), b (1,): 2 parameters
neuron.compile(loss="mse", optimizer=sn.SGD(lr=0.1), metrics=())
history = neuron.fit(x, y, epochs=200, batch_size=None, verbose=0)  # full batch

w, b = float(neuron.layers[0].W[0, 0]), float(neuron.layers[0].b[0])
print(f"loss: {history['loss'][0]:.4f} at the start, {history['loss'][-1]:.4f} at the end")
print(f"learned w = {w:.4f} (true {TRUE_W}),  b = {b:.4f} (true {TRUE_B})")

# The exact answer for these noisy points: least squares, [x 1] @ [w b] = y.
A = np.column_stack([x[:, 0], np.ones(len(x))]).astype(np.float64)
(ls_w, ls_b), *_ = np.linalg.lstsq(A, y[:, 0].astype(np.float64), rcond=None)
print(f"least squares: w = {ls_w:.4f}, b = {ls_b:.4f}")
