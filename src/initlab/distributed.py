"""Studies on a Dask cluster: population chunks as Dask tasks, results back to one writer.

The unit of work is a population chunk from :mod:`initlab.sweep`
(:class:`~initlab.sweep.Chunk`): :func:`execute_dask` submits one task per
chunk, each running :func:`initlab.sweep.run_chunk` on a worker, and yields
every :class:`~initlab.sweep.ChunkResult` as it completes.  The caller -- in
practice :meth:`initlab.Study.run` -- is the only process that touches the
store, so progress, resume and statistics work exactly as with the local
executors.  A run's initial weights derive from its own configuration (seed,
initializer), never from which worker trained it, so the numbers are
bit-identical to ``executor="local"``.

Only a bounded number of chunks is in flight at once (about two per worker
thread): the next chunk is submitted when a result has been handed to the
caller, results are fetched from the workers only when the caller is ready
for them, and each future is released as soon as the caller has stored it.

Every worker is checked, late joiners included: a worker plugin fingerprints
the initlab code the worker imports (a hash of its source files) and its
NumPy version, and only a worker whose fingerprint equals the client's gets
the Dask *resource* that initlab's tasks require, so a mismatched worker
never receives work; the client names it (:class:`ClusterWarning`).

Failures:

* a worker that dies (killed, out of memory) loses its running chunk; the
  scheduler reschedules it on another worker (after
  ``distributed.scheduler.allowed-failures`` deaths, 3 by default, the chunk
  comes back failed, its cause ``KilledWorker``, and the study exits non-zero);
* a chunk whose function raises is retried ``retries`` times, then comes back
  as a failed :class:`~initlab.sweep.ChunkResult` carrying the error, and the
  other chunks carry on (numeric trouble -- divergence, a singular LSUV --
  is already caught by ``run_chunk`` itself);
* the scheduler goes away: :class:`SchedulerLost` is raised at once; nothing
  is reported as failed (the finished chunks were handed over, the others
  simply did not run);
* no eligible worker for ``no_workers_timeout`` seconds: :class:`NoWorkers`
  (``None`` waits for workers indefinitely, with a warning);
* Ctrl-C (or closing the generator) cancels every outstanding task.

``dask[distributed]`` is an optional dependency (``pip install
'initlab[dask]'``); it is imported only inside this module's functions.

Examples
--------
On a laptop (a ``LocalCluster`` is started for you)::

    Study.preset("moons").run("moons.db", executor="dask", workers=4)

On a cluster (``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786``
on the others; see ``docs/distributed.md``)::

    initlab study moons --executor dask --scheduler tcp://HOST:8786
"""

from __future__ import annotations

import math
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from . import __version__
from . import datasets as _datasets
from .errors import InitlabError
from .sweep import METRICS, Chunk, ChunkResult, run_chunk

__all__ = [
    "ClusterError",
    "ClusterWarning",
    "SchedulerUnreachable",
    "SchedulerLost",
    "NoWorkers",
    "VersionMismatch",
    "DaskSession",
    "connect",
    "check_workers",
    "execute_dask",
    "DEFAULT_TIMEOUT",
    "DEFAULT_RETRIES",
    "DEFAULT_NO_WORKERS_TIMEOUT",
    "code_fingerprint",
]

#: Seconds to wait for a scheduler (and for its first workers) before giving up.
DEFAULT_TIMEOUT = 10.0
#: How often a chunk whose function raised is resubmitted before it counts as failed.
DEFAULT_RETRIES = 1
#: Seconds a running study waits while no eligible worker is connected, then gives up.
DEFAULT_NO_WORKERS_TIMEOUT = 60.0
#: How often (seconds) a running study looks at the cluster's workers.
_POLL = 1.0

INSTALL_HINT = "pip install 'initlab[dask]'"


class ClusterError(InitlabError, RuntimeError):
    """The Dask cluster cannot run initlab work; the message says why and what to do."""


class ClusterWarning(UserWarning):
    """Something the user should know about the cluster (a refused worker, waiting)."""


class SchedulerUnreachable(ClusterError, ConnectionError):
    """No Dask scheduler answered at the given address within the timeout."""


class SchedulerLost(ClusterError, ConnectionError):
    """The connection to the scheduler was lost while a study ran."""


class NoWorkers(ClusterError):
    """No worker able to run initlab's tasks was connected for too long."""


class VersionMismatch(ClusterError):
    """Some workers lack initlab or run other initlab code or another NumPy than the client."""


class MissingDask(ClusterError, ImportError):
    """``dask[distributed]`` is not installed on the client."""


def _distributed():
    """The ``distributed`` package, or an error that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingDask(
            f"the dask executor needs Dask distributed, which is not installed: {INSTALL_HINT} "
            f"({exc})"
        ) from None
    return distributed


# The worker probe is compiled from source into a namespace that is not an importable
# module, so it travels to the workers by value (cloudpickle) and runs even where initlab
# is missing -- which is exactly what it has to report.  The client fingerprints its own
# initlab with the same function.
_PROBE_SOURCE = """
def initlab_code_hash(init_file):
    # a hash of the package's Python sources: the code a process actually imports
    import hashlib, os
    if not init_file:
        return None
    root = os.path.dirname(init_file)
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                digest.update(os.path.relpath(path, root).encode() + b"\\0")
                with open(path, "rb") as f:
                    digest.update(f.read())
                digest.update(b"\\0")
    return digest.hexdigest()[:16]


def initlab_probe():
    import sys
    out = {"python": sys.version.split()[0], "version": None, "error": None, "path": None,
           "code": None, "numpy": None}
    try:
        import numpy
        out["numpy"] = numpy.__version__
    except ImportError:
        pass
    try:
        import initlab
    except ImportError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["version"] = getattr(initlab, "__version__", "unknown")
    out["path"] = getattr(initlab, "__file__", None)
    out["code"] = initlab_code_hash(out["path"])
    return out
"""

# The plugin that keeps mismatched workers out: on every worker, as it joins, it grants
# the resource initlab's tasks require only if the worker's fingerprint is the client's.
_GUARD_SOURCE = """
from distributed import WorkerPlugin


class InitlabGuard(WorkerPlugin):
    def __init__(self, expected, resource):
        self.expected, self.resource = tuple(expected), resource

    async def setup(self, worker):
        info = initlab_probe()
        if (info["code"], info["numpy"]) == self.expected:
            await worker.set_resources(**{self.resource: 1_000_000})
"""


# Run on the scheduler (which may lack initlab, so it travels by value too).  A worker gets
# its resource from the plugin only after it has joined, and Dask's scheduler does not look
# at "no-worker" tasks again when a worker's resources change (only when a worker joins):
# a task that went unrunnable while every worker was restarting would wait forever.
_KICK_SOURCE = """
def initlab_kick(resource, dask_scheduler=None):
    import time
    stuck = [ts for ts in dask_scheduler.unrunnable
             if resource in (ts.resource_restrictions or {})]
    if not stuck:
        return 0
    recs = {}
    for ws in dask_scheduler.workers.values():
        if ws.resources.get(resource):
            recs.update(dask_scheduler.bulk_schedule_unrunnable_after_adding_worker(ws))
    if recs:
        dask_scheduler.transitions(recs, stimulus_id=f"initlab-kick-{time.time()}")
    return len(recs)
"""


def _namespace(source: str, name: str) -> dict:
    namespace: dict = {"__name__": name}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace


def _make_probe() -> Callable[[], dict]:
    return _namespace(_PROBE_SOURCE, "initlab_worker_probe")["initlab_probe"]


_FINGERPRINT: tuple[str | None, str] | None = None


def code_fingerprint() -> tuple[str | None, str]:
    """``(hash of this process's initlab sources, NumPy version)``: what a worker must match.

    Two installations with the same version string but edited code, or another
    NumPy (whose kernels can round differently), give different fingerprints.
    """
    global _FINGERPRINT
    if _FINGERPRINT is None:
        import initlab

        code = _namespace(_PROBE_SOURCE, "initlab_worker_probe")["initlab_code_hash"]
        _FINGERPRINT = (code(initlab.__file__), np.__version__)
    return _FINGERPRINT


def _mismatch(info: dict) -> str | None:
    """Why a worker's probe does not match this client (None when it does)."""
    if info["version"] is None:
        return f"cannot import initlab ({info['error']})"
    code, numpy_version = code_fingerprint()
    if info["version"] != __version__:
        return f"runs initlab {info['version']}"
    if info["code"] != code:
        return (
            f"runs other initlab {info['version']} code (source hash {info['code']}, the "
            f"client's {code}; {info['path']})"
        )
    if info["numpy"] != numpy_version:
        return f"runs NumPy {info['numpy']} (the client {numpy_version})"
    return None


def check_workers(client) -> dict[str, str]:
    """Check that every worker of ``client``'s cluster imports the client's initlab version.

    Parameters
    ----------
    client : distributed.Client

    Returns
    -------
    dict
        ``{worker address: initlab version}``.

    Raises
    ------
    ClusterError
        When the cluster has no workers.
    VersionMismatch
        When a worker cannot import initlab, imports another version, other
        initlab code (:func:`code_fingerprint`) or another NumPy; the message
        names the workers and what differs.
    """
    info = client.run(_make_probe())
    if not info:
        raise ClusterError(
            f"the Dask cluster at {client.scheduler.address} has no workers; start some with "
            f"`dask worker {client.scheduler.address}`"
        )
    missing = {a: i for a, i in info.items() if i["version"] is None}
    if missing:
        names = ", ".join(sorted(missing))
        first = next(iter(missing.values()))
        raise VersionMismatch(
            f"{len(missing)} of {len(info)} Dask workers cannot import initlab "
            f"({first['error']}): {names}. Install initlab {__version__} (the client's "
            f"version) in the workers' Python environment: pip install 'initlab[dask]=="
            f"{__version__}'"
        )
    other = {a: i["version"] for a, i in info.items() if i["version"] != __version__}
    if other:
        versions = sorted(set(other.values()))
        raise VersionMismatch(
            f"the client runs initlab {__version__} but {len(other)} of {len(info)} Dask "
            f"workers run initlab {', '.join(versions)} ({', '.join(sorted(other))}); "
            f"install the same version everywhere so results are identical"
        )
    differ = {a: why for a, i in info.items() if (why := _mismatch(i))}
    if differ:
        listing = "; ".join(f"{a} {why}" for a, why in sorted(differ.items()))
        raise VersionMismatch(
            f"{len(differ)} of {len(info)} Dask workers do not run the client's initlab "
            f"{__version__} code and NumPy {code_fingerprint()[1]}: {listing}. Install the "
            "same initlab and NumPy everywhere (pip install the same files) so results "
            "are identical"
        )
    return {a: i["version"] for a, i in info.items()}


def _guard(client) -> str:
    """Register the worker check on ``client``'s cluster (once); the resource it grants."""
    resource = getattr(client, "_initlab_resource", None)
    if resource is not None:
        return resource
    code, numpy_version = code_fingerprint()
    resource = f"initlab-{code}-numpy-{numpy_version}"
    plugin = _namespace(_PROBE_SOURCE + _GUARD_SOURCE, "initlab_worker_guard")["InitlabGuard"]
    client.register_plugin(plugin((code, numpy_version), resource), name=f"guard-{resource}")
    client._initlab_resource = resource
    return resource


@dataclass
class DaskSession:
    """A connected Dask client, and the ``LocalCluster`` behind it when one was started.

    Use it as a context manager, or call :meth:`close`.
    """

    client: object
    cluster: object | None = None
    #: what :func:`execute_dask` does when no worker is left (see there)
    no_workers_timeout: float | None = DEFAULT_NO_WORKERS_TIMEOUT

    @property
    def address(self) -> str:
        """The scheduler's address (``tcp://HOST:PORT``)."""
        return self.client.scheduler.address

    def n_threads(self) -> int:
        """Worker threads in the cluster now (how many chunks run at once)."""
        return max(1, sum(self.client.nthreads().values()))

    def close(self) -> None:
        """Disconnect; shut the ``LocalCluster`` down if this session started it."""
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
                self.cluster = None

    def __enter__(self) -> DaskSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_workers_arg(workers) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    return int(workers)


def _check_address(scheduler) -> str:
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler must be an address like 'tcp://HOST:8786', got {scheduler!r}")
    scheduler = scheduler.strip()
    if "://" not in scheduler:
        scheduler = "tcp://" + scheduler
    _, rest = scheduler.split("://", 1)
    host, sep, port = rest.rpartition(":")
    if scheduler.startswith(("tcp://", "tls://")) and (not sep or not host or not port.isdigit()):
        raise ValueError(
            f"scheduler address {scheduler!r} has no port; expected 'tcp://HOST:PORT' "
            "(the `dask scheduler` command prints it, default port 8786)"
        )
    return scheduler


def connect(
    scheduler: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    check_versions: bool = True,
    no_workers_timeout: float | None = DEFAULT_NO_WORKERS_TIMEOUT,
) -> DaskSession:
    """Connect to a Dask scheduler, or start a ``LocalCluster``, ready for initlab work.

    Parameters
    ----------
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running ``dask scheduler`` (``HOST:PORT``
        means tcp).  None starts a ``LocalCluster`` of worker processes on
        this machine, one thread each.
    workers : int, optional
        Without ``scheduler``: the number of local worker processes (default:
        the CPU count).  With ``scheduler``: wait until at least this many
        workers have joined (default: at least one).
    timeout : float, seconds
        How long to wait for the scheduler and the workers (default
        :data:`DEFAULT_TIMEOUT`).
    check_versions : bool
        Run :func:`check_workers` (every worker must import the client's
        initlab code and NumPy), and register the check that keeps workers
        joining later out of initlab's work unless they match.
    no_workers_timeout : float or None
        With ``scheduler``: None waits for the workers as long as it takes
        (with a :class:`ClusterWarning` saying so) instead of ``timeout``.

    Returns
    -------
    DaskSession

    Raises
    ------
    SchedulerUnreachable
        No scheduler answered within ``timeout``.
    ClusterError, VersionMismatch
        Too few workers joined, or they lack initlab / run another version.
    MissingDask
        ``dask[distributed]`` is not installed here.
    """
    workers = _check_workers_arg(workers)
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    _check_no_workers_timeout(no_workers_timeout)
    distributed = _distributed()
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,  # the population is the vectorization; processes scale it
            processes=True,
            host="127.0.0.1",  # scheduler, workers and their HTTP servers on loopback only
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    else:
        address = _check_address(scheduler)
        try:
            client = distributed.Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(
                f"could not reach a Dask scheduler at {address} within {timeout:g} s "
                f"({type(exc).__name__}: {exc}). Start one with `dask scheduler` and check "
                "the host, the port and the firewall"
            ) from None
    session = DaskSession(client, cluster, no_workers_timeout)
    try:
        if scheduler is not None:
            wanted = workers or 1
            patience = timeout
            if no_workers_timeout is None:
                patience = None
                have = len(client.scheduler_info().get("workers", {}))
                if have < wanted:
                    warnings.warn(
                        ClusterWarning(
                            f"the Dask scheduler at {session.address} has {have} worker(s); "
                            f"waiting for {wanted} as long as it takes (start them with "
                            f"`dask worker {session.address}`)"
                        ),
                        stacklevel=2,
                    )
            try:
                client.wait_for_workers(wanted, timeout=patience)
            except (TimeoutError, OSError):
                have = len(client.scheduler_info().get("workers", {}))
                raise ClusterError(
                    f"the Dask scheduler at {session.address} has {have} worker(s); waited "
                    f"{timeout:g} s for {wanted}. Start workers with "
                    f"`dask worker {session.address}`"
                ) from None
        if check_versions:
            check_workers(client)
            _guard(client)
    except BaseException:
        session.close()
        raise
    return session


def _check_no_workers_timeout(value) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"no_workers_timeout must be a positive number of seconds, or None to wait for "
            f"workers indefinitely, got {value!r}"
        )


def _failed(chunk: Chunk, error: str) -> ChunkResult:
    M = len(chunk.specs)
    nan = np.full(M, math.nan)
    return ChunkResult(
        chunk.index, chunk.specs, {k: nan for k in METRICS}, np.full(M, -1), 0.0, error=error
    )


def _the_data(data: _datasets.Dataset) -> _datasets.Dataset:
    """Identity: the task that holds the data set on the cluster (recomputable if lost)."""
    return data


def execute_dask(
    chunk_list: Sequence[Chunk],
    data: _datasets.Dataset,
    curves: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    *,
    client=None,
    retries: int = DEFAULT_RETRIES,
    timeout: float | None = None,
    max_in_flight: int | None = None,
    no_workers_timeout: float | None = DEFAULT_NO_WORKERS_TIMEOUT,
) -> Iterator[ChunkResult]:
    """Train chunks on a Dask cluster, yielding each result as it completes (any order).

    The Dask counterpart of :func:`initlab.sweep.execute`.

    Parameters
    ----------
    chunk_list : list of Chunk
    data : Dataset
        Sent to the cluster once, and fetched once by each worker.
    curves : bool
        Also bring back per-epoch curves.
    scheduler, workers, timeout
        As in :func:`connect`; used only when ``client`` is None (the
        connection then lives as long as the generator).
    on_progress : callable
        ``on_progress(model_epochs)`` once per successfully finished chunk.
    client : distributed.Client, optional
        An already connected (and checked) client; it is left open.
    retries : int
        Resubmissions of a chunk whose function raised, before it counts as failed.
    max_in_flight : int, optional
        Chunks submitted and not yet handed over at most (default: two per
        worker thread, at least 4).  The next chunk is submitted when a result
        has been consumed, so neither the cluster's memory nor the client's
        grows with the size of the study.
    no_workers_timeout : float or None
        Seconds without any eligible worker after which :class:`NoWorkers` is
        raised; None waits for workers indefinitely.

    Yields
    ------
    ChunkResult
        Failed chunks (the function raised, its workers died too often) carry
        ``error`` and NaN metrics; the other chunks are unaffected.

    Raises
    ------
    SchedulerLost
        The scheduler went away: the chunks yielded so far are complete, the
        others did not run (none is reported as failed).
    NoWorkers
        No worker able to run initlab's tasks for ``no_workers_timeout`` seconds.
    """
    _check_execute_args(retries, max_in_flight, no_workers_timeout)
    if not chunk_list:
        return
    distributed = _distributed()
    session = None
    if client is None:
        session = connect(scheduler, workers, timeout, no_workers_timeout=no_workers_timeout)
        client = session.client
    tag = uuid.uuid4().hex[:8]
    pending: dict = {}
    data_future = None
    watch = _Watch(client, _guard(client), no_workers_timeout)
    address = client.scheduler.address
    try:
        if max_in_flight is None:
            max_in_flight = max(4, 2 * watch.n_threads())
        resources = {watch.resource: 1}
        # One task holds the data set: workers fetch it from each other once, and if every
        # worker holding it dies the scheduler recomputes it (a scattered copy would be lost).
        data_future = client.submit(
            _the_data, data, key=f"initlab-data-{tag}", pure=False, resources=resources
        )
        queue = iter(chunk_list)
        # results are gathered on the client's event loop as they complete (at most
        # max_in_flight of them wait here), which also re-fetches a result whose worker
        # died between finishing and handing it over
        # on *this* client's loop: as_completed defaults to the default client's, and
        # tracking another client's futures there never sees them finish
        finished = distributed.as_completed(loop=client.loop, with_results=True, raise_errors=False)

        def submit_next() -> None:
            chunk = next(queue, None)
            if chunk is None:
                return
            fut = client.submit(
                run_chunk,
                chunk,
                data_future,
                curves,
                key=f"initlab-chunk-{tag}-{chunk.index}",
                retries=int(retries),
                pure=False,
                resources=resources,
            )
            pending[fut] = chunk
            finished.add(fut)

        for _ in range(max_in_flight):
            submit_next()
        n_done = 0
        while pending:
            batch = finished.next_batch(block=False)
            if not batch:
                watch.check(n_done)
                time.sleep(min(_POLL / 10, 0.05))
                continue
            for fut, outcome in batch:
                chunk = pending.pop(fut)
                result = _outcome(fut, outcome, chunk, address, n_done)
                if result.error is None and on_progress is not None:
                    on_progress(len(chunk.specs) * chunk.specs[0].epochs)
                yield result  # the caller stores it before asking for the next one
                fut.release()
                n_done += 1
                submit_next()
    finally:
        _leave_nothing(client, list(pending), data_future)
        if session is not None:
            session.close()


def _check_execute_args(retries, max_in_flight, no_workers_timeout) -> None:
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if max_in_flight is not None and (
        isinstance(max_in_flight, bool)
        or not isinstance(max_in_flight, (int, np.integer))
        or max_in_flight < 1
    ):
        raise ValueError(f"max_in_flight must be a positive integer, got {max_in_flight!r}")
    _check_no_workers_timeout(no_workers_timeout)


def _leave_nothing(client, pending: list, data_future) -> None:
    """Cancel what is still queued (Ctrl-C, an early stop) and release the data set."""
    try:
        if pending:
            client.cancel(pending, force=True)
        if data_future is not None:
            data_future.release()
    except Exception:  # noqa: BLE001 - the connection may be gone already
        pass


def _lost(address: str, n_done: int) -> SchedulerLost:
    return SchedulerLost(
        f"lost the connection to the Dask scheduler at {address}: the {n_done} chunk(s) "
        "that finished are stored, no run was marked failed; restart the scheduler (and "
        "its workers) and rerun the same command to train the rest"
    )


def _outcome(fut, result, chunk: Chunk, address: str, n_done: int) -> ChunkResult:
    """What a finished future gave: its ChunkResult, or a failed one carrying the cause."""
    distributed = _distributed()
    if isinstance(result, ChunkResult):
        return result
    if fut.status == "cancelled" or isinstance(result, distributed.client.FutureCancelledError):
        raise _lost(address, n_done) from None
    error = result if isinstance(result, BaseException) else fut.exception()
    if isinstance(error, distributed.scheduler.KilledWorker):
        return _failed(chunk, _killed(error))
    if isinstance(error, (OSError, distributed.comm.CommClosedError)) and (
        fut.client.status not in ("running", "connecting")
    ):
        raise _lost(address, n_done) from None
    return _failed(chunk, f"{type(error).__name__}: {error}")


def _killed(exc) -> str:
    # one wording per cause (no worker address or task key): failures are grouped by it
    tries = getattr(exc, "allowed_failures", None)
    attempts = f" {tries + 1} times" if isinstance(tries, int) else ""
    return (
        f"KilledWorker: the worker running this chunk died{attempts} (the scheduler's "
        "distributed.scheduler.allowed-failures); look at the workers' logs, out of memory "
        "is the usual cause (lower max_memory)"
    )


class _Watch:
    """Watches the cluster while a study waits: late joiners, no workers, a lost scheduler."""

    def __init__(self, client, resource: str, no_workers_timeout: float | None):
        self.client = client
        self.resource = resource
        self.patience = no_workers_timeout
        self.seen: set[str] = set()
        self.refused: set[str] = set()
        self.last = 0.0
        self.alone_since: float | None = None
        self.warned = False
        self.probe = _make_probe()
        self.kick = _namespace(_KICK_SOURCE, "initlab_scheduler_kick")["initlab_kick"]

    def workers(self) -> dict:
        return self.client.scheduler_info().get("workers", {})

    def n_threads(self) -> int:
        eligible = [w for w in self.workers().values() if self.resource in w.get("resources", {})]
        return max(1, sum(w.get("nthreads", 1) for w in eligible))

    def check(self, n_done: int) -> None:
        now = time.monotonic()
        if now - self.last < _POLL:
            return
        self.last = now
        address = self.client.scheduler.address
        if self.client.status not in ("running", "connecting"):
            raise _lost(address, n_done)
        try:
            workers = self.workers()
        except (OSError, TimeoutError):
            raise _lost(address, n_done) from None
        new = [a for a in workers if a not in self.seen]
        if new:
            self.seen.update(new)
            self._probe(new)
        eligible = [
            a
            for a, w in workers.items()
            if self.resource in w.get("resources", {}) and a not in self.refused
        ]
        if eligible:
            self.alone_since, self.warned = None, False
            try:
                self.client.run_on_scheduler(self.kick, self.resource)
            except (OSError, TimeoutError):
                raise _lost(address, n_done) from None
            return
        if self.alone_since is None:
            self.alone_since = now
        waited = now - self.alone_since
        if self.patience is None:
            if not self.warned and waited >= DEFAULT_TIMEOUT:
                self.warned = True
                warnings.warn(
                    ClusterWarning(
                        f"no Dask worker that can run initlab is connected to {address}; "
                        f"waiting for one (start it with `dask worker {address}`)"
                    ),
                    stacklevel=3,
                )
            return
        if waited >= self.patience:
            refused = f" ({len(self.refused)} refused: they do not match)" * bool(self.refused)
            raise NoWorkers(
                f"no Dask worker that can run initlab has been connected to {address} for "
                f"{waited:.0f} s{refused}: the {n_done} chunk(s) that finished are stored. "
                f"Start workers with `dask worker {address}` and rerun the same command, "
                "or wait longer (no_workers_timeout, `--wait-for-workers`)"
            )

    def _probe(self, addresses: list[str]) -> None:
        try:
            info = self.client.run(self.probe, workers=addresses, on_error="return")
        except Exception:  # noqa: BLE001 - a worker that left meanwhile: look again later
            self.seen.difference_update(addresses)
            return
        for worker, found in info.items():
            if not isinstance(found, dict):
                self.seen.discard(worker)  # it failed to answer: ask again later
                continue
            why = _mismatch(found)
            if why is not None and worker not in self.refused:
                self.refused.add(worker)
                warnings.warn(
                    ClusterWarning(
                        f"Dask worker {worker} {why}: it gets no initlab work. Install the "
                        "client's initlab and NumPy there"
                    ),
                    stacklevel=4,
                )
