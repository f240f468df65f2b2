"""Statistics over seeds: bootstrap CI, paired test, summaries."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab.stats import SUMMARY_COLUMNS, bootstrap_ci, paired_p_value, summarize


def test_paired_p_value_equals_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(0.8, 0.05, 10)
        b = a - rng.normal(0.01, 0.03, 10)
        assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-10)


def test_paired_p_value_edge_cases():
    a = np.array([0.5, 0.6, 0.7])
    assert paired_p_value(a, a) == 1.0  # identical runs are tied
    assert paired_p_value(a, a - 0.1) == 0.0  # a constant non-zero difference is not
    assert np.isnan(paired_p_value([np.nan], [0.5]))
    assert np.isnan(paired_p_value([0.5], [0.4]))  # one pair: no test
    assert np.isnan(paired_p_value([0.5], [0.5]))


def test_one_seed_marks_no_best_and_no_tie():
    rows = [
        dict(activation="tanh", init=init, seed=0, diverged=False, val_acc=acc)
        for init, acc in [("a", 0.9), ("b", 0.5)]
    ]
    summ = summarize(pd.DataFrame(rows), compared=("init",))
    assert not summ["best"].any() and not summ["tied"].any()
    assert summ["p_value"].isna().all()
    assert summ.set_index("init").loc["a", "rank"] == 1  # still ranked


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.normal(0, 1, 10)
    large = rng.normal(0, 1, 1000)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_ci(large)
    assert hi2 - lo2 < (hi - lo) / 5
    assert bootstrap_ci(small) == bootstrap_ci(small)  # seeded
    # about 95% coverage: the interval of n = 1000 is close to mean +- 1.96 sigma / sqrt(n)
    assert hi2 - lo2 == pytest.approx(2 * 1.96 * large.std() / np.sqrt(1000), rel=0.15)


def test_summarize_ranks_within_blocks():
    rows = []
    rng = np.random.default_rng(2)
    for act, base in [("tanh", 0.8), ("relu", 0.6)]:
        for init, shift in [("a", 0.0), ("b", -0.002), ("c", -0.3)]:
            for seed in range(8):
                rows.append(
                    dict(
                        activation=act,
                        init=init,
                        seed=seed,
                        diverged=False,
                        val_acc=base + shift + rng.normal(0, 0.01),
                    )
                )
    summ = summarize(pd.DataFrame(rows), compared=("init",))
    for act in ("tanh", "relu"):
        block = summ[summ.activation == act].set_index("init")
        assert block.loc["c", "rank"] == 3 and not block.loc["c", "tied"]
        assert block.tied[["a", "b"]].all() and block.best.sum() == 1
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        summarize(pd.DataFrame(rows), metric="accuracy")


def _reference_summarize(runs, metric, compared, higher_is_better=None, alpha=0.05):
    """The per-configuration definition of summarize (one scan of the runs per
    configuration): what the one-pass implementation must equal to the bit.
    """
    from initlab.stats import compared_columns, config_columns

    if higher_is_better is None:
        higher_is_better = not metric.endswith("loss")
    cfg = config_columns(runs)
    data = runs.copy()
    for c in cfg:
        if data[c].isna().any():
            data[c] = data[c].astype(object).where(data[c].notna(), "-")
    compared = compared_columns(data, cfg, compared)
    block_cols = [c for c in cfg if c not in compared]
    rows = []
    for key, group in data.groupby(cfg, sort=False, dropna=False):
        values = group[metric].to_numpy(float)
        lo, hi = bootstrap_ci(values)
        row = dict(zip(cfg, key if isinstance(key, tuple) else (key,), strict=True))
        finite = values[np.isfinite(values)]
        row.update(
            n=len(values),
            mean=float(finite.mean()) if len(finite) else np.nan,
            std=float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
            ci_low=lo,
            ci_high=hi,
            diverged=float(group["diverged"].mean()),
            n_diverged=int(group["diverged"].sum()),
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out["block"] = out.groupby(block_cols, sort=False, dropna=False).ngroup()
    out["rank"], out["best"], out["tied"], out["p_value"] = 0, False, False, np.nan

    def seed_values(row):
        mask = np.ones(len(data), bool)
        for c in cfg:
            mask &= (data[c] == row[c]).to_numpy()
        sel = data.loc[mask]
        return pd.Series(sel[metric].to_numpy(float), index=sel["seed"].to_numpy())

    for _, idx in out.groupby("block").groups.items():
        block = out.loc[idx]
        order = block["mean"].rank(ascending=not higher_is_better, method="min", na_option="bottom")
        out.loc[idx, "rank"] = order.astype(int)
        if block["mean"].isna().all():
            continue
        best_i = block["mean"].idxmax() if higher_is_better else block["mean"].idxmin()
        best_runs = seed_values(out.loc[best_i])
        if np.isfinite(best_runs.to_numpy()).sum() < 2:
            continue  # one seed: no test, no best, no tie
        for i in idx:
            other = seed_values(out.loc[i])
            common = best_runs.index.intersection(other.index)
            p = paired_p_value(best_runs[common].to_numpy(), other[common].to_numpy())
            out.loc[i, "p_value"] = p
            out.loc[i, "tied"] = bool(i == best_i or (np.isfinite(p) and p >= alpha))
        out.loc[best_i, "best"] = True
    return out


def _study_like(n_cfg, n_seeds, seed=0):
    """Runs with NaN hyperparameters, constant and non-finite values, some seeds missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_cfg):
        for s in range(n_seeds):
            if c % 11 == 5 and s == 0:
                continue  # a configuration with a seed missing
            v = rng.normal(0.7, 0.1)
            if c % 7 == 0:
                v = 0.5  # constant over seeds: a zero-width interval
            elif rng.random() < 0.05:
                v = np.nan  # a diverged run's metric
            rows.append(
                dict(
                    dataset="d",
                    activation=["tanh", "relu", "leaky_relu"][c % 3],
                    init=f"i{c % 5}",
                    learning_rate=[0.1, 0.01][c // 15 % 2],
                    momentum=np.nan if c % 2 else 0.9,
                    leaky_slope=0.1 if c % 3 == 2 else np.nan,
                    hidden=str(8 + c // 30),
                    seed=s,
                    diverged=bool(rng.random() < 0.1),
                    val_acc=v,
                    val_loss=rng.random() if c % 13 else np.inf,
                )
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n_seeds", [1, 3, 7, 8, 10, 20])
@pytest.mark.parametrize("metric", ["val_acc", "val_loss"])
def test_one_pass_summarize_equals_the_per_configuration_definition_bitwise(n_seeds, metric):
    # 7/8 seeds straddle NumPy's switch to pairwise summation: the batched bootstrap
    # must reduce in the same order as bootstrap_ci on one configuration
    runs = _study_like(90, n_seeds)
    expected = _reference_summarize(runs, metric, compared=("init",))
    got = summarize(runs, metric, compared=("init",))
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_exact=True)
    assert list(got.columns[-len(SUMMARY_COLUMNS) :]) == list(SUMMARY_COLUMNS)


def test_summary_counts_diverged_runs():
    runs = _study_like(12, 4)
    runs["diverged"] = False
    runs.loc[(runs.init == "i1") & (runs.seed < 3), "diverged"] = True
    summ = summarize(runs, compared=("init",))
    hit = summ[summ.init == "i1"]
    assert (hit.n_diverged == 3).all() and np.allclose(hit.diverged, 3 / 4)
    assert (summ[summ.init != "i1"].n_diverged == 0).all()
