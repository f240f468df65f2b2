"""Studies: named, seeded factorial grids, stored, resumable, with statistics.

A :class:`Study` is data set(s) x architectures x activations x initializers
(x bias inits) x optimizers (x hyperparameters) x learning rates x batch
sizes x epochs x seeds.  It is defined in Python, in a TOML file, or by one
of the presets shipped with initlab (``blog``, ``optimizers``, ``moons``,
``deep``).  :meth:`Study.run` trains the runs that are not in the store yet
(so a study can be interrupted and resumed, or extended with more seeds) and
commits every finished population chunk; :meth:`Study.results`,
:meth:`Study.curves` and :meth:`Study.summary` read the store.

TOML format::

    [study]
    name = "mine"
    datasets = ["moons"]              # or [{ name = "moons", noise = 0.3 }]
    hidden = [[8, 8]]                 # one list per architecture
    activations = ["tanh", "relu"]
    inits = ["xavier", "he"]
    bias_inits = ["zeros"]
    optimizers = ["adam"]
    learning_rates = [0.01]
    batch_sizes = [0]                 # 0 = full batch
    epochs = 200                      # or a list
    seeds = 10                        # n seeds 0..n-1, or a list
    [study.hyperparameters]           # optional
    momentum = [0.9]
    leaky_slope = [0.1]
"""

from __future__ import annotations

import difflib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np

from . import datasets as _datasets
from . import sweep as _sweep
from .store import DEFAULT_PATH, Store

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["Study", "RunReport", "presets", "StudyConfigError"]

PRESETS = ("blog", "optimizers", "moons", "deep")


class StudyConfigError(ValueError):
    """A study definition (TOML or dict) is invalid; the message says where and why."""


@dataclass
class RunReport:
    """What :meth:`Study.run` did.

    ``failures`` maps each reason a run failed (its error) to how many runs
    failed for it, most frequent first; :attr:`ok` is False when any failed.
    """

    total: int
    skipped: int
    trained: int
    failed: int
    seconds: float
    store: str
    failures: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def failure_lines(self) -> list[str]:
        """One line per reason: ``"3 runs: MemoryError: ..."``."""
        return [
            f"{n} run{'s' * (n != 1)}: {reason}"
            for reason, n in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    def __str__(self) -> str:
        return (
            f"{self.total} runs: {self.skipped} already stored, {self.trained} trained, "
            f"{self.failed} failed, in {self.seconds:.1f} s -> {self.store}"
        )


def _default_seeds() -> list[int]:
    return list(range(5))


@dataclass
class Study:
    """A named factorial study.  See the module docstring for the TOML form.

    Attributes
    ----------
    compare : list of str
        The configuration columns compared within a block of the summary
        (default ``["init", "bias_init"]``: which initializer is best for each
        activation, the blog's question); every other column separates blocks.
    record_curves : bool
        Store per-epoch curves (needed for loss bands in the report).
    """

    name: str = "study"
    datasets: list = field(default_factory=lambda: ["blog"])
    hidden: list = field(default_factory=lambda: [[2]])
    activations: list = field(default_factory=lambda: ["sigmoid", "tanh", "relu", "leaky_relu"])
    inits: list = field(default_factory=lambda: ["zeros", "random", "xavier_normal", "he_normal"])
    bias_inits: list = field(default_factory=lambda: ["zeros"])
    optimizers: list = field(default_factory=lambda: ["gd"])
    learning_rates: list = field(default_factory=lambda: [0.1])
    batch_sizes: list = field(default_factory=lambda: [0])
    epochs: list = field(default_factory=lambda: [100])
    seeds: list = field(default_factory=_default_seeds)
    hyperparameters: dict = field(default_factory=dict)
    loss: str = "cross_entropy"
    dtype: str = "float64"
    rng_kind: str = "generator"
    shuffle: bool = False
    shuffle_seed: int = 0
    record_curves: bool = True
    compare: list = field(default_factory=lambda: ["init", "bias_init"])
    description: str = ""
    store_path: str | None = field(default=None, repr=False, compare=False)

    # -- construction -------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self._normalize()

    def _normalize(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StudyConfigError(f"study name must be a non-empty string, got {self.name!r}")
        if isinstance(self.seeds, (int, np.integer)) and not isinstance(self.seeds, bool):
            if self.seeds < 1:
                raise StudyConfigError(
                    f"seeds must be a positive count or a list, got {self.seeds}"
                )
            self.seeds = list(range(int(self.seeds)))
        if isinstance(self.epochs, (int, np.integer)) and not isinstance(self.epochs, bool):
            self.epochs = [int(self.epochs)]
        if self.hidden and all(isinstance(h, (int, np.integer)) for h in self.hidden):
            self.hidden = [list(self.hidden)]
        for key in (
            "datasets",
            "hidden",
            "activations",
            "inits",
            "bias_inits",
            "optimizers",
            "learning_rates",
            "batch_sizes",
            "epochs",
            "seeds",
            "compare",
        ):
            value = getattr(self, key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, (list, tuple, range)):
                raise StudyConfigError(
                    f"{key} must be a list, got {type(value).__name__} {value!r}"
                )
            value = [list(v) if isinstance(v, tuple) else v for v in value]
            if not value and key != "compare":
                raise StudyConfigError(f"{key} is empty: the grid would have no runs")
            setattr(self, key, value)
        for key, kind in (
            ("activations", str),
            ("inits", str),
            ("bias_inits", str),
            ("optimizers", str),
        ):
            for v in getattr(self, key):
                if not isinstance(v, kind):
                    raise StudyConfigError(f"{key} must be names (strings), got {v!r}")
        for key, low in (("seeds", 0), ("batch_sizes", 0), ("epochs", 1)):
            for v in getattr(self, key):
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                    raise StudyConfigError(f"{key} must be integers >= {low}, got {v!r}")
        for v in self.learning_rates:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise StudyConfigError(f"learning_rates must be numbers, got {v!r}")
        for h in self.hidden:
            if not isinstance(h, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in h
            ):
                raise StudyConfigError(f"hidden must be lists of integers like [[8, 8]], got {h!r}")
        for d in self.datasets:
            if not isinstance(d, (str, dict)) or (isinstance(d, dict) and "name" not in d):
                raise StudyConfigError(
                    f"datasets entries must be names or tables with a name, got {d!r}"
                )
        if not isinstance(self.hyperparameters, dict):
            raise StudyConfigError("hyperparameters must be a table of lists")
        allowed = (*_sweep.HYPERPARAMETERS, "leaky_slope")
        for k, v in list(self.hyperparameters.items()):
            if k not in allowed:
                raise StudyConfigError(_unknown("hyperparameter", k, allowed))
            self.hyperparameters[k] = v if isinstance(v, list) else [v]

    @classmethod
    def from_dict(cls, config: dict, source: str = "study definition") -> Study:
        """A study from a dict like the ``[study]`` table of a TOML file."""
        if "study" in config and isinstance(config["study"], dict) and len(config) == 1:
            config = config["study"]
        known = {f.name for f in fields(cls) if f.name != "store_path"}
        for key in config:
            if key not in known:
                raise StudyConfigError(f"{source}: " + _unknown("key", key, sorted(known)))
        try:
            return cls(**config)
        except StudyConfigError as exc:
            raise StudyConfigError(f"{source}: {exc}") from None
        except TypeError as exc:
            raise StudyConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Study:
        """Read a study from a TOML file (errors say the line and the key)."""
        path = Path(path)
        if not path.is_file():
            raise StudyConfigError(f"no such study file: {path}")
        try:
            config = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise StudyConfigError(f"{path}: invalid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise StudyConfigError(f"{path}: not a text file") from None
        if "study" not in config or not isinstance(config["study"], dict):
            raise StudyConfigError(
                f"{path}: expected a [study] table, found keys {sorted(config) or 'none'}"
            )
        extra = set(config) - {"study"}
        if extra:
            raise StudyConfigError(f"{path}: " + _unknown("table", sorted(extra)[0], ["study"]))
        return cls.from_dict(config["study"], source=str(path))

    @classmethod
    def preset(cls, preset: str, /, **overrides) -> Study:
        """One of the studies that ship with initlab: blog, optimizers, moons, deep.

        Keyword arguments override its settings (``seeds=20``, ``name="mine"``).
        """
        if preset not in PRESETS:
            raise StudyConfigError(_unknown("preset", preset, PRESETS))
        text = resources.files("initlab.presets").joinpath(f"{preset}.toml").read_text()
        config = tomllib.loads(text)["study"]
        config.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(config, source=f"preset {preset!r}")

    @classmethod
    def load(cls, name: str, store: str | Path = DEFAULT_PATH) -> Study:
        """A study as it was saved in a store."""
        with Store(store, readonly=True) as st:
            config = st.study_config(name)
        study = cls.from_dict(config, source=f"study {name!r} in {store}")
        study.store_path = str(store)
        return study

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("store_path")
        return out

    def to_toml(self) -> str:
        """The study as a TOML document that :meth:`from_toml` reads back."""
        lines = ["[study]"]
        cfg = self.to_dict()
        hyper = cfg.pop("hyperparameters")
        for key, value in cfg.items():
            lines.append(f"{key} = {_toml_value(value)}")
        if hyper:
            lines.append("\n[study.hyperparameters]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in hyper.items()]
        return "\n".join(lines) + "\n"

    # -- planning -----------------------------------------------------------------------------
    def load_datasets(self) -> list[_datasets.Dataset]:
        out = []
        for entry in self.datasets:
            if isinstance(entry, str):
                out.append(_datasets.load(entry))
            else:
                opts = dict(entry)
                out.append(_datasets.load(opts.pop("name"), **opts))
        return out

    def plan(self) -> list[tuple[_datasets.Dataset, list[_sweep.RunSpec], list[str]]]:
        """For each data set: its runs and their hashes."""
        hyper = dict(self.hyperparameters)
        slopes = hyper.pop("leaky_slope", [0.1])
        out = []
        for data in self.load_datasets():
            key = _sweep.data_key(data)
            specs = []
            for epochs in self.epochs:
                specs += _sweep.plan(
                    [tuple(h) for h in self.hidden],
                    self.activations,
                    self.inits,
                    self.optimizers,
                    self.learning_rates,
                    self.seeds,
                    epochs,
                    batch_size=[None if b in (0, None) else b for b in self.batch_sizes],
                    bias_init=self.bias_inits,
                    loss=self.loss,
                    dtype=self.dtype,
                    rng_kind=self.rng_kind,
                    shuffle=self.shuffle,
                    shuffle_seed=self.shuffle_seed,
                    leaky_slope=slopes,
                    **hyper,
                )
            out.append((data, specs, [s.hash(key) for s in specs]))
        if not any(specs for _, specs, _ in out):
            raise StudyConfigError("the study's grid is empty")
        return out

    def n_runs(self) -> int:
        return sum(len(specs) for _, specs, _ in self.plan())

    # -- running ------------------------------------------------------------------------------
    def run(
        self,
        store: str | Path | None = None,
        fresh: bool = False,
        executor: str = "local",
        workers: int | None = None,
        scheduler: str | None = None,
        max_memory: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        command: str | None = None,
        no_workers_timeout: float | None = None,
        force_workers: bool = False,
    ) -> RunReport:
        """Train every run not yet in the store; commit each finished chunk.

        Parameters
        ----------
        store : path, default ``./initlab.db``
        fresh : bool
            Retrain every run of this study even if stored.
        executor : {"local", "processes", "dask"}
            ``local`` trains in this process; ``processes`` spreads
            populations over ``workers`` local processes (default: all
            cores); ``dask`` submits them to the Dask cluster at
            ``scheduler`` (or a local one it starts).  Results are identical.
        progress : callable
            ``progress(done, total)`` in model-epochs.
        no_workers_timeout : float or None
            ``dask``: seconds without a worker before giving up (default
            :data:`initlab.distributed.DEFAULT_NO_WORKERS_TIMEOUT`); ``math.inf``
            waits for workers indefinitely.
        force_workers : bool
            Start ``workers`` local processes even when that is more than the
            CPUs (otherwise capped at the CPU count, with a warning).

        Returns
        -------
        RunReport
            Failed runs are stored as such and counted by reason
            (``report.failures``); a lost scheduler or no workers raise
            :class:`~initlab.distributed.ClusterError` instead, after every
            finished chunk was stored.
        """
        start = time.perf_counter()
        self.store_path = str(store or self.store_path or DEFAULT_PATH)
        local_jobs = 1
        if executor == "processes" or (executor == "dask" and scheduler is None and workers):
            # more processes than CPUs only slow a study down: capped unless forced
            local_jobs = _sweep.resolve_jobs(workers or -1, force=force_workers)
            workers = local_jobs if executor == "dask" else workers
        planned = self.plan()
        # connect (and check the cluster) before the store is touched: a bad scheduler
        # address or a mismatched cluster must leave nothing behind
        session = _connect(executor, scheduler, workers, no_workers_timeout)
        try:
            st = Store(self.store_path)
        except BaseException:
            if session is not None:
                session.close()
            raise
        results = None
        try:
            st.save_study(self.name, self.to_dict(), command)
            all_hashes = [h for _, _, hashes in planned for h in hashes]
            if fresh:
                st.delete_runs(all_hashes)
            st.link(self.name, all_hashes)
            done = st.done_hashes(all_hashes)
            work = []
            for data, specs, hashes in planned:
                todo = [(s, h) for s, h in zip(specs, hashes, strict=True) if h not in done]
                if todo:
                    work.append((data, todo))
            trained = failed = 0
            failures: dict[str, int] = {}
            total_work = sum(s.epochs for _, todo in work for s, _ in todo)
            finished = 0

            def tick(n):
                nonlocal finished
                finished += n
                if progress is not None:
                    progress(finished, total_work)

            if progress is not None:
                progress(0, total_work)
            for data, todo in work:
                by_spec = dict(todo)
                specs = list(by_spec)
                jobs = local_jobs
                if session is not None:  # dask: as many chunks as the cluster has threads
                    jobs = session.n_threads()
                chunk_list = _sweep.chunks(specs, data, max_memory, jobs)
                results = _execute(
                    executor, chunk_list, data, self.record_curves, jobs, session, tick
                )
                for result in results:
                    rows = []
                    for row, spec in zip(result.rows(), result.specs, strict=True):
                        rows.append(
                            {
                                "hash": by_spec[spec],
                                "config": spec.config(),
                                "dataset": data.name,
                                **{k: row[k] for k in _sweep.METRICS},
                                "diverged": row["diverged"],
                                "diverged_epoch": row["diverged_epoch"],
                                "time_s": row["time_s"],
                                "status": "failed" if result.error else "done",
                                "error": result.error,
                            }
                        )
                    st.write_chunk(rows, None if result.error else result.curves)
                    if result.error:
                        failed += len(rows)
                        failures[result.error] = failures.get(result.error, 0) + len(rows)
                    else:
                        trained += len(rows)
        finally:
            if results is not None and hasattr(results, "close"):
                results.close()  # Ctrl-C: cancel the work still queued on a cluster
            st.close()
            if session is not None:
                session.close()
        return RunReport(
            len(all_hashes),
            len(done),
            trained,
            failed,
            time.perf_counter() - start,
            self.store_path,
            failures,
        )

    # -- reading ------------------------------------------------------------------------------
    def _store(self) -> Store:
        return Store(self.store_path or DEFAULT_PATH, readonly=True)

    def results(self):
        """The study's finished runs, one row per run (a pandas DataFrame)."""
        with self._store() as st:
            return st.runs(self.name)

    def curves(self, hashes=None):
        """Per-epoch curves of the study's runs (or of the runs ``hashes`` only), long
        format (``run_hash``, ``epoch``, metrics).
        """
        with self._store() as st:
            if hashes is not None:
                return st.curves(hashes=list(hashes))
            return st.curves(study=self.name)

    def summary(self, metric: str = "val_acc", alpha: float = 0.05, runs=None):
        """Seeds collapsed: mean, std, bootstrap 95% CI, rank, best and tied per block.

        ``runs``: the study's results when already read (:meth:`results`).
        """
        from .stats import summarize

        runs = self.results() if runs is None else runs
        if runs.empty:
            raise ValueError(f"study {self.name!r} has no finished runs yet; run it first")
        return summarize(_config_frame(runs), metric, alpha=alpha, compared=self.compare)

    def network(self, row):
        """An unfitted FFNetwork configured exactly like a stored run (a results row)."""
        return _spec_from_row(row).network()

    def dataset(self, name: str | None = None) -> _datasets.Dataset:
        """One of the study's data sets (by name; the first when not given)."""
        loaded = self.load_datasets()
        if name is None:
            return loaded[0]
        for d in loaded:
            if d.name == name:
                return d
        raise KeyError(
            f"study {self.name!r} has no data set {name!r}; it has "
            f"{', '.join(d.name for d in loaded)}"
        )


def _config_frame(runs):
    """Runs with bookkeeping columns dropped, ready for statistics."""
    drop = [
        c
        for c in (
            "status",
            "error",
            "initlab_version",
            "run_hash",
            "time_s",
            "dtype",
            "rng_kind",
            "loss",
            "shuffle",
            "shuffle_seed",
        )
        if c in runs.columns
    ]
    return runs.drop(columns=drop)


def _spec_from_row(row) -> _sweep.RunSpec:
    get = row.get if hasattr(row, "get") else row.__getitem__
    hidden = get("hidden")
    if isinstance(hidden, str):
        hidden = tuple(int(h) for h in hidden.split("-") if h and h != "0")
    hyper = []
    for k in _sweep.HYPERPARAMETERS:
        v = get(k) if (k in row) else None
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            hyper.append((k, float(v)))
    slope = get("leaky_slope") if "leaky_slope" in row else None
    if slope is not None and isinstance(slope, float) and math.isnan(slope):
        slope = None
    batch = get("batch_size") if "batch_size" in row else None
    if batch is not None and (isinstance(batch, float) and math.isnan(batch)):
        batch = None
    return _sweep.RunSpec(
        hidden=tuple(hidden),
        activation=get("activation"),
        init=get("init"),
        optimizer=get("optimizer"),
        learning_rate=float(get("learning_rate")),
        seed=int(get("seed")),
        epochs=int(get("epochs")),
        batch_size=None if batch is None else int(batch),
        bias_init=get("bias_init"),
        leaky_slope=slope,
        hyper=tuple(sorted(hyper)),
        loss=get("loss") if "loss" in row else "cross_entropy",
        dtype=get("dtype") if "dtype" in row else "float64",
        rng_kind=get("rng_kind") if "rng_kind" in row else "generator",
        shuffle=bool(get("shuffle")) if "shuffle" in row else False,
        shuffle_seed=int(get("shuffle_seed")) if "shuffle_seed" in row else 0,
    )


EXECUTORS = ("local", "processes", "dask")


def _connect(executor, scheduler, workers, no_workers_timeout=None):
    """The Dask session for ``executor="dask"`` (None otherwise); checks the executor name."""
    if executor not in EXECUTORS:
        raise StudyConfigError(_unknown("executor", executor, EXECUTORS))
    if executor != "dask":
        return None
    from .distributed import DEFAULT_NO_WORKERS_TIMEOUT, connect

    patience = DEFAULT_NO_WORKERS_TIMEOUT if no_workers_timeout is None else no_workers_timeout
    patience = None if patience == math.inf else patience
    return connect(scheduler, workers, no_workers_timeout=patience)


def _execute(executor, chunk_list, data, curves, jobs, session, tick):
    if executor in ("local", "processes"):
        return _sweep.execute(
            chunk_list, data, curves, jobs if executor == "processes" else 1, tick
        )
    from .distributed import execute_dask

    return execute_dask(
        chunk_list,
        data,
        curves,
        on_progress=tick,
        client=session.client,
        no_workers_timeout=session.no_workers_timeout,
    )


def _unknown(kind: str, value: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {value!r}{hint} Allowed: {', '.join(map(str, allowed))}"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return '""'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def presets() -> list[str]:
    return list(PRESETS)
