"""Smoke runs of benchmarks/run.py and benchmarks/memory.py at tiny sizes, so they cannot rot.

Only the NumPy peers run (initlab and the blog-style loop); timing is never
asserted, only that the peers agree and that the outputs are well formed.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defined
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def run():
    return _load("run")


@pytest.fixture(scope="module")
def peers():
    return _load("peers")


def test_quick_run_writes_json_and_summary(run, tmp_path):
    result = run.main(
        [
            "--workload",
            "W1",
            "--quick",
            "--repeats",
            "1",
            "--peers",
            "numpy-loop,initlab-1core",
            "--out",
            str(tmp_path),
        ]
    )
    data = json.loads((tmp_path / "W1-float64-quick.json").read_text())
    assert data["config"]["runs"] == 16 and data["config"]["epochs"] == 3
    assert list(data["peers"]) == ["initlab-1core", "numpy-loop"]  # initlab runs first
    for peer in data["peers"].values():
        assert peer["model_epochs"] == 16 * 3
        assert peer["model_epochs_per_s"] > 0 and len(peer["times_s"]) == 1
    # the blog-style loop and the engine train the same networks to the same losses
    check = data["agreement"]["numpy-loop"]
    assert check["compared"] == 16 and check["max_rel_diff"] < 1e-10
    assert result["ratios"]["numpy-loop"] > 0
    summary = (tmp_path / "summary.md").read_text()
    assert "## W1 float64, " in summary and "(quick)" in summary and "| numpy-loop |" in summary
    simd = data["machine"]["simd"]
    assert simd["numpy_baseline"] and "numba_cpu" in simd and simd["emulated"] is None


def test_quick_w3_trains_the_deep_recipe_with_momentum(run, tmp_path):
    """W3's peers (momentum, initlab's initializers, zero biases) train the same networks."""
    argv = ["--workload", "W3", "--quick", "--repeats", "1", "--out", str(tmp_path)]
    result = run.main([*argv, "--peers", "numpy-loop,initlab-1core"])
    assert result["config"]["optimizer"] == "full-batch momentum 0.9"
    assert result["config"]["runs"] == 10  # tanh, relu x 5 initializers x 1 seed
    check = result["agreement"]["numpy-loop"]
    assert check["compared"] == 10 and check["max_rel_diff"] < 1e-10
    assert check["full_length"]["compared"] == 10


def test_quick_w2_runs_the_wide_grid_on_numpy(run, tmp_path):
    argv = ["--workload", "W2", "--quick", "--repeats", "1", "--out", str(tmp_path)]
    result = run.main([*argv, "--peers", "numpy-loop,initlab-1core"])
    assert result["config"]["layer_sizes"] == [2, 8, 8, 8, 4]
    assert result["agreement"]["numpy-loop"]["max_rel_diff"] < 1e-10


def test_avx2_emulation_reaches_every_library(run, tmp_path):
    argv = ["--workload", "W1", "--quick", "--repeats", "1", "--out", str(tmp_path)]
    result = run.main([*argv, "--peers", "numpy-loop,initlab-1core", "--emulate", "avx2"])
    simd = result["machine"]["simd"]
    assert simd["emulated"] == "avx2" and simd["numba_cpu"] == "haswell"
    assert "X86_V4" not in simd["numpy_dispatch"] and simd["OPENBLAS_CORETYPE"] == "Haswell"
    assert (tmp_path / "W1-float64-quick-avx2.json").exists()
    assert result["agreement"]["numpy-loop"]["max_rel_diff"] < 1e-10


def test_reference_loss_matches_the_engine(peers):
    from initlab import engine, optim

    problem = peers.make_problem(peers.quick(peers.WORKLOADS["W2"]))
    assert problem.layer_sizes == (2, 8, 8, 8, 4)
    idx = problem.groups()["tanh"]
    pop = engine.Population(problem.layer_sizes, "tanh", n_models=len(idx))
    params = problem.stacked(idx)
    res = engine.train(pop, params, optim.build("gd", 1.0), problem.X, problem.y, 3)
    for m in range(len(idx)):
        got = peers.reference_loss("tanh", [p[m] for p in res.params], problem.X, problem.y)
        assert got == pytest.approx(res.final["train_loss"][m], rel=1e-12)
    # and the initial weights are the blog's recipe: zeros init has zero weights and biases
    zeros = [r for r in problem.runs if r.init == "zeros"][0]
    assert all(not np.any(p) for p in zeros.params)
    he = [r for r in problem.runs if r.init == "he" and r.activation == "relu"][0]
    assert np.any(he.params[1] != 0)  # the blog's N(0, 1) biases


def test_unknown_peer_is_a_clear_error(run, capsys):
    with pytest.raises(SystemExit):
        run.main(["--peers", "tensorflow", "--quick"])
    err = capsys.readouterr().err
    assert "unknown peer 'tensorflow'" in err and "numpy-loop" in err


def test_memory_script_measures_a_small_sweep(tmp_path):
    memory = _load("memory")
    result = memory.main(
        ["--runs", "64", "--epochs", "1", "--max-memory", "1MiB", "--out", str(tmp_path)]
    )
    assert result["runs"] == 64 and result["chunks"] > 1  # the budget split the grid
    assert 10 * 2**20 < result["peak_bytes"] < 2**31
    assert json.loads((tmp_path / "memory.json").read_text())["met"] is True
    with pytest.raises(SystemExit):
        memory.main(["--max-memory", "lots"])


def test_scaling_benchmark_builds_a_store_that_both_lookups_and_the_summary_read(tmp_path):
    scaling = _load("scaling")
    study = scaling.study_for(400)  # 4 activations x 10 initializers x 1 rate x 10 seeds
    path = tmp_path / "scale.db"
    scaling.build_store(path, study)
    ((_, specs, hashes),) = study.plan()
    assert len(specs) == 400
    by_key, by_status = scaling.time_lookup(path, hashes)  # both find every run
    assert by_key >= 0 and by_status >= 0
    load, summary, n_configs = scaling.time_summary(path, study)
    assert n_configs == 40
