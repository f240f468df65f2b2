"""``FFNetwork``: a scikit-learn classifier on top of the population engine (``M = 1``).

Examples
--------
>>> from initlab import FFNetwork, datasets
>>> data = datasets.load("moons", random_state=0)
>>> net = FFNetwork((8, 8), activation="tanh", init="xavier", optimizer="adam",
...                 learning_rate=0.01, epochs=300, random_state=0)
>>> net.fit(data.X_train, data.y_train).score(data.X_val, data.y_val) > 0.9
True
"""

from __future__ import annotations

import inspect
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import losses as _losses
from . import runs as _runs
from .datasets import check_finite
from .engine import Population
from .errors import ConfigError

__all__ = ["FFNetwork", "FFRegressor", "blog_network", "BLOG_INITS"]

#: The blog's init names and what its code actually draws (weights, biases), from the
#: ``blog`` recipe: its "xavier" is N(0, 1) * sqrt(1 / fan_in), i.e. LeCun normal.
BLOG_INITS = {
    own: (spec.init, spec.bias_init)
    for own in _runs.RECIPES["blog"].names["init"]
    for spec in [_runs.RunSpec.make(recipe="blog", init=own)]
}

#: FFNetwork's own parameters, after the run fields: (name, default, help).
_OWN = (
    ("recipe", None, "a published protocol whose values replace the defaults ('blog')"),
    (
        "record_params",
        False,
        "keep every parameter after every epoch in ``param_history_`` (the blog's "
        "per-parameter update plots)",
    ),
)


def _parameters(defaults: dict | None = None) -> list[tuple[str, object, str]]:
    """An estimator's parameters, from the run schema: core fields, conditional ones, its own.

    ``random_state`` defaults to None (scikit-learn's "a fresh seed"); the seed
    drawn is kept in ``seed_``.  ``defaults`` replaces some (the regressor's loss).
    """
    defaults = {"seed": None, **(defaults or {})}
    core = [f for f in _runs.fields() if not f.conditional]
    conditional = [f for f in _runs.fields() if f.conditional]
    out = []
    for f in [*core, *conditional]:
        default = defaults.get(f.name, f.default)
        out.append((f.estimator, default, f"{f.help}: {f.allowed()}"))
    return out + list(_OWN)


class _SchemaInit:
    """``FFNetwork.__init__``: stores every parameter unchanged (scikit-learn's rule).

    Its signature is the run schema's (:func:`initlab.runs.fields`), read when
    asked, so a parameter registered later (a new activation parameter or
    optimizer hyperparameter) is a parameter of the estimator too.
    """

    def __init__(self, defaults: dict | None = None):
        self.defaults = defaults or {}

    @property
    def __signature__(self) -> inspect.Signature:
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter("self", kind)]
        params += [inspect.Parameter(n, kind, default=d) for n, d, _ in _parameters(self.defaults)]
        return inspect.Signature(params)

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        return lambda *args, **kwargs: self(obj, *args, **kwargs)

    def __call__(self, obj, *args, **kwargs) -> None:
        bound = self.__signature__.bind(obj, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(obj, name, value)


class _Network(BaseEstimator):
    """What the classifier and the regressor share: parameters from the run schema,
    the checked run, the memory estimate, fitting on the engine, the fitted weights."""

    #: what the estimator solves: its losses must be of this kind
    task = "classification"

    # -- configuration ------------------------------------------------------------------------
    def _seed(self) -> int:
        """The integer seed of the initial weights (scikit-learn's random_state convention)."""
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(2**31 - 1))
        if rs is None or isinstance(rs, np.random.RandomState):
            return int(check_random_state(rs).randint(2**31 - 1))
        return rs  # checked by the run schema (an integer in [0, 2**32))

    def spec(self) -> _runs.RunSpec:
        """This estimator's run, checked (:class:`initlab.runs.RunSpec`).

        With a ``recipe``, parameters left at their defaults take the recipe's
        values; conditional parameters (``leaky_slope``, ``momentum``, ...) at
        their defaults count as not given.
        """
        values = {}
        recipe = _runs.get_recipe(self.recipe)
        for f in _runs.fields():
            v = getattr(self, f.estimator)
            if f.name == "seed":
                if v is None and recipe is not None and "seed" in recipe.values:
                    continue  # the recipe's seed
                v = self._seed()
            elif (f.conditional or self.recipe is not None) and _same(
                v, type(self).__init__.defaults.get(f.name, f.default)
            ):
                continue
            values[f.estimator] = v
        spec = _runs.RunSpec.make(recipe=self.recipe, **values)
        regression = _losses.get(spec.loss).regression
        if regression != (self.task == "regression"):
            other = "FFRegressor" if regression else "FFNetwork"
            raise ConfigError(
                f"loss {spec.loss!r} is a {'regression' if regression else 'classification'} "
                f"loss; {type(self).__name__} is for {self.task}: use {other}, or one of "
                + ", ".join(n for n in _losses.names() if _losses.get(n).regression != regression),
                "loss",
            )
        return spec

    def _check_memory(self, spec, n_features: int, n_outputs: int, n_train: int, n_val: int):
        need = _runs.model_bytes(spec, n_features, n_outputs, n_train, n_val)
        have = _physical_memory()
        if have and need > 0.8 * have:
            raise ConfigError(
                f"hidden_layer_sizes={list(spec.hidden)} on {n_train} samples needs about "
                f"{need / 2**30:.1f} GiB, more than this machine's {have / 2**30:.1f} GiB; "
                "use narrower layers or a batch_size",
                "hidden",
            )

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self, spec, X, y, X_val, y_val, n_classes: int):
        """Train ``spec`` on checked, encoded data; sets the fitted attributes."""
        has_val = X_val is not None
        n_out = _losses.get(spec.loss).n_outputs(n_classes)
        self._check_memory(spec, X.shape[1], n_out, len(X), len(X_val) if has_val else 0)
        self.seed_ = spec.seed
        self.spec_ = spec
        self._population, params, optimizer = _runs.populate([spec], X.shape[1], n_classes, X)
        trainer = _runs.trainer(
            [spec],
            self._population,
            params,
            optimizer,
            X,
            y,
            X_val,
            y_val,
            snapshots=self.record_params,
        )
        trainer.step(spec.epochs)
        self._set_fitted(trainer.result())
        return self

    def _validation(self, X_val, y_val):
        """The validation part, checked like the training part (or ``(None, None)``)."""
        if X_val is None and y_val is None:
            return None, None
        if X_val is None or y_val is None:
            raise ValueError("give both X_val and y_val, or neither")
        X_val = validate_data(self, X_val, reset=False, dtype=np.float64, ensure_all_finite=False)
        check_finite(X_val, "X_val")
        y_val = np.asarray(y_val)
        if len(y_val) != len(X_val):
            raise ValueError(f"X_val has {len(X_val)} rows but y_val has {len(y_val)} labels")
        return X_val, y_val

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        return check_finite(X, "X")

    def _set_fitted(self, result) -> None:
        params = result.params
        self.coefs_ = [params[2 * i][0] for i in range(self._population.n_layers)]
        self.intercepts_ = [params[2 * i + 1][0] for i in range(self._population.n_layers)]
        self.history_ = {k: v[:, 0].copy() for k, v in result.history.items()}
        self.loss_curve_ = self.history_["train_loss"][1:].tolist()
        self.n_iter_ = result.epochs
        self.diverged_ = bool(result.diverged[0])
        self.diverged_epoch_ = int(result.diverged_epoch[0])
        self.param_names_ = self._param_names()
        if result.snapshots is not None:
            self.param_history_ = result.snapshots[:, 0, :]

    def _param_names(self) -> list[str]:
        names = []
        for layer, (n_in, n_out) in enumerate(
            zip(self._population.layer_sizes[:-1], self._population.layer_sizes[1:], strict=True),
            start=1,
        ):
            names += [f"W{layer}[{i},{o}]" for i in range(n_in) for o in range(n_out)]
            names += [f"b{layer}[{o}]" for o in range(n_out)]
        return names

    # -- prediction ---------------------------------------------------------------------------
    def _params(self) -> list[np.ndarray]:
        out = []
        for W, b in zip(self.coefs_, self.intercepts_, strict=True):
            out += [W[None], b[None]]
        return out

    @property
    def population_(self) -> Population:
        check_is_fitted(self)
        return self._population


class FFNetwork(ClassifierMixin, _Network):
    __doc__ = None  # set below, from the run schema

    __init__ = _SchemaInit()

    def fit(self, X, y, X_val=None, y_val=None):
        """Train on ``(X, y)``; validation data, if given, is scored after every epoch."""
        spec = self.spec()
        X, y = validate_data(
            self, X, y, dtype=np.float64, ensure_min_samples=2, ensure_all_finite=False
        )
        check_finite(X, "X")
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has a single class ({self.classes_[0]!r}); a classifier needs at least 2"
            )
        X_val, y_val = self._validation(X_val, y_val)
        if y_val is not None:
            y_val = self.encode(y_val, "y_val")
        return self._fit(spec, X, y_enc, X_val, y_val, len(self.classes_))

    def encode(self, y, name: str = "y") -> np.ndarray:
        """Labels as class codes ``0..K-1`` (``classes_`` order); unseen labels are an error."""
        y = np.asarray(y)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(
                f"{name} has labels not seen in y: {unknown[:5].tolist()}; "
                f"the classes are {self.classes_[:10].tolist()}"
            )
        return np.searchsorted(self.classes_, y)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        X = self._check_X(X)
        return self._population.predict_proba(self._params(), X)[0]

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as the original labels."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def trace(self, X, y=None) -> dict:
        """Per-layer pre-activations, activations and gradients on ``X``.

        See :meth:`initlab.engine.Population.trace`; arrays are ``(n_samples, units)``.
        """
        X = self._check_X(X)
        yy = None if y is None else self.encode(y, "y")
        out = self._population.trace(self._params(), X, yy)
        return {k: [a[0] for a in v] for k, v in out.items()}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class FFRegressor(RegressorMixin, _Network):
    __doc__ = None  # set below, from the run schema

    task = "regression"
    __init__ = _SchemaInit({"loss": "squared_error"})

    def fit(self, X, y, X_val=None, y_val=None):
        """Train on ``(X, y)`` (real targets); validation data is scored every epoch."""
        spec = self.spec()
        X, y = validate_data(
            self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2,
            ensure_all_finite=False,
        )  # fmt: skip
        check_finite(X, "X")
        check_finite(np.asarray(y, float)[:, None], "y")
        X_val, y_val = self._validation(X_val, y_val)
        if y_val is not None:
            y_val = np.asarray(y_val, dtype=np.float64)
            check_finite(y_val[:, None], "y_val")
        self._fit(spec, X, np.asarray(y, np.float64), X_val, y_val, 0)
        self.history_ = {k: v for k, v in self.history_.items() if not k.endswith("_acc")}
        return self

    def predict(self, X) -> np.ndarray:
        """The network's output for each row of ``X``."""
        X = self._check_X(X)
        return self._population.predict(self._params(), X)[0][:, 0]

    def trace(self, X, y=None) -> dict:
        """Per-layer pre-activations, activations and (with targets ``y``) gradients."""
        X = self._check_X(X)
        yy = None if y is None else np.asarray(y, np.float64)
        out = self._population.trace(self._params(), X, yy)
        return {k: [a[0] for a in v] for k, v in out.items()}


def blog_network(activation: str = "sigmoid", init: str = "random", **overrides) -> FFNetwork:
    """The blog's network, exactly: layers [2, 2, 4], its init recipe, GD with eta 1, 50 epochs.

    ``init`` is one of the blog's names (``zeros``, ``random``, ``xavier``,
    ``he``) and is translated to what its code really draws: weights
    N(0, 1) scaled by 1 (random), sqrt(1/fan_in) ("xavier", which is LeCun
    normal) or sqrt(2/fan_in) (he), biases N(0, 1) (zeros for "zeros"), all
    from ``np.random.seed(0)`` in the order W1, B1, W2, B2.

    Examples
    --------
    >>> from initlab import blog_network, datasets
    >>> d = datasets.load("blog")
    >>> blog_network("leaky_relu", "he").fit(d.X_train, d.y_train).score(d.X_val, d.y_val)
    0.92
    """
    key = init.strip().lower() if isinstance(init, str) else init
    if key not in BLOG_INITS:
        raise ConfigError(
            f"unknown blog init {init!r}; the blog's are: {', '.join(BLOG_INITS)} "
            "(use FFNetwork for the others)",
            "init",
        )
    config = dict(activation=activation, init=key, random_state=0, record_params=True)
    if not isinstance(overrides.get("init", key), str):
        raise ConfigError(f"init must be a name, got {overrides['init']!r}", "init")
    config.update(overrides)
    return FFNetwork(recipe="blog", **config)


def _same(a, b) -> bool:
    """``a == b`` for parameter values (tuples and lists of sizes compare equal)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _physical_memory() -> int:
    """Bytes of RAM (0 when the platform does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0


_DOC = """A feedforward {what} with pluggable activation, initialization and optimizer.

    A scikit-learn estimator over the population engine (one network, ``M = 1``).
    Its parameters are the run schema's fields (:mod:`initlab.runs`), so an
    ``FFNetwork`` and a run of a sweep or a study with the same settings are the
    same network.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    coefs_, intercepts_ : lists of arrays ``(n_in, n_out)`` and ``(n_out,)``
    classes_ : array of the original labels
    loss_curve_ : list of float
        Training loss after each epoch.
    history_ : dict of arrays
        ``train_loss``, ``train_acc`` (and ``val_loss``, ``val_acc`` when
        validation data is given), one entry per epoch, index 0 the initial network.
    n_iter_ : int
    diverged_ : bool
        The loss became inf/NaN; ``diverged_epoch_`` says when (-1 if never).
    seed_ : int
        The seed the initial weights were drawn from.
    spec_ : RunSpec
        The run that was trained (canonical names, defaults filled in).
    param_history_ : array ``(epochs + 1, n_params)`` when ``record_params``
    param_names_ : list of str, e.g. ``"W1[0,1]"``, ``"b2[3]"``
    """


def _document(estimator, what: str) -> str:
    lines = []
    for name, default, help_ in _parameters(estimator.__init__.defaults):
        lines.append(f"    {name} : default {default!r}")
        lines.append(f"        {help_}")
    return _DOC.format(what=what, parameters="\n".join(lines))


FFNetwork.__doc__ = _document(FFNetwork, "classifier")
FFRegressor.__doc__ = _document(FFRegressor, "regressor (real targets, identity output)")
