"""Lu, Shin, Su & Karniadakis (2019): narrow deep ReLU networks are born dead."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import diagnostics as diag
from ._common import Claim, Experiment, ExperimentResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    df = res.data
    return plots.panels(
        [
            plots.Panel(
                "measured (o) and 1-(1-2^-N)^L (dotted)",
                [
                    plots.Lines(
                        df, "depth", "p_dead", hue="width", marker="o", label="width {width}"
                    ),
                    plots.Lines(df, "depth", "bound", hue="width", ls=":", label=""),
                ],
                xlabel="depth (hidden layers)",
                ylabel="P(born dead)",
                logx=True,
            )
        ],
        title="Lu et al. (2019): narrow deep ReLU nets are born dead",
        panel_size=(5.0, 3.4),
    )


def measure(quick: bool, seed: int):
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


EXPERIMENT = Experiment(
    "dying_relu",
    "Deep narrow ReLU networks are born dead with probability -> 1",
    "L. Lu, Y. Shin, Y. Su and G. E. Karniadakis (2019), Dying ReLU and initialization: "
    "theory and numerical examples, arXiv:1903.06733",
    measure,
    figure,
)
