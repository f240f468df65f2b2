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
from .. import initializers as _initializers
from .. import optim as _optim

__all__ = [
    "AXES",
    "DATASETS",
    "HYPERPARAMETERS",
    "ConfigError",
    "Limits",
    "PlaygroundConfig",
    "export_python",
    "export_toml",
    "options",
    "parse_config",
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
}
#: The blog sets are fixed (1000 points, no noise option).
_FIXED_DATA = {"blog", "blog_mod2"}

#: Optimizer hyperparameters the page can set (each optimizer accepts a subset).
HYPERPARAMETERS = ("momentum", "rho", "beta1", "beta2", "eps", "weight_decay")

#: What compare mode can put on its rows and columns.
AXES = ("activation", "init", "bias_init", "optimizer", "learning_rate", "seed")

_MODES = ("single", "compare")
_SEED_MAX = 2**31 - 1


class ConfigError(ValueError):
    """A bad configuration value: ``field`` names it, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


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
        Seconds without a request or a streamed frame after which a session is dropped.
    max_fps : float
        Frames per second streamed at most.
    max_epochs_per_frame : int
        Epochs trained between two frames at most.
    max_step_epochs : int
        Epochs one "step" request may ask for.
    grid : int
        Decision-boundary resolution in single mode (``grid x grid`` probabilities).
    compare_grid : int
        The same for each small multiple in compare mode.
    max_spark_params : int
        Networks with at most this many parameters stream per-parameter updates.
    """

    max_width: int = 64
    max_depth: int = 6
    max_points: int = 2000
    max_epochs: int = 5000
    max_models: int = 36
    max_axis_values: int = 6
    max_sessions: int = 8
    idle_timeout: float = 300.0
    max_fps: float = 20.0
    max_epochs_per_frame: int = 50
    max_step_epochs: int = 100
    grid: int = 48
    compare_grid: int = 32
    max_spark_params: int = 120


@dataclass(frozen=True)
class Axis:
    """One compare axis: which setting varies and its values (validated)."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class PlaygroundConfig:
    """A validated playground configuration (all names canonical)."""

    mode: str = "single"
    dataset: str = "moons"
    noise: float = 0.2
    n_samples: int = 500
    val_size: float = 0.25
    data_seed: int = 0
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "tanh"
    leaky_slope: float = 0.1
    init: str = "xavier_normal"
    bias_init: str = "zeros"
    optimizer: str = "adam"
    learning_rate: float = 0.01
    hyperparameters: Mapping[str, float] = field(default_factory=dict)
    batch_size: int = 0
    shuffle: bool = False
    rng_kind: str = "generator"
    seed: int = 0
    epochs: int = 500
    rows: Axis | None = None
    cols: Axis | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (what :func:`parse_config` accepts back)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        out["hyperparameters"] = dict(self.hyperparameters)
        for key in ("rows", "cols"):
            axis = getattr(self, key)
            out[key] = None if axis is None else {"axis": axis.name, "values": list(axis.values)}
        return out

    @property
    def dataset_name(self) -> str:
        """The :func:`initlab.datasets.load` name."""
        return DATASETS[self.dataset][0]

    def dataset_options(self) -> dict[str, Any]:
        """Options for :func:`initlab.datasets.load` (with :attr:`dataset_name`)."""
        name, fixed = DATASETS[self.dataset]
        opts: dict[str, Any] = dict(fixed)
        if self.dataset not in _FIXED_DATA:
            opts.update(n_samples=self.n_samples, noise=self.noise)
        opts.update(val_size=self.val_size, random_state=self.data_seed)
        return opts

    def optimizer_hyper(self, optimizer: str | None = None) -> dict[str, float]:
        """The hyperparameters that ``optimizer`` (default: the configured one) accepts."""
        spec = _optim.get(optimizer or self.optimizer)
        return {k: v for k, v in self.hyperparameters.items() if k in spec.defaults}

    def models(self) -> list[dict[str, Any]]:
        """One dict of settings per network: 1 in single mode, rows x cols in compare mode.

        Each has ``activation, init, bias_init, optimizer, learning_rate, seed,
        row, col, label``; in compare mode the rows' and columns' settings
        override the configuration's.
        """
        base = {
            "activation": self.activation,
            "init": self.init,
            "bias_init": self.bias_init,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }
        if self.mode == "single" or self.rows is None or self.cols is None:
            return [{**base, "row": 0, "col": 0, "label": ""}]
        out = []
        for r, rv in enumerate(self.rows.values):
            for c, cv in enumerate(self.cols.values):
                m = {**base, self.rows.name: rv, self.cols.name: cv, "row": r, "col": c}
                m["label"] = f"{_short(rv)} · {_short(cv)}"
                out.append(m)
        return out


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------- checks


def _number(fld: str, value: Any, low: float, high: float, *, low_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
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


def _name(fld: str, value: Any, lookup) -> str:
    if not isinstance(value, str):
        raise ConfigError(fld, f"{fld} must be a name (a string), got {value!r}")
    try:
        return lookup(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(fld, str(exc)) from None


def _activation_name(v: str) -> str:
    return _activations.REGISTRY.canonical(v)


def _init_name(v: str) -> str:
    return _initializers.REGISTRY.canonical(v)


def _bias_name(v: str) -> str:
    if v.strip().lower() == "blog":  # the blog's recipe: N(0, 1), zeros with zero init
        return "blog"
    return _initializers.BIAS_REGISTRY.canonical(v)


def _optimizer_name(v: str) -> str:
    return _optim.REGISTRY.canonical(v)


def _check_axis_value(fld: str, axis: str, value: Any, limits: Limits) -> Any:
    if axis == "activation":
        return _name(fld, value, _activation_name)
    if axis == "init":
        return _name(fld, value, _init_name)
    if axis == "bias_init":
        return _name(fld, value, _bias_name)
    if axis == "optimizer":
        return _name(fld, value, _optimizer_name)
    if axis == "learning_rate":
        return _number(fld, value, 0.0, 10.0, low_open=True)
    return _integer(fld, value, 0, _SEED_MAX)


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
    checked = tuple(_check_axis_value(f"{key}.values", axis, v, limits) for v in values)
    if len(set(checked)) != len(checked):
        raise ConfigError(f"{key}.values", f"{key}.values repeats a value: {list(values)}")
    return Axis(axis, checked)


_FIELDS = set(PlaygroundConfig.__dataclass_fields__)


def parse_config(raw: Any, limits: Limits | None = None) -> PlaygroundConfig:
    """Validate a JSON configuration from the page; defaults fill what is missing.

    Parameters
    ----------
    raw : dict
        Fields of :class:`PlaygroundConfig` (``hidden`` a list of widths,
        ``hyperparameters`` a dict of optimizer hyperparameters, ``rows`` and
        ``cols`` objects ``{"axis": ..., "values": [...]}`` in compare mode).
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
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(
            unknown[0],
            f"unknown setting {unknown[0]!r}; the settings are: {', '.join(sorted(_FIELDS))}",
        )
    d = PlaygroundConfig()
    get = raw.get

    mode = get("mode", d.mode)
    if mode not in _MODES:
        raise ConfigError("mode", f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    dataset = get("dataset", d.dataset)
    if dataset not in DATASETS:
        raise ConfigError(
            "dataset", f"unknown data set {dataset!r}; choose one of: {', '.join(DATASETS)}"
        )
    noise = _number("noise", get("noise", d.noise), 0.0, 1.0)
    n_samples = _integer(
        "n_samples", get("n_samples", d.n_samples), 40, limits.max_points, " (server limit)"
    )
    val_size = _number("val_size", get("val_size", d.val_size), 0.1, 0.9)
    data_seed = _integer("data_seed", get("data_seed", d.data_seed), 0, _SEED_MAX)

    hidden = get("hidden", list(d.hidden))
    if isinstance(hidden, str):
        try:
            hidden = [int(t) for t in hidden.replace(" ", "").split(",") if t]
        except ValueError:
            raise ConfigError(
                "hidden", f"hidden must be widths like [8, 8], got {hidden!r}"
            ) from None
    if not isinstance(hidden, (list, tuple)):
        raise ConfigError("hidden", f"hidden must be a list of layer widths, got {hidden!r}")
    if len(hidden) > limits.max_depth:
        raise ConfigError(
            "hidden",
            f"hidden has {len(hidden)} layers; at most {limits.max_depth} allowed (server limit)",
        )
    hidden = tuple(
        _integer("hidden", w, 1, limits.max_width, " (server limit on width)") for w in hidden
    )

    activation = _name("activation", get("activation", d.activation), _activation_name)
    leaky_slope = _number("leaky_slope", get("leaky_slope", d.leaky_slope), 0.0, 1.0)
    init = _name("init", get("init", d.init), _init_name)
    bias_init = _name("bias_init", get("bias_init", d.bias_init), _bias_name)
    optimizer = _name("optimizer", get("optimizer", d.optimizer), _optimizer_name)
    learning_rate = _number(
        "learning_rate", get("learning_rate", d.learning_rate), 0.0, 10.0, low_open=True
    )
    hyper_raw = get("hyperparameters", {})
    if hyper_raw is None:
        hyper_raw = {}
    if not isinstance(hyper_raw, Mapping):
        raise ConfigError(
            "hyperparameters", f"hyperparameters must be an object, got {hyper_raw!r}"
        )
    hyper: dict[str, float] = {}
    for key, value in hyper_raw.items():
        if key not in HYPERPARAMETERS:
            raise ConfigError(
                "hyperparameters",
                f"unknown hyperparameter {key!r}; choose from: {', '.join(HYPERPARAMETERS)}",
            )
        if value is None:
            continue
        hyper[key] = _number(key, value, 0.0, 1e6)
    # the optimizer's own range checks (momentum in [0, 1), eps > 0, ...)
    for opt in {optimizer}:
        try:
            _optim.get(opt).resolve(
                {k: v for k, v in hyper.items() if k in _optim.get(opt).defaults}
            )
        except ValueError as exc:
            raise ConfigError("hyperparameters", str(exc)) from None

    batch_size = _integer(
        "batch_size", get("batch_size", d.batch_size), 0, limits.max_points, " (0 = full batch)"
    )
    shuffle = get("shuffle", d.shuffle)
    if not isinstance(shuffle, bool):
        raise ConfigError("shuffle", f"shuffle must be true or false, got {shuffle!r}")
    rng_kind = get("rng_kind", d.rng_kind)
    if rng_kind not in _initializers.RNG_KINDS:
        raise ConfigError(
            "rng_kind",
            f"rng_kind must be one of {', '.join(_initializers.RNG_KINDS)}, got {rng_kind!r}",
        )
    seed = _integer("seed", get("seed", d.seed), 0, _SEED_MAX)
    epochs = _integer("epochs", get("epochs", d.epochs), 1, limits.max_epochs, " (server limit)")

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
        for axis in (rows, cols):
            if axis.name == "optimizer":
                for opt in axis.values:
                    spec = _optim.get(opt)
                    try:
                        spec.resolve({k: v for k, v in hyper.items() if k in spec.defaults})
                    except ValueError as exc:
                        raise ConfigError("hyperparameters", str(exc)) from None

    return PlaygroundConfig(
        mode=mode,
        dataset=dataset,
        noise=noise,
        n_samples=n_samples,
        val_size=val_size,
        data_seed=data_seed,
        hidden=hidden,
        activation=activation,
        leaky_slope=leaky_slope,
        init=init,
        bias_init=bias_init,
        optimizer=optimizer,
        learning_rate=learning_rate,
        hyperparameters=hyper,
        batch_size=batch_size,
        shuffle=shuffle,
        rng_kind=rng_kind,
        seed=seed,
        epochs=epochs,
        rows=rows,
        cols=cols,
    )


def with_seed(config: PlaygroundConfig, seed: int) -> PlaygroundConfig:
    """The same configuration with a new weight seed (validated)."""
    return replace(config, seed=_integer("seed", seed, 0, _SEED_MAX))


def options(limits: Limits | None = None) -> dict[str, Any]:
    """What the page may choose: names from the registries, defaults, bounds and limits."""
    limits = limits or Limits()
    return {
        "datasets": list(DATASETS),
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
        "defaults": PlaygroundConfig().to_json(),
        "limits": asdict(limits),
    }


def _describe(registry, name: str) -> str:
    try:
        return registry.describe(name)
    except (KeyError, ValueError):
        return ""


# --------------------------------------------------------------------------------- export


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def _axis_values(config: PlaygroundConfig, name: str, single: Any) -> list[Any]:
    if config.mode == "compare":
        for axis in (config.rows, config.cols):
            if axis is not None and axis.name == name:
                return list(axis.values)
    return [single]


def export_toml(config: PlaygroundConfig, name: str = "playground") -> str:
    """The configuration as an ``initlab study --config`` TOML file.

    Compare mode's axes become the lists they vary; everything else is a
    one-element list.  ``batch_sizes = [0]`` means full batch.
    """
    opts = config.dataset_options()
    seeds = _axis_values(config, "seed", config.seed)
    table = ", ".join(f"{k} = {_toml_value(v)}" for k, v in opts.items())
    lines = [
        "# initlab playground export: run with `initlab study --config playground.toml`",
        "[study]",
        f"name = {_toml_value(name)}",
        f'datasets = [{{ name = "{config.dataset_name}", {table} }}]',
        f"hidden = [{_toml_value(list(config.hidden))}]",
        f"activations = {_toml_value(_axis_values(config, 'activation', config.activation))}",
        f"inits = {_toml_value(_axis_values(config, 'init', config.init))}",
        f"bias_inits = {_toml_value(_axis_values(config, 'bias_init', config.bias_init))}",
        f"optimizers = {_toml_value(_axis_values(config, 'optimizer', config.optimizer))}",
        "learning_rates = "
        + _toml_value(
            [float(v) for v in _axis_values(config, "learning_rate", config.learning_rate)]
        ),
        f"batch_sizes = [{config.batch_size}]  # 0 = full batch",
        f"epochs = {config.epochs}",
        f"seeds = {_toml_value(seeds)}",
    ]
    if config.shuffle:
        lines.append("shuffle = true")
    if config.rng_kind != "generator":
        lines.append(f"rng_kind = {_toml_value(config.rng_kind)}")
    lines += ["", "[study.hyperparameters]", f"leaky_slope = [{config.leaky_slope!r}]"]
    accepted = set()
    for opt in _axis_values(config, "optimizer", config.optimizer):
        accepted |= set(_optim.get(opt).defaults)
    lines += [
        f"{k} = [{float(v)!r}]" for k, v in sorted(config.hyperparameters.items()) if k in accepted
    ]
    return "\n".join(lines) + "\n"


def export_python(config: PlaygroundConfig) -> str:
    """A short script that trains the same network(s) with :class:`initlab.FFNetwork`."""
    opts = ", ".join(f"{k}={v!r}" for k, v in config.dataset_options().items())
    batch = None if config.batch_size == 0 else config.batch_size
    leaky = "leaky_relu" in _axis_values(config, "activation", config.activation)

    def kwargs(model: dict[str, Any], indent: str, exprs: Mapping[str, str]) -> str:
        items = [
            ("hidden_layer_sizes", tuple(config.hidden)),
            ("activation", model["activation"]),
            ("init", model["init"]),
            ("bias_init", model["bias_init"]),
            ("optimizer", model["optimizer"]),
            ("learning_rate", float(model["learning_rate"])),
            ("batch_size", batch),
            ("epochs", config.epochs),
            ("random_state", model["seed"]),
        ]
        if leaky:
            items.append(("leaky_slope", config.leaky_slope))
        if "optimizer" in exprs:  # each optimizer takes the hyperparameters it knows
            items += sorted(config.hyperparameters.items())
        else:
            items += sorted(config.optimizer_hyper(model["optimizer"]).items())
        if config.shuffle:
            items.append(("shuffle", True))
        if config.rng_kind != "generator":
            items.append(("rng_kind", config.rng_kind))
        exprs = dict(exprs)
        if model["bias_init"] == "blog" and "bias_init" not in exprs:
            # the blog's biases: N(0, 1), but zeros with the zero initializer
            init = exprs.get("init", repr(model["init"]))
            exprs["bias_init"] = f'"zeros" if {init} == "zeros" else "normal"'
            if "init" not in exprs:
                exprs["bias_init"] = repr("zeros" if model["init"] == "zeros" else "normal")
        return "".join(f"{indent}{k}={exprs.get(k, repr(v))},\n" for k, v in items)

    head = [
        "import initlab",
        "from initlab import datasets",
        "",
        f"data = datasets.load({config.dataset_name!r}, {opts})",
    ]
    model = config.models()[0]
    if config.mode == "single" or config.rows is None or config.cols is None:
        body = [
            "net = initlab.FFNetwork(",
            kwargs(model, "    ", {}).rstrip("\n"),
            ")",
            "net.fit(data.X_train, data.y_train, data.X_val, data.y_val)",
            'print(f"validation accuracy {net.score(data.X_val, data.y_val):.3f}")',
        ]
        return "\n".join(head + body) + "\n"
    rows, cols = config.rows, config.cols
    keyword = {"seed": "random_state"}
    exprs = {keyword.get(rows.name, rows.name): "row", keyword.get(cols.name, cols.name): "col"}
    body = [
        f"rows = {list(rows.values)!r}  # {rows.name}",
        f"cols = {list(cols.values)!r}  # {cols.name}",
        "for row in rows:",
        "    for col in cols:",
        "        net = initlab.FFNetwork(",
        kwargs(model, "            ", exprs).rstrip("\n"),
        "        )",
        "        net.fit(data.X_train, data.y_train, data.X_val, data.y_val)",
        f'        print(f"{rows.name}={{row}} {cols.name}={{col}}: "',
        '              f"{net.score(data.X_val, data.y_val):.3f}")',
    ]
    return "\n".join(head + body) + "\n"
