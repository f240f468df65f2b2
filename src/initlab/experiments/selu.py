"""Klambauer et al. (2017): the self-normalizing fixed point of SELU with LeCun normal weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import diagnostics as diag
from .. import initializers
from ._common import Claim, Experiment, ExperimentResult, _fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    df = res.data
    return plots.panels(
        [
            plots.Panel(
                "activation mean",
                [plots.Lines(df, "layer", "a_mean", hue="init")],
                xlabel="layer",
                hlines=(0,),
            ),
            plots.Panel(
                "activation variance",
                [plots.Lines(df, "layer", "a_var", hue="init")],
                xlabel="layer",
                logy=True,
                hlines=(1,),
            ),
        ],
        title="SELU (Klambauer et al. 2017): the (0, 1) fixed point",
    )


def measure(quick: bool, seed: int):
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


EXPERIMENT = Experiment(
    "selu",
    "SELU with LeCun normal init self-normalizes to mean 0, variance 1",
    "G. Klambauer, T. Unterthiner, A. Mayr and S. Hochreiter (2017), Self-normalizing "
    "neural networks, NeurIPS",
    measure,
    figure,
)
