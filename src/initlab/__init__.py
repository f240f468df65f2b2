"""initlab: how activation functions, weight initialization and optimizers shape training.

The public API: the estimator :class:`FFNetwork` and :func:`blog_network`, the
population engine, and the registries of activations, initializers, losses,
optimizers and data sets.
"""

from importlib.metadata import PackageNotFoundError, version

from . import activations, engine, initializers, losses, optim
from .network import FFNetwork, blog_network

try:
    __version__ = version("initlab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "FFNetwork",
    "blog_network",
    "activations",
    "initializers",
    "losses",
    "optim",
    "engine",
    "__version__",
]
