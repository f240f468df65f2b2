"""What every experiment shares: its record, its claims and result, and small helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError


@dataclass(frozen=True)
class Claim:
    """One finding: what the paper says, what we measured, and whether it holds."""

    claim: str
    paper: str
    ours: str
    holds: bool

    def __post_init__(self):
        object.__setattr__(self, "holds", bool(self.holds))  # not numpy.bool_


@dataclass
class ExperimentResult:
    """The outcome of :func:`run`.

    Attributes
    ----------
    name, title, reference : str
    data : pandas.DataFrame
        Tidy measurements (one row per configuration / layer / epoch).
    claims : list of Claim
    quick : bool
        Whether the reduced size was run.
    seconds : float
        Wall-clock time of the run.
    extra : dict
        Further arrays the figure uses (spectra, curves).
    """

    name: str
    title: str
    reference: str
    data: pd.DataFrame
    claims: list[Claim]
    quick: bool
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    plotter: Callable | None = None

    @property
    def all_hold(self) -> bool:
        return all(c.holds for c in self.claims)

    def claims_frame(self) -> pd.DataFrame:
        """The claims as a table: claim, paper, ours, holds."""
        return pd.DataFrame(
            [(c.claim, c.paper, c.ours, c.holds) for c in self.claims],
            columns=["claim", "paper", "ours", "holds"],
        )

    def figure(self):
        """A matplotlib Figure of the measurements, drawn by :mod:`initlab.plots`."""
        if self.plotter is None:
            raise ConfigError(f"experiment {self.name!r} has no figure")
        return self.plotter(self)


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction of a paper.

    ``measure(quick, random_state) -> (data, claims, extra)`` runs it;
    ``figure(result) -> Figure`` draws its :class:`ExperimentResult` with
    :mod:`initlab.plots`.  A ``parallel`` experiment trains independent populations
    and its ``measure`` also takes ``executor=, workers=, scheduler=, progress=`` (see
    :func:`map_tasks`).
    """

    name: str
    title: str
    reference: str
    measure: Callable
    figure: Callable
    parallel: bool = False


# --- helpers ---------------------------------------------------------------------------------
def _geomean_ratio(values) -> float:
    """Geometric mean of consecutive ratios ``v[l+1] / v[l]``."""
    v = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.diff(np.log(v)))))


def _fmt(x: float, digits: int = 3) -> str:
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _first_epoch_below(curve: np.ndarray, fraction: float) -> int:
    """First epoch whose loss is below ``fraction`` of the initial loss (-1 if never)."""
    hits = np.flatnonzero(np.asarray(curve) < fraction * curve[0])
    return int(hits[0]) if len(hits) else -1


# --- running independent trainings in parallel -----------------------------------------------
EXECUTORS = ("local", "processes", "dask")


def _one_blas_thread() -> None:
    # a worker process trains one population at a time: the processes are the parallelism
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def map_tasks(
    fn: Callable,
    tasks: list,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list:
    """``[fn(t) for t in tasks]``, here, in worker processes or on a Dask cluster.

    ``fn`` is a module-level function and each task picklable; results come back in the
    order of ``tasks`` whatever order they finish in, so they do not depend on the
    executor.  ``progress(done, total)`` is called as tasks finish.  Give the longest
    tasks first: they are started first.

    Parameters
    ----------
    executor : {"local", "processes", "dask"}
    workers : int, optional
        Worker processes (default: the CPU count) or Dask workers to start / wait for.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (default: a local cluster).
    """
    from ..errors import ConfigError

    if executor not in EXECUTORS:
        raise ConfigError(
            f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}", "executor"
        )
    total, out = len(tasks), [None] * len(tasks)

    def done(i, result, k):
        out[i] = result
        if progress is not None:
            progress(k, total)

    if executor == "local" or total <= 1:
        for k, task in enumerate(tasks, start=1):
            done(k - 1, fn(task), k)
        return out
    if executor == "processes":
        import multiprocessing as mp
        import os
        import sys
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # fork is fast and safe for NumPy-only workers; spawn once torch or jax is loaded
        forkable = sys.platform == "linux" and not {"torch", "jax"} & set(sys.modules)
        context = mp.get_context("fork" if forkable else "spawn")
        n = min(workers or os.cpu_count() or 1, total)
        with ProcessPoolExecutor(n, mp_context=context, initializer=_one_blas_thread) as pool:
            futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            for k, fut in enumerate(as_completed(futures), start=1):
                done(futures[fut], fut.result(), k)
        return out
    from ..distributed import connect

    with connect(scheduler, workers) as session:
        from distributed import as_completed as dask_completed

        futures = session.client.map(fn, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for k, fut in enumerate(dask_completed(futures), start=1):
            done(index[fut.key], fut.result(), k)
    return out
