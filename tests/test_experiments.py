"""Every named reproduction, in its reduced size, still supports its paper's claims."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from initlab import experiments, meanfield
from initlab.cli import app

NAMES = [
    "glorot",
    "he",
    "isometry",
    "lsuv",
    "selu",
    "meanfield",
    "trainability",
    "hanin",
    "dying_relu",
    "blog_symmetry",
]


def test_registry_lists_every_reproduction_in_order():
    assert experiments.names() == NAMES
    for name in NAMES:
        exp = experiments.get(name)
        assert exp.title and exp.reference


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_supports_the_claims(name):
    result = experiments.run(name, quick=True)
    assert result.quick and result.name == name
    assert len(result.data) > 0 and len(result.claims) >= 2
    failed = [c for c in result.claims if not c.holds]
    assert not failed, failed
    frame = result.claims_frame()
    assert list(frame.columns) == ["claim", "paper", "ours", "holds"]
    fig = result.figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.tell() > 1000 and fig.axes


def test_runs_are_reproducible():
    a = experiments.run("selu", quick=True, random_state=3)
    b = experiments.run("selu", quick=True, random_state=3)
    assert a.data.equals(b.data)
    c = experiments.run("selu", quick=True, random_state=1000)
    assert not a.data["a_var"].equals(c.data["a_var"])


def test_isometry_numbers_follow_theory():
    data = experiments.run("isometry", quick=True).data
    ortho = data[(data.activation == "linear") & (data.weights == "orthogonal")]
    assert (ortho["max_abs_s_minus_1"] < 1e-12).all()
    relu = data[(data.activation == "relu") & (data.depth == data.depth.max())]
    gauss, orth = (relu[relu.weights == w]["spread"].iloc[0] for w in ("gaussian", "orthogonal"))
    assert gauss > 1.5 * orth  # orthogonal halves the spread but does not remove it


def test_chi1_equals_sigma_w2_for_tanh_without_bias():
    # the analytic case behind the meanfield experiment: q* = 0 and tanh'(0) = 1
    for sw in (0.3, 0.5, 0.9):
        assert meanfield.chi1("tanh", sw, 0.0) == pytest.approx(sw, abs=1e-12)


def test_hanin_exact_log_variance_is_five_over_width():
    v = experiments._log_ratio_variance
    assert v(2000) * 2000 == pytest.approx(5, rel=0.01)
    assert v(16) > 5 / 16  # finite-width correction is positive


def test_glorot_standard_init_is_uniform_one_over_sqrt_n():
    W = experiments.GLOROT_STANDARD(np.random.default_rng(0), (400, 300))
    assert np.abs(W).max() <= 1 / np.sqrt(400)
    assert W.var() == pytest.approx(1 / (3 * 400), rel=0.02)


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match="unknown experiment 'glorrot'; did you mean 'glorot'"):
        experiments.run("glorrot")
    with pytest.raises(ValueError, match="quick must be True or False"):
        experiments.run("selu", quick="yes")


runner = CliRunner()


def test_cli_experiment_prints_claims_and_writes_figure(tmp_path):
    result = runner.invoke(
        app, ["experiment", "isometry", "--quick", "--out", str(tmp_path), "--data"]
    )
    assert result.exit_code == 0, result.output
    assert "Pennington" in result.output and "yes" in result.output
    assert (tmp_path / "isometry.png").exists() and (tmp_path / "isometry.csv").exists()
    listing = runner.invoke(app, ["experiment", "--list"])
    assert listing.exit_code == 0 and all(n in listing.output for n in NAMES)
    bad = runner.invoke(app, ["experiment", "nope"])
    assert bad.exit_code == 2 and "unknown experiment" in bad.output


def test_trainability_boundary_is_interpolated_in_log_depth_and_censored():
    from initlab.experiments import trainability as tr

    acc = pd.DataFrame(
        {
            "activation": ["tanh"] * 9,
            "sigma_w2": [1.0] * 3 + [2.0] * 3 + [3.0] * 3,
            "depth": [10, 20, 40] * 3,
            "val_acc": [0.9, 0.7, 0.3, 0.9, 0.8, 0.6, 0.4, 0.2, 0.1],
        }
    )
    b = tr.boundaries(acc, threshold=0.5).set_index("sigma_w2")
    assert b.loc[1.0, "boundary"] == pytest.approx(20 * 2**0.5)  # halfway in log depth
    assert not b.loc[1.0, "censored"]
    assert b.loc[2.0, "boundary"] == 40 and b.loc[2.0, "censored"]  # trains everywhere
    assert b.loc[3.0, "boundary"] == 10 and b.loc[3.0, "censored"]  # nowhere
    assert tr.depth_scale("relu", 1.0, 0.0) == pytest.approx(1 / math.log(2))
    assert tr.depth_scale("tanh", 1.2, 0.1) == pytest.approx(
        meanfield.correlation_depth_scale("tanh", 1.2, 0.1)
    )


def test_parallel_trainings_give_the_same_numbers_on_every_executor():
    from initlab.experiments import _common, trainability

    tasks = [
        {
            "activation": act,
            "sigma_b2": 0.05,
            "sigma_w2": (1.0, 2.0),
            "depth": depth,
            "width": 8,
            "seeds": (0, 1),
            "epochs": 1,
            "n_train": 200,
            "data_seed": 0,
        }
        for act in ("tanh", "relu")
        for depth in (3, 2)
    ]
    seen = []
    local = _common.map_tasks(trainability.train_depth, tasks, progress=lambda d, t: seen.append(d))
    assert seen == [1, 2, 3, 4] and len(local) == 4 and len(local[0]) == 4
    procs = _common.map_tasks(trainability.train_depth, tasks, "processes", workers=2)
    assert procs == local  # in task order, bit for bit
    dask = _common.map_tasks(trainability.train_depth, tasks, "dask", workers=1)
    assert dask == local
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        _common.map_tasks(trainability.train_depth, tasks, "threads")


def test_executor_applies_to_parallel_experiments_only():
    with pytest.raises(ValueError, match="runs in one process; executor='processes' applies to"):
        experiments.run("selu", quick=True, executor="processes")
    with pytest.raises(ValueError, match="unknown executor 'gpu'"):
        experiments.run("trainability", quick=True, executor="gpu")


def test_cli_experiment_executor_is_checked():
    res = runner.invoke(app, ["experiment", "selu", "--quick", "--executor", "processes"])
    assert res.exit_code == 2 and "applies to: trainability" in " ".join(res.output.split())
