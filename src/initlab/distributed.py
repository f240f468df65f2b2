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

Failures:

* a worker that dies (killed, out of memory) loses its running chunk; the
  scheduler reschedules it on another worker (after
  ``distributed.scheduler.allowed-failures`` deaths, 3 by default, the chunk
  comes back failed with ``KilledWorker``);
* a chunk whose function raises is retried ``retries`` times, then comes back
  as a failed :class:`~initlab.sweep.ChunkResult` carrying the error, and the
  other chunks carry on (numeric trouble -- divergence, a singular LSUV --
  is already caught by ``run_chunk`` itself);
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
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from . import __version__
from . import datasets as _datasets
from .errors import InitlabError
from .sweep import METRICS, Chunk, ChunkResult, run_chunk

__all__ = [
    "ClusterError",
    "SchedulerUnreachable",
    "VersionMismatch",
    "DaskSession",
    "connect",
    "check_workers",
    "execute_dask",
    "DEFAULT_TIMEOUT",
    "DEFAULT_RETRIES",
]

#: Seconds to wait for a scheduler (and for its first workers) before giving up.
DEFAULT_TIMEOUT = 10.0
#: How often a chunk whose function raised is resubmitted before it counts as failed.
DEFAULT_RETRIES = 1

INSTALL_HINT = "pip install 'initlab[dask]'"


class ClusterError(InitlabError, RuntimeError):
    """The Dask cluster cannot run initlab work; the message says why and what to do."""


class SchedulerUnreachable(ClusterError, ConnectionError):
    """No Dask scheduler answered at the given address within the timeout."""


class VersionMismatch(ClusterError):
    """Some workers lack initlab or run a different version than the client."""


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
# is missing -- which is exactly what it has to report.
_PROBE_SOURCE = """
def initlab_probe():
    import sys
    out = {"python": sys.version.split()[0], "version": None, "error": None, "path": None}
    try:
        import initlab
    except ImportError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["version"] = getattr(initlab, "__version__", "unknown")
    out["path"] = getattr(initlab, "__file__", None)
    return out
"""


def _make_probe() -> Callable[[], dict]:
    namespace: dict = {"__name__": "initlab_worker_probe"}
    exec(compile(_PROBE_SOURCE, "<initlab worker probe>", "exec"), namespace)
    return namespace["initlab_probe"]


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
        When a worker cannot import initlab, or imports another version; the
        message names the workers and both versions.
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
    return {a: i["version"] for a, i in info.items()}


@dataclass
class DaskSession:
    """A connected Dask client, and the ``LocalCluster`` behind it when one was started.

    Use it as a context manager, or call :meth:`close`.
    """

    client: object
    cluster: object | None = None

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
        initlab version).

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
    distributed = _distributed()
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,  # the population is the vectorization; processes scale it
            processes=True,
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
    session = DaskSession(client, cluster)
    try:
        if scheduler is not None:
            wanted = workers or 1
            try:
                client.wait_for_workers(wanted, timeout=timeout)
            except (TimeoutError, OSError):
                have = len(client.scheduler_info().get("workers", {}))
                raise ClusterError(
                    f"the Dask scheduler at {session.address} has {have} worker(s); waited "
                    f"{timeout:g} s for {wanted}. Start workers with "
                    f"`dask worker {session.address}`"
                ) from None
        if check_versions:
            check_workers(client)
    except BaseException:
        session.close()
        raise
    return session


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
        ``on_progress(model_epochs)`` once per finished chunk.
    client : distributed.Client, optional
        An already connected (and checked) client; it is left open.
    retries : int
        Resubmissions of a chunk whose function raised, before it counts as failed.

    Yields
    ------
    ChunkResult
        Failed chunks (the function raised, its worker died too often) carry
        ``error`` and NaN metrics; the other chunks are unaffected.
    """
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if not chunk_list:
        return
    distributed = _distributed()
    session = None
    if client is None:
        session = connect(scheduler, workers, timeout)
        client = session.client
    tag = uuid.uuid4().hex[:8]
    pending: dict = {}
    data_future = None
    try:
        # One task holds the data set: workers fetch it from each other once, and if every
        # worker holding it dies the scheduler recomputes it (a scattered copy would be lost).
        data_future = client.submit(_the_data, data, key=f"initlab-data-{tag}", pure=False)
        for chunk in chunk_list:
            fut = client.submit(
                run_chunk,
                chunk,
                data_future,
                curves,
                key=f"initlab-chunk-{tag}-{chunk.index}",
                retries=int(retries),
                pure=False,
            )
            pending[fut] = chunk
        # results are gathered on the client's event loop, which also re-fetches a result
        # whose worker died between finishing and handing it over
        finished = distributed.as_completed(list(pending), with_results=True, raise_errors=False)
        for fut, result in finished:
            chunk = pending.pop(fut)
            if not isinstance(result, ChunkResult):  # the task raised, or its workers died
                error = result if isinstance(result, BaseException) else fut.exception()
                result = _failed(chunk, f"{type(error).__name__}: {error}")
            fut.release()
            if on_progress is not None:
                on_progress(len(chunk.specs) * chunk.specs[0].epochs)
            yield result
    finally:
        if pending:  # Ctrl-C, or the consumer stopped early: nothing keeps running
            try:
                client.cancel(list(pending), force=True)
            except Exception:  # pragma: no cover - the connection may be gone already
                pass
        if data_future is not None:
            data_future.release()
        if session is not None:
            session.close()
