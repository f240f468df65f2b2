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
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets as _datasets
from . import runs as _runs
from . import sweep as _sweep
from .errors import ConfigError
from .store import DEFAULT_PATH, Store

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["Study", "RunReport", "Planned", "presets", "StudyConfigError", "StudyConflict"]

PRESETS = ("blog", "optimizers", "moons", "deep")
#: What a study sets besides its grid (the grid's keys come from the run schema).
SETTINGS = ("name", "description", "datasets", "recipe", "hyperparameters", "record_curves",
            "compare", "plugins")  # fmt: skip
DEFAULT_SEEDS = 5  # a study repeats each configuration over seeds 0..4 unless told


class StudyConfigError(ConfigError):
    """A study definition (TOML or dict) is invalid; the message says where and why."""


class StudyConflict(StudyConfigError):
    """A study of this name is stored with another grid; the message names the differences."""


@dataclass
class RunReport:
    """What :meth:`Study.run` did.

    ``failures`` counts the failed runs by reason (:meth:`failure_lines`, most
    frequent first; :attr:`ok` is False when any failed); ``notes`` says what
    changed in the stored definition (a study that grew).
    """

    total: int
    skipped: int
    trained: int
    failed: int
    seconds: float
    store: str
    failures: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

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


@dataclass(frozen=True)
class Planned:
    """One data set of a study with its runs and their hashes (iterates as the triple)."""

    data: _datasets.Dataset
    label: str
    specs: list
    hashes: list[str]

    def __iter__(self):
        return iter((self.data, self.specs, self.hashes))


def _grid_fields() -> list:
    """The run fields a study's grid sets at its top level (conditional ones go in
    ``[study.hyperparameters]``)."""
    return [f for f in _runs.fields() if not f.conditional]


def _study_keys() -> list[str]:
    return [f.key for f in _grid_fields()]


class Study:
    """A named factorial study: data sets x every combination of its grid x seeds.

    Parameters
    ----------
    name : str
    datasets : list
        Names (``"moons"``) or tables with a ``name``, the data set's options
        and an optional ``label`` (``{"name": "csv", "path": "iris.csv",
        "target": "species", "label": "iris"}``).
    recipe : str, optional
        A published protocol (``"blog"``) that sets the defaults and reads
        names its way (:data:`initlab.runs.RECIPES`).
    hyperparameters : dict
        Activation parameters and optimizer hyperparameters, each a list;
        each applies where it exists (``{"momentum": [0.5, 0.9]}``).
    record_curves : bool
        Store per-epoch curves (needed for loss bands in the report).
    compare : list of str
        The settings compared within a block of the summary (default
        ``["init", "bias_init"]``: which initializer is best for each
        activation, the blog's question); every other setting separates blocks.
    description : str
    plugins : list of str
        Plugin modules (:mod:`initlab.plugins`) the study's components come from;
        imported here and in every worker.  A stored study records the plugin
        modules that were loaded when it ran.
    **grid
        The grid: a value or a list for each run field, by its study key
        (:func:`initlab.runs.fields`: ``hidden``, ``activations``, ``inits``,
        ``bias_inits``, ``optimizers``, ``learning_rates``, ``batch_sizes``
        (0 = full batch), ``epochs``, ``seeds`` (a count n for 0..n-1, or a
        list), ``loss``, ``dtype``, ``rng_kind``, ``shuffle``, ``shuffle_seed``).
        What is not given takes the recipe's value, then the run default.
    """

    def __init__(
        self,
        name: str = "study",
        datasets: Sequence = ("blog",),
        *,
        recipe: str | None = None,
        hyperparameters: dict | None = None,
        record_curves: bool = True,
        compare: Sequence[str] = ("init", "bias_init"),
        description: str = "",
        store_path: str | None = None,
        plugins: Sequence[str] = (),
        **grid,
    ):
        if isinstance(plugins, str) or not all(isinstance(m, str) for m in plugins):
            raise StudyConfigError(f"plugins must be a list of module names, got {plugins!r}")
        self.plugins = list(plugins)
        if self.plugins:  # before any name is checked: the components are theirs
            from . import plugins as _plugins

            _plugins.use(*self.plugins)
        self.name = name
        self.datasets = datasets
        self.recipe = recipe
        self.hyperparameters = {} if hyperparameters is None else hyperparameters
        self.record_curves = record_curves
        self.compare = compare
        self.description = description
        self.store_path = store_path
        self.store_info: dict = {}
        keys = _study_keys()
        for key in grid:
            if key not in keys:
                raise StudyConfigError(_unknown("key", key, [*SETTINGS, *keys]), key)
        self.grid = dict(grid)
        self._plan_cache: tuple[str, list[Planned]] | None = None
        self._normalize()

    # -- the grid as attributes (study.activations, study.seeds = 20) --------------------------
    def __getattr__(self, key: str):
        grid = self.__dict__.get("grid")
        if grid is not None and key in _study_keys():
            values = self.axes()[key]  # given, else the recipe's, else the default
            return values if key in _runs.LIST_KEYS or len(values) > 1 else values[0]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key: str, value) -> None:
        if "grid" in self.__dict__ and key in _study_keys():
            self.grid[key] = value
        else:
            object.__setattr__(self, key, value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Study) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Study({self.name!r}, {self.n_planned_hint()})"

    def n_planned_hint(self) -> str:
        sizes = [len(v) for v in self.grid.values()]
        return " x ".join(map(str, [len(self.datasets), *sizes])) + " configurations"

    # -- construction -------------------------------------------------------------------------
    def _normalize(self) -> None:
        """Check every setting and value; lists everywhere, names canonical."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise StudyConfigError(f"study name must be a non-empty string, got {self.name!r}")
        recipe = _runs.get_recipe(self.recipe)
        object.__setattr__(self, "recipe", recipe.name if recipe else None)
        self.datasets = self._normalize_datasets(self.datasets)
        for key, label in (("record_curves", "record_curves"),):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise StudyConfigError(f"{label} must be true or false, got {getattr(self, key)!r}")
        if isinstance(self.compare, str):
            self.compare = [self.compare]
        if not isinstance(self.compare, (list, tuple)):
            raise StudyConfigError(f"compare must be a list of settings, got {self.compare!r}")
        names = _runs.names()
        for c in self.compare:
            if c not in names and c != "dataset":
                raise StudyConfigError(_unknown("setting to compare", c, ["dataset", *names]), c)
        self.compare = list(self.compare)
        if not isinstance(self.description, str):
            raise StudyConfigError(f"description must be text, got {self.description!r}")
        grid = {}
        for f in _grid_fields():
            if f.key in self.grid and self.grid[f.key] is not None:
                grid[f.key] = self._values(f, self.grid[f.key])
        self.grid = grid
        hyper = self.hyperparameters
        if not isinstance(hyper, dict):
            raise StudyConfigError("hyperparameters must be a table of lists")
        conditional = [f.name for f in _runs.fields() if f.conditional]
        out = {}
        for key, value in hyper.items():
            try:
                f = _runs.get_field(key)
            except ConfigError:
                f = None
            if f is None or not f.conditional:
                raise StudyConfigError(_unknown("hyperparameter", key, conditional), key)
            out[f.name] = self._values(f, value)
        self.hyperparameters = out

    def _values(self, f, value) -> list:
        key = f.key
        if key == "seeds" and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if value < 1:
                raise StudyConfigError(f"seeds must be a positive count or a list, got {value}")
            value = list(range(int(value)))
        if isinstance(value, range):
            value = list(value)
        if f.kind == "sizes" and isinstance(value, (list, tuple)) and value:
            if not all(isinstance(v, (list, tuple)) for v in value):
                value = [value]  # [8, 8] is one architecture
        if not isinstance(value, (list, tuple)):
            value = [value]
        if not value:
            raise StudyConfigError(f"{key} is empty: the grid would have no runs", key)
        rec = _runs.get_recipe(self.recipe)
        out = []
        for v in value:
            if rec is not None:
                v = rec.translate(f, v)
            try:
                v = _runs.check(f, v, key)
            except ConfigError as exc:
                raise StudyConfigError(str(exc), key) from None
            out.append(list(v) if isinstance(v, tuple) else v)
        return out

    @staticmethod
    def _normalize_datasets(entries) -> list:
        if isinstance(entries, (str, dict)):
            entries = [entries]
        if not isinstance(entries, (list, tuple)) or not entries:
            raise StudyConfigError(f"datasets must be a non-empty list, got {entries!r}")
        out = []
        for i, d in enumerate(entries):
            if isinstance(d, str):
                out.append(d)
                continue
            if not isinstance(d, dict) or "name" not in d:
                raise StudyConfigError(
                    f"datasets entries must be names or tables with a name, got {d!r}"
                )
            if "label" in d and not (isinstance(d["label"], str) and d["label"].strip()):
                raise StudyConfigError(f"datasets[{i}].label must be a non-empty name")
            out.append(dict(d))
        return out

    @classmethod
    def from_dict(cls, config: dict, source: str = "study definition") -> Study:
        """A study from a dict like the ``[study]`` table of a TOML file."""
        if "study" in config and isinstance(config["study"], dict) and len(config) == 1:
            config = config["study"]
        known = [*SETTINGS, *_study_keys()]
        for key in config:
            if key not in known:
                raise StudyConfigError(f"{source}: " + _unknown("key", key, known), key)
        config = {k: v for k, v in config.items() if not (k == "recipe" and v in (None, ""))}
        try:
            return cls(**config)
        except StudyConfigError as exc:
            raise StudyConfigError(f"{source}: {exc}", exc.field) from None
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
            stale = st.needs_backfill()
        if stale and os.access(store, os.W_OK):  # written by an earlier initlab
            with Store(store) as st:
                backfill(st)
        study = cls.from_dict(config, source=f"study {name!r} in {store}")
        study.store_path = str(store)
        return study

    def axes(self) -> dict[str, list]:
        """Every grid axis with its values: given ones, else the recipe's, else the defaults."""
        rec = _runs.get_recipe(self.recipe)
        defaults = dict(rec.values) if rec else {}
        out = {}
        for f in _grid_fields():
            if f.key in self.grid:
                out[f.key] = list(self.grid[f.key])
            elif f.key == "seeds":
                out[f.key] = list(range(DEFAULT_SEEDS))
            else:
                v = _runs.check(f, defaults.get(f.name, f.default))
                out[f.key] = [list(v) if isinstance(v, tuple) else v]
        return out

    def to_dict(self) -> dict:
        """The whole definition, defaults filled in (what the store keeps)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "datasets": self.datasets,
        }
        if self.recipe:
            out["recipe"] = self.recipe
        for f in _grid_fields():
            values = self.axes()[f.key]
            if f.kind == "int" and f.none_means:
                values = [0 if v is None else v for v in values]  # TOML has no None
            out[f.key] = values if f.key in _runs.LIST_KEYS or len(values) > 1 else values[0]
        out["hyperparameters"] = dict(self.hyperparameters)
        out["record_curves"] = self.record_curves
        out["compare"] = list(self.compare)
        if self.plugins:
            out["plugins"] = list(self.plugins)
        return out

    def to_toml(self) -> str:
        """The study as a TOML document that :meth:`from_toml` reads back."""
        lines = ["[study]"]
        cfg = self.to_dict()
        hyper = cfg.pop("hyperparameters")
        for key, value in cfg.items():
            if value is None:
                continue
            lines.append(f"{key} = {_toml_value(value)}")
        if hyper:
            lines.append("\n[study.hyperparameters]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in hyper.items()]
        return "\n".join(lines) + "\n"

    # -- planning -----------------------------------------------------------------------------
    def load_datasets(self) -> list[tuple[_datasets.Dataset, str]]:
        """Each data set of the study with its label (unique within the study)."""
        out = []
        for i, entry in enumerate(self.datasets):
            opts = {"name": entry} if isinstance(entry, str) else dict(entry)
            given = opts.pop("label", None)
            name = opts.pop("name")
            try:
                data = _datasets.load(name, **opts)
            except (ValueError, TypeError) as exc:
                raise StudyConfigError(f"datasets[{i}] ({name}): {exc}", "datasets") from None
            out.append((data, given or data.label))
        labels = Counter(label for _, label in out)
        same_data = Counter(d.id for d, _ in out)
        for data, label in out:
            if same_data[data.id] > 1:
                raise StudyConfigError(
                    f"datasets lists the data set {label!r} twice (same data, same options)",
                    "datasets",
                )
            if labels[label] > 1:
                raise StudyConfigError(
                    f"two data sets are both labelled {label!r}; give each a label, e.g. "
                    f'{{ name = "{data.name}", ..., label = "{label}-2" }}',
                    "datasets",
                )
        return out

    def plan(self) -> list[Planned]:
        """For each data set: its label, its runs and their hashes (checked, computed once)."""
        key = json.dumps(self.to_dict(), sort_keys=True, default=str)
        if self._plan_cache is not None and self._plan_cache[0] == key:
            return self._plan_cache[1]
        loaded = self.load_datasets()
        grids: dict[str, list] = {}  # one grid per task: a regression set's default loss
        planned = []
        for data, label in loaded:
            if data.task not in grids:
                axes = dict(self.axes())
                if data.regression and "loss" not in self.grid:
                    axes["loss"] = [_sweep.REGRESSION_LOSS]
                try:
                    grids[data.task] = _runs.grid(
                        recipe=self.recipe, **axes, **self.hyperparameters
                    )
                    _runs.check_task(grids[data.task], data.task, f"data set {label!r}")
                except ConfigError as exc:
                    raise StudyConfigError(str(exc), exc.field) from None
            specs = grids[data.task]
            planned.append(Planned(data, label, specs, [s.hash(data.key) for s in specs]))
        self._plan_cache = (key, planned)
        return planned

    def n_runs(self) -> int:
        return sum(len(p.specs) for p in self.plan())

    # -- identity in a store -------------------------------------------------------------------
    def differences(self, stored: dict) -> tuple[list[str], list[str]]:
        """How this definition differs from a stored one: (grown, changed), in words.

        A study may *grow* (more seeds, another activation: every stored run stays
        in it); any other change of its grid makes it another study.
        """
        old = Study.from_dict(stored, source=f"stored study {self.name!r}").to_dict()
        new = self.to_dict()
        grown, changed = [], []
        for key in sorted(set(old) | set(new)):
            if key in ("name", "description", "compare", "record_curves", "plugins"):
                continue
            a, b = old.get(key), new.get(key)
            if key == "hyperparameters":
                for k in sorted(set(a or {}) | set(b or {})):
                    _compare_values(f"{k}", (a or {}).get(k), (b or {}).get(k), grown, changed)
                continue
            _compare_values(key, a, b, grown, changed)
        return grown, changed

    def _against(self, st: Store, replace: bool) -> list[str]:
        """Notes on how this definition meets the one stored under its name (or a refusal)."""
        if self.name not in st.study_names():
            return []
        grown, changed = self.differences(st.study_config(self.name))
        if changed and not replace:
            raise StudyConflict(
                f"study {self.name!r} is stored in {st.path} with another grid: "
                + "; ".join(changed)
                + ". Give this one another name (--name), or replace the stored "
                "definition (--replace; its runs stay in the store for reuse)",
                "name",
            )
        if changed:
            return [f"replaced the definition of {self.name!r}: " + "; ".join(changed)]
        if grown:
            return [f"{self.name!r} grows: " + "; ".join(grown)]
        return []

    def check(self, store: str | Path | None = None, replace: bool = False) -> list[str]:
        """Everything :meth:`run` checks before it trains, without changing anything.

        Plans the grid (every value checked) and compares this definition with a
        study of the same name in ``store``; returns the notes :meth:`run` would
        give, or raises what it would raise.
        """
        self.plan()
        path = Path(store or self.store_path or DEFAULT_PATH)
        if not path.exists():
            return []
        with Store(path, readonly=True) as st:
            return self._against(st, replace)

    def _define(self, st: Store, planned: list[Planned], command, replace: bool, fresh: bool):
        """Store this definition and link exactly its runs, in one transaction.

        The plugin modules loaded now are recorded with it, so that loading the study
        later brings back the components its runs were made of.
        """
        from . import plugins as _plugins

        all_hashes = [h for p in planned for h in p.hashes]
        config = self.to_dict()
        modules = [m for m in _plugins.active() if ":" not in m]  # entry points: installed
        if modules:
            config["plugins"] = list(dict.fromkeys([*self.plugins, *modules]))
        with st.transaction():  # the definition and its runs change together
            st.save_study(self.name, config, command, {p.data.id: p.label for p in planned})
            if replace:
                st.unlink(self.name)
            if fresh:
                st.delete_runs(all_hashes)
            st.link(self.name, all_hashes)
            if st.has_legacy_rows():
                for p in planned:
                    st.fill_identity(p.hashes, p.data.id, p.data.key, p.label)

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
        replace: bool = False,
        no_workers_timeout: float | None = None,
        force_workers: bool = False,
        chunk_size: int | None = None,
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
        replace : bool
            A study of this name stored with another grid is refused (with its
            differences) unless ``replace``: then this definition replaces it,
            and the study's results are exactly this grid's (the old runs stay in
            the store, reused wherever a run is the same).
        no_workers_timeout : float or None
            ``dask``: seconds without a worker before giving up (default
            :data:`initlab.distributed.DEFAULT_NO_WORKERS_TIMEOUT`); ``math.inf``
            waits for workers indefinitely.
        force_workers : bool
            Start ``workers`` local processes even when that is more than the
            CPUs (otherwise capped at the CPU count, with a warning).
        chunk_size : int, optional
            Runs per population at most (default: as many as train fastest
            together, :func:`initlab.sweep.best_chunk_size`).  Results do not
            depend on it.

        Returns
        -------
        RunReport
            Failed runs are stored as such and counted by reason
            (``report.failures``); a lost scheduler or no workers raise
            :class:`~initlab.distributed.ClusterError` instead, after every
            finished chunk was stored.

        Raises
        ------
        StudyConflict
            The stored study of this name has another grid (growing is fine).
        """
        start = time.perf_counter()
        if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
        ):
            raise StudyConfigError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
        self.store_path = str(store or self.store_path or DEFAULT_PATH)
        local_jobs = 1
        if executor == "processes" or (executor == "dask" and scheduler is None and workers):
            # more processes than CPUs only slow a study down: capped unless forced
            local_jobs = _sweep.resolve_jobs(workers or -1, force=force_workers)
            workers = local_jobs if executor == "dask" else workers
        planned = self.plan()  # every value checked before anything is touched
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
        notes: list[str] = []
        failures: Counter = Counter()
        try:
            backfill(st)
            notes = self._against(st, replace)
            all_hashes = [h for p in planned for h in p.hashes]
            self._define(st, planned, command, replace, fresh)
            done = st.done_hashes(all_hashes)
            work = []
            for p in planned:
                todo = [(s, h) for s, h in zip(p.specs, p.hashes, strict=True) if h not in done]
                if todo:
                    work.append((p, todo))
            trained = failed = 0
            tick = _sweep.ticker(sum(s.epochs for _, todo in work for s, _ in todo), progress)
            tick(0)
            for p, todo in work:
                by_spec = dict(todo)
                jobs = local_jobs
                if session is not None:  # dask: as many chunks as the cluster has threads
                    jobs = session.n_threads()
                chunk_list = _sweep.chunks(
                    list(by_spec), p.data, max_memory, jobs, chunk_size=chunk_size
                )
                results = _execute(
                    executor, chunk_list, p.data, self.record_curves, jobs, session, tick
                )
                for result in results:
                    rows = _stored_rows(result, by_spec, p)
                    st.write_chunk(rows, None if result.error else result.curves)
                    if result.error:
                        failed += len(rows)
                        failures[result.error] += len(rows)
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
            notes,
        )

    # -- reading ------------------------------------------------------------------------------
    def _store(self) -> Store:
        return Store(self.store_path or DEFAULT_PATH, readonly=True)

    def results(self, status: str | None = "done"):
        """The study's runs, one row per run (a pandas DataFrame); failed ones with
        ``status="failed"`` (their ``error`` says why), all with ``status=None``."""
        with self._store() as st:
            return st.runs(self.name, status=status)

    def curves(self, hashes=None):
        """Per-epoch curves of the study's runs (or of the runs ``hashes`` only), long
        format (``run_hash``, ``epoch``, metrics).
        """
        with self._store() as st:
            if hashes is not None:
                return st.curves(hashes=list(hashes))
            return st.curves(study=self.name)

    def default_metric(self) -> str:
        """``val_acc``, or ``val_loss`` for a study of regression data sets (no accuracy)."""
        names = [e if isinstance(e, str) else e["name"] for e in self.datasets]
        tasks = {_datasets.task(n) for n in names if n in _datasets.REGISTRY}
        return "val_loss" if tasks == {"regression"} else "val_acc"

    def order(self) -> dict[str, list]:
        """Each run field's levels in the order this study defines them (the blog's order
        for the presets): what every table and figure of the study follows."""
        keyed = {f.key: f.name for f in _grid_fields()}
        out = {keyed[k]: list(v) for k, v in self.axes().items()}
        out.update({k: list(v) for k, v in self.hyperparameters.items()})
        return out

    def layout(self, runs=None, best_over: Sequence[str] = ()):
        """How the results are compared and laid out (:func:`initlab.layout.plan`)."""
        from .layout import plan

        runs = self.results() if runs is None else runs
        return plan(runs, self.compare, self.order(), best_over, self.recipe)

    def summary(
        self,
        metric: str | None = None,
        alpha: float = 0.05,
        runs=None,
        best_over: Sequence[str] = (),
    ):
        """Seeds collapsed: mean, std, bootstrap 95% CI, rank, best and tied per comparison
        group (:meth:`layout`), in the study's order.

        ``metric`` defaults to :meth:`default_metric`; ``runs``: the study's results
        when already read (:meth:`results`); ``best_over``: varied settings the best is
        taken over too (compared within the groups of the others).
        """
        metric = metric or self.default_metric()
        runs = self.results() if runs is None else runs
        if runs.empty:
            raise StudyConfigError(
                f"study {self.name!r} has no finished runs yet"
                + _failure_hint(self)
                + "; run it first"
            )
        return self.layout(runs, best_over).summarize(runs, metric, alpha=alpha)

    def network(self, row):
        """An unfitted FFNetwork configured exactly like a stored run (a results row)."""
        return _runs.RunSpec.from_row(row).network()

    def dataset(self, label: str | None = None) -> _datasets.Dataset:
        """One of the study's data sets, by its label (the first when not given)."""
        loaded = self.load_datasets()
        if label is None:
            return loaded[0][0]
        for data, lab in loaded:
            if lab == label:
                return data
        by_name = [d for d, _ in loaded if d.name == label]
        if len(by_name) == 1:
            return by_name[0]
        raise KeyError(
            f"study {self.name!r} has no data set {label!r}; it has "
            f"{', '.join(lab for _, lab in loaded)}"
        )


def _compare_values(key: str, old, new, grown: list[str], changed: list[str]) -> None:
    if old == new:
        return

    def as_list(v):
        return [] if v is None else v if isinstance(v, list) else [v]

    a, b = as_list(old), as_list(new)
    before = {json.dumps(v, sort_keys=True) for v in a}
    after = {json.dumps(v, sort_keys=True) for v in b}
    added = [v for v in b if json.dumps(v, sort_keys=True) not in before]
    if before <= after and old is not None:
        grown.append(f"{key} + {_short(added)}")
    else:
        changed.append(f"{key} was {_short(old)}, now {_short(new)}")


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _failure_hint(study: Study) -> str:
    try:
        failed = study.results(status="failed")
    except Exception:  # noqa: BLE001 - only a hint
        return ""
    if failed.empty:
        return ""
    reasons = Counter(failed["error"].fillna("unknown"))
    top = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3))
    return f" ({len(failed)} failed: {top}; see `initlab results --failed`)"


def _stored_rows(result, by_spec: dict, planned: Planned) -> list[dict]:
    """The store's rows for one chunk's runs."""
    rows = []
    for row, spec in zip(result.rows(), result.specs, strict=True):
        rows.append(
            {
                "hash": by_spec[spec],
                "config": spec.config(),
                "dataset": planned.label,
                "data_id": planned.data.id,
                "data": planned.data.key,
                **{k: row[k] for k in _runs.METRICS},
                "diverged": row["diverged"],
                "diverged_epoch": row["diverged_epoch"],
                "time_s": row["time_s"],
                "status": "failed" if result.error else "done",
                "error": result.error,
            }
        )
    return rows


def backfill(store: Store) -> None:
    """Give runs written by an earlier initlab (store schema 1) their data identity.

    Schema 1 kept only a data set's name with each run; its options were part of
    the run's hash only.  Each stored study is planned again, and the runs it
    reaches get their data set's label, id and options.  Runs of a study that
    cannot be planned any more (a data file gone) keep their name as label.
    """
    if not store.needs_backfill():
        return
    for name in store.study_names():
        try:
            study = Study.from_dict(store.study_config(name))
            planned = study.plan()
            with store.transaction():
                store.save_study(
                    name,
                    store.study_config(name),
                    store.study_info(name)["command"],
                    {p.data.id: p.label for p in planned},
                )
                for p in planned:
                    store.fill_identity(p.hashes, p.data.id, p.data.key, p.label)
        except (ConfigError, ValueError, OSError, KeyError):
            continue
    store.backfilled()


EXECUTORS = ("local", "processes", "dask")


def _connect(executor, scheduler, workers, no_workers_timeout=None):
    """The Dask session for ``executor="dask"`` (None otherwise); checks the executor name."""
    if executor not in EXECUTORS:
        raise StudyConfigError(_unknown("executor", executor, EXECUTORS))
    if executor != "dask":
        return None
    from .distributed import DEFAULT_NO_WORKERS_TIMEOUT, connect

    patience = DEFAULT_NO_WORKERS_TIMEOUT if no_workers_timeout is None else no_workers_timeout
    patience = None if patience == float("inf") else patience
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
