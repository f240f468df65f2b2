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

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import activations as _activations
from . import initializers as _initializers
from . import losses as _losses
from . import optim as _optim
from .datasets import check_finite
from .engine import Population, Trainer, init_params

__all__ = ["FFNetwork", "blog_network", "BLOG_INITS"]

# The blog's init names and what its code actually draws (weights, biases):
# its "xavier" is N(0, 1) * sqrt(1 / fan_in), i.e. LeCun normal, not Glorot.
BLOG_INITS = {
    "zeros": ("zeros", "zeros"),
    "random": ("random", "normal"),
    "xavier": ("lecun_normal", "normal"),
    "he": ("he_normal", "normal"),
}


def _check_int(name, value, low=1, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


class FFNetwork(ClassifierMixin, BaseEstimator):
    """A feedforward classifier with pluggable activation, initialization and optimizer.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (16,)
        Widths of the hidden layers; ``()`` is a linear (softmax) model.
    activation : str, default "relu"
        Hidden nonlinearity; see ``initlab list``.
    init : str, default "he_normal"
        Weight initializer (``zeros``, ``random``, ``xavier``, ``he``, ``lecun_normal``,
        ``orthogonal``, ``lsuv``, ...).
    bias_init : str, default "zeros"
        ``zeros``, ``ones``, ``normal`` (N(0, 1), the blog's) or ``constant``.
    optimizer : str, default "adam"
        ``gd``, ``minibatch``, ``momentum``, ``nag``, ``adagrad``, ``rmsprop``,
        ``adam``, ``adamw`` (the blog's spellings too).
    learning_rate : float, default 0.01
    epochs : int, default 200
    batch_size : int or None, default None
        None trains on the full batch (``minibatch`` defaults to 100).
    loss : str, default "cross_entropy"
        ``cross_entropy`` (softmax), ``binary_cross_entropy`` (one sigmoid
        unit, 2 classes) or ``mse`` (softmax probabilities vs one-hot).
    leaky_slope : float, default 0.1
        Negative slope of ``leaky_relu`` (the blog's default).
    momentum, rho, beta1, beta2, eps, weight_decay : float or None
        Optimizer hyperparameters (None: the optimizer's default); the blog's
        ``gamma`` is ``momentum`` and its ``beta`` is ``rho``.
    shuffle : bool, default False
        Reshuffle mini-batches every epoch (order drawn from ``shuffle_seed``).
    shuffle_seed : int, default 0
    random_state : int or None
        Seed of the initial weights (None: a fresh random seed, kept in ``seed_``).
    rng_kind : {"generator", "legacy"}
        ``legacy`` draws from ``numpy.random.RandomState(random_state)``, the
        stream of ``np.random.seed``, to match published NumPy recipes.
    dtype : {"float64", "float32"}
    record_params : bool, default False
        Keep every parameter after every epoch in ``param_history_`` (for the
        blog's per-parameter update plots).

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
    param_history_ : array ``(epochs + 1, n_params)`` when ``record_params``
    param_names_ : list of str, e.g. ``"W1[0,1]"``, ``"b2[3]"``
    """

    def __init__(
        self,
        hidden_layer_sizes=(16,),
        activation="relu",
        init="he_normal",
        bias_init="zeros",
        optimizer="adam",
        learning_rate=0.01,
        epochs=200,
        batch_size=None,
        loss="cross_entropy",
        leaky_slope=0.1,
        momentum=None,
        rho=None,
        beta1=None,
        beta2=None,
        eps=None,
        weight_decay=None,
        shuffle=False,
        shuffle_seed=0,
        random_state=None,
        rng_kind="generator",
        dtype="float64",
        record_params=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.bias_init = bias_init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.loss = loss
        self.leaky_slope = leaky_slope
        self.momentum = momentum
        self.rho = rho
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.shuffle = shuffle
        self.shuffle_seed = shuffle_seed
        self.random_state = random_state
        self.rng_kind = rng_kind
        self.dtype = dtype
        self.record_params = record_params

    # -- configuration ------------------------------------------------------------------------
    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers, got {sizes!r}"
            ) from None
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(
                    f"hidden_layer_sizes must be positive integers, got {list(sizes)} "
                    f"(bad entry {s!r})"
                )
        return tuple(int(s) for s in sizes)

    def _optimizer_hyper(self) -> dict:
        spec = _optim.get(self.optimizer)
        given = {
            k: getattr(self, k)
            for k in ("momentum", "rho", "beta1", "beta2", "eps", "weight_decay")
            if getattr(self, k) is not None
        }
        return {k: v for k, v in given.items() if k in spec.defaults}

    def _seed(self) -> int:
        """The integer seed of the initial weights (scikit-learn's random_state convention)."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if not 0 <= rs < 2**32:
                raise ValueError(f"random_state must be in [0, 2**32), got {rs}")
            return int(rs)
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(2**31 - 1))
        try:
            return int(check_random_state(rs).randint(2**31 - 1))
        except ValueError:
            raise ValueError(
                f"random_state must be None, an integer or a numpy random generator, got {rs!r}"
            ) from None

    def _activation(self):
        act = _activations.get(self.activation)
        if "slope" in act.params:
            act = act.bind(slope=float(self.leaky_slope))
        return act

    def _validate_params(self):
        self._hidden()
        _activations.get(self.activation)
        _initializers.get(self.init)
        _initializers.get_bias(self.bias_init)
        _losses.get(self.loss)
        spec = _optim.get(self.optimizer)
        _optim.check_hyperparameter("learning_rate", self.learning_rate, 0.0, np.inf, True)
        _check_int("epochs", self.epochs, low=1)
        _check_int("batch_size", self.batch_size, low=1, allow_none=True)
        if self.rng_kind not in _initializers.RNG_KINDS:
            raise ValueError(
                f"rng_kind must be one of {', '.join(_initializers.RNG_KINDS)}, "
                f"got {self.rng_kind!r}"
            )
        if str(np.dtype(self.dtype)) not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        if "slope" in _activations.get(self.activation).params:
            slope = self.leaky_slope
            if not isinstance(slope, numbers.Real) or not np.isfinite(slope):
                raise ValueError(f"leaky_slope must be a finite number, got {slope!r}")
        spec.resolve(self._optimizer_hyper())
        return spec

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None):
        """Train on ``(X, y)``; validation data, if given, is scored after every epoch."""
        spec = self._validate_params()
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
        has_val = X_val is not None or y_val is not None
        if has_val:
            if X_val is None or y_val is None:
                raise ValueError("give both X_val and y_val, or neither")
            X_val = validate_data(
                self, X_val, reset=False, dtype=np.float64, ensure_all_finite=False
            )
            check_finite(X_val, "X_val")
            y_val = np.asarray(y_val)
            if len(y_val) != len(X_val):
                raise ValueError(f"X_val has {len(X_val)} rows but y_val has {len(y_val)} labels")
            unknown = np.setdiff1d(y_val, self.classes_)
            if len(unknown):
                raise ValueError(f"y_val has labels not seen in y: {unknown[:5].tolist()}")
            y_val = np.searchsorted(self.classes_, y_val)

        loss = _losses.get(self.loss)
        n_out = loss.n_outputs(len(self.classes_))
        sizes = (X.shape[1], *self._hidden(), n_out)
        self._population = Population(sizes, self._activation(), loss, 1, self.dtype)
        self.seed_ = self._seed()
        params = init_params(
            self._population, self.seed_, self.init, self.bias_init, self.rng_kind, X=X
        )
        batch_size = self.batch_size if self.batch_size is not None else spec.default_batch_size
        optimizer = spec.build(self.learning_rate, **self._optimizer_hyper())
        trainer = Trainer(
            self._population,
            params,
            optimizer,
            X,
            y_enc,
            X_val=X_val if has_val else None,
            y_val=y_val if has_val else None,
            batch_size=batch_size,
            shuffle=self.shuffle,
            shuffle_seed=self.shuffle_seed,
            record=True,
            snapshots=self.record_params,
        )
        trainer.step(self.epochs)
        result = trainer.result()
        self._set_fitted(result)
        return self

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

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        check_finite(X, "X")
        return self._population.predict_proba(self._params(), X)[0]

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as the original labels."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def trace(self, X, y=None) -> dict:
        """Per-layer pre-activations, activations and gradients on ``X``.

        See :meth:`initlab.engine.Population.trace`; arrays are ``(n_samples, units)``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        yy = None if y is None else np.searchsorted(self.classes_, np.asarray(y))
        out = self._population.trace(self._params(), X, yy)
        return {k: [a[0] for a in v] for k, v in out.items()}

    @property
    def population_(self) -> Population:
        check_is_fitted(self)
        return self._population

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


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
    key = init.strip().lower()
    if key not in BLOG_INITS:
        raise ValueError(
            f"unknown blog init {init!r}; the blog's are: {', '.join(BLOG_INITS)} "
            "(use FFNetwork for the others)"
        )
    weights, biases = BLOG_INITS[key]
    config = dict(
        hidden_layer_sizes=(2,),
        activation=activation,
        init=weights,
        bias_init=biases,
        optimizer="gd",
        learning_rate=1.0,
        epochs=50,
        batch_size=None,
        loss="cross_entropy",
        leaky_slope=0.1,
        random_state=0,
        rng_kind="legacy",
        record_params=True,
    )
    config.update(overrides)
    return FFNetwork(**config)
