"""Reproductions of the classic initialization papers, one named experiment each.

Each experiment builds networks with :mod:`initlab.engine`, measures them with
:mod:`initlab.diagnostics` and returns an :class:`ExperimentResult`: a tidy
table of measurements, the paper's claims next to our numbers (each with a
verdict), and a figure.  ``quick=True`` runs a reduced size (the test suite
asserts that every claim still holds there); the full size takes under a minute
on two cores, except ``trainability``, which trains 396 networks (18 populations) on
the digits and runs on worker processes or a Dask cluster (``executor=``).

Each paper is one module of this package, named after its experiment: the
measurement, the paper's claims and the figure call, ending in an
:class:`Experiment` called ``EXPERIMENT``.  Every module here is registered
when the package is imported, in the order below (a new module comes after
them); :mod:`._common` holds what they share.

=============  ===========================================================
name           paper
=============  ===========================================================
glorot         Glorot & Bengio (2010): standard vs normalized init, tanh;
               the saturating top sigmoid layer
he             He, Zhang, Ren & Sun (2015): 22/30-layer ReLU nets, He vs Xavier
isometry       Saxe et al. (2013), Pennington et al. (2017): Jacobian spectra
lsuv           Mishkin & Matas (2016): layer-sequential unit variance
selu           Klambauer et al. (2017): the self-normalizing fixed point
meanfield      Poole et al. (2016), Schoenholz et al. (2017): chi_1, depth scales
trainability   Schoenholz et al. (2017): trainable to ~6 xi_c, widest at criticality
hanin          Hanin & Rolnick (2018): length preserved, spread grows with sum 1/n
dying_relu     Lu, Shin, Su & Karniadakis (2019): narrow deep ReLU nets born dead
blog_symmetry  the blog: zero init keeps hidden units identical / frozen
=============  ===========================================================

Examples
--------
>>> from initlab import experiments
>>> experiments.names()[:3]
['glorot', 'he', 'isometry']
>>> result = experiments.run("isometry", quick=True)
>>> all(c.holds for c in result.claims)
True
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from contextlib import contextmanager

import numpy as np

from .._registry import Registry
from ..errors import ConfigError
from ._common import Claim, Experiment, ExperimentResult
from .glorot import GLOROT_STANDARD
from .hanin import _log_ratio_variance  # noqa: F401 (tested as experiments._log_ratio_variance)

__all__ = [
    "Claim",
    "ExperimentResult",
    "Experiment",
    "GLOROT_STANDARD",
    "REGISTRY",
    "register",
    "names",
    "get",
    "run",
]

#: The papers' modules in the order of ``docs/experiments.md``; others follow by name.
ORDER = (
    "glorot",
    "he",
    "isometry",
    "lsuv",
    "selu",
    "meanfield",
    "trainability",
    "hanin",
    "dying_relu",
    "blog_symmetry",
)

REGISTRY: Registry[Experiment] = Registry("experiment", "initlab.experiments")


def _modules() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return [m for m in ORDER if m in found] + sorted(set(found) - set(ORDER))


def register(experiment: Experiment) -> Experiment:
    """Make ``experiment`` known to :func:`run` and ``initlab experiment`` by its name."""
    REGISTRY.register(experiment.name, experiment, description=experiment.title)
    return experiment


for _name in _modules():
    register(importlib.import_module(f".{_name}", __name__).EXPERIMENT)


def names() -> list[str]:
    """Names of the registered experiments, in the order of ``docs/experiments.md``."""
    return REGISTRY.names()


def get(name: str) -> Experiment:
    """The experiment called ``name`` (unknown names raise a ``ValueError`` with suggestions)."""
    return REGISTRY.get(name)


@contextmanager
def _blas_threads(n: int | None):
    """Limit BLAS threads: the small matrix products here are slower with 2 threads on a
    busy 2-core machine (threads spin waiting for each other)."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def run(
    name: str,
    quick: bool = False,
    random_state: int = 0,
    blas_threads: int | None = 1,
    *,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress=None,
) -> ExperimentResult:
    """Run the experiment called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    quick : bool, default False
        The reduced size used by the test suite (a few seconds).
    random_state : int, default 0
        Seeds every network and data draw.
    blas_threads : int or None, default 1
        BLAS threads while running (None leaves the setting alone).
    executor : {"local", "processes", "dask"}
        Where the trainings of a parallel experiment (``trainability``) run; the
        numbers do not depend on it.  Other experiments run here only.
    workers, scheduler
        Worker processes, and the Dask scheduler's address (see
        :func:`initlab.distributed.connect`).
    progress : callable, optional
        ``progress(done, total)`` as a parallel experiment's trainings finish.
    """
    from ._common import EXECUTORS

    exp = get(name)
    if not isinstance(quick, (bool, np.bool_)):
        raise ConfigError(f"quick must be True or False, got {quick!r}")
    if executor not in EXECUTORS:
        raise ConfigError(
            f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}", "executor"
        )
    parallel = [n for n in names() if get(n).parallel]
    if executor != "local" and not exp.parallel:
        raise ConfigError(
            f"experiment {exp.name!r} runs in one process; executor={executor!r} applies to: "
            f"{', '.join(parallel)}",
            "executor",
        )
    kwargs = {
        "executor": executor,
        "workers": workers,
        "scheduler": scheduler,
        "progress": progress,
    }
    start = time.perf_counter()
    with _blas_threads(blas_threads), np.errstate(over="ignore", under="ignore"):
        if exp.parallel:
            data, claims, extra = exp.measure(bool(quick), int(random_state), **kwargs)
        else:
            data, claims, extra = exp.measure(bool(quick), int(random_state))
    return ExperimentResult(
        name=exp.name,
        title=exp.title,
        reference=exp.reference,
        data=data,
        claims=claims,
        quick=bool(quick),
        seconds=time.perf_counter() - start,
        extra=extra,
        plotter=exp.figure,
    )
