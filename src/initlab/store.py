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
from . import runs as _runs

__all__ = ["Store", "StoreError", "SCHEMA_VERSION", "DEFAULT_PATH"]

SCHEMA_VERSION = 2
DEFAULT_PATH = "initlab.db"
METRICS = _runs.METRICS
_SQL_TYPES = {"int": "INTEGER", "bool": "INTEGER", "float": "REAL"}


def run_columns() -> list[tuple[str, str]]:
    """The runs table's flat columns and their SQL types: the data set, then one per
    core run field (conditional fields live in the ``config`` JSON)."""
    cols = [("dataset", "TEXT"), ("data_id", "TEXT"), ("data", "TEXT")]
    cols += [(f.name, _SQL_TYPES.get(f.kind, "TEXT")) for f in _runs.fields() if not f.conditional]
    return cols


def _schema() -> str:
    flat = ", ".join(f"{c} {t}" for c, t in run_columns())
    metrics = ", ".join(f"{m} REAL" for m in METRICS)
    return f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
    initlab_version TEXT NOT NULL, command TEXT, labels TEXT);
CREATE TABLE IF NOT EXISTS runs (
    hash TEXT PRIMARY KEY, config TEXT NOT NULL, {flat},
    status TEXT NOT NULL, {metrics},
    diverged INTEGER, diverged_epoch INTEGER, time_s REAL, error TEXT,
    initlab_version TEXT NOT NULL, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS study_runs (
    study TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (study, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS curves (
    hash TEXT NOT NULL, epoch INTEGER NOT NULL, {metrics},
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
        self.meta: dict[str, str] = {}
        self._depth = 0  # nesting of transaction() blocks
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
            self.meta = meta
            if version < SCHEMA_VERSION and self.readonly:
                self._upgrade_for_reading()
        if self.readonly:
            return
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if "meta" not in tables:
            with self.transaction():
                for statement in _schema().split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [("application", "initlab"), ("schema_version", str(SCHEMA_VERSION))],
                )
            self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        elif int(self.meta.get("schema_version", 0)) < SCHEMA_VERSION:
            self._migrate()
        else:
            self._add_new_columns()

    def _columns(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def _add_new_columns(self) -> None:
        """Columns for run fields added since the file was made (one ALTER each, idempotent)."""
        have = set(self._columns("runs"))
        missing = [(c, t) for c, t in run_columns() if c not in have]
        if missing:
            with self.transaction():
                for c, t in missing:
                    self.conn.execute(f"ALTER TABLE runs ADD COLUMN {c} {t}")

    def _migrate(self) -> None:
        """Schema 1 -> 2, in one transaction: data identity columns, per-study data labels.

        Runs keep their hashes and numbers.  Schema 1 did not keep a run's data
        options beside it; :func:`initlab.study.backfill` fills them in from the
        stored studies (``legacy_rows`` marks the file as needing it).
        """
        with self.transaction():
            if "labels" not in self._columns("studies"):
                self.conn.execute("ALTER TABLE studies ADD COLUMN labels TEXT")
            have = set(self._columns("runs"))
            for c, t in run_columns():
                if c not in have:
                    self.conn.execute(f"ALTER TABLE runs ADD COLUMN {c} {t}")
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("legacy_rows", "1"), ("backfill", "1")],
            )
        self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))

    def _upgrade_for_reading(self) -> None:
        """A read-only open of an older store: upgrade it first if the file is writable."""
        if not os.access(self.path, os.W_OK) or not os.access(
            Path(self.path).resolve().parent, os.W_OK
        ):
            return  # read as it is; rows lack their data identity (labels are names)
        self.conn.close()
        Store(self.path).close()
        self.conn = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))

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
    def save_study(
        self,
        name: str,
        config: dict,
        command: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Create or update a study's definition; ``labels`` maps data ids to its labels."""
        now = _now()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO studies (name, config, created, updated, initlab_version, command, "
                "labels) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "config=excluded.config, updated=excluded.updated, "
                "initlab_version=excluded.initlab_version, command=excluded.command, "
                "labels=excluded.labels",
                (
                    name,
                    json.dumps(config, sort_keys=True),
                    now,
                    now,
                    __version__,
                    command,
                    json.dumps(labels or {}, sort_keys=True),
                ),
            )

    def study_config(self, name: str) -> dict:
        row = self.conn.execute("SELECT config FROM studies WHERE name=?", (name,)).fetchone()
        if row is None:
            known = self.study_names()
            listing = ", ".join(known) if known else "none yet"
            raise KeyError(f"no study {name!r} in {self.path!r}; studies there: {listing}")
        return json.loads(row[0])

    def study_labels(self, name: str) -> dict[str, str]:
        """Data id -> the study's label of that data set (empty for schema 1 studies)."""
        if "labels" not in self._columns("studies"):
            return {}
        row = self.conn.execute("SELECT labels FROM studies WHERE name=?", (name,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

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

    def unlink(self, study: str) -> None:
        """Forget which runs belong to ``study`` (the runs themselves stay, for reuse)."""
        with self.transaction():
            self.conn.execute("DELETE FROM study_runs WHERE study = ?", (study,))

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

    def needs_backfill(self) -> bool:
        """Whether runs from a schema 1 file still lack their data identity."""
        return self.meta.get("backfill") == "1"

    def backfilled(self) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM meta WHERE key = 'backfill'")
        self.meta.pop("backfill", None)

    def has_legacy_rows(self) -> bool:
        return self.meta.get("legacy_rows") == "1"

    def fill_identity(self, hashes: Sequence[str], data_id: str, data: str, label: str) -> None:
        """Give runs from a schema 1 file (``data_id`` NULL) their data set's identity."""
        with self.transaction():
            for chunk in _batches(hashes, 900):
                marks = ",".join("?" * len(chunk))
                self.conn.execute(
                    f"UPDATE runs SET data_id = ?, data = ?, dataset = ? "
                    f"WHERE data_id IS NULL AND hash IN ({marks})",
                    [data_id, data, label, *chunk],
                )

    def write_chunk(
        self, rows: Sequence[dict], curves: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store one finished chunk's runs (and curves) in a single transaction.

        ``rows`` are dicts with ``hash``, ``config`` (dict), ``dataset`` (its label),
        ``data_id``, ``data`` (the data set's identity, JSON), the metrics,
        ``diverged``, ``diverged_epoch``, ``time_s``, ``status`` and ``error``;
        ``curves`` maps metric names to ``(epochs + 1, len(rows))``.
        """
        now = _now()
        flat = [c for c, _ in run_columns()]
        columns = [
            "hash", "config", *flat, "status", *METRICS, "diverged", "diverged_epoch",
            "time_s", "error", "initlab_version", "finished",
        ]  # fmt: skip
        run_values = []
        for r in rows:
            cfg = r["config"]
            value = {c: _flat(cfg.get(c)) for c in flat}
            value.update(
                hash=r["hash"],
                config=json.dumps(cfg, sort_keys=True),
                dataset=r.get("dataset"),
                data_id=r.get("data_id"),
                data=r.get("data"),
                status=r.get("status", "done"),
                diverged=int(bool(r.get("diverged", False))),
                diverged_epoch=int(r.get("diverged_epoch", -1)),
                time_s=float(r.get("time_s", 0.0)),
                error=r.get("error"),
                initlab_version=__version__,
                finished=now,
            )
            value.update({m: _num(r.get(m)) for m in METRICS})
            run_values.append([value[c] for c in columns])
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
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        curve_cols = ", ".join(["hash", "epoch", *METRICS])
        curve_marks = ", ".join("?" for _ in range(2 + len(METRICS)))
        with self.transaction():
            self.conn.executemany(
                f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})", run_values
            )
            if curve_values:
                self.conn.executemany(
                    f"INSERT OR REPLACE INTO curves ({curve_cols}) VALUES ({curve_marks})",
                    curve_values,
                )

    def runs(self, study: str | None = None, status: str | None = "done"):
        """Runs as a DataFrame: ``dataset`` (the study's label), ``data_id``, one column
        per run field, the metrics and bookkeeping (``status``, ``error``, ``run_hash``)."""
        import pandas as pd

        where, args = [], []
        labels: dict[str, str] = {}
        if study is not None:
            self.study_config(study)
            labels = self.study_labels(study)
            where.append("r.hash IN (SELECT hash FROM study_runs WHERE study = ?)")
            args.append(study)
        if status is not None:
            where.append("r.status = ?")
            args.append(status)
        has_id = "data_id" in self._columns("runs")
        ident = "r.data_id" if has_id else "NULL"
        sql = (
            f"SELECT r.hash, r.config, r.dataset, {ident}, r.status, "
            f"{', '.join('r.' + m for m in METRICS)}, r.diverged, r.diverged_epoch, "
            f"r.time_s, r.error, r.initlab_version FROM runs r"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql, args).fetchall()
        order = [f.name for f in _runs.fields()]
        records = []
        for row in rows:
            cfg = json.loads(row[1])
            cfg["hidden"] = "-".join(map(str, cfg.get("hidden", []))) or "0"
            rec = {"dataset": labels.get(row[3], row[2]), "data_id": row[3]}
            rec.update({k: cfg.get(k) for k in order})
            rec.update({k: v for k, v in cfg.items() if k not in rec})
            rec.update(dict(zip(METRICS, row[5:9], strict=True)))
            rec.update(
                diverged=bool(row[9]),
                diverged_epoch=row[10],
                time_s=row[11],
                status=row[4],
                error=row[12],
                initlab_version=row[13],
                run_hash=row[0],
            )
            records.append(rec)
        frame = pd.DataFrame.from_records(records)
        if frame.empty:
            return frame
        # a conditional field that no run has (momentum in a study of Adam runs) is no column
        absent = [
            f.name
            for f in _runs.fields()
            if f.conditional and f.name in frame.columns and frame[f.name].isna().all()
        ]
        frame = frame.drop(columns=absent)
        sort = ["dataset"] + [f.name for f in _runs.fields() if not f.conditional]
        return frame.sort_values(sort, kind="stable").reset_index(drop=True)

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
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error), with clear errors.

    Nested blocks join the outermost one, so a caller can group several store
    calls into one atomic change.
    """

    def __init__(self, store: Store):
        self.store = store
        self.outer = False

    def __enter__(self):
        self.outer = self.store._depth == 0
        self.store._depth += 1
        if not self.outer:
            return self.store.conn
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.store._depth -= 1
            raise self.store._explain(exc) from None
        return self.store.conn

    def __exit__(self, exc_type, exc, tb):
        self.store._depth -= 1
        if not self.outer:
            return False
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
