"""Statistics over seeds: means, bootstrap confidence intervals, paired tests, rankings.

A study trains every configuration with several seeds.  :func:`summarize`
collapses the seeds of each configuration into ``n``, ``mean``, ``std`` and a
bootstrap 95% confidence interval of the mean, then, within each *block*
(the configurations that are compared with each other: same data set,
optimizer, architecture, learning rate, ...), ranks them and marks the best
and those statistically tied with it.

"Tied with the best" uses a paired test across seeds: runs of two
configurations with the same seed share the data split and the batch order,
so we test the per-seed differences (a paired t-test; if every difference is
exactly zero the two are identical, hence tied).  A configuration is tied
when the test cannot reject equality at ``alpha`` (0.05).  No
multiple-comparison correction is applied: "tied" means "not shown worse".
With fewer than two seeds there is no test: a block whose best has one seed
marks neither a best nor ties (:func:`story` says it in one sentence).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special as _special

from . import runs as _runs

__all__ = [
    "bootstrap_ci",
    "paired_p_value",
    "summarize",
    "config_columns",
    "COMPARED",
    "SUMMARY_COLUMNS",
    "MIN_SEEDS",
    "story",
]

#: Within a block, configurations differ in these columns (the blog's table).
COMPARED = ("init", "activation", "bias_init")


def bootstrap_ci(
    values: np.ndarray, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (seeded, so reproducible)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (np.nan, np.nan)
    if len(x) == 1 or np.all(x == x[0]):
        return (float(x[0]) if len(x) == 1 else float(x.mean()),) * 2
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired t-test p-value for equal means; 1.0 when the pairs are identical."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    if len(d) < 2:
        return np.nan  # one pair (or none): no test
    if np.all(d == 0):
        return 1.0
    if np.all(d == d[0]):
        return 0.0  # a constant non-zero difference: never equal
    # the paired t-test (as scipy.stats.ttest_rel), from the t distribution's CDF in
    # scipy.special: importing scipy.stats would double `initlab study`'s start-up time
    n = len(d)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    return float(2 * _special.stdtr(n - 1, -abs(t)))


def config_columns(runs: pd.DataFrame) -> list[str]:
    """The columns that say what a run was, seed excluded: the data set and the run
    fields (:mod:`initlab.runs`); metrics and bookkeeping are not configuration."""
    fields = set(_runs.names()) - {"seed"}
    return [c for c in runs.columns if c == "dataset" or c in fields]


def compared_columns(data: pd.DataFrame, cfg: list[str], compared) -> list[str]:
    """The compared columns and those that follow from them.

    A conditional field follows its owner (the leaky slope the activation, momentum
    the optimizer); a setting fixed by the compared ones (minibatch's batch size by
    the optimizer, the blog's biases by the initializer) is compared with them, so it
    never splits a comparison into blocks.
    """
    out = [c for c in compared if c in cfg]
    for c in cfg:
        if c in out:
            continue
        try:
            f = _runs.get_field(c)
        except ValueError:
            f = None
        if f is not None and f.conditional and f.owner in out:
            out.append(c)
        elif out and data[c].nunique(dropna=False) > 1:
            if data.groupby(out, dropna=False)[c].nunique(dropna=False).max() <= 1:
                out.append(c)
    return out


#: Seeds a configuration needs for the paired test (and so for a best or a tie).
MIN_SEEDS = 2


def story(alpha: float = 0.05) -> str:
    """What ★ and ≈ mean, in the one sentence the terminal, the report and the docs use."""
    return (
        f"★ best mean of its comparison group; ≈ tied with it: a paired t-test across "
        f"seeds (runs with the same seed share the data split and batch order) finds no "
        f"difference (p ≥ {alpha:g}); n = 1: no test, no ★ or ≈"
    )


#: The statistics columns :func:`summarize` adds to the configuration columns, in order.
SUMMARY_COLUMNS = (
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "diverged",
    "n_diverged",
    "block",
    "rank",
    "best",
    "tied",
    "p_value",
)

#: Bootstrap means held in memory at once by :func:`summarize` (configurations x
#: resamples x seeds, 8 bytes each): 64 MB whatever the size of the study.
_BOOT_BATCH = 8_000_000


def summarize(
    runs: pd.DataFrame,
    metric: str = "val_acc",
    higher_is_better: bool | None = None,
    alpha: float = 0.05,
    compared: Sequence[str] = COMPARED,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per configuration (seeds collapsed) with statistics, rank, best and tied.

    Parameters
    ----------
    runs : DataFrame
        One row per run, with a ``seed`` column and configuration columns.
    metric : str
        Column to summarize (accuracies: higher is better; losses: lower).
    compared : columns that vary *within* a block; every other configuration
        column defines the blocks.

    Returns
    -------
    DataFrame with the configuration columns, ``block`` (an integer id),
    ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``, ``diverged`` (fraction
    of seeds) and ``n_diverged`` (how many; a diverged run's finite metric
    still counts in the mean, its inf/NaN do not), ``rank`` (1 = best within
    the block), ``best``, ``tied`` (not shown worse than the best by a paired
    test; the best is tied with itself) and ``p_value`` (against the best).

    Notes
    -----
    Linear in the number of runs: one group-by pass assigns every run to its
    configuration, the bootstrap resamples every configuration with the same
    number of finite values in one vectorized batch (the resampling indices
    depend only on that number and the seed, so each configuration gets
    exactly the interval :func:`bootstrap_ci` gives it alone), and the paired
    tests read each configuration's per-seed values from arrays.
    """
    if runs.empty:
        raise ValueError("no runs to summarize")
    if metric not in runs.columns:
        raise ValueError(
            f"unknown metric {metric!r}; choose one of: "
            f"{', '.join(c for c in runs.columns if c.endswith(('_acc', '_loss')))}"
        )
    if higher_is_better is None:
        higher_is_better = not metric.endswith("loss")
    cfg = config_columns(runs)
    keys = runs[cfg].copy()
    # NaN in a configuration column (a hyperparameter an optimizer lacks) must group too
    for c in cfg:
        if keys[c].isna().any():
            keys[c] = keys[c].astype(object).where(keys[c].notna(), "-")
    compared = compared_columns(keys, cfg, compared)
    block_cols = [c for c in cfg if c not in compared]

    # one pass: every run's configuration id, in order of first appearance
    if cfg:
        codes = keys.groupby(cfg, sort=False, dropna=False).ngroup().to_numpy()
    else:
        codes = np.zeros(len(runs), int)
    n_cfg = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")  # each configuration's runs, in row order
    counts = np.bincount(codes, minlength=n_cfg)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    values = runs[metric].to_numpy(float)[order]
    seeds = runs["seed"].to_numpy()[order] if "seed" in runs.columns else order
    firsts = order[starts]

    out = keys.iloc[firsts].reset_index(drop=True)
    mean, std, lo, hi = _seed_statistics(values, counts, starts, level)
    out["n"] = counts
    out["mean"], out["std"], out["ci_low"], out["ci_high"] = mean, std, lo, hi
    if "diverged" in runs.columns:
        div = runs["diverged"].to_numpy(float)[order]
        seen = np.isfinite(div)
        n_div = np.bincount(codes[order], weights=np.where(seen, div, 0.0), minlength=n_cfg)
        n_seen = np.bincount(codes[order], weights=seen.astype(float), minlength=n_cfg)
        with np.errstate(invalid="ignore"):
            out["diverged"] = n_div / n_seen
        out["n_diverged"] = n_div.astype(int)
    else:
        out["diverged"] = 0.0
        out["n_diverged"] = 0
    out["block"] = out.groupby(block_cols, sort=False, dropna=False).ngroup() if block_cols else 0
    ranks = out.groupby("block")["mean"].rank(
        ascending=not higher_is_better, method="min", na_option="bottom"
    )
    out["rank"] = ranks.astype(int)
    best = np.zeros(n_cfg, bool)
    tied = np.zeros(n_cfg, bool)
    p_values = np.full(n_cfg, np.nan)
    per_seed = [
        dict(zip(seeds[a : a + k].tolist(), values[a : a + k].tolist(), strict=True))
        for a, k in zip(starts, counts, strict=True)
    ]
    blocks = out["block"].to_numpy()
    for members in pd.Series(np.arange(n_cfg)).groupby(blocks).groups.values():
        members = np.asarray(members)
        m = mean[members]
        if np.isnan(m).all():
            continue
        best_i = members[np.nanargmax(m) if higher_is_better else np.nanargmin(m)]
        best_runs = per_seed[best_i]
        if sum(np.isfinite(v) for v in best_runs.values()) < MIN_SEEDS:
            continue  # one seed: no test, so neither a best nor a tie is claimed
        for i in members:
            other = per_seed[i]
            common = [s for s in best_runs if s in other]
            p = paired_p_value(
                np.array([best_runs[s] for s in common], float),
                np.array([other[s] for s in common], float),
            )
            p_values[i] = p
            tied[i] = bool(i == best_i or (np.isfinite(p) and p >= alpha))
        best[best_i] = True
    out["best"], out["tied"], out["p_value"] = best, tied, p_values
    return out


def _seed_statistics(values, counts, starts, level, n_boot: int = 2000, seed: int = 0):
    """Mean, std (ddof 1) and bootstrap CI of each configuration's finite values.

    Configurations with the same number ``k`` of finite values are computed together,
    with the resampling indices :func:`bootstrap_ci` draws for ``k`` (they depend on
    ``k`` and the seed only), and the same per-row reductions: every number equals
    the one-configuration-at-a-time computation to the bit.
    """
    n_cfg = len(counts)
    mean = np.full(n_cfg, np.nan)
    std = np.zeros(n_cfg)
    lo = np.full(n_cfg, np.nan)
    hi = np.full(n_cfg, np.nan)
    finite = np.isfinite(values)
    n_finite = np.add.reduceat(finite, starts) if len(values) else np.zeros(0, int)
    tail = (1 - level) / 2 * 100
    for k in np.unique(n_finite):
        k = int(k)
        if k == 0:
            continue
        which = np.flatnonzero(n_finite == k)
        # the finite values of these configurations, one row each, in row order
        rows = np.empty((len(which), k))
        for r, i in enumerate(which):
            a = starts[i]
            x = values[a : a + counts[i]]
            rows[r] = x[finite[a : a + counts[i]]]
        mean[which] = rows.mean(axis=1)
        if k > 1:
            std[which] = rows.std(axis=1, ddof=1)
        constant = (rows == rows[:, :1]).all(axis=1)
        if k == 1:
            lo[which] = hi[which] = rows[:, 0]
            continue
        lo[which[constant]] = hi[which[constant]] = mean[which[constant]]
        vary = which[~constant]
        if not len(vary):
            continue
        rows = rows[~constant]
        idx = np.random.default_rng(seed).integers(0, k, size=(n_boot, k)).ravel()
        step = max(1, _BOOT_BATCH // (n_boot * k))
        for b in range(0, len(vary), step):
            part = rows[b : b + step]
            # gathered flat, then reduced as 2-D (resample, k) rows like bootstrap_ci's
            # x[idx]: NumPy reduces the last axis of a 3-D gather in another order, which
            # changes the last bits
            flat = np.take(part, idx, axis=1)  # (configurations, n_boot * k), C order
            means = flat.reshape(-1, k).mean(axis=1).reshape(len(part), n_boot)
            q = np.percentile(means, [tail, 100 - tail], axis=1)
            lo[vary[b : b + step]], hi[vary[b : b + step]] = q[0], q[1]
    return mean, std, lo, hi
