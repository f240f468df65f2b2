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
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from . import runs as _runs
from .errors import InitlabError

__all__ = [
    "Store",
    "StoreError",
    "StoreDamaged",
    "RecoverReport",
    "recover",
    "SCHEMA_VERSION",
    "DEFAULT_PATH",
]

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


class StoreError(InitlabError, RuntimeError):
    """The store file cannot be used (not initlab's, newer schema, read-only, disk full)."""


class StoreDamaged(StoreError):
    """The store file is corrupted; the message names the file and how to get the data back."""


def _repair_hint(path: str) -> str:
    return (
        f"check it with `initlab store check {path}`, copy what is still readable into a "
        f"new file with `initlab store recover {path} RECOVERED.db` (the original is left "
        "as it is), or restore a backup"
    )


def _ro_uri(path: str) -> str:
    """The read-only URI of a file: ``#``, ``?`` and ``%`` in its name must not end it."""
    return "file:" + urllib.parse.quote(str(Path(path).absolute())) + "?mode=ro"


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
        self._timeout = timeout
        exists = self.path == ":memory:" or Path(self.path).exists()
        if readonly and not exists:
            raise StoreError(f"no store at {self.path!r}")
        if not exists:
            parent = Path(self.path).resolve().parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot create store {self.path!r}: directory {parent} does not exist"
                )
        uri = _ro_uri(self.path) if readonly and self.path != ":memory:" else self.path
        try:
            self.conn = sqlite3.connect(
                uri,
                timeout=timeout,
                uri=uri != self.path,
                isolation_level=None,
                check_same_thread=False,
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
            self._use_wal()
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

    def _use_wal(self) -> None:
        """Switch the file to write-ahead logging.

        Switching needs the file to itself for a moment, and SQLite answers "database
        is locked" at once (without waiting its busy timeout) while another process
        opens or switches the same new file; so wait here, up to the same timeout.
        """
        deadline = time.monotonic() + self._timeout
        pause = 0.005
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 0.2)

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
        if "file is not a database" in msg:
            return StoreError(
                f"{self.path!r} is not an SQLite database (so not an initlab "
                "store); it was left untouched"
            )
        if "malformed" in msg or "corrupt" in msg:
            return StoreDamaged(
                f"the store {self.path!r} is damaged ({msg}); " + _repair_hint(self.path)
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

    def _rows(self, sql: str, args: Sequence = ()) -> list[tuple]:
        """All rows of a query; a damaged file is reported with its name and the fix."""
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None

    # -- integrity ----------------------------------------------------------------------------
    def check(self, full: bool = False) -> list[str]:
        """Problems SQLite finds in the file (``PRAGMA quick_check``; ``integrity_check``
        when ``full``); an empty list when the store is sound.
        """
        pragma = "integrity_check" if full else "quick_check"
        try:
            found = [r[0] for r in self.conn.execute(f"PRAGMA {pragma}(100)")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if found == ["ok"] else found

    def ensure_sound(self) -> None:
        """Raise :class:`StoreDamaged` (naming the file and the fix) unless the file is sound."""
        problems = self.check()
        if problems:
            shown = "; ".join(problems[:3]) + (
                f"; ... ({len(problems)} problems)" * (len(problems) > 3)
            )
            raise StoreDamaged(
                f"the store {self.path!r} is damaged ({shown}); " + _repair_hint(self.path)
            )

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
        found = self._rows("SELECT config FROM studies WHERE name=?", (name,))
        row = found[0] if found else None
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
        (row,) = self._rows(
            "SELECT created, updated, initlab_version, command FROM studies WHERE name=?", (name,)
        )
        return dict(zip(("created", "updated", "initlab_version", "command"), row, strict=True))

    def study_names(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT name FROM studies ORDER BY name")]

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
        """Which of ``hashes`` are finished runs (failed ones are retried).

        Looked up by primary key: the unary ``+`` keeps SQLite from answering through
        the ``runs_status`` index, which would scan every finished run once per batch
        (quadratic in the size of the store).  The hashes are looked up in sorted order,
        so consecutive lookups walk neighbouring pages of the key's B-tree (1.7x faster
        at 400k runs than in planning order).
        """
        hashes = sorted(set(hashes))
        done = set()
        for chunk in _batches(hashes, 900):
            marks = ",".join("?" * len(chunk))
            done.update(
                r[0]
                for r in self._rows(
                    f"SELECT hash FROM runs WHERE hash IN ({marks}) AND +status = 'done'", chunk
                )
            )
        return done

    def failed_runs(self, study: str | None = None):
        """The failed runs (of ``study``, or all) with their reason: a DataFrame with
        ``run_hash``, the configuration columns, ``error`` and ``finished``.
        """
        frame = self.runs(study, status="failed")
        if frame.empty:
            import pandas as pd

            return pd.DataFrame(columns=["run_hash", "error"])
        front = ["run_hash", "error"]
        return frame[front + [c for c in frame.columns if c not in front]]

    def failure_reasons(self, study: str | None = None) -> dict[str, int]:
        """``{error: number of failed runs}``, most frequent first."""
        sql = "SELECT error, COUNT(*) AS n FROM runs r WHERE +r.status = 'failed'"
        args: list = []
        if study is not None:
            self.study_config(study)
            sql += " AND r.hash IN (SELECT hash FROM study_runs WHERE study = ?)"
            args.append(study)
        sql += " GROUP BY error ORDER BY n DESC, error"
        return {(e or "unknown error"): int(n) for e, n in self._rows(sql, args)}

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
        fields = _runs.fields()
        # every run field from the config JSON, by SQLite (column-wise, no Python per row);
        # hidden from its flat column ("16-16")
        extract = [
            "r.hidden" if f.kind == "sizes" else f"json_extract(r.config, '$.{f.name}')"
            for f in fields
        ]
        columns = [
            "dataset", "data_id", *(f.name for f in fields), *METRICS, "diverged",
            "diverged_epoch", "time_s", "status", "error", "initlab_version", "run_hash",
        ]  # fmt: skip
        sql = (
            f"SELECT r.dataset, {'r.data_id' if has_id else 'NULL'}, {', '.join(extract)}, "
            f"{', '.join('r.' + m for m in METRICS)}, r.diverged, r.diverged_epoch, r.time_s, "
            "r.status, r.error, r.initlab_version, r.hash FROM runs r"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        frames = [
            pd.DataFrame.from_records(rows, columns=columns)
            for rows in self._batched_rows(sql, args)  # memory: one batch of rows at a time
        ]
        frame = _concat(frames)
        if frame.empty:
            return frame
        if labels:  # the study's own labels of its data sets
            frame["dataset"] = frame["data_id"].map(labels).fillna(frame["dataset"])
        for f in fields:
            if f.kind == "bool":
                frame[f.name] = frame[f.name].astype(bool)
        frame["diverged"] = frame["diverged"].astype(bool)
        # a conditional field that no run has (momentum in a study of Adam runs) is no column
        absent = [f.name for f in fields if f.conditional and frame[f.name].isna().all()]
        frame = frame.drop(columns=absent)
        sort = ["dataset"] + [f.name for f in fields if not f.conditional]
        return frame.sort_values(sort, kind="stable").reset_index(drop=True)

    def _batched_rows(self, sql: str, args: Sequence = ()):
        """The rows of a query, :data:`_ROW_BATCH` at a time (damage reported as in _rows)."""
        try:
            cursor = self.conn.execute(sql, args)
            while rows := cursor.fetchmany(_ROW_BATCH):
                yield rows
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None

    def curves(self, hashes: Sequence[str] | None = None, study: str | None = None):
        """Per-epoch curves, long format (``run_hash``, ``epoch``, metrics), of the
        runs in ``hashes`` or of every run of ``study``.
        """
        import pandas as pd

        columns = ["run_hash", "epoch", *METRICS]
        if study is not None:
            self.study_config(study)
            rows = self._rows(
                "SELECT c.* FROM curves c JOIN study_runs sr ON sr.hash = c.hash "
                "WHERE sr.study = ? ORDER BY c.hash, c.epoch",
                (study,),
            )
        else:
            rows = []
            hashes = sorted(set(hashes or []))  # so the batches come out in (hash, epoch) order
            for chunk in _batches(hashes, 900):
                marks = ",".join("?" * len(chunk))
                rows += self._rows(
                    f"SELECT * FROM curves WHERE hash IN ({marks}) ORDER BY hash, epoch", chunk
                )
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({m: float for m in METRICS})

    def curve_bands(self, groups: Mapping[str, object], metric: str = "val_loss"):
        """Per-epoch statistics of ``metric`` over the runs of each group, computed in SQL.

        Parameters
        ----------
        groups : mapping
            ``{run hash: group label}`` (e.g. one label per configuration, its seeds
            sharing it).  Only these runs' curves are read, and never all at once:
            SQLite aggregates them, so memory grows with groups x epochs, not runs.
        metric : str
            One of ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``.

        Returns
        -------
        DataFrame
            ``group``, ``epoch``, ``n`` (runs with a finite value there; a diverged
            run's inf/NaN are stored as NULL), ``runs`` (runs with a curve),
            ``mean``, ``std`` (ddof 1; NaN below two values), ``min`` and ``max``.
        """
        import pandas as pd

        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
        labels = list(dict.fromkeys(groups.values()))
        code = {label: i for i, label in enumerate(labels)}
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _band_runs (hash TEXT PRIMARY KEY, grp INTEGER)"
        )
        try:
            self.conn.execute("DELETE FROM _band_runs")
            self.conn.executemany(
                "INSERT OR REPLACE INTO _band_runs VALUES (?, ?)",
                [(h, code[g]) for h, g in groups.items()],
            )
            rows = self._rows(
                f"SELECT b.grp, c.epoch, COUNT(c.{metric}), COUNT(*), AVG(c.{metric}), "
                f"SUM(c.{metric} * c.{metric}), MIN(c.{metric}), MAX(c.{metric}) "
                "FROM _band_runs b JOIN curves c ON c.hash = b.hash "
                "GROUP BY b.grp, c.epoch ORDER BY b.grp, c.epoch"
            )
        finally:
            self.conn.execute("DROP TABLE IF EXISTS temp._band_runs")
        cols = ["grp", "epoch", "n", "runs", "mean", "sumsq", "min", "max"]
        out = pd.DataFrame(rows, columns=cols)
        n = out["n"].to_numpy(float)
        mean = out["mean"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (out["sumsq"].to_numpy(float) - n * mean**2) / (n - 1)
        out["std"] = np.where(n > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)
        out.insert(0, "group", [labels[i] for i in out.pop("grp")])
        return out.drop(columns="sumsq")[
            ["group", "epoch", "n", "runs", "mean", "std", "min", "max"]
        ]


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
                self._rollback()
                raise self.store._explain(err) from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise self.store._explain(exc) from None
        return False

    def _rollback(self) -> None:
        # SQLite may already have rolled the transaction back itself (a full disk during
        # COMMIT): a second ROLLBACK would raise "no transaction is active" and hide why
        conn = self.store.conn
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                if conn.in_transaction:
                    raise


#: Rows of the runs table turned into a DataFrame at once by :meth:`Store.runs`: the
#: parsed configurations of a whole study (hundreds of bytes per run as Python dicts)
#: never sit in memory together, only the finished frame does.
_ROW_BATCH = 20_000


def _concat(frames: list):
    """Batch frames as one, with the dtypes one frame of every row would have."""
    import pandas as pd

    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    # a column that is all None in one batch is object there: let pandas infer again
    return pd.concat(frames, ignore_index=True, sort=False).infer_objects()


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


@dataclass
class RecoverReport:
    """What :func:`recover` copied, and what it could not read."""

    source: str
    target: str
    studies: int
    runs: int
    curve_rows: int
    lost_runs: int
    problems: list

    def __str__(self) -> str:
        lost = f"; {self.lost_runs} run(s) unreadable, rerun the study to train them again" * bool(
            self.lost_runs
        )
        return (
            f"copied {self.studies} studies, {self.runs} runs and {self.curve_rows} curve rows "
            f"from {self.source!r} to {self.target!r}{lost}"
        )


def recover(source: str | os.PathLike, target: str | os.PathLike) -> RecoverReport:
    """Copy what is still readable of a damaged store into a new store; never touch the source.

    Studies and their run lists are copied as far as they read; a run is copied with
    its whole curve or not at all (a half-readable run is left out, so rerunning the
    study trains it again).  ``target`` must not exist yet.
    """
    source, target = str(source), str(target)
    if not Path(source).exists():
        raise StoreError(f"no store at {source!r}")
    if Path(target).exists():
        raise StoreError(f"{target!r} already exists; recover into a new file")
    if Path(target).absolute() == Path(source).absolute():
        raise StoreError("recover into another file: the original is never modified")
    src = sqlite3.connect(_ro_uri(source), uri=True, isolation_level=None)
    problems: list[str] = []

    def rows(sql, args=()):
        try:
            return src.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            problems.append(f"{sql.split(' WHERE')[0]}: {exc}")
            return None

    tables = rows("SELECT name FROM sqlite_master WHERE type='table'")
    if tables is None or "meta" not in {t[0] for t in tables}:
        src.close()
        raise StoreDamaged(
            f"{source!r} is too damaged to recover (its table list is unreadable"
            f"{': ' + problems[0] if problems else ''}); restore a backup"
        )
    out = Store(target)
    try:
        # copied by column name, as the source names them (no positional arithmetic)
        columns = {
            t: [c[1] for c in rows(f"PRAGMA table_info({t})") or []]
            for t in ("studies", "runs", "curves", "study_runs")
        }
        studies = rows("SELECT * FROM studies") or []
        # runs: in rowid order, a range at a time; a range that fails is retried row by row
        top = rows("SELECT MAX(rowid) FROM runs")
        top = (top[0][0] or 0) if top else 0
        run_rows = []
        step = 512
        for lo in range(0, top + 1, step):
            part = rows("SELECT * FROM runs WHERE rowid BETWEEN ? AND ?", (lo, lo + step - 1))
            if part is None:
                part = []
                for rowid in range(lo, lo + step):
                    part += rows("SELECT * FROM runs WHERE rowid = ?", (rowid,)) or []
            run_rows += part
        run_cols = columns["runs"]
        i_hash, i_config = run_cols.index("hash"), run_cols.index("config")
        kept, curve_rows, lost = [], [], 0
        for r in run_rows:
            curve = rows("SELECT * FROM curves WHERE hash = ? ORDER BY epoch", (r[i_hash],))
            try:
                epochs = int(json.loads(r[i_config])["epochs"])
            except (ValueError, KeyError, TypeError):
                epochs = None
            if curve is None or epochs is None or (curve and len(curve) != epochs + 1):
                lost += 1
                continue
            kept.append(r)
            curve_rows += curve
        links = []
        for study_row in studies:
            name = study_row[columns["studies"].index("name")]
            links += rows("SELECT * FROM study_runs WHERE study = ?", (name,)) or []
        with out.transaction():
            for table, values in (
                ("studies", studies),
                ("runs", kept),
                ("curves", curve_rows),
                ("study_runs", links),
            ):
                names = columns[table]
                out.conn.executemany(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join(':' + n for n in names)})",
                    [dict(zip(names, v, strict=True)) for v in values],
                )
    finally:
        out.close()
        src.close()
    return RecoverReport(source, target, len(studies), len(kept), len(curve_rows), lost, problems)
