"""Whole grids at once: ``initlab.sweep`` trains every combination of a factorial grid.

Runs that can share one engine population -- same data, layer sizes,
activation, loss, optimizer kind, batch plan and epochs -- are grouped and
trained together; everything else (initializer, bias init, seed, learning
rate, optimizer hyperparameters, leaky slope) varies along the model axis.
Groups are split into chunks that fit a memory budget, and chunks are spread
over processes when ``n_jobs > 1``.  Every model's initial weights depend
only on its own configuration and a chunk's models never interact, so a run's
numbers are the same whichever chunk, process or machine trains it, and
equal :class:`initlab.FFNetwork` with the same configuration.

This module is callable: ``initlab.sweep(...)`` is :func:`sweep`.

Examples
--------
>>> import initlab
>>> runs = initlab.sweep("blog", (2,), ["sigmoid", "tanh", "relu", "leaky_relu"],
...                      ["zeros", "random", "xavier", "he"], ["gd"], [1.0],
...                      seeds=range(4), epochs=50)
>>> runs.groupby(["init", "activation"]).val_acc.mean().unstack()   # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from . import datasets as _datasets
from . import engine as _engine
from . import losses as _losses
from . import optim as _optim
from . import runs as _runs
from .engine import one_blas_thread
from .errors import ConfigError
from .runs import METRICS, RunSpec, model_bytes

__all__ = [
    "RunSpec",
    "Chunk",
    "ChunkResult",
    "sweep",
    "plan",
    "chunks",
    "execute",
    "best_chunk_size",
    "model_bytes",
    "METRICS",
]

DEFAULT_MAX_MEMORY = 1 << 30  # 1 GiB
#: The loss a regression data set is trained with unless another is given.
REGRESSION_LOSS = "squared_error"


def data_key(data: _datasets.Dataset) -> str:
    """How a data set enters run hashes: :attr:`initlab.datasets.Dataset.key`."""
    return data.key


# --- planning ---------------------------------------------------------------------------------
def plan(
    hidden_layer_sizes=None,
    activations=None,
    inits=None,
    optimizers=None,
    learning_rates=None,
    seeds=None,
    epochs=None,
    *,
    recipe=None,
    **fields,
) -> list[RunSpec]:
    """Every run of the full factorial grid, checked, as :class:`RunSpec` objects.

    Any argument may be one value or a list; what is not given takes the
    recipe's value, then the run schema's default (:mod:`initlab.runs`).  Every
    other run field is a keyword (``batch_size``, ``bias_init``, an activation
    parameter, an optimizer hyperparameter, ...).  See :func:`initlab.runs.grid`.
    """
    axes = dict(  # the caller's spellings, so errors name what was typed
        hidden_layer_sizes=hidden_layer_sizes,
        activations=activations,
        inits=inits,
        optimizers=optimizers,
        learning_rates=learning_rates,
        seeds=seeds,
        epochs=epochs,
        **fields,
    )
    return _runs.grid(recipe=recipe, **axes)


# --- chunks -----------------------------------------------------------------------------------
@dataclass
class Chunk:
    """Runs trained together as one population (picklable, for worker processes)."""

    index: int
    specs: list[RunSpec]


@dataclass
class ChunkResult:
    """What a chunk produces: one metrics row per run, and curves when asked."""

    index: int
    specs: list[RunSpec]
    final: dict[str, np.ndarray]
    diverged_epoch: np.ndarray
    seconds: float
    curves: dict[str, np.ndarray] | None = None  # metric -> (epochs + 1, M)
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        share = self.seconds / max(len(self.specs), 1)
        out = []
        for m, spec in enumerate(self.specs):
            row = spec.row()
            for key in METRICS:
                row[key] = float(self.final[key][m]) if key in self.final else math.nan
            row["diverged"] = bool(self.diverged_epoch[m] >= 0)
            row["diverged_epoch"] = int(self.diverged_epoch[m])
            row["time_s"] = share
            out.append(row)
        return out


def chunks(
    specs: Sequence[RunSpec],
    data: _datasets.Dataset,
    max_memory: int | None = None,
    n_jobs: int = 1,
    max_models: int = _engine.MAX_POPULATION,
    chunk_size: int | None = None,
) -> list[Chunk]:
    """Group runs into populations and split them to fit ``max_memory`` bytes each.

    Each population holds at most ``chunk_size`` runs; by default as many as
    train fastest together (:func:`best_chunk_size`, measured per layer shape,
    so that the cost per model-epoch does not grow with the study).  With
    several jobs, large groups are also split so that every worker has work.
    A run's numbers do not depend on the chunk it lands in.
    """
    if not specs:
        raise ValueError("the grid is empty: no runs to train")
    if chunk_size is not None and (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ConfigError(
            f"chunk_size must be a positive integer or None, got {chunk_size!r}", field="chunk_size"
        )
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    groups: dict[tuple, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.group_key(), []).append(spec)
    total = len(specs)
    out: list[Chunk] = []
    for members in groups.values():
        first = members[0]
        loss = _losses.get(first.loss)
        per = model_bytes(
            first, data.n_features, loss.n_outputs(data.n_classes), data.n_train, data.n_val
        )
        if per > max_memory:
            raise ValueError(
                f"max_memory={max_memory} bytes is too small for even one model of "
                f"{first.activation} {list(first.hidden)} on {data.n_train} samples; "
                f"the minimum is {per} bytes"
            )
        fastest = best_chunk_size(first, data) if chunk_size is None else int(chunk_size)
        size = min(max_memory // per, max_models, fastest)
        if n_jobs > 1:
            size = min(size, max(1, math.ceil(total / (2 * n_jobs))))
        for start in range(0, len(members), size):
            out.append(Chunk(len(out), members[start : start + size]))
    return out


def _layer_sizes(spec: RunSpec, data: _datasets.Dataset) -> tuple[int, ...]:
    n_out = _losses.get(spec.loss).n_outputs(data.n_classes)
    return (data.n_features, *spec.hidden, n_out)


def _recipe_name(spec: RunSpec) -> str | None:
    recipe = _optim.get(spec.optimizer).build(spec.learning_rate).recipe
    return recipe and recipe[0]


def _prepare(spec: RunSpec, data: _datasets.Dataset) -> None:
    sizes = _layer_sizes(spec, data)
    _engine.prepare(sizes, spec.activation, spec.loss, _recipe_name(spec), spec.dtype)


def best_chunk_size(spec: RunSpec, data: _datasets.Dataset) -> int:
    """How many runs like ``spec`` train fastest as one population on ``data``.

    The engine that will train them decides (:func:`initlab.engine.population_size`):
    the compiled kernels are as fast per model at 64 models as at 4,096; the
    NumPy engine slows down once a layer's plane of models x samples leaves
    the caches.
    """
    sizes = _layer_sizes(spec, data)
    engine = _engine.engine_for(sizes, spec.activation, spec.loss, _recipe_name(spec))
    seen = data.n_train if spec.batch_size is None else min(spec.batch_size, data.n_train)
    return _engine.population_size(sizes, max(seen, data.n_val), spec.dtype, engine)


def build(specs: Sequence[RunSpec], data: _datasets.Dataset):
    """The population, initial parameters and optimizer that train ``specs`` on ``data``.

    See :func:`initlab.runs.populate`; used by :func:`run_chunk` and the playground.
    """
    return _runs.populate(specs, data.n_features, data.n_classes, data.X_train)


def run_chunk(
    chunk: Chunk,
    data: _datasets.Dataset,
    curves: bool = False,
    on_epoch: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Train one chunk's runs as a single population.

    BLAS runs on one thread here, whichever executor calls: a multi-threaded
    BLAS rounds some matrix products differently (so the local, process and
    Dask executors would disagree in the last bits), and for populations of
    small networks the processes, not the threads, are the parallelism.
    """
    with one_blas_thread():
        return _run_chunk(chunk, data, curves, on_epoch)


def _run_chunk(chunk, data, curves, on_epoch) -> ChunkResult:
    specs = chunk.specs
    first = specs[0]
    M = len(specs)
    start = time.perf_counter()
    try:
        pop, params, optimizer = build(specs, data)
        trainer = _runs.trainer(
            specs, pop, params, optimizer, data.X_train, data.y_train, data.X_val, data.y_val,
            record=curves,
        )  # fmt: skip
        if on_epoch is None:
            trainer.step(first.epochs)
        else:  # progress about 20 times per chunk: a call per epoch costs the kernels
            every = max(1, first.epochs // 20)
            for start in range(0, first.epochs, every):
                n = min(every, first.epochs - start)
                trainer.step(n)
                on_epoch(M * n)
        result = trainer.result()
    except (ValueError, FloatingPointError, np.linalg.LinAlgError, MemoryError) as exc:
        nan = np.full(M, np.nan)
        return ChunkResult(
            chunk.index,
            specs,
            {k: nan for k in METRICS},
            np.full(M, -1),
            time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}",
        )
    return ChunkResult(
        chunk.index,
        specs,
        result.final,
        result.diverged_epoch,
        time.perf_counter() - start,
        result.history if curves else None,
    )


def _worker_init(parent: int | None = None) -> None:
    _die_with_parent(parent)
    # one BLAS thread per worker process: the processes are the parallelism
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


def _die_with_parent(parent: int | None) -> None:
    """Have the kernel kill this worker when its parent dies (Linux), even by ``kill -9``.

    A worker orphaned by a killed study would otherwise train on, holding the
    caller's pipes, until the pool noticed.  ``parent`` is the pid that started
    the pool: if it died before the request took effect, exit at once.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _mp_context():
    import multiprocessing as mp

    # fork is fast and safe here (workers only run NumPy); elsewhere spawn
    if sys.platform == "linux" and "jax" not in sys.modules and "torch" not in sys.modules:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def ticker(total: int, progress: Callable[[int, int], None] | None) -> Callable[[int], None]:
    """``tick(n)``: add ``n`` model-epochs of work done and report ``progress(done, total)``."""
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    return tick


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; the CPU count elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_jobs(n_jobs: int | None, force: bool = False) -> int:
    """Worker processes for ``n_jobs``: None/0 is 1, -1 all CPUs, -2 all but one, ...

    More processes than CPUs only slow a compute-bound population down (and
    each one holds its own copy of the data), so a larger request is capped
    at the CPU count with a warning, unless ``force``.
    """
    cpus = usable_cpus()
    if n_jobs is None or n_jobs == 0:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)):
        raise ConfigError(f"workers must be an integer, got {n_jobs!r}", "workers")
    if n_jobs < 0:
        return max(1, cpus + 1 + n_jobs)
    if n_jobs > cpus and not force:
        import warnings

        warnings.warn(
            f"{n_jobs} workers requested but this machine has {cpus} CPUs: using {cpus} "
            "(force more with --force-workers / force_workers=True)",
            stacklevel=2,
        )
        return cpus
    return int(n_jobs)


def execute(
    chunk_list: Sequence[Chunk],
    data: _datasets.Dataset,
    curves: bool = False,
    n_jobs: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[ChunkResult]:
    """Train chunks, yielding each result as soon as it is done (in completion order).

    ``on_progress(model_epochs)`` is called as work completes (every few
    epochs in process, per chunk from worker processes).  ``n_jobs`` processes are
    started as asked (:func:`sweep` and :meth:`initlab.Study.run` cap it at the CPUs).
    Worker processes die with this process, even when it is killed.
    """
    n_jobs = resolve_jobs(n_jobs, force=True)
    if n_jobs == 1 or len(chunk_list) == 1:
        for chunk in chunk_list:
            yield run_chunk(
                chunk,
                data,
                curves,
                on_epoch=on_progress,
            )
        return
    for chunk in {c.specs[0].group_key(): c for c in chunk_list}.values():
        _prepare(chunk.specs[0], data)  # forked workers inherit the compiled kernels
    with ProcessPoolExecutor(
        max_workers=min(n_jobs, len(chunk_list)),
        mp_context=_mp_context(),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    ) as pool:
        pending = {pool.submit(run_chunk, c, data, curves): c for c in chunk_list}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    chunk = pending.pop(fut)
                    result = fut.result()
                    if on_progress is not None:
                        on_progress(len(chunk.specs) * chunk.specs[0].epochs)
                    yield result
        finally:
            for fut in pending:
                fut.cancel()


# --- the one-call API -------------------------------------------------------------------------
def sweep(
    dataset,
    hidden_layer_sizes=None,
    activations=None,
    inits=None,
    optimizers=None,
    learning_rates=None,
    seeds=None,
    epochs=None,
    *,
    recipe: str | None = None,
    curves: bool = False,
    max_memory: int | None = None,
    n_jobs: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int | None = None,
    **fields,
):
    """Train the full factorial grid; one row per run.

    Parameters
    ----------
    dataset : str or Dataset
        A name for :func:`initlab.datasets.load` (with its defaults) or a
        loaded :class:`~initlab.datasets.Dataset`.
    hidden_layer_sizes : tuple of int, or list of tuples
        One architecture, or several.
    activations, inits, optimizers, learning_rates, seeds, epochs : one value or a list
    recipe : str, optional
        A published protocol (``"blog"``) whose values replace the defaults.
    curves : bool
        Also return per-epoch curves (train/val loss and accuracy).
    max_memory : int, bytes
        Budget per population chunk (default 1 GiB).
    chunk_size : int, optional
        Runs per population; default: as many as train fastest together
        (:func:`best_chunk_size`).  Results do not depend on it.
    n_jobs : int
        Worker processes (-1: all cores).  Results do not depend on it.
    progress : callable
        ``progress(done, total)`` in model-epochs.
    **fields : one value or a list
        Any other run field (:func:`initlab.runs.fields`): ``batch_size`` (None
        or 0 for full batch), ``bias_init``, ``dtype``, ``loss``, ``rng_kind``,
        ``shuffle``, ``leaky_slope`` (for the activations with a slope),
        optimizer hyperparameters (``momentum``, ``beta1``, ... for the
        optimizers that have them).

    Returns
    -------
    pandas.DataFrame, or (runs, curves) when ``curves=True``
        Runs: ``dataset`` (its label), one column per run field, the final
        ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``,
        ``diverged``, ``diverged_epoch`` (-1 if never) and ``time_s`` (the
        run's share of its population's wall time).  Curves: long format, one
        row per run and epoch (``run`` is the row index of the run).
    """
    import pandas as pd

    data = _datasets.load(dataset)
    if data.regression and not any(_runs.get_field(k).name == "loss" for k in fields):
        fields["loss"] = REGRESSION_LOSS  # the default loss of a regression problem
    specs = plan(
        hidden_layer_sizes,
        activations,
        inits,
        optimizers,
        learning_rates,
        seeds,
        epochs,
        recipe=recipe,
        **fields,
    )
    _runs.check_task(specs, data.task, f"data set {data.label!r}")
    jobs = resolve_jobs(n_jobs)
    chunk_list = chunks(specs, data, max_memory, jobs, chunk_size=chunk_size)
    index = {s: i for i, s in enumerate(specs)}  # specs are unique and hashable
    tick = ticker(sum(len(c.specs) * c.specs[0].epochs for c in chunk_list), progress)

    rows: list[dict | None] = [None] * len(specs)
    curve_frames = []
    for result in execute(chunk_list, data, curves, jobs, tick):
        if result.error:
            raise RuntimeError(f"a population failed: {result.error}")
        for m, (spec, row) in enumerate(zip(result.specs, result.rows(), strict=True)):
            i = index[spec]  # by value: specs may come back from a worker process
            rows[i] = {"dataset": data.label, **row}
            if curves:
                n_ep = result.curves["train_loss"].shape[0]
                frame = {"run": np.full(n_ep, i), "epoch": np.arange(n_ep)}
                frame.update({k: v[:, m] for k, v in result.curves.items()})
                curve_frames.append(pd.DataFrame(frame))
    runs = pd.DataFrame(rows)
    if not curves:
        return runs
    curve_df = pd.concat(curve_frames, ignore_index=True).sort_values(["run", "epoch"])
    return runs, curve_df.reset_index(drop=True)


class _CallableModule(types.ModuleType):
    """Lets ``initlab.sweep(...)`` call the function although ``initlab.sweep`` is this module."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
