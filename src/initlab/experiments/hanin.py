"""Hanin & Rolnick (2018): He init keeps the length; its spread grows with the sum of 1/width."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special, stats

from .. import diagnostics as diag
from ._common import Claim, Experiment, ExperimentResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    df = res.data.assign(two_se=2 * res.data["se_mean"])
    beta = np.linspace(0, df["beta"].max(), 50)
    five_beta = pd.DataFrame({"beta": beta, "var_log": 5 * beta})
    return plots.panels(
        [
            plots.Panel(
                "mean of M_d / M_0",
                [
                    plots.Lines(
                        df,
                        "beta",
                        "mean_ratio",
                        hue="width",
                        yerr="two_se",
                        marker="o",
                        label="width {width}",
                    )
                ],
                xlabel="beta = sum of 1/width",
                hlines=(1,),
            ),
            plots.Panel(
                "Var[log M_d / M_0]",
                [
                    plots.Lines(
                        df, "beta", "var_log", hue="width", marker="o", ls="", label="width {width}"
                    ),
                    plots.Lines(five_beta, "beta", "var_log", color="k", ls=":", label="5 beta"),
                ],
                xlabel="beta = sum of 1/width",
            ),
        ],
        title="Hanin & Rolnick (2018): ReLU, He init",
    )


def measure(quick: bool, seed: int):
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


EXPERIMENT = Experiment(
    "hanin",
    "He init keeps the mean squared length; its spread grows with sum of 1/width",
    "B. Hanin and D. Rolnick (2018), How to start training: the effect of initialization "
    "and architecture, NeurIPS",
    measure,
    figure,
)
