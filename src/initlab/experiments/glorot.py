"""Glorot & Bengio (2010): standard vs normalized init for tanh; the saturating sigmoid top."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import datasets, engine, initializers, optim
from .. import diagnostics as diag
from ._common import Claim, Experiment, ExperimentResult, _geomean_ratio

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Glorot & Bengio's "standard" initialization U[-1/sqrt(n), 1/sqrt(n)]: a uniform on
# [-a, a] has variance a^2 / 3, so it is variance scaling with scale 1/3 on the fan-in.
GLOROT_STANDARD = initializers.variance_scaling(1 / 3, "fan_in", "uniform", name="standard")


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    init = res.data[res.data["part"] == "init"]
    train = res.data[res.data["part"] == "sigmoid"]
    return plots.panels(
        [
            plots.Panel(
                "activation variance (tanh)",
                [plots.Lines(init, "layer", "a_var", hue="init", marker="o")],
                xlabel="hidden layer",
                logy=True,
            ),
            plots.Panel(
                "back-prop. gradient variance",
                [plots.Lines(init, "layer", "grad_var", hue="init", marker="o")],
                xlabel="hidden layer",
                logy=True,
            ),
            plots.Panel(
                "sigmoid: mean activation per layer",
                [
                    plots.Lines(
                        train, "epoch", "a_mean", hue="layer", style="init", label="{init} L{layer}"
                    )
                ],
                xlabel="epoch",
                legend={"fontsize": 6, "ncol": 2},
            ),
        ],
        title="Glorot & Bengio (2010)",
    )


def measure(quick: bool, seed: int):
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


EXPERIMENT = Experiment(
    "glorot",
    "Standard vs normalized init for tanh; the top sigmoid layer saturates",
    "X. Glorot and Y. Bengio (2010), Understanding the difficulty of training deep "
    "feedforward neural networks, AISTATS",
    measure,
    figure,
)
