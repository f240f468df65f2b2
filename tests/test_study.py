"""Studies and the store: resume, extend, crash safety, concurrency, bad input."""

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from initlab.store import SCHEMA_VERSION, Store, StoreError
from initlab.study import Study, StudyConfigError

SRC = os.path.join(os.path.dirname(__file__), "..", "src")


def small(name="small", seeds=3, **kw):
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


METRICS = ["train_loss", "train_acc", "val_loss", "val_acc", "diverged_epoch"]


def test_run_store_and_rerun_skips(tmp_path):
    db = tmp_path / "s.db"
    s = small()
    r1 = s.run(db)
    assert (r1.total, r1.trained, r1.skipped, r1.failed) == (18, 18, 0, 0)
    r2 = s.run(db)
    assert (r2.trained, r2.skipped) == (0, 18)
    res = s.results()
    assert len(res) == 18 and res.run_hash.is_unique
    curves = s.curves()
    assert len(curves) == 18 * 21
    again = Study.load("small", db)
    pd.testing.assert_frame_equal(again.results(), res)


def test_extending_with_seeds_trains_only_the_new_runs_bit_identically(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    small(seeds=2).run(a)
    report = small(seeds=4).run(a)
    assert (report.trained, report.skipped) == (12, 12)
    small(seeds=4).run(b)
    ra, rb = Study.load("small", a).results(), Study.load("small", b).results()
    pd.testing.assert_frame_equal(ra[METRICS], rb[METRICS])  # bit-identical


def test_fresh_retrains(tmp_path):
    s = small()
    s.run(tmp_path / "s.db")
    r = s.run(tmp_path / "s.db", fresh=True)
    assert r.trained == 18 and r.skipped == 0


def test_processes_executor_is_identical(tmp_path):
    s = small()
    s.run(tmp_path / "a.db")
    s.run(tmp_path / "b.db", executor="processes", workers=2)
    ra = Study.load("small", tmp_path / "a.db").results()
    rb = Study.load("small", tmp_path / "b.db").results()
    pd.testing.assert_frame_equal(ra[METRICS], rb[METRICS])


def test_summary_marks_best_and_tied(tmp_path):
    s = small(seeds=5)
    s.run(tmp_path / "s.db")
    summ = s.summary()
    assert len(summ) == 6 and summ.best.sum() == 2  # one best init per activation
    for _, block in summ.groupby("activation"):
        best = block[block.best].iloc[0]
        assert best["mean"] == block["mean"].max() and best.tied and best["rank"] == 1
    zeros = summ[(summ.init == "zeros") & (summ.activation == "tanh")].iloc[0]
    assert not zeros.tied and zeros["rank"] > 1  # zero init never trains tanh
    assert (summ.ci_low <= summ["mean"]).all() and (summ["mean"] <= summ.ci_high).all()


def test_toml_round_trip_and_presets(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(small().to_toml())
    assert Study.from_toml(path).to_dict() == small().to_dict()
    for name in ["blog", "optimizers", "moons", "deep"]:
        assert Study.preset(name).n_runs() > 0
    blog = Study.preset("blog")
    assert blog.n_runs() == 160 and blog.rng_kind == "legacy"


@pytest.mark.parametrize(
    "text, match",
    [
        ("[study\nname = 1", r"invalid TOML: .*line 1"),
        (
            "[study]\nname = 'x'\nactivation = ['tanh']",
            r"unknown key 'activation'; did you mean 'activations'",
        ),
        (
            "[study]\nname = 'x'\nseeds = 'many'",
            r"seeds must be an integer in \[0, 2\*\*32\), got 'many'",
        ),
        (
            "[study]\nname = 'x'\nlearning_rates = ['fast']",
            "learning_rates must be a finite number > 0, got 'fast'",
        ),
        ("[study]\nname = 'x'\nactivations = []", "activations is empty"),
        ("[study]\nname = 'x'\nhidden = [['a']]", "hidden must be positive integers"),
        ("[other]\nx = 1", r"expected a \[study\] table"),
        (
            "[study]\nname = 'x'\n[study.hyperparameters]\nmomentun = [0.9]",
            "unknown hyperparameter 'momentun'; did you mean 'momentum'",
        ),
    ],
)
def test_toml_errors_are_explained(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StudyConfigError, match=match):
        Study.from_toml(path).plan()


def test_unknown_names_in_a_study(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'tanh'"):
        small(activations=["tanhh"]).plan()
    with pytest.raises(StudyConfigError, match="unknown preset 'blgo'; did you mean 'blog'"):
        Study.preset("blgo")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_foreign_files_are_refused_untouched(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    before = _digest(junk)
    with pytest.raises(StoreError, match="not an SQLite database"):
        small().run(junk)
    assert _digest(junk) == before

    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    before = _digest(other)
    with pytest.raises(StoreError, match="not an initlab store.*customers"):
        small().run(other)
    assert _digest(other) == before


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "s.db"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    before = _digest(db)
    with pytest.raises(StoreError, match="newer initlab"):
        small().run(db)
    assert _digest(db) == before


def _make_read_only(path):
    """Read-only even for root (who ignores permissions): the immutable attribute."""
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        return lambda: os.chmod(path, 0o644)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_store_is_explained(tmp_path):
    db = tmp_path / "s.db"
    small().run(db)
    before = Study.load("small", db).results()
    undo = _make_read_only(db)
    try:
        with pytest.raises(StoreError, match="cannot write"):
            small(seeds=4).run(db)
    finally:
        undo()
    pd.testing.assert_frame_equal(Study.load("small", db).results(), before)


def test_missing_directory_is_explained(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        small().run(tmp_path / "nope" / "s.db")


def test_unknown_study_lists_the_ones_that_exist(tmp_path):
    db = tmp_path / "s.db"
    small().run(db)
    with pytest.raises(KeyError, match="no study 'other'.*studies there: small"):
        Study.load("other", db)


RUNNER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {src!r})
    from initlab.study import Study
    s = Study(name=sys.argv[2], datasets=[{{"name": "moons", "n_samples": 400, "random_state": 0}}],
              hidden=[[16, 16]], activations=["tanh", "relu", "sigmoid"],
              inits=["xavier", "he", "random", "orthogonal"], optimizers=["gd"],
              learning_rates=[0.1], epochs=[int(sys.argv[3])], seeds=int(sys.argv[4]))
    s.run(sys.argv[1], max_memory=int(sys.argv[5]))
""")


def _runner(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER.format(src=os.path.abspath(SRC)))
    return script


def _count(db):
    try:
        con = sqlite3.connect(db, timeout=30)
        n = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def test_kill_9_mid_study_then_resume_equals_uninterrupted(tmp_path):
    script = _runner(tmp_path)
    db = tmp_path / "crash.db"
    # many small chunks so that some are committed before the kill
    proc = subprocess.Popen([sys.executable, str(script), str(db), "crash", "300", "4", "700000"])
    deadline = time.time() + 120
    while _count(db) == 0 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    partial = _count(db)
    assert partial > 0
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    subprocess.run(
        [sys.executable, str(script), str(db), "crash", "300", "4", "700000"], check=True
    )
    clean = tmp_path / "clean.db"
    subprocess.run(
        [sys.executable, str(script), str(clean), "crash", "300", "4", "10000000"], check=True
    )
    a = Study.load("crash", db).results()
    b = Study.load("crash", clean).results()
    assert len(a) == 48 and a.run_hash.is_unique
    pd.testing.assert_frame_equal(a[METRICS + ["run_hash"]], b[METRICS + ["run_hash"]])
    con = sqlite3.connect(db)
    n_curve_rows = con.execute("SELECT COUNT(*) FROM curves").fetchone()[0]
    con.close()
    assert n_curve_rows == 48 * 301  # no half-written run


def test_two_studies_write_to_one_file_at_once(tmp_path):
    script = _runner(tmp_path)
    db = tmp_path / "shared.db"
    procs = [
        subprocess.Popen([sys.executable, str(script), str(db), name, "40", "3", "700000"])
        for name in ("first", "second")
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with Store(db, readonly=True) as st:
        assert st.study_names() == ["first", "second"]
        assert len(st.runs("first")) == 36 and len(st.runs("second")) == 36


def test_full_disk_is_explained_and_nothing_is_corrupted(tmp_path, monkeypatch):
    db = tmp_path / "s.db"
    small(seeds=2).run(db)
    before = Study.load("small", db).results()
    original = Store.__init__

    def tiny_disk(self, *args, **kwargs):
        original(self, *args, **kwargs)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite reports SQLITE_FULL

    monkeypatch.setattr(Store, "__init__", tiny_disk)
    with pytest.raises(StoreError, match="full"):
        small(seeds=6).run(db)
    monkeypatch.undo()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    after = Study.load("small", db).results()
    assert set(before.run_hash) <= set(after.run_hash)
    # and the study resumes once there is room
    r = small(seeds=6).run(db)
    assert r.total == 36 and len(Study.load("small", db).results()) == 36
