"""Every layer can say which arrays a config gives it, before it is built.

Model and checkpoint loaders rely on ``param_shapes`` to check a file's arrays before
allocating anything, so a layer that owns arrays but does not override it could not be
loaded. Parametrised over every registered layer (via the gradient-check cases).
"""

import numpy as np
import pytest

from scratchnet.layers import LAYER_TYPES
from scratchnet.lessons.gradcheck_all import LAYER_CASES


@pytest.mark.parametrize("name", sorted(LAYER_TYPES))
def test_param_shapes_match_the_built_layer(name):
    layer, _x = LAYER_CASES[name](np.random.default_rng(0))
    built = {k: v.shape for k, v in {**layer.params, **layer.buffers}.items()}
    assert type(layer).param_shapes(layer.get_config()) == built
