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
from . import losses as _losses
from . import runs as _runs
from .engine import Trainer, one_blas_thread
from .runs import METRICS, RunSpec, model_bytes

__all__ = [
    "RunSpec",
    "Chunk",
    "ChunkResult",
    "sweep",
    "plan",
    "chunks",
    "execute",
    "model_bytes",
    "METRICS",
]

DEFAULT_MAX_MEMORY = 1 << 30  # 1 GiB


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
    batch_size=None,
    bias_init=None,
    loss=None,
    dtype=None,
    rng_kind=None,
    shuffle=None,
    shuffle_seed=None,
    leaky_slope=None,
    *,
    recipe=None,
    **more,
) -> list[RunSpec]:
    """Every run of the full factorial grid, checked, as :class:`RunSpec` objects.

    Any argument may be one value or a list; what is not given takes the
    recipe's value, then the run schema's default (:mod:`initlab.runs`).  Any
    other run field (an activation parameter, an optimizer hyperparameter) is
    a keyword.  See :func:`initlab.runs.grid`.
    """
    axes = dict(  # the caller's spellings, so errors name what was typed
        hidden_layer_sizes=hidden_layer_sizes,
        activations=activations,
        inits=inits,
        optimizers=optimizers,
        learning_rates=learning_rates,
        seeds=seeds,
        epochs=epochs,
        batch_size=batch_size,
        bias_init=bias_init,
        loss=loss,
        dtype=dtype,
        rng_kind=rng_kind,
        shuffle=shuffle,
        shuffle_seed=shuffle_seed,
        leaky_slope=leaky_slope,
    )
    axes.update(more)
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
    max_models: int = 4096,
) -> list[Chunk]:
    """Group runs into populations and split them to fit ``max_memory`` bytes each.

    With several jobs, large groups are also split so that every worker has work.
    """
    if not specs:
        raise ValueError("the grid is empty: no runs to train")
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
        size = min(max_memory // per, max_models)
        if n_jobs > 1:
            size = min(size, max(1, math.ceil(total / (2 * n_jobs))))
        for start in range(0, len(members), size):
            out.append(Chunk(len(out), members[start : start + size]))
    return out


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
        trainer = Trainer(
            pop,
            params,
            optimizer,
            data.X_train,
            data.y_train,
            data.X_val,
            data.y_val,
            batch_size=first.batch_size,
            shuffle=first.shuffle,
            shuffle_seed=first.shuffle_seed,
            record=curves,
        )
        if on_epoch is None:
            trainer.step(first.epochs)
        else:
            for _ in range(first.epochs):
                trainer.step(1)
                on_epoch(M)
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


def _worker_init() -> None:
    # one BLAS thread per worker process: the processes are the parallelism
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


def _mp_context():
    import multiprocessing as mp

    # fork is fast and safe here (workers only run NumPy); elsewhere spawn
    if sys.platform == "linux" and "jax" not in sys.modules and "torch" not in sys.modules:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def resolve_jobs(n_jobs: int | None) -> int:
    cpus = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return 1
    if n_jobs < 0:
        return max(1, cpus + 1 + n_jobs)
    return int(n_jobs)


def execute(
    chunk_list: Sequence[Chunk],
    data: _datasets.Dataset,
    curves: bool = False,
    n_jobs: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[ChunkResult]:
    """Train chunks, yielding each result as soon as it is done (in completion order).

    ``on_progress(model_epochs)`` is called as work completes (per epoch in
    process, per chunk from worker processes).
    """
    n_jobs = resolve_jobs(n_jobs)
    if n_jobs == 1 or len(chunk_list) == 1:
        for chunk in chunk_list:
            yield run_chunk(
                chunk,
                data,
                curves,
                on_epoch=(None if on_progress is None else lambda m: on_progress(m)),
            )
        return
    with ProcessPoolExecutor(
        max_workers=min(n_jobs, len(chunk_list)), mp_context=_mp_context(), initializer=_worker_init
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
    data = _datasets.load(dataset)
    jobs = resolve_jobs(n_jobs)
    chunk_list = chunks(specs, data, max_memory, jobs)
    index = {s: i for i, s in enumerate(specs)}  # specs are unique and hashable
    total = sum(len(c.specs) * c.specs[0].epochs for c in chunk_list)
    done = 0

    def tick(n):
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

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
