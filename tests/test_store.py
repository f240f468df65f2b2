"""The store at scale and under faults: lookups by key, failed runs, bands, damage, recovery."""

import hashlib
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from initlab.store import Store, StoreDamaged, StoreError, recover
from initlab.study import Study


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


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_resume_lookup_uses_the_primary_key_not_the_status_index(tmp_path):
    db = tmp_path / "s.db"
    small().run(db)
    with Store(db) as st:
        hashes = list(st.runs("small").run_hash)
        seen = []
        st.conn.set_trace_callback(seen.append)
        assert st.done_hashes(hashes + ["0" * 16]) == set(hashes)
        st.conn.set_trace_callback(None)
        (sql,) = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
        plan = " ".join(r[-1] for r in st.conn.execute("EXPLAIN QUERY PLAN " + sql))
    # the (hash) primary key's index, never a scan of every finished run through runs_status
    assert "sqlite_autoindex_runs_1" in plan and "runs_status" not in plan, plan


@pytest.mark.parametrize("name", ["a#b.db", "what?.db", "100%.db", "x%3Fy#z?.db"])
def test_store_paths_with_uri_characters_open_read_only(tmp_path, name):
    db = tmp_path / name
    small(seeds=1).run(db)
    with Store(db, readonly=True) as st:
        assert len(st.runs("small")) == 6
    assert len(Study.load("small", db).results()) == 6
    # no stray file from a cut-off URI: only the store and its WAL companions
    assert set(os.listdir(tmp_path)) <= {name, name + "-wal", name + "-shm"}


def test_failed_runs_are_listed_with_their_reasons(tmp_path):
    db = tmp_path / "s.db"
    small(seeds=1).run(db)
    with Store(db) as st:
        runs = st.runs("small")
        bad = runs.run_hash[:3].tolist()
        st.conn.execute(
            "UPDATE runs SET status='failed', error=? WHERE hash IN (?, ?)",
            ("MemoryError: x", *bad[:2]),
        )
        st.conn.execute(
            "UPDATE runs SET status='failed', error=? WHERE hash=?", ("KilledWorker: y", bad[2])
        )
        failed = st.failed_runs("small")
        assert sorted(failed.run_hash) == sorted(bad) and list(failed.columns[:2]) == [
            "run_hash",
            "error",
        ]
        assert st.failure_reasons("small") == {"MemoryError: x": 2, "KilledWorker: y": 1}
        assert st.failure_reasons() == {"MemoryError: x": 2, "KilledWorker: y": 1}
        assert st.done_hashes(runs.run_hash) == set(runs.run_hash) - set(bad)  # failed: retried


def test_curve_bands_equal_the_statistics_of_the_loaded_curves(tmp_path):
    db = tmp_path / "s.db"
    small(seeds=4, learning_rates=[0.5, 2.0]).run(db)
    with Store(db) as st:  # two runs diverge at epoch 10: their inf/NaN are stored as NULL
        gone = st.runs("small").run_hash[[0, 5]].tolist()
        st.conn.execute(
            "UPDATE curves SET val_loss=NULL WHERE epoch >= 10 AND hash IN (?, ?)", gone
        )
    with Store(db, readonly=True) as st:
        runs = st.runs("small")
        curves = st.curves(study="small")
        label = runs.activation + "/" + runs.init + "/" + runs.learning_rate.astype(str)
        groups = dict(zip(runs.run_hash, label, strict=True))
        bands = st.curve_bands(groups, "val_loss")
    merged = curves.merge(pd.DataFrame({"run_hash": runs.run_hash, "group": label}), on="run_hash")
    expected = merged.groupby(["group", "epoch"])["val_loss"].agg(
        ["count", "mean", "std", "min", "max"]
    )
    got = bands.set_index(["group", "epoch"]).loc[expected.index]
    assert (got["n"].to_numpy() == expected["count"].to_numpy()).all()
    assert got["n"].min() < got["runs"].max()  # some runs diverged: fewer finite values
    np.testing.assert_allclose(got["mean"], expected["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["std"], expected["std"], rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(got["min"], expected["min"])
    np.testing.assert_array_equal(got["max"], expected["max"])
    assert set(bands["group"]) == set(label)
    with pytest.raises(ValueError, match="unknown metric 'loss'"):
        Store(db, readonly=True).curve_bands(groups, "loss")


def test_a_second_write_on_a_still_full_disk_is_explained(tmp_path, monkeypatch):
    db = tmp_path / "s.db"
    small(seeds=1).run(db)
    original = Store.__init__

    def tiny_disk(self, *args, **kwargs):
        original(self, *args, **kwargs)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(Store, "__init__", tiny_disk)
    for _ in range(2):  # the second run once crashed with "cannot rollback"
        with pytest.raises(StoreError, match="full"):
            small(name="big", seeds=6, epochs=[200]).run(db)
    monkeypatch.undo()
    assert Store(db).check(full=True) == []


def _damage_curves(db, n_pages=2):
    """Overwrite leaf pages of the curves table with garbage (as a failing disk would)."""
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = [
        r[0]
        for r in con.execute(
            "SELECT pageno FROM dbstat WHERE name='curves' AND pagetype='leaf' ORDER BY pageno"
        )
    ]
    con.close()
    assert len(pages) > 10
    rng = np.random.default_rng(0)
    with open(db, "r+b") as f:
        for p in pages[len(pages) // 2 : len(pages) // 2 + n_pages]:
            f.seek((p - 1) * page_size)
            f.write(rng.integers(0, 256, page_size, dtype=np.uint8).tobytes())


def test_a_damaged_store_is_found_named_and_recovered_without_touching_it(tmp_path):
    db = tmp_path / "s.db"
    small(seeds=4, epochs=[300]).run(db)
    Store(db).conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage_curves(db)
    before = _digest(db)
    with Store(db, readonly=True) as st:
        problems = st.check()
        assert problems
        with pytest.raises(StoreDamaged, match="damaged") as info:
            st.ensure_sound()
    message = str(info.value)
    assert str(db) in message and "initlab store recover" in message and "backup" in message
    with pytest.raises(StoreDamaged, match="initlab store recover"):  # reading it all fails too
        with Store(db, readonly=True) as st:
            st.curves(study="small")
    out = tmp_path / "recovered.db"
    report = recover(db, out)
    assert _digest(db) == before  # the original is never modified
    assert 0 < report.runs < 24 and report.lost_runs == 24 - report.runs
    assert report.studies == 1 and report.curve_rows == report.runs * 301
    with Store(out) as st:
        assert st.check(full=True) == []
        assert len(st.runs("small")) == report.runs
    with pytest.raises(StoreError, match="already exists"):
        recover(db, out)
    # the recovered store resumes: only the lost runs are trained again, with the same numbers
    clean = tmp_path / "clean.db"
    small(seeds=4, epochs=[300]).run(clean)
    again = small(seeds=4, epochs=[300]).run(out)
    assert (again.skipped, again.trained) == (report.runs, report.lost_runs)
    a = Study.load("small", out).results().sort_values("run_hash").reset_index(drop=True)
    b = Study.load("small", clean).results().sort_values("run_hash").reset_index(drop=True)
    cols = ["run_hash", "train_loss", "val_loss", "val_acc"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)


def test_not_an_sqlite_file_is_not_called_damaged(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 500)
    with pytest.raises(StoreError, match="not an SQLite database") as info:
        Store(junk, readonly=True)
    assert not isinstance(info.value, StoreDamaged)
    with pytest.raises(StoreError, match="no store"):
        recover(tmp_path / "missing.db", tmp_path / "out.db")


class _CommitRolledBack:
    """A connection whose COMMIT fails the way a full disk makes it fail: SQLite has
    already rolled the transaction back when the error reaches the caller.
    """

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, *args):
        if sql == "COMMIT":
            self._conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_commit_that_sqlite_already_rolled_back_is_explained(tmp_path):
    db = tmp_path / "s.db"
    small(seeds=1).run(db)
    st = Store(db)
    real = st.conn
    st.conn = _CommitRolledBack(real)
    with pytest.raises(StoreError, match="full.*rerun to resume"):
        st.link("small", ["f" * 16])  # not "cannot rollback - no transaction is active"
    st.conn = real
    assert not real.in_transaction
    assert real.execute("SELECT COUNT(*) FROM study_runs WHERE hash=?", ("f" * 16,)).fetchone() == (
        0,
    )
    st.close()


def test_runs_read_in_batches_equal_runs_read_at_once(tmp_path, monkeypatch):
    import initlab.store as store_module

    db = tmp_path / "s.db"
    # momentum exists for some runs only: a batch of Adam runs has no value for it
    small(seeds=3, optimizers=["adam", "momentum"], hyperparameters={"momentum": [0.9]}).run(db)
    with Store(db, readonly=True) as st:
        whole = st.runs("small")
        monkeypatch.setattr(store_module, "_ROW_BATCH", 5)
        batched = st.runs("small")
        failed = st.runs("small", status="failed")
    assert len(whole) == 36 and "momentum" in whole.columns
    pd.testing.assert_frame_equal(batched, whole, check_exact=True)
    assert failed.empty


_OPEN_ON_SCHEDULE = """
import sys, time
from initlab.store import Store
folder, start, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
for k in range(n):
    while time.time() < start + 0.05 * k:
        pass
    Store(f"{folder}/new{k}.db").close()
"""


def test_processes_creating_one_new_store_at_once_all_open_it(tmp_path):
    # Switching a new file to WAL while another process does the same made SQLite
    # answer "database is locked" at once, without waiting: one of two studies
    # started together on a new store failed (about 1 open in 20 here).
    n = 40
    start = time.time() + 3.0  # all three processes imported and waiting
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_ON_SCHEDULE, str(tmp_path), str(start), str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    for k in range(n):
        with Store(tmp_path / f"new{k}.db", readonly=True) as st:
            assert st.meta["application"] == "initlab"
