"""How often does gradient descent solve XOR from a random start? 200 seeds at once.

The stacked trainer runs the same hand-written forward and backward passes for many
networks in one go (W1 has shape (seeds, 2, H)). Compare 2, 3 and 4 hidden units.
Run:  python examples/04_xor_seeds.py
"""

import numpy as np

from scratchnet.data import xor_gate
from scratchnet.lessons.xor_stacked import initial_weights, train_stacked

X, y = xor_gate()
seeds = np.arange(200)
for hidden in (2, 3, 4):
    start = initial_weights(seeds, hidden)  # the engine's initial weights for each seed
    run = train_stacked(X, y, start, loss="bce", lr=5.0, epochs=3000, record_loss=False)
    stuck = np.unique(run.final_loss[~run.solved].round(2))
    where = f"; the others stopped at loss {', '.join(map(str, stuck))}" if len(stuck) else ""
    print(f"2-{hidden}-1: {run.solved.sum()}/{len(seeds)} converged{where}")
