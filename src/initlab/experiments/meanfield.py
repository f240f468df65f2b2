"""Poole et al. (2016), Schoenholz et al. (2017): chi_1 and the correlation depth scale."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import diagnostics as diag
from .. import initializers
from ._common import Claim, Experiment, ExperimentResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_MF_CONFIGS = [(0.5, 0.0), (1.0, 0.05), (1.3, 0.05), (1.5, 0.05), (2.5, 0.05), (4.0, 0.05)]


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    df = res.data
    summary = df.groupby(["sigma_w2", "sigma_b2"], as_index=False).first()
    # the biased configurations with a finite depth scale, each with exp(-l / xi_c)
    decay = df[np.isfinite(df["xi_theory"]) & (df["sigma_b2"] > 0)].copy()
    first = decay.groupby(["sigma_w2", "sigma_b2"])[["layer", "c_dev"]].transform("first")
    decay["theory"] = first["c_dev"] * np.exp(
        -(decay["layer"] - first["layer"]) / decay["xi_theory"]
    )
    decay["config"] = [
        f"{w:g}/{b:g}: xi {x:.1f}"
        for w, b, x in zip(decay["sigma_w2"], decay["sigma_b2"], decay["xi_theory"], strict=True)
    ]
    return plots.panels(
        [
            plots.Panel(
                "chi_1: theory vs measurement (tanh)",
                [plots.Lines(summary, "chi1_theory", "chi1_measured", marker="o", ls="")],
                xlabel="chi_1 by quadrature",
                ylabel="measured grad. variance ratio",
                diagonal=True,
            ),
            plots.Panel(
                "|c_l - c*| (dots) vs exp(-l / xi_c) (lines)",
                [
                    plots.Lines(decay, "layer", "c_dev", hue="config", marker="o", ls="", size=3),
                    plots.Lines(decay, "layer", "theory", hue="config", label=""),
                ],
                xlabel="layer",
                logy=True,
                ylim=(1e-3, 1),
                legend_title="sigma_w^2/sigma_b^2",
                legend={"fontsize": 6, "title_fontsize": 6},
            ),
        ],
        title="Mean field (Poole et al. 2016, Schoenholz et al. 2017)",
    )


def measure(quick: bool, seed: int):
    from .. import meanfield as mf

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


EXPERIMENT = Experiment(
    "meanfield",
    "chi_1 and the correlation depth scale of tanh nets, quadrature vs measurement",
    "B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli (2016), Exponential "
    "expressivity in deep neural networks through transient chaos, NeurIPS; S. Schoenholz, "
    "J. Gilmer, S. Ganguli and J. Sohl-Dickstein (2017), Deep information propagation, ICLR",
    measure,
    figure,
)
