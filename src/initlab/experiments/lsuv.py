"""Mishkin & Matas (2016): layer-sequential unit-variance initialization."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import datasets, engine
from ._common import Claim, Experiment, ExperimentResult, _fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    layers = res.data[res.data["part"] == "layers"]
    iters = res.data[res.data["part"] == "iterations"]
    return plots.panels(
        [
            plots.Panel(
                "pre-activation variance (held-out rows)",
                [
                    plots.Lines(
                        layers, "layer", "z_var", hue="activation", style="stage", marker="."
                    )
                ],
                xlabel="layer",
                logy=True,
                hlines=(1,),
            ),
            plots.Panel(
                "max over layers |Var[z] - 1|",
                [plots.Lines(iters, "max_iter", "worst", hue="activation", marker="o")],
                xlabel="LSUV iterations allowed per layer",
                logy=True,
                hlines=(0.1,),
            ),
        ],
        title="LSUV (Mishkin & Matas 2016)",
    )


def measure(quick: bool, seed: int):
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


EXPERIMENT = Experiment(
    "lsuv",
    "LSUV reaches unit variance in every layer within a few iterations",
    "D. Mishkin and J. Matas (2016), All you need is a good init, ICLR",
    measure,
    figure,
)
