"""Which initialization for *my* network, and why: mean-field advice, checked by training.

:func:`advise` answers for an activation, a depth and a width (and optionally the data):
for each candidate -- the named initializers and the edge of chaos -- it follows the
signal through the layers with the mean-field maps of :mod:`initlab.meanfield` and
predicts what happens over that depth:

* ``q_last / q_first``: how the pre-activation variance changes from the first to the
  last hidden layer (the forward condition of LeCun 1998 and Glorot & Bengio 2010);
* ``grad_factor``: how the squared back-propagated gradient changes from the last hidden
  layer down to the first, ``prod_l sigma_w^2 E[phi'(sqrt(q_l) z)^2]`` along the same
  orbit (the backward condition; ``chi_1`` per layer once ``q`` has settled,
  Schoenholz et al. 2017, eq. 12);
* ``chi_1`` at the fixed point, the depth scales ``xi_c`` and ``xi_grad``, and whether
  the depth is within ``6 xi_c``, the trainable depth Schoenholz et al. measured;
* for ReLU, the probability that the network is dead at birth (Lu et al. 2019).

The recommendation is the candidate whose signal and gradient change least over the
depth, ``|log(q_last / q_first)| + |log grad_factor|`` smallest (a named initializer
wins a tie with the critical point).  :meth:`Advice.check` trains the candidates on
data over seeds, so the prediction can be compared with accuracies.

Examples
--------
>>> from initlab import advise
>>> a = advise("relu", depth=50, width=256)
>>> a.recommended.name, a.recommended.sigma_w2
('he_normal', 2.0)
>>> f"{a.candidate('lecun_normal').grad_factor:.3g}"   # (1/2)^49: vanishing gradients
'1.78e-15'
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from . import activations as _activations
from . import initializers as _initializers
from . import meanfield
from .errors import ConfigError

__all__ = ["Advice", "Candidate", "advise", "NAMED", "BIAS_VARIANCES", "SOURCES"]

#: The named initializers compared, with where their variance comes from.
NAMED = {
    "he_normal": "He et al. 2015",
    "lecun_normal": "LeCun et al. 1998",
    "xavier_normal": "Glorot & Bengio 2010",
}

#: Bias variances at which the edge of chaos is looked for, in order (when none is given):
#: the critical candidate is the first with an edge whose fixed point keeps a signal
#: (``q*`` above 0.1 % of the inputs' mean square).  0.05 is Schoenholz et al.'s (2017)
#: value in their Figs. 5-6.
BIAS_VARIANCES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)

#: The papers behind each line of the advice.
SOURCES = {
    "critical": "Poole et al. 2016, Schoenholz et al. 2017",
    "signal": "LeCun et al. 1998; Glorot & Bengio 2010",
    "gradient": "Schoenholz et al. 2017, eq. 12",
    "depth": "Schoenholz et al. 2017, Figs. 5-6",
    "dead": "Lu, Shin, Su & Karniadakis 2019",
    "isometry": "Pennington, Schoenholz & Ganguli 2017",
    "selu": "Klambauer et al. 2017",
}

# Candidates whose score differs by less than this are tied (a named initializer wins).
_TIE = 1e-6

# An edge of chaos "keeps a signal" when its q* is at least this fraction of the input's
# mean square (tanh, ELU and SELU have an edge at sigma_b^2 = 0 with q* = 0: the signal
# dies there, as slowly as 1 / depth).
_SIGNAL = 1e-3

# chi_1 within exp(+-_CRITICAL_BAND) of 1 is reported as "critical" rather than a phase.
_CRITICAL_BAND = 1e-3


@dataclass(frozen=True)
class Candidate:
    """The mean-field prediction for one initializer over the network's depth.

    Attributes
    ----------
    name : str
        A registered initializer name, or ``"critical"`` (the edge of chaos).
    sigma_w2, sigma_b2 : float
        ``fan_in Var[W]`` and ``Var[b]``.
    source : str
        The paper the variance comes from.
    q_first, q_last : float
        Pre-activation variance in the first and the last hidden layer.
    grad_factor : float
        Squared gradient in the first hidden layer over that in the last.
    q_star, chi1 : float
        The fixed point the signal is heading for and ``chi_1`` there.
    xi_c, xi_grad : float
        Correlation and gradient depth scales (``inf`` at criticality).
    phase : str
        ``"ordered"``, ``"critical"`` or ``"chaotic"``.
    trainable : bool
        ``depth <= 6 xi_c``.
    score : float
        ``|log(q_last / q_first)| + |log grad_factor|`` (``inf`` where the signal dies
        or explodes); smaller is better.
    """

    name: str
    sigma_w2: float
    sigma_b2: float
    source: str
    q_first: float
    q_last: float
    grad_factor: float
    q_star: float
    chi1: float
    xi_c: float
    xi_grad: float
    phase: str
    trainable: bool
    score: float


@dataclass(frozen=True)
class Advice:
    """What :func:`advise` returns: candidates, the recommendation and its reasons.

    Attributes
    ----------
    activation : str
    depth, width : int
        Hidden layers and their width.
    n_features : int
        Input size (``width`` unless data are given).
    q0 : float
        Mean square of the inputs (1 for standardized data).
    candidates : tuple of Candidate
        The named initializers, then the critical point (when there is one).
    recommended : Candidate
    edges : tuple of EdgeOfChaos
        The edge of chaos at each bias variance tried.
    p_dead : float or None
        For ReLU, ``1 - (1 - 2^-width)^depth``: the probability that the network is dead
        at birth on a given input (Lu et al. 2019); ``None`` for other activations.
    notes : tuple of (str, str)
        Further lines of advice, each with its source.
    checked : pandas.DataFrame or None
        After :meth:`check`: one row per candidate, with the accuracy over seeds.
    runs : pandas.DataFrame or None
        After :meth:`check`: one row per candidate and seed.
    """

    activation: str
    depth: int
    width: int
    n_features: int
    q0: float
    candidates: tuple[Candidate, ...]
    recommended: Candidate
    edges: tuple[meanfield.EdgeOfChaos, ...]
    p_dead: float | None
    notes: tuple[tuple[str, str], ...]
    checked: object = None
    runs: object = None
    check_setup: dict = field(default_factory=dict)

    def candidate(self, name: str) -> Candidate:
        """The candidate called ``name`` (a registered alias works too)."""
        key = name if name == "critical" else _initializers.REGISTRY.canonical(name)
        for c in self.candidates:
            if c.name == key:
                return c
        raise ConfigError(
            f"no candidate {name!r}; the candidates are: "
            f"{', '.join(c.name for c in self.candidates)}",
            "name",
        )

    def initializers(self, name: str):
        """``(weight, bias)`` initializers that draw candidate ``name``'s network."""
        c = self.candidate(name)
        sw = c.sigma_w2 if c.name == "critical" else None
        return meanfield.initializers_for(
            self.activation, c.name, sigma_w2=sw, sigma_b2=c.sigma_b2, q0=self.q0
        )

    def frame(self):
        """The candidates as a pandas DataFrame (one row each, ``recommended`` marked)."""
        import pandas as pd

        rows = [c.__dict__ | {"recommended": c == self.recommended} for c in self.candidates]
        return pd.DataFrame(rows)

    def check(
        self,
        data="digits",
        *,
        seeds=3,
        epochs: int = 5,
        optimizer: str = "momentum",
        learning_rate: float = 0.001,
        batch_size: int | None = 32,
        progress=None,
    ) -> Advice:
        """Train every candidate on ``data`` over seeds: does the advice hold?

        All candidates and seeds are one population of the engine (same data, batches
        and optimizer; seed ``s`` draws every candidate's weights from generator ``s``),
        trained for ``epochs``.  The returned Advice carries ``runs`` (one row per
        candidate and seed) and ``checked`` (per candidate: mean and 95% bootstrap
        interval of the validation accuracy, final training loss, and which candidates
        are best or tied with the best by a paired test across seeds, as in studies).

        Parameters
        ----------
        data : str or Dataset
            A data set for :func:`initlab.datasets.load`; its features must number
            ``n_features`` when the advice was computed for data.
        seeds : int or sequence of int
        epochs, optimizer, learning_rate, batch_size
            The training protocol (``batch_size=None`` for full batch).
        progress : callable, optional
            ``progress(done, total)`` in epochs.
        """
        import pandas as pd

        from . import datasets, engine, optim, stats

        d = datasets.load(data)
        seeds = list(range(seeds)) if isinstance(seeds, numbers.Integral) else list(seeds)
        if not seeds:
            raise ConfigError("seeds is empty; give at least one seed", "seeds")
        epochs = _positive_int("epochs", epochs)
        spec = optim.get(optimizer)
        inits, biases, labels, run_seeds = [], [], [], []
        for c in self.candidates:
            w, b = self.initializers(c.name)
            for s in seeds:
                inits.append(w)
                biases.append(b)
                labels.append(c.name)
                run_seeds.append(int(s))
        sizes = (d.n_features, *(self.width,) * self.depth, d.n_classes)
        pop = engine.Population(sizes, self.activation, n_models=len(inits))
        params = engine.init_params(pop, run_seeds, inits, biases, X=d.X_train)
        batch = spec.default_batch_size if batch_size is None else batch_size
        trainer = engine.Trainer(
            pop,
            params,
            spec.build(learning_rate),
            d.X_train,
            d.y_train,
            d.X_val,
            d.y_val,
            batch_size=batch,
            record=False,
        )
        with engine.one_blas_thread():
            for epoch in range(epochs):
                trainer.step(1)
                if progress is not None:
                    progress(epoch + 1, epochs)
        result = trainer.result()
        runs = pd.DataFrame(
            {
                "init": labels,
                "seed": run_seeds,
                "train_loss": result.final["train_loss"],
                "val_loss": result.final["val_loss"],
                "val_acc": result.final["val_acc"],
                "diverged": result.diverged_epoch >= 0,
            }
        )
        summary = stats.summarize(runs, "val_acc", compared=("init",))
        loss = runs.groupby("init", sort=False)["train_loss"].mean()
        summary["train_loss"] = summary["init"].map(loss)
        summary["predicted_rank"] = summary["init"].map(
            {c.name: r for r, c in enumerate(sorted(self.candidates, key=_order), start=1)}
        )
        setup = {
            "data": d.name,
            "seeds": seeds,
            "epochs": epochs,
            "optimizer": spec.name,
            "learning_rate": learning_rate,
            "batch_size": batch,
        }
        return replace(self, checked=summary, runs=runs, check_setup=setup)


def _order(c: Candidate) -> tuple[float, bool]:
    """Sort key: score (to _TIE), then a named initializer before the critical point."""
    return (
        round(c.score / _TIE) * _TIE if math.isfinite(c.score) else math.inf,
        c.name == "critical",
    )


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}", name)
    return int(value)


def _phase(chi: float) -> str:
    if chi > 0 and abs(math.log(chi)) <= _CRITICAL_BAND:
        return "critical"
    return "ordered" if chi < 1 else "chaotic"


# Past this variance the signal counts as exploded (its chi_1 is the large-q limit).
_Q_EXPLODED = 1e100


def _predict(act, name, source, sw, sb, depth, q0, order=meanfield.DEFAULT_ORDER) -> Candidate:
    """Follow the variance map through ``depth`` layers; gradients back along the orbit."""
    q = np.empty(depth)
    q[0] = sw * q0 + sb  # first hidden layer: inputs of mean square q0
    for layer in range(1, depth):
        prev = q[layer - 1]
        q[layer] = math.inf if prev > _Q_EXPLODED else meanfield.variance_map(prev, sw, sb, act)
    slopes = [meanfield.chi1(act, sw, sb, q=min(v, _Q_EXPLODED), order=order) for v in q[:-1]]
    grad = float(np.prod(slopes))  # down from the last hidden layer to the first
    ratio = q[-1] / q[0] if q[0] > 0 else 0.0
    ok = 0 < ratio < math.inf and 0 < grad < math.inf
    score = abs(math.log(ratio)) + abs(math.log(grad)) if ok else math.inf
    q_star = meanfield.fixed_point(act, sw, sb, q0=q0, order=order)
    chi = meanfield.chi1(act, sw, sb, q0=q0, order=order)
    xi_c = meanfield.correlation_depth_scale(act, sw, sb, q0=q0, order=order)
    return Candidate(
        name=name,
        sigma_w2=float(sw),
        sigma_b2=float(sb),
        source=source,
        q_first=float(q[0]),
        q_last=float(q[-1]),
        grad_factor=grad,
        q_star=float(q_star),
        chi1=float(chi),
        xi_c=float(xi_c),
        xi_grad=float(meanfield.gradient_depth_scale(act, sw, sb, q0=q0, order=order)),
        phase=_phase(chi),
        trainable=bool(depth <= 6 * xi_c),
        score=float(score),
    )


def advise(
    activation: str | _activations.Activation,
    depth: int,
    width: int,
    data=None,
    *,
    sigma_b2: float | None = None,
    q0: float | None = None,
) -> Advice:
    """Mean-field advice on initializing a network of ``depth`` hidden layers of ``width``.

    Compares :data:`NAMED` (He, LeCun, Glorot/Xavier, at the variance each actually
    draws for this width) and the edge of chaos (:func:`initlab.meanfield.edge_of_chaos`,
    at the first bias variance of :data:`BIAS_VARIANCES` where there is one that keeps a
    signal, or at ``sigma_b2``) by what they do to the signal and the gradient over the
    depth, and recommends one (see the module docstring).  :meth:`Advice.check` then
    trains them.

    Parameters
    ----------
    activation : str or Activation
        Any registered activation (or your own).
    depth, width : int
        Number of hidden layers, and their width.
    data : str or Dataset, optional
        Inputs the network will see: its number of features sizes the first layer and
        the mean square of its training inputs is ``q0`` (the input variance of the
        mean-field maps).
    sigma_b2 : float, optional
        Bias variance for every candidate (default: none for the named initializers;
        the critical point picks its own).
    q0 : float, optional
        The inputs' mean square; default from ``data``, else 1 (standardized inputs).

    Returns
    -------
    Advice

    Examples
    --------
    >>> a = advise("gelu", 50, 256)
    >>> a.recommended.name, round(a.recommended.sigma_w2, 3), a.recommended.sigma_b2
    ('critical', 1.971, 0.2)
    """
    act = _activations.get(activation) if isinstance(activation, str) else activation
    if not isinstance(act, _activations.Activation):
        raise ConfigError(
            f"activation must be a name or an Activation, got {type(activation).__name__}",
            "activation",
        )
    depth = _positive_int("depth", depth)
    width = _positive_int("width", width)
    n_features = width
    if data is not None:
        from . import datasets

        d = datasets.load(data)
        n_features = d.n_features
        if q0 is None:
            q0 = float(np.mean(np.asarray(d.X_train, dtype=float) ** 2))
    q0 = 1.0 if q0 is None else float(q0)
    if not (math.isfinite(q0) and q0 > 0):
        raise ConfigError(f"q0 must be a finite number > 0, got {q0!r}", "q0")
    if sigma_b2 is not None and not (math.isfinite(sigma_b2) and sigma_b2 >= 0):
        raise ConfigError(f"sigma_b2 must be a finite number >= 0, got {sigma_b2!r}", "sigma_b2")
    sb_named = 0.0 if sigma_b2 is None else float(sigma_b2)

    candidates = []
    for name, source in NAMED.items():
        sw = _initializers.get(name).variance(width, width) * width
        candidates.append(_predict(act, name, source, sw, sb_named, depth, q0))
    edges = []
    for sb in BIAS_VARIANCES if sigma_b2 is None else (float(sigma_b2),):
        edges.append(meanfield.edge_of_chaos(act, sb, q0=q0))
        if edges[-1].found and edges[-1].q_star > _SIGNAL * q0:
            break
    found = [e for e in edges if e.found]
    if found:
        edge = next((e for e in found if e.q_star > _SIGNAL * q0), found[0])
        candidates.append(
            _predict(act, "critical", SOURCES["critical"], edge.sigma_w2, edge.sigma_b2, depth, q0)
        )
    best = min(candidates, key=_order)
    # 1 - (1 - 2^-width)^depth without the cancellation (4e-76 for 50 layers of 256)
    p_dead = -math.expm1(depth * math.log1p(-(2.0**-width))) if act.name == "relu" else None
    return Advice(
        activation=act.name,
        depth=depth,
        width=width,
        n_features=n_features,
        q0=q0,
        candidates=tuple(candidates),
        recommended=best,
        edges=tuple(edges),
        p_dead=p_dead,
        notes=_notes(act, depth, width, edges, candidates, best, p_dead),
    )


def _fmt_q(q: float) -> str:
    return "0" if q == 0 else ("inf" if math.isinf(q) else f"{q:.3g}")


def _notes(act, depth, width, edges, candidates, best, p_dead) -> tuple[tuple[str, str], ...]:
    notes = []
    first = edges[0]
    if first.found:
        notes.append(
            (
                f"edge of chaos at sigma_b2 = {first.sigma_b2:g}: sigma_w2 = "
                f"{first.sigma_w2:.4g} (q* = {first.q_star:.3g})",
                SOURCES["critical"],
            )
        )
    elif first.jumps:
        j = first.jumps[0]
        notes.append(
            (
                f"no edge of chaos at sigma_b2 = {first.sigma_b2:g}: chi_1 jumps across 1 at "
                f"sigma_w2 = {j.sigma_w2:.4g}, from {j.chi1_below:.3g} (q* = "
                f"{_fmt_q(j.q_star_below)}) to {j.chi1_above:.3g} (q* = {_fmt_q(j.q_star_above)}):"
                f" the fixed point between them is unstable",
                SOURCES["critical"],
            )
        )
    else:
        a, b = first.chi1_range
        notes.append(
            (
                f"no edge of chaos at sigma_b2 = {first.sigma_b2:g}: chi_1 stays between "
                f"{a:.3g} and {b:.3g} for sigma_w2 in [{first.bracket[0]:g}, {first.bracket[1]:g}]",
                SOURCES["critical"],
            )
        )
    found = [e for e in edges if e.found]
    if found and not first.found:
        e = found[0]
        notes.append(
            (
                f"the smallest bias variance tried with an edge of chaos is sigma_b2 = "
                f"{e.sigma_b2:g} (sigma_w2 = {e.sigma_w2:.4g})",
                SOURCES["critical"],
            )
        )
    if p_dead is not None:
        notes.append(
            (
                f"P(dead at birth) = 1 - (1 - 2^-{width})^{depth} = {p_dead:.2g} for a ReLU "
                f"network of width {width} and depth {depth} (at one input; deep nets come "
                f"close to it on the whole domain)",
                SOURCES["dead"],
            )
        )
    if act.name == "tanh":
        notes.append(
            (
                "at the edge of chaos, orthogonal weights (init='orthogonal' with the same "
                "sigma_w2) also keep the Jacobian spectrum concentrated (dynamical isometry)",
                SOURCES["isometry"],
            )
        )
    if act.name == "selu":
        notes.append(
            (
                "lecun_normal is SELU's self-normalizing init: mean 0 and variance 1 are a "
                "stable fixed point, although chi_1 there is slightly above 1",
                SOURCES["selu"],
            )
        )
    untrainable = [c.name for c in candidates if not c.trainable]
    if untrainable:
        notes.append(
            (
                f"deeper than 6 xi_c, expected not to train: {', '.join(untrainable)}",
                SOURCES["depth"],
            )
        )
    return tuple(notes)
