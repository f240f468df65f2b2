"""initlab: how activation functions, weight initialization and optimizers shape training.

The public API: the estimators :class:`FFNetwork` (a classifier) and
:class:`FFRegressor`, :func:`blog_network`,
:func:`sweep` for whole grids, :class:`Study` for stored studies with
statistics, the population engine, and the registries of activations,
initializers, losses, optimizers and data sets.

``initlab.sweep`` is a module that can be called like the function it
exports (``initlab.sweep(...)`` is ``initlab.sweep.sweep(...)``).

Submodules are imported on first use, so ``import initlab`` is fast and a
worker process that only trains (``initlab.engine``) never loads
scikit-learn's estimator machinery or pandas.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("initlab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

_SUBMODULES = {
    "activations",
    "initializers",
    "losses",
    "optim",
    "engine",
    "runs",
    "errors",
    "network",
    "datasets",
    "sweep",
    "study",
    "store",
    "stats",
    "plots",
    "report",
    "diagnostics",
    "meanfield",
    "experiments",
    "advice",
    "distributed",
    "torch",
    "plugins",
    "cli",
    "web",
}
_ATTRIBUTES = {
    "FFNetwork": "network",
    "FFRegressor": "network",
    "blog_network": "network",
    "Study": "study",
    "advise": "advice",
}

__all__ = [
    "FFNetwork",
    "FFRegressor",
    "blog_network",
    "sweep",
    "Study",
    "advise",
    "activations",
    "initializers",
    "losses",
    "optim",
    "engine",
    "datasets",
    "__version__",
]


def __getattr__(name: str):
    if name in _ATTRIBUTES:
        module = importlib.import_module(f".{_ATTRIBUTES[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'initlab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
