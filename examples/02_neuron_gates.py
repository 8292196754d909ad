"""One sigmoid neuron learns AND, OR, NAND and NOR, but not XOR.

p = sigmoid(w1 x1 + w2 x2 + b) answers 1 on one side of the line w1 x1 + w2 x2 + b = 0.
Run:  python examples/02_neuron_gates.py
"""

import scratchnet as sn
from scratchnet.data import logic_gate

for gate in ("and", "or", "nand", "nor", "xor"):
    X, y = logic_gate(gate)  # X (4, 2) rows 00, 01, 10, 11; y (4, 1)
    neuron = sn.Sequential([sn.Dense(2, 1), sn.Sigmoid()], seed=0)
    neuron.compile(loss="bce", optimizer=sn.SGD(lr=2.0))
    neuron.fit(X, y, epochs=1000, batch_size=None, verbose=0)
    p = neuron.predict(X).ravel()
    right = int(((p > 0.5) == (y.ravel() > 0.5)).sum())
    (w1, w2), b = neuron.layers[0].W[:, 0], float(neuron.layers[0].b[0])
    print(f"{gate.upper():>4}: outputs {' '.join(f'{v:.3f}' for v in p)}  ->  {right}/4 right;"
          f"  line {w1:+.2f} x1 {w2:+.2f} x2 {b:+.2f} = 0")
# For XOR the weights go to ~0 and every output to 0.5: no straight line separates
# [0 1], [1 0] from [0 0], [1 1]. A hidden layer does: see 03_xor.py.
