"""Public entry point for data: ``from scratchnet.datasets import load_mnist, make_spiral``.

The same names as ``scratchnet.data`` (see that package for the shapes and dtypes).
"""

from .data import *  # noqa: F403 - a deliberate re-export of the data package's public names
from .data import __all__  # noqa: F401
