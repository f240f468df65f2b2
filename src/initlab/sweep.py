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

import hashlib
import itertools
import json
import math
import os
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field

import numpy as np

from . import activations as _activations
from . import datasets as _datasets
from . import engine as _engine
from . import initializers as _initializers
from . import losses as _losses
from . import optim as _optim
from .engine import Population, Trainer, init_params, one_blas_thread
from .errors import ConfigError

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
    "HYPERPARAMETERS",
]

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")
#: Optimizer hyperparameters that may be swept (each applies to the optimizers that have it).
HYPERPARAMETERS = ("momentum", "rho", "beta1", "beta2", "eps", "weight_decay")
DEFAULT_MAX_MEMORY = 1 << 30  # 1 GiB


@dataclass(frozen=True)
class RunSpec:
    """One run of a grid: everything that determines its numbers.

    ``hyper`` holds the optimizer hyperparameters that apply to this
    optimizer, sorted by name, as ``((name, value), ...)``; ``leaky_slope``
    is None unless the activation has a slope.
    """

    hidden: tuple[int, ...]
    activation: str
    init: str
    optimizer: str
    learning_rate: float
    seed: int
    epochs: int
    batch_size: int | None = None
    bias_init: str = "zeros"
    leaky_slope: float | None = None
    hyper: tuple[tuple[str, float], ...] = ()
    loss: str = "cross_entropy"
    dtype: str = "float64"
    rng_kind: str = "generator"
    shuffle: bool = False
    shuffle_seed: int = 0

    def config(self) -> dict:
        """The run as a flat JSON-able dict (hyperparameters inlined)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        out.pop("hyper")
        out.update(dict(self.hyper))
        return out

    def group_key(self) -> tuple:
        """Runs with equal keys can share one population."""
        return (
            self.hidden,
            self.activation,
            self.optimizer,
            self.batch_size,
            self.epochs,
            self.loss,
            self.dtype,
            self.shuffle,
            self.shuffle_seed,
            tuple(k for k, _ in self.hyper),
        )

    def hash(self, data_key: str = "") -> str:
        """A stable identifier of this run on a given data set (hex, 16 chars)."""
        payload = json.dumps({"data": data_key, **self.config()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def network(self):
        """An unfitted :class:`initlab.FFNetwork` configured exactly like this run."""
        from .network import FFNetwork

        extra = dict(self.hyper)
        return FFNetwork(
            hidden_layer_sizes=self.hidden,
            activation=self.activation,
            init=self.init,
            bias_init=self.bias_init,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            loss=self.loss,
            leaky_slope=0.1 if self.leaky_slope is None else self.leaky_slope,
            shuffle=self.shuffle,
            shuffle_seed=self.shuffle_seed,
            random_state=self.seed,
            rng_kind=self.rng_kind,
            dtype=self.dtype,
            **extra,
        )


def data_key(data: _datasets.Dataset) -> str:
    """How a data set is named in run hashes: its name and the options that re-create it."""
    return json.dumps({"name": data.name, **dict(data.options)}, sort_keys=True, default=str)


# --- planning ---------------------------------------------------------------------------------
def _as_list(name: str, value, kind=None) -> list:
    if value is None:
        raise ValueError(f"{name} must not be None")
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        value = [value]
    items = list(value)
    if not items:
        raise ValueError(f"{name} is empty; give at least one value")
    return items


def _no_duplicates(name: str, items: list) -> None:
    seen = set()
    for item in items:
        key = json.dumps(item, sort_keys=True, default=str)
        if key in seen:
            raise ValueError(f"{name} lists {item!r} twice; remove the duplicate")
        seen.add(key)


def _hidden_list(value) -> list[tuple[int, ...]]:
    """``(8, 8)`` is one architecture; ``[(8,), (8, 8)]`` several; ``8`` is ``(8,)``."""
    if isinstance(value, (int, np.integer)):
        value = [(int(value),)]
    elif (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (list, tuple)) for v in value)
    ):
        value = [tuple(v) for v in value]
    elif isinstance(value, (list, tuple)):
        value = [tuple(value)]
    else:
        raise ValueError(
            f"hidden_layer_sizes must be a tuple of ints or a list of them, got {value!r}"
        )
    out = []
    for sizes in value:
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ValueError(f"hidden layer sizes must be positive integers, got {list(sizes)}")
        out.append(tuple(int(s) for s in sizes))
    _no_duplicates("hidden_layer_sizes", out)
    return out


def _seeds(value) -> list[int]:
    items = _as_list("seeds", value)
    for s in items:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be non-negative integers, got {s!r}")
    out = [int(s) for s in items]
    _no_duplicates("seeds", out)
    return out


def plan(
    hidden_layer_sizes,
    activations,
    inits,
    optimizers,
    learning_rates,
    seeds,
    epochs: int,
    batch_size=None,
    bias_init="zeros",
    loss: str = "cross_entropy",
    dtype: str = "float64",
    rng_kind: str = "generator",
    shuffle: bool = False,
    shuffle_seed: int = 0,
    leaky_slope=0.1,
    **optimizer_hyperparameters,
) -> list[RunSpec]:
    """Every run of the full factorial grid, validated, as :class:`RunSpec` objects.

    Any argument may be a single value or a list.  A hyperparameter multiplies
    the grid only for the optimizers that have it (``momentum=[0.5, 0.9]``
    gives two runs for ``momentum`` and ``nag``, one for ``adam``), and
    ``leaky_slope`` only for activations with a slope.  Names are
    canonicalized (``"xavier"`` becomes ``"xavier_normal"``), so the same run
    always has the same hash.  ``batch_size`` 0 or None is the full batch.
    ``bias_init="blog"`` is the blog's recipe: N(0, 1) biases, zeros with the
    zero initializer.
    """
    hidden = _hidden_list(hidden_layer_sizes)
    acts = [_activations.REGISTRY.canonical(a) for a in _as_list("activations", activations)]
    init_names = [_initializers.REGISTRY.canonical(i) for i in _as_list("inits", inits)]
    bias_names = [
        b if b == "blog" else _initializers.BIAS_REGISTRY.canonical(b)
        for b in _as_list("bias_init", bias_init)
    ]
    opt_names = [_optim.REGISTRY.canonical(o) for o in _as_list("optimizers", optimizers)]
    lrs = [float(x) for x in _as_list("learning_rates", learning_rates)]
    for lr in lrs:
        _optim.check_hyperparameter("learning_rate", lr, 0.0, math.inf, True)
    seed_list = _seeds(seeds)
    batches = []
    for b in _as_list("batch_size", [batch_size] if batch_size is None else batch_size):
        if b is None or b == 0:
            batches.append(None)
        elif isinstance(b, (bool, np.bool_)) or not isinstance(b, (int, np.integer)) or b < 0:
            raise ValueError(f"batch_size must be a positive integer, 0 or None, got {b!r}")
        else:
            batches.append(int(b))
    if (
        isinstance(epochs, (bool, np.bool_))
        or not isinstance(epochs, (int, np.integer))
        or epochs < 1
    ):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    _losses.get(loss)
    if str(np.dtype(dtype)) not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if rng_kind not in _initializers.RNG_KINDS:
        raise ValueError(
            f"rng_kind must be one of {', '.join(_initializers.RNG_KINDS)}, got {rng_kind!r}"
        )
    unknown = set(optimizer_hyperparameters) - set(HYPERPARAMETERS)
    if unknown:
        bad = sorted(unknown)[0]
        hint = ""
        if bad in _optim.BLOG_HYPERPARAMETERS:
            hint = f" (the blog's {bad!r} is {_optim.BLOG_HYPERPARAMETERS[bad]!r} here)"
        raise ValueError(
            f"unknown hyperparameter {bad!r}{hint}; choose from: "
            f"{', '.join(HYPERPARAMETERS)}, leaky_slope"
        )
    hyper_lists = {
        k: [float(v) for v in _as_list(k, vals)]
        for k, vals in optimizer_hyperparameters.items()
        if vals is not None
    }
    slopes = [float(s) for s in _as_list("leaky_slope", leaky_slope)]
    for name, items in [
        ("activations", acts),
        ("inits", init_names),
        ("bias_init", bias_names),
        ("optimizers", opt_names),
        ("learning_rates", lrs),
        ("batch_size", batches),
        ("leaky_slope", slopes),
        *hyper_lists.items(),
    ]:
        _no_duplicates(name, items)

    specs = []
    for sizes, act, opt, batch in itertools.product(hidden, acts, opt_names, batches):
        spec = _optim.get(opt)
        keys = sorted(k for k in hyper_lists if k in spec.defaults)
        for values in itertools.product(*(hyper_lists[k] for k in keys)):
            hyper = tuple(zip(keys, values, strict=True))
            spec.resolve(dict(hyper))  # range checks, with the optimizer's message
            has_slope = "slope" in _activations.get(act).params
            for slope in slopes if has_slope else [None]:
                for init, bias, lr, seed in itertools.product(
                    init_names, bias_names, lrs, seed_list
                ):
                    if bias == "blog":  # the blog's biases: N(0, 1), zeros with zero init
                        bias = "zeros" if init == "zeros" else "normal"
                    specs.append(
                        RunSpec(
                            hidden=sizes,
                            activation=act,
                            init=init,
                            optimizer=opt,
                            learning_rate=lr,
                            seed=seed,
                            epochs=int(epochs),
                            batch_size=batch if batch is not None else spec.default_batch_size,
                            bias_init=bias,
                            leaky_slope=slope,
                            hyper=hyper,
                            loss=loss,
                            dtype=str(np.dtype(dtype)),
                            rng_kind=rng_kind,
                            shuffle=bool(shuffle),
                            shuffle_seed=int(shuffle_seed),
                        )
                    )
    return specs


# --- chunks -----------------------------------------------------------------------------------
def model_bytes(
    spec: RunSpec, n_features: int, n_outputs: int, n_train: int, n_val: int = 0
) -> int:
    """Estimated peak memory of one model in a population (bytes).

    The forward pass keeps each layer's pre-activation and activation, the
    backward pass a delta and a temporary per layer, each ``width x batch``;
    parameters, gradients, updates and up to two optimizer moments are ``5x``
    the parameter count; validation adds a forward pass.
    """
    item = np.dtype(spec.dtype).itemsize
    widths = [*spec.hidden, n_outputs]
    batch = n_train if spec.batch_size is None else min(spec.batch_size, n_train)
    sizes = [n_features, *widths]
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    rows = batch + (n_train if spec.batch_size is not None else 0)  # metrics pass
    per = item * (4 * sum(widths) * max(rows, n_val) + 5 * n_params)
    return int(per) + 256


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
            row = spec.config()
            row["hidden"] = "-".join(map(str, spec.hidden)) or "0"
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


def _bind_activation(specs: Sequence[RunSpec]):
    act = _activations.get(specs[0].activation)
    if "slope" in act.params:
        slopes = np.array([0.1 if s.leaky_slope is None else s.leaky_slope for s in specs])
        act = act.bind(slope=slopes if len(set(slopes)) > 1 else float(slopes[0]))
    return act


def build(specs: Sequence[RunSpec], data: _datasets.Dataset):
    """The population, initial parameters and optimizer that train ``specs`` together.

    ``specs`` must share a :meth:`RunSpec.group_key`.  Used by :func:`run_chunk`
    and by the playground, so every path trains exactly the same networks.
    """
    first = specs[0]
    loss = _losses.get(first.loss)
    pop = Population(
        (data.n_features, *first.hidden, loss.n_outputs(data.n_classes)),
        _bind_activation(specs),
        loss,
        len(specs),
        first.dtype,
    )
    params = init_params(
        pop,
        [s.seed for s in specs],
        [s.init for s in specs],
        [s.bias_init for s in specs],
        first.rng_kind,
        X=data.X_train,
    )
    hyper = {k: np.array([dict(s.hyper)[k] for s in specs]) for k, _ in first.hyper}
    lrs = np.array([s.learning_rate for s in specs])
    return pop, params, _optim.get(first.optimizer).build(lrs, **hyper)


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

    ``on_progress(model_epochs)`` is called as work completes (every few
    epochs in process, per chunk from worker processes).
    """
    n_jobs = resolve_jobs(n_jobs)
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
    hidden_layer_sizes,
    activations,
    inits,
    optimizers,
    learning_rates,
    seeds,
    epochs: int,
    batch_size=None,
    bias_init="zeros",
    dtype: str = "float64",
    loss: str = "cross_entropy",
    rng_kind: str = "generator",
    shuffle: bool = False,
    shuffle_seed: int = 0,
    leaky_slope=0.1,
    curves: bool = False,
    max_memory: int | None = None,
    n_jobs: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int | None = None,
    **optimizer_hyperparameters,
):
    """Train the full factorial grid; one row per run.

    Parameters
    ----------
    dataset : str or Dataset
        A name for :func:`initlab.datasets.load` (with its defaults) or a
        loaded :class:`~initlab.datasets.Dataset`.
    hidden_layer_sizes : tuple of int, or list of tuples
        One architecture, or several.
    activations, inits, optimizers, learning_rates, seeds : lists (or one value)
    epochs : int
    batch_size : int, None, or a list of them
        None (or 0) for full batch.
    bias_init : str or list
    dtype : {"float64", "float32"}
    leaky_slope : float or list
        Applies to the activations with a slope.
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
    **optimizer_hyperparameters : lists
        ``momentum``, ``rho``, ``beta1``, ``beta2``, ``eps``, ``weight_decay``.

    Returns
    -------
    pandas.DataFrame, or (runs, curves) when ``curves=True``
        Runs: the configuration columns (``dataset``, ``hidden``,
        ``activation``, ``init``, ``bias_init``, ``optimizer``,
        ``learning_rate``, ``batch_size``, ``epochs``, ``seed``, ...), the
        final ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``,
        ``diverged``, ``diverged_epoch`` (-1 if never) and ``time_s`` (the
        run's share of its population's wall time).  Curves: long format, one
        row per run and epoch (``run`` is the row index of the run).
    """
    import pandas as pd

    data = _datasets.load(dataset)
    specs = plan(
        hidden_layer_sizes,
        activations,
        inits,
        optimizers,
        learning_rates,
        seeds,
        epochs,
        batch_size,
        bias_init,
        loss,
        dtype,
        rng_kind,
        shuffle,
        shuffle_seed,
        leaky_slope,
        **optimizer_hyperparameters,
    )
    jobs = resolve_jobs(n_jobs)
    chunk_list = chunks(specs, data, max_memory, jobs, chunk_size=chunk_size)
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
            rows[i] = {"dataset": data.name, **row}
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
