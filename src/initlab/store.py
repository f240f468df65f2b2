"""The study store: one SQLite file of studies, runs and per-epoch curves.

Tables
------
``meta``        key/value: ``application = initlab``, ``schema_version``.
``studies``     one row per study: name, its definition (JSON), creation and
                update times, initlab version, the command that ran it.
``runs``        one row per run, keyed by a stable hash of its configuration
                and data set: configuration (JSON and flat columns), status
                (``done`` or ``failed``), final metrics, timing, library version.
``study_runs``  which runs belong to which study (a run shared by two studies
                is trained once).
``curves``      per-epoch train/val loss and accuracy of each run.

Every finished population chunk is committed in one transaction, in WAL
mode, so an interrupted study (Ctrl-C, ``kill -9``) loses no finished run and
never leaves a half-written one, and several processes can write to the same
file (SQLite serializes the writers; a busy timeout makes them wait).  A file
that is not an initlab store, or one from a newer schema, is refused without
being touched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from . import __version__

__all__ = ["Store", "StoreError", "SCHEMA_VERSION", "DEFAULT_PATH"]

SCHEMA_VERSION = 1
DEFAULT_PATH = "initlab.db"
RUN_COLUMNS = (
    "dataset",
    "hidden",
    "activation",
    "init",
    "bias_init",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "seed",
    "leaky_slope",
    "loss",
    "dtype",
)
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
    initlab_version TEXT NOT NULL, command TEXT);
CREATE TABLE IF NOT EXISTS runs (
    hash TEXT PRIMARY KEY, config TEXT NOT NULL,
    {
    ", ".join(
        f"{c} {'REAL' if c in ('learning_rate', 'leaky_slope') else 'TEXT'}" for c in RUN_COLUMNS
    )
},
    status TEXT NOT NULL, {", ".join(f"{m} REAL" for m in METRICS)},
    diverged INTEGER, diverged_epoch INTEGER, time_s REAL, error TEXT,
    initlab_version TEXT NOT NULL, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS study_runs (
    study TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (study, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS curves (
    hash TEXT NOT NULL, epoch INTEGER NOT NULL, {", ".join(f"{m} REAL" for m in METRICS)},
    PRIMARY KEY (hash, epoch)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
"""


class StoreError(RuntimeError):
    """The store file cannot be used (not initlab's, newer schema, read-only, disk full)."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Store:
    """An initlab study store in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The file (created if missing).  ``":memory:"`` for a throwaway store.
    readonly : bool
        Open for reading only (never creates or changes anything).
    """

    def __init__(
        self, path: str | os.PathLike = DEFAULT_PATH, readonly: bool = False, timeout: float = 60.0
    ):
        self.path = str(path)
        self.readonly = readonly
        exists = self.path == ":memory:" or Path(self.path).exists()
        if readonly and not exists:
            raise StoreError(f"no store at {self.path!r}")
        if not exists:
            parent = Path(self.path).resolve().parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot create store {self.path!r}: directory {parent} does not exist"
                )
        uri = f"file:{self.path}?mode=ro" if readonly else self.path
        try:
            self.conn = sqlite3.connect(
                uri, timeout=timeout, uri=readonly, isolation_level=None, check_same_thread=False
            )
            self._check_format(exists)
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None

    # -- opening ------------------------------------------------------------------------------
    def _check_format(self, existed: bool) -> None:
        tables = {
            r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "meta" not in tables:
            self.conn.close()
            raise StoreError(
                f"{self.path!r} is an SQLite database but not an initlab store "
                f"(tables: {', '.join(sorted(tables))}); it was left untouched"
            )
        if "meta" in tables:
            meta = dict(self.conn.execute("SELECT key, value FROM meta"))
            if meta.get("application") != "initlab":
                self.conn.close()
                raise StoreError(f"{self.path!r} is not an initlab store; it was left untouched")
            version = int(meta.get("schema_version", 0))
            if version > SCHEMA_VERSION:
                self.conn.close()
                raise StoreError(
                    f"{self.path!r} was written by a newer initlab (store schema {version}, "
                    f"this initlab {__version__} reads up to {SCHEMA_VERSION}); upgrade "
                    "initlab. The file was left untouched"
                )
        if self.readonly:
            return
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if "meta" not in tables:
            with self.transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [("application", "initlab"), ("schema_version", str(SCHEMA_VERSION))],
                )

    def _explain(self, exc: sqlite3.Error) -> StoreError:
        msg = str(exc)
        if "file is not a database" in msg or "malformed" in msg:
            return StoreError(
                f"{self.path!r} is not an SQLite database (so not an initlab "
                "store); it was left untouched"
            )
        if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
            return StoreError(
                f"cannot write to the store {self.path!r} ({msg}); check the "
                "file's and its directory's permissions, or pass another --store"
            )
        if "disk is full" in msg or "disk I/O" in msg:
            return StoreError(
                f"the disk holding {self.path!r} is full ({msg}); nothing was "
                "half-written: free space and rerun to resume"
            )
        return StoreError(f"store {self.path!r}: {msg}")

    def transaction(self):
        return _Transaction(self)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- studies ------------------------------------------------------------------------------
    def save_study(self, name: str, config: dict, command: str | None = None) -> None:
        now = _now()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "config=excluded.config, updated=excluded.updated, "
                "initlab_version=excluded.initlab_version, command=excluded.command",
                (name, json.dumps(config, sort_keys=True), now, now, __version__, command),
            )

    def study_config(self, name: str) -> dict:
        row = self.conn.execute("SELECT config FROM studies WHERE name=?", (name,)).fetchone()
        if row is None:
            known = self.study_names()
            listing = ", ".join(known) if known else "none yet"
            raise KeyError(f"no study {name!r} in {self.path!r}; studies there: {listing}")
        return json.loads(row[0])

    def study_info(self, name: str) -> dict:
        self.study_config(name)
        row = self.conn.execute(
            "SELECT created, updated, initlab_version, command FROM studies WHERE name=?", (name,)
        ).fetchone()
        return dict(zip(("created", "updated", "initlab_version", "command"), row, strict=True))

    def study_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM studies ORDER BY name")]

    def studies(self):
        """A DataFrame of the studies with their run counts."""
        import pandas as pd

        return pd.read_sql_query(
            "SELECT s.name, s.created, s.updated, s.initlab_version, "
            "COUNT(r.hash) AS runs, SUM(r.status = 'done') AS done, "
            "SUM(r.status = 'failed') AS failed "
            "FROM studies s LEFT JOIN study_runs sr ON sr.study = s.name "
            "LEFT JOIN runs r ON r.hash = sr.hash GROUP BY s.name ORDER BY s.name",
            self.conn,
        )

    def delete_runs(self, hashes: Sequence[str]) -> None:
        with self.transaction():
            for chunk in _batches(hashes, 500):
                marks = ",".join("?" * len(chunk))
                self.conn.execute(f"DELETE FROM runs WHERE hash IN ({marks})", chunk)
                self.conn.execute(f"DELETE FROM curves WHERE hash IN ({marks})", chunk)

    # -- runs ---------------------------------------------------------------------------------
    def done_hashes(self, hashes: Iterable[str]) -> set[str]:
        """Which of ``hashes`` are finished runs (failed ones are retried)."""
        hashes = list(hashes)
        done = set()
        for chunk in _batches(hashes, 900):
            marks = ",".join("?" * len(chunk))
            done.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT hash FROM runs WHERE status='done' AND hash IN ({marks})", chunk
                )
            )
        return done

    def link(self, study: str, hashes: Iterable[str]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO study_runs VALUES (?, ?)", [(study, h) for h in hashes]
            )

    def write_chunk(
        self, rows: Sequence[dict], curves: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store one finished chunk's runs (and curves) in a single transaction.

        ``rows`` are dicts with ``hash``, ``config`` (dict), ``dataset``, the
        metrics, ``diverged``, ``diverged_epoch``, ``time_s``, ``status`` and
        ``error``; ``curves`` maps metric names to ``(epochs + 1, len(rows))``.
        """
        now = _now()
        run_values = []
        for r in rows:
            cfg = r["config"]
            flat = [r.get("dataset")] + [_flat(cfg.get(c)) for c in RUN_COLUMNS[1:]]
            run_values.append(
                (
                    r["hash"],
                    json.dumps(cfg, sort_keys=True),
                    *flat,
                    r.get("status", "done"),
                    *(_num(r.get(m)) for m in METRICS),
                    int(bool(r.get("diverged", False))),
                    int(r.get("diverged_epoch", -1)),
                    float(r.get("time_s", 0.0)),
                    r.get("error"),
                    __version__,
                    now,
                )
            )
        curve_values: list = []
        if curves:
            # one (epochs, 4) table per run, converted in bulk: a per-value Python loop
            # would cost more than the training it records
            n_epochs = next(iter(curves.values())).shape[0]
            epochs = np.arange(n_epochs)
            for j, r in enumerate(rows):
                if r.get("status", "done") != "done":
                    continue
                table = np.full((n_epochs, 1 + len(METRICS)), np.nan)
                table[:, 0] = epochs
                for k, m in enumerate(METRICS, start=1):
                    if m in curves:
                        table[:, k] = curves[m][:, j]
                values = table.tolist()
                if not np.isfinite(table).all():  # inf/NaN (a diverged run) are stored as NULL
                    values = [[_num(v) for v in row] for row in values]
                curve_values += [(r["hash"], int(row[0]), *row[1:]) for row in values]
        marks = ",".join("?" * (len(RUN_COLUMNS) + 2 + 1 + len(METRICS) + 6))
        with self.transaction():
            self.conn.executemany(f"INSERT OR REPLACE INTO runs VALUES ({marks})", run_values)
            if curve_values:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?, ?, ?)", curve_values
                )

    def runs(self, study: str | None = None, status: str | None = "done"):
        """Runs as a DataFrame: configuration columns (from the JSON), metrics, bookkeeping."""
        import pandas as pd

        where, args = [], []
        if study is not None:
            self.study_config(study)
            where.append("r.hash IN (SELECT hash FROM study_runs WHERE study = ?)")
            args.append(study)
        if status is not None:
            where.append("r.status = ?")
            args.append(status)
        sql = (
            f"SELECT r.hash, r.config, r.dataset, r.status, "
            f"{', '.join('r.' + m for m in METRICS)}, r.diverged, r.diverged_epoch, "
            f"r.time_s, r.error, r.initlab_version FROM runs r"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql, args).fetchall()
        records = []
        for row in rows:
            cfg = json.loads(row[1])
            cfg["hidden"] = "-".join(map(str, cfg.get("hidden", []))) or "0"
            rec = {"dataset": row[2], **cfg}
            rec.update(dict(zip(METRICS, row[4:8], strict=True)))
            rec.update(
                diverged=bool(row[8]),
                diverged_epoch=row[9],
                time_s=row[10],
                status=row[3],
                error=row[11],
                initlab_version=row[12],
                run_hash=row[0],
            )
            records.append(rec)
        frame = pd.DataFrame.from_records(records)
        if frame.empty:
            return frame
        order = [c for c in RUN_COLUMNS[:10] if c in frame.columns]  # dataset ... seed
        return frame.sort_values(order, kind="stable").reset_index(drop=True)

    def curves(self, hashes: Sequence[str] | None = None, study: str | None = None):
        import pandas as pd

        if study is not None:
            self.study_config(study)
            return pd.read_sql_query(
                "SELECT c.* FROM curves c JOIN study_runs sr ON sr.hash = c.hash "
                "WHERE sr.study = ? ORDER BY c.hash, c.epoch",
                self.conn,
                params=(study,),
            ).rename(columns={"hash": "run_hash"})
        frames = []
        for chunk in _batches(list(hashes or []), 900):
            marks = ",".join("?" * len(chunk))
            frames.append(
                pd.read_sql_query(
                    f"SELECT * FROM curves WHERE hash IN ({marks}) ORDER BY hash, epoch",
                    self.conn,
                    params=chunk,
                )
            )
        if not frames:
            return pd.DataFrame(columns=["run_hash", "epoch", *METRICS])
        return pd.concat(frames, ignore_index=True).rename(columns={"hash": "run_hash"})


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error), with clear errors."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.store._explain(exc) from None
        return self.store.conn

    def __exit__(self, exc_type, exc, tb):
        conn = self.store.conn
        if exc_type is None:
            try:
                conn.execute("COMMIT")
                return False
            except sqlite3.Error as err:
                conn.execute("ROLLBACK")
                raise self.store._explain(err) from None
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise self.store._explain(exc) from None
        return False


def _batches(items: Sequence, size: int):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _num(value):
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _flat(value):
    if isinstance(value, (list, tuple)):
        return "-".join(map(str, value)) or "0"
    return value
