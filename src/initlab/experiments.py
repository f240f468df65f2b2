"""Reproductions of the classic initialization papers, one named experiment each.

Each experiment builds networks with :mod:`initlab.engine`, measures them with
:mod:`initlab.diagnostics` and returns an :class:`ExperimentResult`: a tidy
table of measurements, the paper's claims next to our numbers (each with a
verdict), and a figure.  ``quick=True`` runs a reduced size (the test suite
asserts that every claim still holds there); the full size takes well under a
minute on two cores.

=============  ===========================================================
name           paper
=============  ===========================================================
glorot         Glorot & Bengio (2010): standard vs normalized init, tanh;
               the saturating top sigmoid layer
he             He, Zhang, Ren & Sun (2015): 22/30-layer ReLU nets, He vs Xavier
isometry       Saxe et al. (2013), Pennington et al. (2017): Jacobian spectra
lsuv           Mishkin & Matas (2016): layer-sequential unit variance
selu           Klambauer et al. (2017): the self-normalizing fixed point
meanfield      Poole et al. (2016), Schoenholz et al. (2017): chi_1, depth scales
hanin          Hanin & Rolnick (2018): length preserved, spread grows with sum 1/n
dying_relu     Lu, Shin, Su & Karniadakis (2019): narrow deep ReLU nets born dead
blog_symmetry  the blog: zero init keeps hidden units identical / frozen
=============  ===========================================================

Examples
--------
>>> from initlab import experiments
>>> experiments.names()[:3]
['glorot', 'he', 'isometry']
>>> result = experiments.run("isometry", quick=True)
>>> all(c.holds for c in result.claims)
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from . import datasets, engine, initializers, optim
from . import diagnostics as diag
from ._registry import Registry
from .network import blog_network

__all__ = [
    "Claim",
    "ExperimentResult",
    "Experiment",
    "REGISTRY",
    "names",
    "get",
    "run",
]


@dataclass(frozen=True)
class Claim:
    """One finding: what the paper says, what we measured, and whether it holds."""

    claim: str
    paper: str
    ours: str
    holds: bool

    def __post_init__(self):
        object.__setattr__(self, "holds", bool(self.holds))  # not numpy.bool_


@dataclass
class ExperimentResult:
    """The outcome of :func:`run`.

    Attributes
    ----------
    name, title, reference : str
    data : pandas.DataFrame
        Tidy measurements (one row per configuration / layer / epoch).
    claims : list of Claim
    quick : bool
        Whether the reduced size was run.
    seconds : float
        Wall-clock time of the run.
    extra : dict
        Further arrays the figure uses (spectra, curves).
    """

    name: str
    title: str
    reference: str
    data: pd.DataFrame
    claims: list[Claim]
    quick: bool
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    plotter: Callable | None = None

    @property
    def all_hold(self) -> bool:
        return all(c.holds for c in self.claims)

    def claims_frame(self) -> pd.DataFrame:
        """The claims as a table: claim, paper, ours, holds."""
        return pd.DataFrame(
            [(c.claim, c.paper, c.ours, c.holds) for c in self.claims],
            columns=["claim", "paper", "ours", "holds"],
        )

    def figure(self):
        """A matplotlib Figure of the measurements (matplotlib is imported here)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        if self.plotter is None:
            raise ValueError(f"experiment {self.name!r} has no figure")
        return self.plotter(self)


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction: ``fn(quick, random_state) -> (data, claims, extra)``."""

    name: str
    title: str
    reference: str
    fn: Callable
    plotter: Callable


REGISTRY: Registry[Experiment] = Registry("experiment")


def _register(name: str, title: str, reference: str, plotter: Callable):
    def wrap(fn):
        REGISTRY.register(name, Experiment(name, title, reference, fn, plotter), description=title)
        return fn

    return wrap


def names() -> list[str]:
    """Names of the registered experiments, in the order of ``docs/experiments.md``."""
    return REGISTRY.names()


def get(name: str) -> Experiment:
    """The experiment called ``name`` (unknown names raise a ``ValueError`` with suggestions)."""
    return REGISTRY.get(name)


@contextmanager
def _blas_threads(n: int | None):
    """Limit BLAS threads: the small matrix products here are slower with 2 threads on a
    busy 2-core machine (threads spin waiting for each other)."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def run(
    name: str, quick: bool = False, random_state: int = 0, blas_threads: int | None = 1
) -> ExperimentResult:
    """Run the experiment called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    quick : bool, default False
        The reduced size used by the test suite (a few seconds).
    random_state : int, default 0
        Seeds every network and data draw.
    blas_threads : int or None, default 1
        BLAS threads while running (None leaves the setting alone).
    """
    exp = get(name)
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True or False, got {quick!r}")
    start = time.perf_counter()
    with _blas_threads(blas_threads), np.errstate(over="ignore", under="ignore"):
        data, claims, extra = exp.fn(bool(quick), int(random_state))
    return ExperimentResult(
        name=exp.name,
        title=exp.title,
        reference=exp.reference,
        data=data,
        claims=claims,
        quick=bool(quick),
        seconds=time.perf_counter() - start,
        extra=extra,
        plotter=exp.plotter,
    )


# --- helpers ---------------------------------------------------------------------------------
def _geomean_ratio(values) -> float:
    """Geometric mean of consecutive ratios ``v[l+1] / v[l]``."""
    v = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.diff(np.log(v)))))


def _fmt(x: float, digits: int = 3) -> str:
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _first_epoch_below(curve: np.ndarray, fraction: float) -> int:
    """First epoch whose loss is below ``fraction`` of the initial loss (-1 if never)."""
    hits = np.flatnonzero(np.asarray(curve) < fraction * curve[0])
    return int(hits[0]) if len(hits) else -1


# Glorot & Bengio's "standard" initialization U[-1/sqrt(n), 1/sqrt(n)]: a uniform on
# [-a, a] has variance a^2 / 3, so it is variance scaling with scale 1/3 on the fan-in.
GLOROT_STANDARD = initializers.variance_scaling(1 / 3, "fan_in", "uniform", name="standard")


# === 1. Glorot & Bengio 2010 =================================================================
def _plot_glorot(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.1))
    init = df[df["part"] == "init"]
    for name, g in init.groupby("init", sort=False):
        axes[0].plot(g["layer"], g["a_var"], marker="o", label=name)
        axes[1].plot(g["layer"], g["grad_var"], marker="o", label=name)
    titles = ["activation variance (tanh)", "back-prop. gradient variance"]
    for ax, t in zip(axes[:2], titles, strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("hidden layer")
        ax.set_title(t, fontsize=9)
        ax.legend(fontsize=7)
    train = df[df["part"] == "sigmoid"]
    for (init, layer), g in train.groupby(["init", "layer"], sort=False):
        style = "-" if init == "standard" else ":"
        axes[2].plot(
            g["epoch"], g["a_mean"], style, color=f"C{layer - 1}", label=f"{init} L{layer}"
        )
    axes[2].set_xlabel("epoch")
    axes[2].set_title("sigmoid: mean activation per layer", fontsize=9)
    axes[2].legend(fontsize=6, ncol=2)
    fig.suptitle("Glorot & Bengio (2010)", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "glorot",
    "Standard vs normalized init for tanh; the top sigmoid layer saturates",
    "X. Glorot and Y. Bengio (2010), Understanding the difficulty of training deep "
    "feedforward neural networks, AISTATS",
    _plot_glorot,
)
def _glorot(quick: bool, seed: int):
    width = 256 if quick else 500
    d = datasets.load("digits", standardize=False, random_state=seed)
    X, y = d.X_train / 16.0, d.y_train  # pixel intensities in [0, 1], as Shapeset's
    if quick:
        X, y = X[:300], y[:300]
    frames = []
    inits = {"standard": GLOROT_STANDARD, "normalized": "xavier_uniform"}
    for label, init in inits.items():
        df = diag.propagation((width,) * 5, "tanh", init, X, y=y, random_state=seed)
        df = df[df["kind"] == "hidden"].assign(part="init", init=label, epoch=0)
        frames.append(df)
    ratios = {}
    for label in inits:
        g = frames[0] if label == "standard" else frames[1]
        ratios[label] = (
            _geomean_ratio(g["a_var"]),
            1 / _geomean_ratio(g["grad_var"]),  # going down
            float(g["dW_var"].iloc[1:].max() / g["dW_var"].iloc[1:].min()),
        )
    # part 2: a 4-hidden-layer sigmoid network trained with SGD (mini-batches of 10)
    sw, epochs = (100, 12) if quick else (100, 30)
    dn = datasets.load("digits", random_state=seed)
    Xs, ys = dn.X_train, dn.y_train
    pop = engine.Population((dn.n_features, *(sw,) * 4, dn.n_classes), "sigmoid", n_models=2)
    params = engine.init_params(pop, seed, [GLOROT_STANDARD, "xavier_uniform"])
    every = 1 if quick else 2
    curves = []

    def snap(params, epoch):
        tr = pop.trace(params, dn.X_val)
        for layer in range(4):
            a = tr["a"][layer]
            for m, label in enumerate(inits):
                curves.append(
                    {
                        "part": "sigmoid",
                        "init": label,
                        "epoch": epoch,
                        "layer": layer + 1,
                        "a_mean": float(a[m].mean()),
                        "a_std": float(a[m].std()),
                        "saturated": float((np.abs(2 * a[m] - 1) > diag.SATURATION_LEVEL).mean()),
                    }
                )

    snap(params, 0)
    engine.train(
        pop,
        params,
        optim.build("gd", 0.1),
        Xs,
        ys,
        epochs,
        batch_size=10,
        shuffle=True,
        shuffle_seed=seed,
        record=False,
        callback=lambda t: snap(t.params, t.epoch) if t.epoch % every == 0 else None,
    )
    frames.append(pd.DataFrame(curves))
    data = pd.concat(frames, ignore_index=True)
    last = data[(data["part"] == "sigmoid") & (data["epoch"] == epochs)]
    std_last = last[last["init"] == "standard"].set_index("layer")["a_mean"]
    s, n = ratios["standard"], ratios["normalized"]
    claims = [
        Claim(
            "standard init: tanh activation variance shrinks going up (Fig. 6)",
            "x n Var[W] = 1/3 per layer (eq. 10)",
            f"x {s[0]:.3f} per layer",
            0.2 < s[0] < 0.45,
        ),
        Claim(
            "standard init: back-propagated gradient variance shrinks going down (Fig. 7)",
            "x 1/3 per layer (eq. 13)",
            f"x {s[1]:.3f} per layer",
            0.2 < s[1] < 0.45,
        ),
        Claim(
            "normalized init keeps both nearly constant across layers",
            "x 1 per layer",
            f"activations x {n[0]:.3f}, gradients x {n[1]:.3f} per layer",
            0.8 < n[0] < 1.25 and 0.8 < n[1] < 1.25,
        ),
        Claim(
            "standard init: weight-gradient variance about equal in every layer (Sec. 4.2.2)",
            "same in all layers",
            f"max/min over layers 2-5 = {s[2]:.2f}",
            s[2] < 1.5,
        ),
        Claim(
            "sigmoid, standard init: the top hidden layer saturates toward 0 early in training "
            "while the lower layers stay near 0.5 (Fig. 2)",
            "top-layer mean -> ~0; others ~0.5",
            f"after {epochs} epochs: top {std_last[4]:.2f}; layers 1-3 "
            f"{', '.join(f'{std_last[i]:.2f}' for i in (1, 2, 3))}",
            std_last[4] < 0.25 and all(0.4 < std_last[i] < 0.7 for i in (1, 2, 3)),
        ),
    ]
    return data, claims, {}


# === 2. He et al. 2015 =======================================================================
def _plot_he(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.1))
    moments = df[df["part"] == "moment"]
    deep = moments[moments["depth"] == moments["depth"].max()]
    for init, g in deep.groupby("init", sort=False):
        for _, gm in g.groupby("model"):
            axes[0].plot(gm["layer"], gm["z_sq"], color="C0" if init == "he" else "C1", lw=0.5)
        med = g.groupby("layer")["z_sq"].median()
        axes[0].plot(med.index, med.values, color="C0" if init == "he" else "C1", lw=2, label=init)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("layer")
    axes[0].set_title("forward second moment E[z^2]", fontsize=9)
    axes[0].legend(fontsize=7)
    curves = df[df["part"] == "train"]
    for (depth, init), g in curves.groupby(["depth", "init"], sort=False):
        style = "-" if init == "he" else "--"
        color = "C0" if depth == curves["depth"].max() else "C1"
        axes[1].plot(
            g["epoch"], g["train_loss"], style, color=color, label=f"{depth} layers, {init}"
        )
    axes[1].set_xlabel("epoch")
    axes[1].set_title("training loss", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.suptitle("He et al. (2015): ReLU, He vs Xavier init", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "he",
    "Deep ReLU nets: He init trains at 30 layers where Xavier stalls",
    "K. He, X. Zhang, S. Ren and J. Sun (2015), Delving deep into rectifiers: surpassing "
    "human-level performance on ImageNet classification, ICCV",
    _plot_he,
)
def _he(quick: bool, seed: int):
    d = datasets.load("digits", random_state=seed)
    X, y = d.X_train, d.y_train
    width, epochs, depths, lr = (32, 12, (30,), 0.01) if quick else (64, 40, (22, 30), 0.005)
    inits = {"he": "he_normal", "xavier": "xavier_normal"}
    frames, summary = [], {}
    for depth in depths:
        sizes = (d.n_features, *(width,) * depth, d.n_classes)
        # the forward second moment in k networks per init; eq. 10 is about its expectation
        # layer by layer, so the per-layer ratios are averaged (a single finite-width
        # network's typical value drifts down by about exp(-5 / (2 n)) per layer)
        k = 4 if quick else 8
        many = engine.Population(sizes, "relu", n_models=2 * k)
        seeds = [seed + i for i in range(k)] * 2
        stats = diag.layer_stats(
            many,
            engine.init_params(many, seeds, ["he_normal"] * k + ["xavier_normal"] * k),
            X[:300],
            y[:300],
        )
        stats = stats[stats["kind"] == "hidden"].copy()
        stats["z_sq"] = stats["z_var"] + stats["z_mean"] ** 2
        stats["init"] = np.where(stats["model"] < k, "he", "xavier")
        stats = stats[["model", "init", "layer", "z_sq"]].assign(part="moment", depth=depth)
        stats["step"] = stats.groupby("model")["z_sq"].transform(lambda v: v / v.shift())
        frames.append(stats)
        pop = engine.Population(sizes, "relu", n_models=2)
        params = engine.init_params(pop, seed, list(inits.values()))
        res = engine.train(
            pop,
            params,
            optim.build("momentum", lr),
            X,
            y,
            epochs,
            batch_size=128,
            shuffle=True,
            shuffle_seed=seed,
        )
        loss = res.history["train_loss"]
        for m, label in enumerate(inits):
            frames.append(
                pd.DataFrame(
                    {
                        "part": "train",
                        "depth": depth,
                        "init": label,
                        "epoch": np.arange(epochs + 1),
                        "train_loss": loss[:, m],
                        "train_acc": res.history["train_acc"][:, m],
                    }
                )
            )
            g = stats[stats["init"] == label]
            z = g.groupby("layer")["z_sq"].median().to_numpy()
            summary[depth, label] = {
                "ratio": float(g["step"].mean()),
                "total": float(z[-1] / z[0]),
                "start": _first_epoch_below(loss[:, m], 0.95),
                "final": float(loss[-1, m] / loss[0, m]),
            }
    data = pd.concat(frames, ignore_index=True)
    deep = max(depths)
    he, xa = summary[deep, "he"], summary[deep, "xavier"]
    claims = [
        Claim(
            "forward second moment per layer: kept by He init (eq. 10)",
            "x 1 per layer",
            f"x {he['ratio']:.3f} per layer (median network, {deep} layers: "
            f"x {_fmt(he['total'])} overall)",
            0.85 < he["ratio"] < 1.15,
        ),
        Claim(
            "... halved by Xavier init (n Var[w] = 1) in a ReLU net",
            f"x 1/2 per layer ({_fmt(2.0 ** -(deep - 1))} over {deep} layers)",
            f"x {xa['ratio']:.3f} per layer (median: x {_fmt(xa['total'])} overall)",
            0.4 < xa["ratio"] < 0.6,
        ),
        Claim(
            f"{deep} layers: He init converges, Xavier stalls (Fig. 3)",
            "Xavier: no learning; He: converges",
            f"loss after {epochs} epochs / initial: He {he['final']:.2f}, Xavier {xa['final']:.3f}",
            he["final"] < 0.75 and xa["final"] > 0.98,
        ),
    ]
    if 22 in depths:
        he22, xa22 = summary[22, "he"], summary[22, "xavier"]
        claims.append(
            Claim(
                "22 layers: both converge, but He init starts reducing the error earlier (Fig. 2)",
                "both converge; He earlier",
                f"loss first < 95% of initial at epoch {he22['start']} (He) vs "
                f"{xa22['start']} (Xavier); final/initial {he22['final']:.2f} vs "
                f"{xa22['final']:.2f}",
                0 <= he22["start"] < xa22["start"] and xa22["final"] < 0.9,
            )
        )
    return data, claims, {}


# === 3. Saxe et al. 2013 / Pennington et al. 2017 ============================================
def _spread(s: np.ndarray) -> float:
    """Normalized variance of the squared singular values, ``Var[s^2] / E[s^2]^2``."""
    lam = np.asarray(s, dtype=float) ** 2
    return float(lam.var() / lam.mean() ** 2)


# Pennington, Schoenholz & Ganguli (2017), Table 1 (at criticality, large width): the
# variance of the spectrum of J J^T, normalized by its squared mean, grows as depth L times
# (mu2 / mu1^2 - 1 - s1), with s1 = -1 for Gaussian and 0 for orthogonal weights.
_PENNINGTON = {
    ("linear", "gaussian"): lambda L: L,
    ("linear", "orthogonal"): lambda L: 0.0,
    ("relu", "gaussian"): lambda L: 2.0 * L,
    ("relu", "orthogonal"): lambda L: 1.0 * L,
}


def _plot_isometry(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.1))
    for (act, weights), g in df.groupby(["activation", "weights"], sort=False):
        style = "-" if weights == "orthogonal" else "--"
        axes[0].plot(g["depth"], g["spread"] + 1e-3, style, marker="o", label=f"{act}, {weights}")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("depth L")
    axes[0].set_title("Var[s^2] / E[s^2]^2 (+1e-3)", fontsize=9)
    axes[0].legend(fontsize=6)
    spectra = res.extra["spectra"]
    for ax, act in zip(axes[1:], ("relu", "tanh"), strict=True):
        for weights in ("gaussian", "orthogonal"):
            s = spectra[act, weights]
            s = s / np.sqrt(np.mean(s**2))
            ax.hist(s, bins=50, histtype="step", density=True, label=weights)
        ax.set_title(f"{act}, depth {res.extra['depth']}: s / rms(s)", fontsize=9)
        ax.set_xlim(0, 4)
        ax.legend(fontsize=7)
    fig.suptitle(
        "Jacobian singular values: Saxe et al. (2013), Pennington et al. (2017)", fontsize=10
    )
    fig.tight_layout()
    return fig


@_register(
    "isometry",
    "Jacobian spectra: orthogonal weights give dynamical isometry (not for ReLU)",
    "A. Saxe, J. McClelland and S. Ganguli (2014), Exact solutions to the nonlinear dynamics "
    "of learning in deep linear neural networks, ICLR; J. Pennington, S. Schoenholz and "
    "S. Ganguli (2017), Resurrecting the sigmoid in deep learning through dynamical isometry, "
    "NeurIPS",
    _plot_isometry,
)
def _isometry(quick: bool, seed: int):
    width, depths, n_points = (64, (2, 8), 4) if quick else (256, (2, 8, 32), 4)
    gains = {"linear": 1.0, "tanh": 1.0, "relu": math.sqrt(2.0)}
    rows, spectra = [], {}
    X = diag.gaussian_inputs(n_points, width, seed)
    for act, gain in gains.items():
        for weights in ("gaussian", "orthogonal"):
            if weights == "gaussian":
                init = initializers.variance_scaling(gain**2, "fan_in", "normal")
            else:
                init = initializers.get("orthogonal", gain=gain)
            for depth in depths:
                s = diag.jacobian_singular_values((width,) * depth, act, init, X, random_state=seed)
                rows.append(
                    {
                        "activation": act,
                        "weights": weights,
                        "depth": depth,
                        "width": width,
                        "mean_s2": float(np.mean(s**2)),
                        "spread": _spread(s),
                        "max_abs_s_minus_1": float(np.abs(s - 1).max()),
                        "theory": _PENNINGTON.get((act, weights), lambda L: np.nan)(depth),
                    }
                )
                if depth == max(depths):
                    spectra[act, weights] = s.ravel()
    data = pd.DataFrame(rows)
    L = max(depths)

    def at(act, weights, col="spread", depth=L):
        sel = data[(data.activation == act) & (data.weights == weights) & (data.depth == depth)]
        return float(sel[col].iloc[0])

    tol = 0.4 if quick else 0.25
    claims = [
        Claim(
            "deep linear net, orthogonal weights: every singular value is exactly 1 (Saxe)",
            "s = 1",
            f"max |s - 1| = {_fmt(at('linear', 'orthogonal', 'max_abs_s_minus_1'))} at depth {L}",
            at("linear", "orthogonal", "max_abs_s_minus_1") < 1e-9,
        ),
    ]
    for act in ("linear", "relu"):
        g, o = at(act, "gaussian"), at(act, "orthogonal")
        tg, to = _PENNINGTON[act, "gaussian"](L), _PENNINGTON[act, "orthogonal"](L)
        ok = abs(g / tg - 1) < tol and (to == 0 and o < 1e-9 or to and abs(o / to - 1) < tol)
        claims.append(
            Claim(
                f"{act}: spread Var[s^2]/E[s^2]^2 of the Jacobian spectrum at depth {L}, "
                "Gaussian vs orthogonal (Pennington Table 1)",
                f"{_fmt(tg)} vs {_fmt(to)}",
                f"{_fmt(g)} vs {_fmt(o)}",
                bool(ok),
            )
        )
    g_t = [at("tanh", "gaussian", depth=dd) for dd in depths]
    o_t = [at("tanh", "orthogonal", depth=dd) for dd in depths]
    claims.append(
        Claim(
            "tanh: orthogonal weights keep the spectrum concentrated at any depth "
            "(dynamical isometry); Gaussian weights spread it ~ L",
            "orthogonal O(1), Gaussian ~ L",
            f"orthogonal {', '.join(_fmt(v) for v in o_t)}; Gaussian "
            f"{', '.join(_fmt(v) for v in g_t)} at depths {', '.join(map(str, depths))}",
            o_t[-1] < 2.5 and o_t[-1] < 0.2 * g_t[-1] and g_t[-1] > 0.5 * L,
        )
    )
    return data, claims, {"spectra": spectra, "depth": L}


# === 4. Mishkin & Matas 2016 (LSUV) ===========================================================
def _plot_lsuv(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.1))
    layers = df[df["part"] == "layers"]
    for (act, stage), g in layers.groupby(["activation", "stage"], sort=False):
        style = "-" if stage == "lsuv" else "--"
        axes[0].plot(g["layer"], g["z_var"], style, marker=".", label=f"{act}, {stage}")
    axes[0].set_yscale("log")
    axes[0].axhline(1, color="k", lw=0.5)
    axes[0].set_xlabel("layer")
    axes[0].set_title("pre-activation variance (held-out rows)", fontsize=9)
    axes[0].legend(fontsize=7)
    iters = df[df["part"] == "iterations"]
    for act, g in iters.groupby("activation", sort=False):
        axes[1].plot(g["max_iter"], g["worst"], marker="o", label=act)
    axes[1].axhline(0.1, color="k", lw=0.5, ls=":")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("LSUV iterations allowed per layer")
    axes[1].set_title("max over layers |Var[z] - 1|", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.suptitle("LSUV (Mishkin & Matas 2016)", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "lsuv",
    "LSUV reaches unit variance in every layer within a few iterations",
    "D. Mishkin and J. Matas (2016), All you need is a good init, ICLR",
    _plot_lsuv,
)
def _lsuv(quick: bool, seed: int):
    d = datasets.load("digits", random_state=seed)
    # the scaling batch and held-out rows from the same distribution (the digits validation
    # split is standardized with training statistics, which inflates a few rare pixels)
    calib, held = d.X_train[:600], d.X_train[600:]
    width, depth = (32, 6) if quick else (128, 12)
    tol = 0.1  # the paper's Tol_var
    rows, needed, worst_val = [], {}, {}
    for act in ("relu", "tanh"):
        sizes = (d.n_features, *(width,) * depth, d.n_classes)
        pop = engine.Population(sizes, act)
        ortho = engine.init_params(pop, seed, "orthogonal")

        def hidden_var(params, X, pop=pop):
            zs = pop.forward(params, X).zs[:-1]
            return np.array([z.var() for z in zs])

        needed[act] = -1
        for k in range(0, 4):
            params = engine.lsuv(pop, ortho, calib, tol=tol, max_iter=k) if k else ortho
            var = hidden_var(params, calib)
            worst = float(np.abs(var - 1).max())
            rows.append({"part": "iterations", "activation": act, "max_iter": k, "worst": worst})
            if needed[act] < 0 and worst <= tol:
                needed[act] = k
        final = engine.lsuv(pop, ortho, calib, tol=tol)
        for stage, params in (("orthogonal", ortho), ("lsuv", final)):
            var = hidden_var(params, held)
            for layer, v in enumerate(var, start=1):
                rows.append(
                    {
                        "part": "layers",
                        "activation": act,
                        "stage": stage,
                        "layer": layer,
                        "z_var": float(v),
                    }
                )
            if stage == "lsuv":
                worst_val[act] = float(np.abs(var - 1).max())
    data = pd.DataFrame(rows)
    ortho_relu = data[
        (data.part == "layers") & (data.activation == "relu") & (data.stage == "orthogonal")
    ]["z_var"].to_numpy()
    claims = [
        Claim(
            "LSUV: unit variance in every layer, within a few iterations",
            f"|Var - 1| < Tol_var = {tol} in 1-5 iterations",
            f"iterations needed: relu {needed['relu']}, tanh {needed['tanh']}",
            all(1 <= needed[a] <= 5 for a in needed),
        ),
        Claim(
            "... and it holds on data not used for the scaling",
            "Var = 1",
            f"max |Var - 1| on held-out rows: relu {worst_val['relu']:.3f}, "
            f"tanh {worst_val['tanh']:.3f}",
            max(worst_val.values()) < 0.25,
        ),
        Claim(
            "without the rescaling, orthogonal init lets a ReLU signal decay with depth",
            "variance halves per layer (He et al.)",
            f"layer {depth} / layer 1 variance = {_fmt(ortho_relu[-1] / ortho_relu[0])}",
            ortho_relu[-1] / ortho_relu[0] < 0.5 ** (depth / 2),
        ),
    ]
    return data, claims, {}


# === 5. Klambauer et al. 2017 (SELU) ==========================================================
def _plot_selu(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.1))
    for label, g in df.groupby("init", sort=False):
        axes[0].plot(g["layer"], g["a_mean"], label=label)
        axes[1].plot(g["layer"], g["a_var"], label=label)
    axes[0].axhline(0, color="k", lw=0.5)
    axes[1].axhline(1, color="k", lw=0.5)
    axes[1].set_yscale("log")
    for ax, t in zip(axes, ["activation mean", "activation variance"], strict=True):
        ax.set_xlabel("layer")
        ax.set_title(t, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("SELU (Klambauer et al. 2017): the (0, 1) fixed point", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "selu",
    "SELU with LeCun normal init self-normalizes to mean 0, variance 1",
    "G. Klambauer, T. Unterthiner, A. Mayr and S. Hochreiter (2017), Self-normalizing "
    "neural networks, NeurIPS",
    _plot_selu,
)
def _selu(quick: bool, seed: int):
    width, depth, n = (64, 24, 128) if quick else (256, 64, 256)
    rng = np.random.default_rng(seed)
    # inputs far from the fixed point: mean 1, variance 4 (the paper's basin is wide)
    X = 1.0 + 2.0 * rng.standard_normal((n, width))
    inits = {
        "lecun_normal (tau=1)": "lecun_normal",
        "tau=2 (he_normal)": "he_normal",
        "tau=0.5": initializers.variance_scaling(0.5, "fan_in", "normal"),
    }
    frames = []
    for label, init in inits.items():
        df = diag.propagation((width,) * depth, "selu", init, X, random_state=seed)
        frames.append(df[df["kind"] == "hidden"].assign(init=label))
    data = pd.concat(frames, ignore_index=True)

    def last(label, col):
        g = data[data["init"] == label]
        return float(g[col].iloc[-1])

    good = list(inits)[0]
    mu, nu = last(good, "a_mean"), last(good, "a_var")
    big, small = last(list(inits)[1], "a_var"), last(list(inits)[2], "a_var")
    claims = [
        Claim(
            "SELU + LeCun normal (sum w = 0, n Var[w] = 1): activations converge to mean 0, "
            "variance 1 with depth (Theorem 1)",
            "(mu, nu) -> (0, 1)",
            f"input (1, 4) -> layer {depth}: ({mu:.3f}, {nu:.3f})",
            abs(mu) < 0.1 and abs(nu - 1) < 0.1,
        ),
        Claim(
            "with the wrong gain the fixed point is lost: variance grows for tau = 2, "
            "vanishes for tau = 0.5 (stable only for tau near 1)",
            "tau in [0.95, 1.1] for the (0, 1) fixed point",
            f"layer {depth} variance: {_fmt(big)} (tau=2), {_fmt(small)} (tau=0.5)",
            big > 5 and small < 0.05,
        ),
    ]
    return data, claims, {}


# === 6. Poole et al. 2016 / Schoenholz et al. 2017 (mean field) ==============================
_MF_CONFIGS = [(0.5, 0.0), (1.0, 0.05), (1.3, 0.05), (1.5, 0.05), (2.5, 0.05), (4.0, 0.05)]


def _plot_meanfield(res: ExperimentResult):
    plt = _plt()
    df = res.data
    summary = df.groupby(["sigma_w2", "sigma_b2"], as_index=False).first()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(summary["chi1_theory"], summary["chi1_measured"], "o")
    lim = [summary["chi1_theory"].min() * 0.95, summary["chi1_theory"].max() * 1.05]
    axes[0].plot(lim, lim, "k:", lw=0.8)
    axes[0].set_xlabel("chi_1 by quadrature")
    axes[0].set_ylabel("measured grad. variance ratio")
    axes[0].set_title("chi_1: theory vs measurement (tanh)", fontsize=9)
    for i, ((sw, sb), g) in enumerate(df.groupby(["sigma_w2", "sigma_b2"])):
        if not np.isfinite(g["xi_theory"].iloc[0]) or sb == 0:
            continue
        axes[1].semilogy(
            g["layer"],
            g["c_dev"],
            "o",
            ms=3,
            color=f"C{i}",
            label=f"{sw:g}/{sb:g}: xi {g['xi_theory'].iloc[0]:.1f}",
        )
        l0 = g["layer"].iloc[0]
        axes[1].semilogy(
            g["layer"],
            g["c_dev"].iloc[0] * np.exp(-(g["layer"] - l0) / g["xi_theory"].iloc[0]),
            "-",
            lw=0.8,
            color=f"C{i}",
        )
    axes[1].set_ylim(1e-3, 1)
    axes[1].set_xlabel("layer")
    axes[1].set_title("|c_l - c*| (dots) vs exp(-l / xi_c) (lines)", fontsize=9)
    axes[1].legend(fontsize=6, title="sigma_w^2/sigma_b^2", title_fontsize=6)
    fig.suptitle("Mean field (Poole et al. 2016, Schoenholz et al. 2017)", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "meanfield",
    "chi_1 and the correlation depth scale of tanh nets, quadrature vs measurement",
    "B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli (2016), Exponential "
    "expressivity in deep neural networks through transient chaos, NeurIPS; S. Schoenholz, "
    "J. Gilmer, S. Ganguli and J. Sohl-Dickstein (2017), Deep information propagation, ICLR",
    _plot_meanfield,
)
def _meanfield(quick: bool, seed: int):
    from . import meanfield as mf

    width, depth, pairs, n_models = (128, 30, 16, 2) if quick else (512, 40, 32, 2)
    rng = np.random.default_rng(seed)
    rows = []
    for sw, sb in _MF_CONFIGS:
        q_star = mf.fixed_point("tanh", sw, sb)
        chi = mf.chi1("tanh", sw, sb)
        c_star = mf.correlation_fixed_point("tanh", sw, sb) if q_star > 0 else math.nan
        xi = mf.correlation_depth_scale("tanh", sw, sb) if q_star > 0 else math.nan
        # pairs of inputs with correlation c0 and a squared length that puts layer 1 at q*
        c0 = 0.2 if c_star == 1.0 or not np.isfinite(c_star) else c_star + 0.4
        scale = (q_star - sb) / sw if q_star > 0 else 1.0
        U = rng.standard_normal((pairs, width))
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        V = rng.standard_normal((pairs, width))
        V -= (V * U).sum(axis=1, keepdims=True) * U
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        r = math.sqrt(width * scale)
        X = np.vstack([U * r, (c0 * U + math.sqrt(1 - c0**2) * V) * r])
        weights = initializers.variance_scaling(sw, "fan_in", "normal")
        bias = initializers.get_bias("normal", std=math.sqrt(sb)) if sb > 0 else "zeros"
        pop, params = diag.build(
            (width,) * depth,
            "tanh",
            weights,
            X,
            bias_init=bias,
            random_state=seed,
            n_models=n_models,
        )
        labels = rng.integers(0, 2, len(X))
        stats = diag.layer_stats(pop, params, X, labels)
        g = stats[stats["kind"] == "hidden"].groupby("layer")["grad_var"].mean().to_numpy()
        # chi_1 is the per-layer factor of the squared gradient, away from both ends
        chi_measured = float(np.exp(np.mean(np.log(g[5 : depth - 5] / g[6 : depth - 4]))))
        c = []
        for z in pop.forward(params, X).zs[:-1]:  # (n, M, 2 pairs)
            za, zb = z[:, :, :pairs], z[:, :, pairs:]
            c.append(float(((za * zb).sum(0) / np.sqrt((za**2).sum(0) * (zb**2).sum(0))).mean()))
        c = np.array(c)
        dev = np.abs(c - c_star)
        d0 = abs(c0 - c_star)
        # the linear regime of the correlation map, above the finite-width noise
        window = (dev < 0.6 * d0) & (dev > 0.1 * d0)
        layers = np.arange(1, depth + 1)
        xi_fit = math.nan
        if np.isfinite(xi) and window.sum() >= 3:
            xi_fit = float(-1 / np.polyfit(layers[window], np.log(dev[window]), 1)[0])
        for layer in layers:
            rows.append(
                {
                    "sigma_w2": sw,
                    "sigma_b2": sb,
                    "q_star": q_star,
                    "chi1_theory": chi,
                    "chi1_measured": chi_measured,
                    "c_star": c_star,
                    "xi_theory": xi,
                    "xi_fit": xi_fit,
                    "layer": int(layer),
                    "c": c[layer - 1],
                    "c_dev": dev[layer - 1],
                    "in_fit": bool(window[layer - 1]),
                }
            )
    data = pd.DataFrame(rows)
    summary = data.groupby(["sigma_w2", "sigma_b2"], as_index=False).first()
    rel = (summary["chi1_measured"] / summary["chi1_theory"] - 1).abs()
    zero_bias = summary[summary["sigma_b2"] == 0].iloc[0]
    ordered = summary[(summary["sigma_b2"] > 0) & (summary["c_star"] == 1.0)]
    # c* = 1 is exact at any width in the ordered phase; in the chaotic phase the finite-width
    # c* is shifted and the fit is noisy, so it is reported, not asserted
    far = ordered[ordered["xi_theory"] < 9]
    chaotic = summary[summary["c_star"] < 1.0]
    xi_rel = (far["xi_fit"] / far["xi_theory"] - 1).abs()
    claims = [
        Claim(
            "chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] is the per-layer factor of the squared "
            "gradient (Schoenholz eq. 12)",
            "quadrature: " + ", ".join(f"{v:.3f}" for v in summary["chi1_theory"]),
            "measured: " + ", ".join(f"{v:.3f}" for v in summary["chi1_measured"]),
            bool((rel < (0.06 if quick else 0.03)).all()),
        ),
        Claim(
            "tanh, sigma_b^2 = 0, ordered phase: q* = 0 and chi_1 = sigma_w^2",
            f"chi_1 = {zero_bias['sigma_w2']:g}",
            f"quadrature {zero_bias['chi1_theory']:.4f}, measured {zero_bias['chi1_measured']:.3f}",
            abs(zero_bias["chi1_theory"] - zero_bias["sigma_w2"]) < 1e-9
            and abs(zero_bias["chi1_measured"] / zero_bias["sigma_w2"] - 1) < 0.06,
        ),
        Claim(
            "correlations approach c* as exp(-l / xi_c), xi_c = -1 / log chi_c (eq. 9), "
            "ordered phase",
            "xi_c: " + ", ".join(f"{v:.2f}" for v in far["xi_theory"]),
            "fit: "
            + ", ".join(f"{v:.2f}" for v in far["xi_fit"])
            + " (chaotic, not asserted: "
            + ", ".join(
                f"{t:.1f} vs fit {f:.1f}"
                for t, f in zip(chaotic["xi_theory"], chaotic["xi_fit"], strict=True)
            )
            + ")",
            bool((xi_rel < (0.3 if quick else 0.2)).all()),
        ),
        Claim(
            "xi_c grows toward the edge of chaos (sigma_w^2 = 1.76 at sigma_b^2 = 0.05)",
            "ordered side: xi_c " + ", ".join(f"{v:.1f}" for v in ordered["xi_theory"]),
            "fit " + ", ".join(f"{v:.1f}" for v in ordered["xi_fit"]),
            bool(np.all(np.diff(ordered["xi_fit"].to_numpy()) > 0)),
        ),
    ]
    return data, claims, {}


# === 7. Hanin & Rolnick 2018 ==================================================================
_CHUNK = 100  # networks built at once (1500 nets of 32 x 64 x 64 weights would take 1.5 GB)


def _log_ratio_variance(n: int) -> float:
    """Exact ``Var[log(M_j / M_{j-1})]`` for one ReLU layer of width ``n`` with He weights.

    ``M_j / M_{j-1} = (2/n) chi^2_K`` with ``K ~ Binomial(n, 1/2)`` active units, so
    ``Var[log] = E_K[psi_1(K/2)] + Var_K[psi(K/2)]`` (conditioned on ``K >= 1``); this is
    ``5/n + O(1/n^2)``.
    """
    k = np.arange(1, n + 1)
    p = stats.binom.pmf(k, n, 0.5)
    p = p / p.sum()
    mean_psi = np.sum(p * special.digamma(k / 2))
    return float(
        np.sum(p * special.polygamma(1, k / 2))
        + np.sum(p * (special.digamma(k / 2) - mean_psi) ** 2)
    )


def _plot_hanin(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.1))
    for width, g in df.groupby("width"):
        axes[0].errorbar(
            g["beta"],
            g["mean_ratio"],
            yerr=2 * g["se_mean"],
            marker="o",
            label=f"width {width}",
            capsize=2,
        )
        axes[1].plot(g["beta"], g["var_log"], "o", label=f"width {width}")
    b = np.linspace(0, df["beta"].max(), 50)
    axes[1].plot(b, 5 * b, "k:", label="5 beta")
    axes[0].axhline(1, color="k", lw=0.5)
    axes[0].set_title("mean of M_d / M_0", fontsize=9)
    axes[1].set_title("Var[log M_d / M_0]", fontsize=9)
    for ax in axes:
        ax.set_xlabel("beta = sum of 1/width")
        ax.legend(fontsize=7)
    fig.suptitle("Hanin & Rolnick (2018): ReLU, He init", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "hanin",
    "He init keeps the mean squared length; its spread grows with sum of 1/width",
    "B. Hanin and D. Rolnick (2018), How to start training: the effect of initialization "
    "and architecture, NeurIPS",
    _plot_hanin,
)
def _hanin(quick: bool, seed: int):
    widths, depths, n_models = (
        ((16, 32), (4, 8), 400) if quick else ((16, 32, 64), (4, 8, 16, 32), 1000)
    )
    rows = []
    for width in widths:
        X = diag.gaussian_inputs(1, width, seed)  # M_0 = |x|^2 / n_0 = 1
        for depth in depths:
            M = []  # M_j = |a_j|^2 / n_j, (depth, models); built in chunks to bound memory
            for first in range(0, n_models, _CHUNK):
                pop, params = diag.build(
                    (width,) * depth,
                    "relu",
                    "he_normal",
                    X,
                    random_state=seed + first,
                    n_models=min(_CHUNK, n_models - first),
                )
                acts = pop.forward(params, X).acts  # per layer (n_j, chunk, 1)
                M.append(np.stack([(a**2).mean(axis=0)[:, 0] for a in acts]))
            M = np.concatenate(M, axis=1)
            ratio = M[-1]  # M_d / M_0
            alive = ratio > 0
            logs = np.log(ratio[alive])
            with np.errstate(invalid="ignore", divide="ignore"):
                steps = M / np.vstack([np.ones((1, n_models)), M[:-1]])  # M_j / M_{j-1}
            steps = steps[np.isfinite(steps)]
            rows.append(
                {
                    "width": width,
                    "depth": depth,
                    "beta": depth / width,
                    "n_models": n_models,
                    "mean_ratio": float(ratio.mean()),
                    "se_mean": float(ratio.std(ddof=1) / math.sqrt(n_models)),
                    "mean_step": float(steps.mean()),
                    "se_step": float(steps.std(ddof=1) / math.sqrt(steps.size)),
                    "var_log": float(logs.var(ddof=1)),
                    "var_log_theory": depth * _log_ratio_variance(width),
                    "five_beta": 5 * depth / width,
                    "dead": int((~alive).sum()),
                }
            )
    data = pd.DataFrame(rows)
    z_step = np.abs(data["mean_step"] - 1) / data["se_step"]
    small = data[data["beta"] <= 0.5]  # the sample mean of a heavy tail is unreliable beyond
    z_end = np.abs(small["mean_ratio"] - 1) / small["se_mean"]
    ratio_var = data["var_log"] / data["var_log_theory"]
    same_beta = data[np.isclose(data["beta"], 0.25)]["var_log"]
    claims = [
        Claim(
            "He init preserves the mean squared length at every depth: E[M_d] = M_0 (Thm 5)",
            "E[M_j / M_{j-1}] = 1, so E[M_d / M_0] = 1",
            f"per layer {data['mean_step'].min():.3f} .. {data['mean_step'].max():.3f}; "
            f"end to end (beta <= 1/2) {small['mean_ratio'].min():.3f} .. "
            f"{small['mean_ratio'].max():.3f}",
            bool((z_step < 4).all() and (z_end < 4).all()),
        ),
        Claim(
            "its spread grows exponentially in beta = sum 1/n_j: Var[log M_d/M_0] ~ 5 beta",
            "5 beta (exactly sum_j v(n_j), v(n) = 5/n + O(1/n^2))",
            f"measured / exact: {ratio_var.min():.2f} .. {ratio_var.max():.2f} for beta "
            f"{data['beta'].min():g} .. {data['beta'].max():g}",
            bool(((ratio_var - 1).abs() < (0.3 if quick else 0.2)).all()),
        ),
        Claim(
            "architectures with the same beta have the same spread",
            "depends on beta only",
            "beta = 1/4: Var[log] = " + ", ".join(f"{v:.3f}" for v in same_beta),
            len(same_beta) >= 2 and same_beta.max() / same_beta.min() < 1.35,
        ),
    ]
    return data, claims, {}


# === 8. Lu et al. 2019 (dying ReLU) ===========================================================
def _plot_dying(res: ExperimentResult):
    plt = _plt()
    df = res.data
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, (width, g) in enumerate(df.groupby("width")):
        ax.plot(g["depth"], g["p_dead"], "o-", color=f"C{i}", label=f"width {width}")
        ax.plot(g["depth"], g["bound"], ":", color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel("P(born dead)")
    ax.set_title("Lu et al. (2019): measured (o) and 1-(1-2^-N)^L (dotted)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@_register(
    "dying_relu",
    "Deep narrow ReLU networks are born dead with probability -> 1",
    "L. Lu, Y. Shin, Y. Su and G. E. Karniadakis (2019), Dying ReLU and initialization: "
    "theory and numerical examples, arXiv:1903.06733",
    _plot_dying,
)
def _dying(quick: bool, seed: int):
    widths, depths, n_models = (
        ((2, 4), (2, 10, 40), 400) if quick else ((2, 3, 4, 5), (1, 2, 5, 10, 20, 50), 1000)
    )
    X = np.linspace(-1, 1, 101)[:, None]  # the 1-D domain of Lu et al.'s examples
    rows = []
    for width in widths:
        for depth in depths:
            pop, params = diag.build(
                (width,) * depth, "relu", "he_normal", X, random_state=seed, n_models=n_models
            )
            out = pop.forward(params, X).zs[-1]  # logits (K, M, N)
            dead = (np.ptp(out, axis=-1) == 0).all(axis=0)  # constant over the whole domain
            p = float(dead.mean())
            rows.append(
                {
                    "width": width,
                    "depth": depth,
                    "n_models": n_models,
                    "p_dead": p,
                    "se": math.sqrt(max(p * (1 - p), 1e-12) / n_models),
                    # dead at one input point: each layer dies with probability 2^-N
                    "bound": 1 - (1 - 2.0**-width) ** depth,
                }
            )
    data = pd.DataFrame(rows)
    by_width = {w: g.sort_values("depth") for w, g in data.groupby("width")}
    narrow = by_width[min(widths)]
    deepest = data[data["depth"] == max(depths)].sort_values("width")
    ok_monotone = all(
        (np.diff(g["p_dead"]) > -3 * g["se"].to_numpy()[1:] - 0.01).all() for g in by_width.values()
    )
    claims = [
        Claim(
            "the probability that a ReLU net is born dead grows to 1 with depth",
            "P -> 1 as depth -> infinity (Thm 3.1)",
            f"width {min(widths)}: P = "
            + ", ".join(f"{p:.2f}" for p in narrow["p_dead"])
            + f" at depths {', '.join(map(str, narrow['depth']))}",
            ok_monotone and narrow["p_dead"].iloc[-1] > 0.9,
        ),
        Claim(
            "wider networks die later",
            "P decreases with width",
            f"depth {max(depths)}: P = "
            + ", ".join(f"{p:.2f}" for p in deepest["p_dead"])
            + f" at widths {', '.join(map(str, deepest['width']))}",
            bool((np.diff(deepest["p_dead"]) < 3 * deepest["se"].to_numpy()[1:] + 0.01).all())
            and deepest["p_dead"].iloc[0] > deepest["p_dead"].iloc[-1],
        ),
        Claim(
            "born dead on the whole domain is bounded by dying at a single input, "
            "1 - (1 - 2^-N)^L, and approaches it for deep nets",
            "P <= 1 - (1 - 2^-N)^L",
            f"max excess {float((data['p_dead'] - data['bound']).max()):+.3f}; "
            f"deepest: measured/bound {float((deepest['p_dead'] / deepest['bound']).min()):.2f}"
            f"..{float((deepest['p_dead'] / deepest['bound']).max()):.2f}",
            bool((data["p_dead"] <= data["bound"] + 3 * data["se"] + 0.01).all())
            and float((deepest["p_dead"] / deepest["bound"]).min()) > 0.7,
        ),
    ]
    return data, claims, {}


# === 9. The blog: zero initialization ========================================================
def _plot_blog(res: ExperimentResult):
    plt = _plt()
    df = res.data
    hidden = df[df["layer"] == 1]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.1))
    for i, (config, g) in enumerate(hidden.groupby("config", sort=False)):
        style = "-" if "zeros" in config else "--"
        axes[0].plot(g["epoch"], g["W_moved"], style, color=f"C{i}", label=config)
        axes[1].plot(g["epoch"], g["copies"] + 0.02 * i, style, color=f"C{i}", label=config)
    axes[0].set_title("max |W1 - W1(0)| (hidden weights moved)", fontsize=9)
    axes[1].set_title("hidden units that copy another", fontsize=9)
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=6)
    fig.suptitle("The blog's network [2, 2, 4]: zero initialization", fontsize=10)
    fig.tight_layout()
    return fig


@_register(
    "blog_symmetry",
    "The blog: zero init keeps hidden units identical and freezes tanh/ReLU weights",
    "The blog post in /work/shared/seed (FFNetwork on make_blobs, 4 activations x 4 inits)",
    _plot_blog,
)
def _blog(quick: bool, seed: int):
    d = datasets.load("blog")
    configs = [
        ("sigmoid", "zeros"),
        ("tanh", "zeros"),
        ("relu", "zeros"),
        ("leaky_relu", "zeros"),
        ("tanh", "xavier"),
        ("leaky_relu", "he"),
    ]
    if quick:
        configs = [("sigmoid", "zeros"), ("tanh", "zeros"), ("leaky_relu", "he")]
    frames, acc = [], {}
    for act, init in configs:
        net = blog_network(act, init)
        df = diag.record(net, d.X_train, d.y_train, every=1, X_val=d.X_val, y_val=d.y_val)
        df["config"] = f"{act} + {init}"
        frames.append(df)
        acc[act, init] = float(df["val_acc"].iloc[-1])
    data = pd.concat(frames, ignore_index=True)
    hidden = data[data["layer"] == 1]

    def series(act, init, col):
        return hidden[hidden["config"] == f"{act} + {init}"][col].to_numpy()

    frozen = [(a, i) for a, i in configs if i == "zeros" and a != "sigmoid"]
    sig_moved = series("sigmoid", "zeros", "W_moved")[-1]
    claims = [
        Claim(
            "sigmoid + zeros: the weights move but stay equal; symmetry never breaks",
            "weights move but remain the same; 54% accuracy",
            f"W1 moved {sig_moved:.2f}; copies = "
            f"{int(series('sigmoid', 'zeros', 'copies').min())} of 2 at every epoch; "
            f"val acc {acc['sigmoid', 'zeros']:.2f}",
            sig_moved > 0.1
            and (series("sigmoid", "zeros", "copies") == 1).all()
            and abs(acc["sigmoid", "zeros"] - 0.54) < 0.015,
        ),
        Claim(
            "tanh / ReLU + zeros: the hidden weights never get an update "
            "(f(0) = 0 kills the gradient)",
            "parameters not updated",
            "max |W1 - W1(0)| over 50 epochs: "
            + ", ".join(f"{a} {series(a, i, 'W_moved').max():g}" for a, i in frozen),
            all((series(a, i, "W_moved") == 0).all() for a, i in frozen),
        ),
        Claim(
            "random-scaled inits break the symmetry",
            "weights take different values",
            ", ".join(
                f"{a} + {i}: copies {int(series(a, i, 'copies').max())}"
                for a, i in configs
                if i != "zeros"
            ),
            all((series(a, i, "copies") == 0).all() for a, i in configs if i != "zeros"),
        ),
    ]
    return data, claims, {}
