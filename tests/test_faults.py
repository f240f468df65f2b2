"""Faults and bad input as a user meets them: exit codes, failed runs, damaged stores,
full disks during exports and reports, orphaned worker processes, too many workers.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from initlab import sweep as _sweep
from initlab.cli import app
from initlab.store import Store
from initlab.study import Study

SRC = str(Path(__file__).resolve().parents[1] / "src")


def small(name="small", seeds=2, **kw):
    cfg = dict(
        name=name,
        datasets=[{"name": "moons", "n_samples": 200, "random_state": 0}],
        hidden=[[6]],
        activations=["tanh", "relu"],
        inits=["xavier", "he", "zeros"],
        optimizers=["gd"],
        learning_rates=[0.5],
        epochs=[20],
        seeds=seeds,
    )
    cfg.update(kw)
    return Study(**cfg)


def _cli(*args):
    return CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)


def _fail_relu(monkeypatch):
    """Chunks of ReLU runs fail inside the trainer, as a MemoryError would."""
    original = _sweep._run_chunk

    def failing(chunk, data, curves, on_epoch):
        if chunk.specs[0].activation == "relu":
            M = len(chunk.specs)
            nan = np.full(M, np.nan)
            return _sweep.ChunkResult(
                chunk.index,
                chunk.specs,
                {k: nan for k in _sweep.METRICS},
                np.full(M, -1),
                0.0,
                error="MemoryError: cannot allocate the population",
            )
        return original(chunk, data, curves, on_epoch)

    monkeypatch.setattr(_sweep, "_run_chunk", failing)


def test_failed_runs_exit_non_zero_with_reasons_grouped_and_are_listed(tmp_path, monkeypatch):
    toml = tmp_path / "s.toml"
    toml.write_text(small().to_toml())
    db = tmp_path / "s.db"
    _fail_relu(monkeypatch)
    res = _cli("study", "--config", toml, "--store", db, "--no-report")
    assert res.exit_code == 1, res.output
    out = " ".join(res.output.split())
    assert "6 trained, 6 failed" in out
    assert "6 run(s) failed" in out and "6 runs: MemoryError: cannot allocate the population" in out
    assert "initlab results --failed --study small" in out
    listed = _cli("results", "--failed", "--study", "small", "--store", db)
    assert listed.exit_code == 0, listed.output
    text = " ".join(listed.output.split())
    assert "6 failed runs" in text and "6 runs: MemoryError" in text
    exported = _cli("results", "--failed", "--store", db, "-o", tmp_path / "failed.csv")
    assert exported.exit_code == 0
    import pandas as pd

    frame = pd.read_csv(tmp_path / "failed.csv")
    assert len(frame) == 6 and set(frame.activation) == {"relu"}
    assert set(frame.error) == {"MemoryError: cannot allocate the population"}
    monkeypatch.undo()  # the rerun retries the failed runs only
    res = _cli("study", "--config", toml, "--store", db, "--no-report")
    assert res.exit_code == 0 and "6 already stored, 6 trained, 0 failed" in " ".join(
        res.output.split()
    )
    assert "no failed runs" in _cli("results", "--failed", "--store", db).output


def test_every_run_failing_exits_non_zero_without_a_summary(tmp_path, monkeypatch):
    toml = tmp_path / "s.toml"
    toml.write_text(small(activations=["relu"]).to_toml())
    _fail_relu(monkeypatch)
    res = _cli("study", "--config", toml, "--store", tmp_path / "s.db")
    assert res.exit_code == 1 and "0 trained, 6 failed" in " ".join(res.output.split())
    assert "Traceback" not in res.output and not (tmp_path / "small-report.html").exists()


def test_limit_and_workers_bad_values(tmp_path):
    db = tmp_path / "s.db"
    small(seeds=1).run(db)
    res = CliRunner().invoke(
        app, ["results", "--study", "small", "--store", str(db), "--limit", "-1"]
    )
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 2 and "--limit" in text and "greater than or equal to 0" in text
    with pytest.warns(UserWarning, match="300 workers requested but this machine has"):
        assert _sweep.resolve_jobs(300) == _sweep.usable_cpus()
    assert _sweep.resolve_jobs(300, force=True) == 300
    with pytest.raises(ValueError, match="workers must be an integer"):
        _sweep.resolve_jobs("4")


def test_too_many_workers_are_capped_unless_forced(tmp_path, monkeypatch):
    started = []
    original = _sweep.ProcessPoolExecutor

    def counting(max_workers=None, **kw):
        started.append(max_workers)
        return original(max_workers=max_workers, **kw)

    monkeypatch.setattr(_sweep, "ProcessPoolExecutor", counting)
    cpus = _sweep.usable_cpus()
    with pytest.warns(UserWarning, match="using"):
        small(seeds=4).run(tmp_path / "a.db", executor="processes", workers=300)
    assert started and max(started) <= cpus
    started.clear()
    small(seeds=4).run(
        tmp_path / "b.db", executor="processes", workers=cpus + 1, force_workers=True
    )
    assert max(started) == cpus + 1


def _damaged_store(tmp_path):
    db = tmp_path / "s.db"
    small(seeds=4, epochs=[300]).run(db)
    Store(db).conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    import sqlite3

    con = sqlite3.connect(db)
    size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = [
        r[0]
        for r in con.execute(
            "SELECT pageno FROM dbstat WHERE name='curves' AND pagetype='leaf' ORDER BY pageno"
        )
    ]
    con.close()
    with open(db, "r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * size)
        f.write(np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes())
    return db


def test_report_check_and_recover_on_a_damaged_store(tmp_path):
    db = _damaged_store(tmp_path)
    out = tmp_path / "r.html"
    res = _cli("report", "--study", "small", "--store", db, "-o", out)
    assert res.exit_code == 2 and not out.exists()
    text = " ".join(res.output.split())
    assert str(db) in text and "damaged" in text and "initlab store recover" in text
    check = _cli("store", "check", db)
    assert check.exit_code == 1 and "damaged" in check.output
    fixed = tmp_path / "fixed.db"
    rec = _cli("store", "recover", db, fixed)
    assert rec.exit_code == 0 and "unreadable, rerun the study" in " ".join(rec.output.split())
    assert _cli("store", "check", fixed).exit_code == 0
    assert _cli("store", "recover", db, fixed).exit_code == 2  # never over an existing file
    res = _cli("report", "--study", "small", "--store", fixed, "-o", out)
    assert res.exit_code == 0 and out.exists()


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    sys.path.insert(0, {src!r})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails (EFBIG)
    from initlab.cli import app
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sys.argv = ["initlab", *sys.argv[2:]]
    app()
""")


@pytest.mark.parametrize("kind", ["csv", "json", "report"])
def test_a_full_disk_leaves_no_partial_export_or_report(tmp_path, kind):
    db = tmp_path / "s.db"
    small(seeds=40).run(db)  # a 60 kB CSV
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK.format(src=SRC))
    out = tmp_path / f"out.{'html' if kind == 'report' else kind}"
    out.write_text("the previous export\n")
    if kind == "report":
        args = ["report", "--study", "small", "--store", str(db), "-o", str(out)]
    else:
        args = ["results", "--study", "small", "--store", str(db), "-o", str(out)]
    limit = 40_000  # above the store's WAL index (32 kB), below the output
    res = subprocess.run(
        [sys.executable, str(script), str(limit), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode != 0, res.stdout + res.stderr
    assert out.read_text() == "the previous export\n"  # untouched, not truncated
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    # with room, the same command replaces it
    res = subprocess.run(
        [sys.executable, str(script), str(1 << 30), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > limit


ORPHANS = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {src!r})
    from initlab.study import Study
    s = Study(name="orphans", datasets=[{{"name": "moons", "n_samples": 400, "random_state": 0}}],
              hidden=[[32, 32]], activations=["tanh", "relu"], inits=["xavier", "he"],
              optimizers=["gd"], learning_rates=[0.1], epochs=[100000], seeds=8)
    s.run(sys.argv[1], executor="processes", workers=2)
""")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_process_pool_workers_die_with_a_killed_parent(tmp_path):
    script = tmp_path / "orphans.py"
    script.write_text(ORPHANS.format(src=SRC))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "o.db")])
    deadline = time.monotonic() + 120
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.1)
    assert len(workers) >= 2, "the pool did not start"
    time.sleep(1)  # the workers are training
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # pragma: no cover - clean up after a failure
        os.kill(w, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived their killed parent"
