"""The playground's configuration: validated on the server, exported as TOML and Python.

Everything the page can choose arrives as one JSON object and goes through
:func:`parse_config`, which checks every field against the registries and
the server's :class:`Limits` and raises :class:`ConfigError` (field name and a
message saying what is allowed) for the first bad one; the web layer turns
that into a ``422``.  :func:`export_toml` and :func:`export_python` turn a
validated :class:`PlaygroundConfig` back into an ``initlab study`` file and a
short script that reproduces the run with :class:`initlab.FFNetwork`.

This module needs neither Starlette nor uvicorn.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .. import activations as _activations
from .. import datasets as _datasets
from .. import initializers as _initializers
from .. import losses as _losses
from .. import optim as _optim
from .. import runs as _runs
from ..errors import ConfigError as _BaseConfigError

__all__ = [
    "AXES",
    "DATASETS",
    "FEATURES",
    "LESSONS",
    "OPENING",
    "ConfigError",
    "Lesson",
    "Limits",
    "PlaygroundConfig",
    "export_python",
    "export_toml",
    "options",
    "epoch_seconds",
    "live_fields",
    "parse_config",
    "parse_live",
]

#: The data sets the page offers: playground name -> (initlab.datasets name, fixed options).
DATASETS: dict[str, tuple[str, dict[str, Any]]] = {
    "blog": ("blog", {}),
    "blog_mod2": ("blog", {"labels": "mod2"}),
    "moons": ("moons", {}),
    "circles": ("circles", {}),
    "xor": ("xor", {}),
    "spiral": ("spiral", {}),
    "gauss": ("gauss", {}),
    "plane": ("plane", {}),
    "multigauss": ("multigauss", {}),
}
#: The blog sets are fixed (1000 points, no noise option).
_FIXED_DATA = {"blog", "blog_mod2"}

#: The input features the page offers (TF Playground's, over the plane's x1, x2).
FEATURES: tuple[str, ...] = tuple(_datasets.feature_names(2))
_RAW_FEATURES = ("x1", "x2")

#: The loss a problem type starts with when the page names none.
_TASK_LOSS = {"classification": "cross_entropy", "regression": "squared_error"}

#: The network the page opens on; every other run field starts at its default.
OPENING: dict[str, Any] = {
    "hidden": (8, 8),
    "activation": "tanh",
    "init": "xavier_normal",
    "epochs": 500,
}

#: What compare mode can put on its rows and columns: the run fields a population's
#: models may differ in, plus the activation and the optimizer (a population each).
AXES = tuple(
    f.name
    for f in _runs.fields()
    if not f.conditional and (not f.shared or f.name in ("activation", "optimizer"))
)

_MODES = ("single", "compare")
_SEED_MAX = 2**31 - 1
_MAX_LEARNING_RATE = 10.0  # a server limit: beyond it every network diverges at once


class ConfigError(_BaseConfigError):
    """A bad configuration value: ``field`` names it, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field)


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one session may ask for, enforced on the server.

    Attributes
    ----------
    max_width, max_depth : int
        Widest hidden layer and most hidden layers.
    max_points : int
        Most samples in a generated data set (train + validation).
    max_epochs : int
        Most epochs one session trains before it stops.
    max_models : int
        Most networks in compare mode (rows x columns).
    max_axis_values : int
        Most values on one compare axis.
    max_sessions : int
        Sessions alive at once (the server answers 503 beyond it).
    idle_timeout : float
        Seconds without a request, a heartbeat or a streamed frame after which a
        session is dropped (a page sends a heartbeat more often than that).
    max_fps : float
        Frames per second streamed at most.
    max_epochs_per_frame : int
        Epochs trained between two frames at most.
    max_step_epochs : int
        Epochs one "step" request may ask for.
    step_seconds : float
        Seconds of training one request may do: a step returns early (with
        ``epochs_run``) when they are spent, and a configuration whose epoch is
        estimated to take longer (:func:`epoch_seconds`) is refused.
    default_speed, max_speed : float
        Epochs per second a stream trains by default and at most (``speed=0``
        in the stream's URL: as fast as the server can).
    train_threads : int
        Threads that train (a bounded pool shared by all sessions; health,
        options and session bookkeeping never wait for it).
    max_body : int
        Largest request body in bytes (checked before and while reading it).
    grid : int
        Decision-boundary resolution in single mode (``grid x grid`` probabilities).
    compare_grid : int
        The same for each small multiple in compare mode.
    max_spark_params : int
        Networks with at most this many parameters stream per-parameter updates.
    """

    max_width: int = 64
    max_depth: int = 10
    max_points: int = 2000
    max_epochs: int = 5000
    max_models: int = 36
    max_axis_values: int = 6
    max_sessions: int = 8
    idle_timeout: float = 20.0
    max_fps: float = 20.0
    max_epochs_per_frame: int = 50
    max_step_epochs: int = 100
    step_seconds: float = 1.0
    default_speed: float = 30.0
    max_speed: float = 10_000.0
    train_threads: int = 2
    max_body: int = 64 * 1024
    grid: int = 48
    compare_grid: int = 32
    max_spark_params: int = 120


@dataclass(frozen=True)
class Axis:
    """One compare axis: which setting varies and its values (validated)."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Lesson:
    """A classroom preset: ``?lesson=name`` opens the page on ``settings`` (a configuration
    as :func:`parse_config` takes it), hides the controls ``hide`` and shows the text.

    Controls are named as in the configuration (``init``, ``optimizer``,
    ``learning_rate``, ...) or by the page's own ones (``features``, ``discretize``,
    ``speed``, ``mode``).
    """

    name: str
    title: str
    text: str
    settings: Mapping[str, Any]
    hide: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "text": self.text,
            "settings": dict(self.settings),
            "hide": list(self.hide),
        }


_DEEP_RELU = [16] * 10

#: The shipped lessons, by name (``?lesson=zero-symmetry``).
LESSONS: dict[str, Lesson] = {
    lesson.name: lesson
    for lesson in (
        Lesson(
            "zero-symmetry",
            "Zero initialization: symmetry is never broken",
            "Every weight starts at 0, so every hidden unit computes the same value (0) and "
            "receives the same gradient: here exactly zero, because the gradient a hidden "
            "unit receives is carried back by the zero weights above it. Play: only the "
            "output bias moves, the diagram's units stay identical and the accuracy stays at "
            "chance. Switch Weights to xavier_normal and play again: random weights make the "
            "units differ, and the network learns.",
            {
                "dataset": "moons",
                "hidden": [8, 8],
                "activation": "tanh",
                "init": "zeros",
                "bias_init": "zeros",
                "optimizer": "gd",
                "learning_rate": 0.5,
                "epochs": 300,
            },
            hide=("optimizer", "batch_size", "shuffle", "rng_kind", "bias_init", "mode"),
        ),
        Lesson(
            "sigmoid-depth",
            "Sigmoid saturation at depth: vanishing gradients",
            "Six sigmoid layers. The sigmoid's slope is at most 1/4, so each layer the error "
            "passes through shrinks it: the gradient chart shows the first layers' gradient "
            "RMS orders of magnitude below the last ones, and the quantile bands of the "
            "gradients narrow towards the input. Learning is slow. Compare with tanh (slope "
            "1 at 0) or relu, keeping everything else.",
            {
                "dataset": "circles",
                "hidden": [8] * 6,
                "activation": "sigmoid",
                "init": "xavier_normal",
                "optimizer": "gd",
                "learning_rate": 1.0,
                "epochs": 1000,
            },
            hide=("optimizer", "batch_size", "shuffle", "rng_kind", "mode"),
        ),
        Lesson(
            "he-vs-xavier-relu-10",
            "He vs Xavier for ReLU at depth 10",
            "Ten ReLU layers of 16 units, Xavier (variance 1/fan-avg) in the first row, He "
            "(variance 2/fan-in) in the second, four weight seeds per row. A ReLU passes on "
            "half its input's variance, so with Xavier the signal shrinks by about half per "
            "layer and the gradients vanish; He's factor 2 compensates exactly. The accuracy "
            "chart shows each row's mean over the seeds with a band from the lowest to the "
            "highest.",
            {
                "mode": "compare",
                "dataset": "moons",
                "hidden": _DEEP_RELU,
                "activation": "relu",
                "optimizer": "gd",
                "learning_rate": 0.05,
                "epochs": 400,
                "rows": {"axis": "init", "values": ["xavier_normal", "he_normal"]},
                "cols": {"axis": "seed", "values": [0, 1, 2, 3]},
            },
            hide=("optimizer", "batch_size", "shuffle", "rng_kind", "activation", "hidden"),
        ),
        Lesson(
            "learning-rate-divergence",
            "Too large a learning rate: divergence",
            "Regression on TF Playground's plane with plain gradient descent and a learning "
            "rate of 3. The loss jumps, the weights grow and within a few epochs a value "
            "overflows: the page stops, says at which epoch and in which layer the first "
            "non-finite number appeared, and keeps the last finite picture greyed. Lower the "
            "learning rate and reset.",
            {
                "dataset": "plane",
                "hidden": [8, 8],
                "activation": "relu",
                "init": "he_normal",
                "optimizer": "gd",
                "learning_rate": 3.0,
                "epochs": 500,
            },
            hide=("optimizer", "rng_kind", "mode"),
        ),
        Lesson(
            "features-circle",
            "Engineered features: a circle with no hidden layer",
            "No hidden layer, only a linear model on x1\u00b2 and x2\u00b2: the circle "
            "x1\u00b2 + x2\u00b2 = r\u00b2 is a straight line in those features, so a "
            "linear model separates the classes. Tick x1 and x2 only and it cannot.",
            {
                "dataset": "circles",
                "noise": 0.1,
                "hidden": [],
                "features": ["x1^2", "x2^2"],
                "activation": "tanh",
                "init": "xavier_normal",
                "learning_rate": 0.03,
                "epochs": 300,
            },
            hide=("mode", "hidden", "rng_kind"),
        ),
    )
}


def _opening() -> dict[str, Any]:
    out = {}
    for f in _runs.fields():
        if f.owner == "optimizer":
            out[f.name] = None  # the optimizer's default
        else:
            out[f.name] = OPENING.get(f.name, f.default)
    return out


@dataclass(frozen=True)
class PlaygroundConfig:
    """A validated playground configuration.

    ``run`` holds every run field of the run schema (:mod:`initlab.runs`), names
    canonical; they read as attributes (``config.activation``).  Conditional
    fields keep the page's value even where they do not apply (switching the
    optimizer keeps the momentum typed in); each network uses those that apply.
    """

    mode: str = "single"
    dataset: str = "moons"
    noise: float = 0.2
    n_samples: int = 500
    val_size: float = 0.25
    data_seed: int = 0
    features: tuple[str, ...] = _RAW_FEATURES
    run: Mapping[str, Any] = field(default_factory=_opening)
    rows: Axis | None = None
    cols: Axis | None = None

    def __getattr__(self, name: str):
        run = self.__dict__.get("run")
        if run is not None and name in run:
            return run[name]
        raise AttributeError(f"PlaygroundConfig has no setting {name!r}")

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The optimizer hyperparameters set on the page (None: the optimizer's default)."""
        return {
            k: v
            for k, v in self.run.items()
            if v is not None and _runs.get_field(k).owner == "optimizer"
        }

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (what :func:`parse_config` accepts back)."""
        out: dict[str, Any] = {
            k: getattr(self, k) for k in ("mode", "dataset", "noise", "n_samples", "val_size")
        }
        out["data_seed"] = self.data_seed
        out["features"] = list(self.features)
        for k, v in self.run.items():
            if _runs.get_field(k).owner != "optimizer":
                out[k] = list(v) if isinstance(v, tuple) else v
        out["batch_size"] = out["batch_size"] or 0
        out["hyperparameters"] = self.hyperparameters
        for key in ("rows", "cols"):
            axis = getattr(self, key)
            out[key] = None if axis is None else {"axis": axis.name, "values": list(axis.values)}
        return out

    @property
    def dataset_name(self) -> str:
        """The :func:`initlab.datasets.load` name."""
        return DATASETS[self.dataset][0]

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``: the data set's problem type."""
        return _datasets.task(self.dataset_name)

    def dataset_options(self, features: bool = True) -> dict[str, Any]:
        """Options for :func:`initlab.datasets.load` (with :attr:`dataset_name`);
        ``features=False`` leaves out the engineered inputs (the plane itself)."""
        name, fixed = DATASETS[self.dataset]
        opts: dict[str, Any] = dict(fixed)
        if self.dataset not in _FIXED_DATA:
            opts.update(n_samples=self.n_samples, noise=self.noise)
        opts.update(val_size=self.val_size, random_state=self.data_seed)
        if features and self.features != _RAW_FEATURES:
            opts["features"] = list(self.features)
        return opts

    def optimizer_hyper(self, optimizer: str | None = None) -> dict[str, float]:
        """The hyperparameters that ``optimizer`` (default: the configured one) accepts."""
        spec = _optim.get(optimizer or self.run["optimizer"])
        return {k: v for k, v in self.hyperparameters.items() if k in spec.defaults}

    def models(self) -> list[dict[str, Any]]:
        """One dict of settings per network: 1 in single mode, rows x cols in compare mode.

        Each has every run field plus ``row, col, label``; in compare mode the
        rows' and columns' settings override the configuration's.
        """
        base = dict(self.run)
        if self.mode == "single" or self.rows is None or self.cols is None:
            return [{**base, "row": 0, "col": 0, "label": ""}]
        out = []
        for r, rv in enumerate(self.rows.values):
            for c, cv in enumerate(self.cols.values):
                m = {**base, self.rows.name: rv, self.cols.name: cv, "row": r, "col": c}
                m["label"] = f"{_short(rv)} · {_short(cv)}"
                out.append(m)
        return out

    def specs(self) -> list[_runs.RunSpec]:
        """Each network as a :class:`initlab.runs.RunSpec` (what a study would run)."""
        return [_spec(m) for m in self.models()]


def _applying(model: Mapping[str, Any]) -> dict[str, Any]:
    """A network's run fields: the conditional ones only where they apply."""
    out = {}
    for f in _runs.fields():
        v = model.get(f.name)
        if f.conditional and (v is None or not f.applies(model[f.owner])):
            continue
        out[f.name] = v
    return out


def _spec(model: Mapping[str, Any]) -> _runs.RunSpec:
    return _runs.RunSpec.make(**_applying(model))


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------- checks


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _number(fld: str, value: Any, low: float, high: float, *, low_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _is_finite(value):
        raise ConfigError(fld, f"{fld} must be a finite number, got {value!r}")
    lo = "(" if low_open else "["
    if value > high or value < low or (low_open and value == low):
        raise ConfigError(fld, f"{fld} must be in {lo}{low:g}, {high:g}], got {value!r}")
    return float(value)


def _integer(fld: str, value: Any, low: int, high: int, hint: str = "") -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(fld, f"{fld} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(fld, f"{fld} must be between {low} and {high}{hint}, got {value}")
    return int(value)


def _run_value(fld: str, name: str, value: Any, limits: Limits) -> Any:
    """One run field's value: the run schema's check, then the server's limits."""
    f = _runs.get_field(name)
    if f.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON numbers from the page
    if f.kind == "sizes" and isinstance(value, str):
        value = [t for t in value.replace(" ", "").split(",") if t]
        value = [int(t) if t.lstrip("-").isdigit() else t for t in value]
    if f.kind == "sizes" and isinstance(value, (list, tuple)):
        value = [int(v) if isinstance(v, float) and v.is_integer() else v for v in value]
    if f.kind == "sizes" and not isinstance(value, (list, tuple)):
        raise ConfigError(fld, f"{fld} must be a list of layer widths, got {value!r}")
    try:
        value = _runs.check(f, value, fld)
    except _BaseConfigError as exc:
        raise ConfigError(fld, str(exc)) from None
    if f.name == "hidden":
        if len(value) > limits.max_depth:
            raise ConfigError(
                fld,
                f"{fld} has {len(value)} layers; at most {limits.max_depth} allowed (server limit)",
            )
        for w in value:
            if w > limits.max_width:
                raise ConfigError(
                    fld, f"{fld} must be between 1 and {limits.max_width} (server limit on width)"
                )
    elif f.name == "epochs" and value > limits.max_epochs:
        raise ConfigError(fld, f"{fld} must be at most {limits.max_epochs} (server limit)")
    elif f.name == "batch_size" and value is not None and value > limits.max_points:
        raise ConfigError(fld, f"{fld} must be at most {limits.max_points} (0 = full batch)")
    elif f.name == "learning_rate" and value > _MAX_LEARNING_RATE:
        raise ConfigError(
            fld, f"{fld} must be in (0, {_MAX_LEARNING_RATE:g}] (server limit), got {value!r}"
        )
    elif f.name == "seed" and value > _SEED_MAX:
        raise ConfigError(fld, f"{fld} must be between 0 and {_SEED_MAX}, got {value}")
    return value


def _parse_axis(key: str, raw: Any, limits: Limits) -> Axis:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f"{key} must be an object {{axis, values}}, got {raw!r}")
    unknown = sorted(set(raw) - {"axis", "values"})
    if unknown:
        raise ConfigError(key, f"{key} has unknown key {unknown[0]!r}; its keys are axis, values")
    axis = raw.get("axis")
    if axis not in AXES:
        raise ConfigError(
            f"{key}.axis", f"{key}.axis must be one of {', '.join(AXES)}, got {axis!r}"
        )
    values = raw.get("values")
    if not isinstance(values, (list, tuple)) or not values:
        raise ConfigError(f"{key}.values", f"{key}.values must be a non-empty list")
    if len(values) > limits.max_axis_values:
        raise ConfigError(
            f"{key}.values",
            f"{key}.values has {len(values)} entries; at most {limits.max_axis_values} allowed",
        )
    checked = tuple(_run_value(f"{key}.values", axis, v, limits) for v in values)
    if len(set(checked)) != len(checked):
        raise ConfigError(f"{key}.values", f"{key}.values repeats a value: {list(values)}")
    return Axis(axis, checked)


_SETTINGS = (
    "mode", "dataset", "noise", "n_samples", "val_size", "data_seed", "features", "rows", "cols",
)  # fmt: skip


def _fields() -> list[str]:
    """Every key of the page's configuration: its own settings and the run fields
    (optimizer hyperparameters inside ``hyperparameters``)."""
    run = [f.name for f in _runs.fields() if f.owner != "optimizer"]
    return [*_SETTINGS, *run, "hyperparameters"]


def parse_config(raw: Any, limits: Limits | None = None) -> PlaygroundConfig:
    """Validate a JSON configuration from the page; defaults fill what is missing.

    Parameters
    ----------
    raw : dict
        The page's settings (``mode``, ``dataset``, ``noise``, ...), any run
        field (``hidden`` a list of widths, ``activation``, ``leaky_slope``,
        ...), ``hyperparameters`` (the optimizer hyperparameters, an object),
        and in compare mode ``rows`` and ``cols`` objects ``{"axis": ...,
        "values": [...]}``.
    limits : Limits, optional

    Returns
    -------
    PlaygroundConfig

    Raises
    ------
    ConfigError
        For the first bad field, naming it and what is allowed.
    """
    limits = limits or Limits()
    if not isinstance(raw, Mapping):
        raise ConfigError("config", f"the configuration must be a JSON object, got {raw!r}")
    known = _fields()
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            unknown[0],
            f"unknown setting {unknown[0]!r}; the settings are: {', '.join(sorted(known))}",
        )
    d = PlaygroundConfig()
    get = raw.get

    mode = get("mode", d.mode)
    if mode not in _MODES:
        raise ConfigError("mode", f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    dataset = get("dataset", d.dataset)
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise ConfigError(
            "dataset", f"unknown data set {dataset!r}; choose one of: {', '.join(DATASETS)}"
        )
    noise = _number("noise", get("noise", d.noise), 0.0, 1.0)
    n_samples = _integer(
        "n_samples", get("n_samples", d.n_samples), 40, limits.max_points, " (server limit)"
    )
    val_size = _number("val_size", get("val_size", d.val_size), 0.1, 0.9)
    data_seed = _integer("data_seed", get("data_seed", d.data_seed), 0, _SEED_MAX)
    features = _parse_features(get("features", list(d.features)))

    run = dict(d.run)
    run["loss"] = _TASK_LOSS[_datasets.task(DATASETS[dataset][0])]
    for f in _runs.fields():
        if f.owner != "optimizer" and f.name in raw:
            run[f.name] = _run_value(f.name, f.name, raw[f.name], limits)
    hyper_raw = get("hyperparameters", {})
    if hyper_raw is None:
        hyper_raw = {}
    if not isinstance(hyper_raw, Mapping):
        raise ConfigError(
            "hyperparameters", f"hyperparameters must be an object, got {hyper_raw!r}"
        )
    allowed = [f.name for f in _runs.fields() if f.owner == "optimizer"]
    for key, value in hyper_raw.items():
        if key not in allowed:
            raise ConfigError(
                "hyperparameters",
                f"unknown hyperparameter {key!r}; choose from: {', '.join(allowed)}",
            )
        if value is not None:
            run[key] = _run_value(key, key, value, limits)

    rows = cols = None
    if mode == "compare":
        rows = _parse_axis("rows", get("rows") or {"axis": "activation", "values": []}, limits)
        cols = _parse_axis("cols", get("cols") or {"axis": "init", "values": []}, limits)
        if rows.name == cols.name:
            raise ConfigError("cols.axis", f"rows and cols both vary {rows.name!r}; pick two axes")
        n = len(rows.values) * len(cols.values)
        if n > limits.max_models:
            raise ConfigError(
                "cols.values",
                f"compare mode would train {n} networks; at most {limits.max_models} allowed",
            )
    config = PlaygroundConfig(
        mode=mode,
        dataset=dataset,
        noise=noise,
        n_samples=n_samples,
        val_size=val_size,
        data_seed=data_seed,
        features=features,
        run=run,
        rows=rows,
        cols=cols,
    )
    try:  # every network's combination, as a study would check it
        specs = config.specs()
        _runs.check_task(specs, config.task, f"data set {dataset!r}")
    except _BaseConfigError as exc:
        f = exc.field or "config"
        owner = _runs.get_field(f).owner if f in _runs.names() else ""
        raise ConfigError("hyperparameters" if owner == "optimizer" else f, str(exc)) from None
    _check_work(config, specs, limits)
    return config


def _parse_features(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [t for t in raw.split(",") if t.strip()]
    try:
        return _datasets.check_features(raw, 2)
    except _BaseConfigError as exc:
        raise ConfigError("features", str(exc)) from None


# Cost of one epoch, fitted on the NumPy engine with one BLAS thread (48 configurations:
# 1 or 36 networks in 1 or 36 populations, 2 to 6 hidden layers of 8 to 64 units, batch
# sizes 1 to full, 1500 training points; the estimate is within a factor 2.5 of the
# measured time for all of them and above it for the compiled kernels' small networks
# except full batches, which are fast anyway).
_SECONDS_PER_WEIGHT_SAMPLE = 0.7e-9  # forward and backward pass, per weight, sample, network
_SECONDS_PER_PARAM_STEP = 9e-9  # the optimizer's update and the step's arrays, per parameter
_SECONDS_PER_LAYER_STEP = 35e-6  # NumPy calls per layer and batch step, per population
_SECONDS_PER_POPULATION = 5e-3  # per epoch: evaluating the metrics, bookkeeping


def epoch_seconds(config: PlaygroundConfig, limits: Limits | None = None) -> float:
    """An estimate of the seconds one epoch of ``config`` takes (before any work).

    ``networks x samples x weights`` for the passes over the data, ``networks x
    batch steps x parameters`` for the updates, ``populations x batch steps x
    layers`` for the per-call overhead (what makes batch size 1 slow), and a
    constant per population.  Fixed data sets (the blog's) count as
    ``limits.max_points`` samples.
    """
    limits = limits or Limits()
    specs = config.specs()
    points = limits.max_points if config.dataset in _FIXED_DATA else config.n_samples
    n_train = max(1, round(points * (1 - config.val_size)))
    groups: dict[tuple, int] = {}
    for spec in specs:
        groups[spec.group_key()] = groups.get(spec.group_key(), 0) + 1
    sizes = (2, *specs[0].hidden, 2)  # the output width barely matters next to the hidden
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    params = weights + sum(sizes[1:])
    batch = specs[0].batch_size
    steps = 1 if batch is None or batch >= n_train else -(-n_train // batch)
    models = len(specs)
    return (
        models * n_train * weights * _SECONDS_PER_WEIGHT_SAMPLE
        + models * steps * params * _SECONDS_PER_PARAM_STEP
        + len(groups) * steps * (len(sizes) - 1) * _SECONDS_PER_LAYER_STEP
        + len(groups) * _SECONDS_PER_POPULATION
    )


def _check_work(config: PlaygroundConfig, specs: list, limits: Limits) -> None:
    """Refuse a configuration whose epoch cannot finish within ``limits.step_seconds``."""
    seconds = epoch_seconds(config, limits)
    if seconds <= limits.step_seconds:
        return
    batch = specs[0].batch_size
    steps_text = "full-batch steps" if batch is None else f"batches of {batch}"
    raise ConfigError(
        "batch_size" if batch is not None else "hidden",
        f"one epoch would take about {seconds:.1f} s ({len(specs)} network(s), "
        f"{steps_text}, layers {list(specs[0].hidden)}) and the server trains at most "
        f"{limits.step_seconds:g} s per request (server limit): use a larger batch size, "
        "fewer networks, fewer points or smaller layers",
    )


#: Training-time run fields besides the optimizer's hyperparameters: a running session
#: changes them in place (:func:`parse_live`); every other setting makes a new run.
_LIVE_CORE = ("learning_rate", "l1", "l2", "epochs")


def live_fields() -> list[str]:
    """The settings a running session may change while keeping its weights and epoch:
    the learning rate, the epoch limit, the weight penalties and every optimizer
    hyperparameter of the run schema (from the optimizer registry)."""
    return [f.name for f in _runs.fields() if f.name in _LIVE_CORE or f.owner == "optimizer"]


def parse_live(config: PlaygroundConfig, changes: Any, limits: Limits | None = None):
    """``config`` with live ``changes`` applied, validated like :func:`parse_config`.

    ``changes`` is a JSON object of :func:`live_fields` (optimizer hyperparameters
    at the top level or inside ``hyperparameters``).  A setting that is not live,
    a compare axis, or a hyperparameter that no network's optimizer has raises
    :class:`ConfigError` naming it.
    """
    limits = limits or Limits()
    if not isinstance(changes, Mapping):
        raise ConfigError("body", f"send the changes as a JSON object, got {changes!r}")
    flat = {k: v for k, v in changes.items() if k != "hyperparameters"}
    nested = changes.get("hyperparameters") or {}
    if not isinstance(nested, Mapping):
        raise ConfigError("hyperparameters", f"hyperparameters must be an object, got {nested!r}")
    flat.update(nested)
    live = live_fields()
    axes = [
        a.name for a in (config.rows, config.cols) if a is not None and config.mode == "compare"
    ]
    optimizers = {m["optimizer"] for m in config.models()}
    raw = config.to_json()
    for key, value in flat.items():
        if key not in live:
            known = key in _fields() or key in _runs.names()
            message = f"changing {key} restarts the run" if known else f"unknown setting {key!r}"
            raise ConfigError(key, f"{message}; live settings are: {', '.join(live)}")
        if key in axes:
            raise ConfigError(key, f"changing {key} restarts the run: it is a compare axis")
        f = _runs.get_field(key)
        if f.owner == "optimizer":
            if not optimizers & set(f.owners):
                raise ConfigError(
                    key, f"{' and '.join(sorted(optimizers))} has no hyperparameter {key}"
                )
            raw["hyperparameters"] = {**raw["hyperparameters"], key: value}
        else:
            raw[key] = value
    return parse_config(raw, limits)


def with_seed(config: PlaygroundConfig, seed: int) -> PlaygroundConfig:
    """The same configuration with a new weight seed (validated)."""
    seed = _integer("seed", seed, 0, _SEED_MAX)
    return replace(config, run={**config.run, "seed": seed})


def options(limits: Limits | None = None) -> dict[str, Any]:
    """What the page may choose: the run schema's fields, names from the registries,
    defaults, bounds and limits."""
    limits = limits or Limits()
    return {
        "datasets": list(DATASETS),
        "dataset_tasks": {k: _datasets.task(v[0]) for k, v in DATASETS.items()},
        "fixed_datasets": sorted(_FIXED_DATA),
        "features": list(FEATURES),
        "losses": [
            {
                "name": n,
                "task": "regression" if _losses.get(n).regression else "classification",
                "description": _describe(_losses.REGISTRY, n),
            }
            for n in _losses.names()
        ],
        "lessons": [lesson.to_json() for lesson in LESSONS.values()],
        "fields": [_describe_field(f) for f in _runs.fields()],
        "activations": [
            {
                "name": n,
                "family": _activations.get(n).family,
                "description": _describe(_activations.REGISTRY, n),
            }
            for n in _activations.names()
        ],
        "inits": [
            {"name": n, "description": _describe(_initializers.REGISTRY, n)}
            for n in _initializers.names()
        ],
        "bias_inits": [
            {"name": n, "description": _describe(_initializers.BIAS_REGISTRY, n)}
            for n in _initializers.bias_names()
        ]
        + [{"name": "blog", "description": "the blog's: N(0, 1), zeros with the zero init"}],
        "rng_kinds": list(_initializers.RNG_KINDS),
        "optimizers": [
            {
                "name": n,
                "defaults": dict(_optim.get(n).defaults),
                "default_batch_size": _optim.get(n).default_batch_size,
                "description": _describe(_optim.REGISTRY, n),
            }
            for n in _optim.names()
        ],
        "axes": list(AXES),
        "live": live_fields(),
        "defaults": PlaygroundConfig().to_json(),
        "limits": asdict(limits),
    }


def _describe_field(f: _runs.Field) -> dict[str, Any]:
    def bound(x):
        return None if math.isinf(x) else x

    return {
        "name": f.name,
        "kind": f.kind,
        "default": list(f.default) if isinstance(f.default, tuple) else f.default,
        "help": f.help,
        "allowed": f.allowed(),
        "low": bound(f.low),
        "high": bound(f.high),
        "low_open": f.low_open,
        "high_open": f.high_open,
        "none_means": f.none_means,
        "choices": list(f.choices) or (_runs._names(f.registry) if f.registry else []),
        "owner": f.owner,
        "owners": list(f.owners),
        "shared": f.shared,
    }


def _describe(registry, name: str) -> str:
    try:
        return registry.describe(name)
    except (KeyError, ValueError):
        return ""


# --------------------------------------------------------------------------------- export


def _axis_values(config: PlaygroundConfig, name: str) -> list[Any]:
    if config.mode == "compare":
        for axis in (config.rows, config.cols):
            if axis is not None and axis.name == name:
                return list(axis.values)
    return [config.run[name]]


def export_toml(config: PlaygroundConfig, name: str = "playground") -> str:
    """The configuration as an ``initlab study --config`` TOML file.

    Compare mode's axes become the lists they vary; everything else is one
    value.  Conditional fields are written where some network of the grid has them.
    """
    from ..study import Study

    grid = {}
    for f in _runs.fields():
        if f.conditional:
            continue
        values = _axis_values(config, f.name)
        grid[f.key] = [list(v) if isinstance(v, tuple) else v for v in values]
    specs = config.specs()
    hyper = {}
    for f in _runs.fields():
        if f.conditional and config.run.get(f.name) is not None:
            if any(f.applies(getattr(s, f.owner)) for s in specs):
                hyper[f.name] = [config.run[f.name]]
    study = Study(
        name,
        datasets=[{"name": config.dataset_name, **config.dataset_options()}],
        hyperparameters=hyper,
        description="exported from the initlab playground",
        **grid,
    )
    head = "# initlab playground export: run with `initlab study --config playground.toml`\n"
    return head + study.to_toml()


def export_python(config: PlaygroundConfig) -> str:
    """A short script that trains the same network(s) with :class:`initlab.FFNetwork`
    (:class:`initlab.FFRegressor` for a regression data set)."""
    regression = config.task == "regression"
    estimator = "FFRegressor" if regression else "FFNetwork"
    score = "R^2" if regression else "accuracy"
    opts = ", ".join(f"{k}={v!r}" for k, v in config.dataset_options().items())
    compare = config.mode == "compare" and config.rows is not None and config.cols is not None
    names = {f.name: f.estimator for f in _runs.fields()}

    def kwargs(indent: str, exprs: Mapping[str, str]) -> str:
        """Every run field that differs from its default, plus the main ones always."""
        main = ("hidden", "activation", "init", "optimizer", "learning_rate", "epochs", "seed")
        model = config.models()[0]
        values = _applying(model) if not compare else dict(model)
        lines = []
        for f in _runs.fields():
            if f.name in exprs:
                lines.append(f"{indent}{names[f.name]}={exprs[f.name]},")
                continue
            if f.name not in values or (regression and f.name == "loss"):
                continue  # the regressor's loss is its own default
            v = values[f.name]
            if f.conditional:
                if v is None or (not compare and not f.applies(model[f.owner])):
                    continue
                owners = {getattr(s, f.owner) for s in config.specs()}
                if not owners & set(f.owners):
                    continue
                if f.owner in exprs and not owners <= set(f.owners):
                    # the axis varies the owner: the value only where it applies
                    inside = ", ".join(repr(o) for o in f.owners if o in owners)
                    lines.append(
                        f"{indent}{names[f.name]}={v!r} if {exprs[f.owner]} in ({inside},) "
                        f"else {f.default!r},"
                    )
                    continue
            elif f.name not in main and v == f.default:
                continue
            lines.append(f"{indent}{names[f.name]}={v!r},")
        return "\n".join(lines)

    head = [
        "import initlab",
        "from initlab import datasets",
        "",
        f"data = datasets.load({config.dataset_name!r}, {opts})",
    ]
    if not compare:
        body = [
            f"net = initlab.{estimator}(",
            kwargs("    ", {}),
            ")",
            "net.fit(data.X_train, data.y_train, data.X_val, data.y_val)",
            f'print(f"validation {score} {{net.score(data.X_val, data.y_val):.3f}}")',
        ]
        return "\n".join(head + body) + "\n"
    rows, cols = config.rows, config.cols
    body = [
        f"rows = {list(rows.values)!r}  # {rows.name}",
        f"cols = {list(cols.values)!r}  # {cols.name}",
        "for row in rows:",
        "    for col in cols:",
        f"        net = initlab.{estimator}(",
        kwargs("            ", {rows.name: "row", cols.name: "col"}),
        "        )",
        "        net.fit(data.X_train, data.y_train, data.X_val, data.y_val)",
        f'        print(f"{rows.name}={{row}} {cols.name}={{col}}: "',
        '              f"{net.score(data.X_val, data.y_val):.3f}")',
    ]
    return "\n".join(head + body) + "\n"
