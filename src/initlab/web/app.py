"""The playground's web server: a Starlette app streaming training over server-sent events.

Routes (all JSON unless noted):

========================================  ===============================================
``GET /``                                 the page (``static/index.html``)
``GET /static/...``                       ``app.js``, ``style.css``
``GET /api/options``                      names, defaults, live settings, the server's limits
``GET /api/health``                       ``{"ok": true, "sessions": n}``
``POST /api/sessions``                    config -> new session (``?replace=<id>`` drops one)
``GET /api/sessions/{id}``                the session's description and current frame
``PATCH /api/sessions/{id}``              live changes (learning rate, epoch limit, ...)
``DELETE /api/sessions/{id}``             end it
``POST /api/sessions/{id}/step``          ``{"epochs": n}`` -> trains n epochs, the frame
``POST /api/sessions/{id}/reset``         same initial weights, epoch 0
``POST /api/sessions/{id}/reseed``        ``{"seed": s}`` new initial weights
``POST /api/sessions/{id}/pause``         stops the running step or stream
``POST /api/sessions/{id}/heartbeat``     keeps an idle session alive
``POST /api/sessions/{id}/weights``       ``{"layer", "from", "to", "value"}`` sets a weight
``GET /api/sessions/{id}/stream``         SSE: trains and sends ``frame`` events (play)
``POST /api/export``                      config -> ``{"toml": ..., "python": ...}``
========================================  ===============================================

Invalid settings, bodies and query parameters get a ``422`` with ``{"error":
message, "field": name}``; a body over ``limits.max_body`` a ``413``; a full
server a ``503``; an unknown session a ``404``.

Training runs in a bounded pool of ``limits.train_threads`` threads at a
lower priority, with one BLAS thread each (parallelism comes from the
sessions, and a busy machine makes multi-threaded BLAS far slower on these
small products); every epoch can stop it.  The stream trains at most
``speed`` epochs a second (default ``limits.default_speed``, ``0``: as fast as
possible), several epochs per frame when they are fast, at most
``limits.max_fps`` frames a second, and ends with an ``end`` event whose
``reason`` is ``paused``, ``finished``, ``diverged``, ``replaced`` (a newer
stream), ``max_frames``, ``closed`` (the session was deleted) or
``shutdown``.  A client that drops its stream while it plays releases the
session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .config import (
    ConfigError,
    Limits,
    export_python,
    export_toml,
    options,
    parse_config,
    parse_live,
)
from .session import Session, SessionLimitError, SessionStore

__all__ = ["create_app", "STATIC", "TrainingPool"]

STATIC = Path(__file__).parent / "static"
#: Longest integer literal a body may hold (JSON allows any; Python would parse them all).
_MAX_DIGITS = 30
#: Seconds between two checks for a pause, a shutdown or a gone client while a stream waits.
_NAP = 0.05
#: Training threads run at this lower priority (Unix ``nice``): the thread that answers
#: requests gets a core first, so health and small requests stay fast under load.
_TRAINING_NICENESS = 10


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


class BodyTooLarge(ValueError):
    """A request body over the limit (answered with 413, before or while reading it)."""


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits; at most {_MAX_DIGITS} allowed")
    return int(text)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused by its Content-Length before reading, and counted while read
    (a chunked body is cut at the limit)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ConfigError("body", f"bad Content-Length header {length!r}")
        if int(length) > limit:
            raise BodyTooLarge(f"request body is {int(length)} bytes; at most {limit} allowed")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body is over {limit} bytes; at most {limit} allowed")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, limit: int) -> Any:
    raw = await _read_body(request, limit)
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("body", f"request body is not UTF-8: {exc.reason}") from None
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise ConfigError("body", f"request body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError("body", "request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # from _bounded_int
        raise ConfigError("body", f"request body is not valid JSON: {exc}") from None


async def _json_object(request: Request, limit: int, example: str) -> dict[str, Any]:
    body = await _json_body(request, limit)
    if not isinstance(body, dict):
        raise ConfigError("body", f"the body must be a JSON object like {example}")
    return body


def _query_number(request: Request, key: str, default, low, high, kind=int):
    text = request.query_params.get(key)
    if text is None:
        return default
    what = "an integer" if kind is int else "a number"
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(key, f"{key} must be {what}, got {text!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(key, f"{key} must be between {low:g} and {high:g}, got {text}")
    return value


class TrainingPool:
    """A fixed number of daemon threads that run training jobs for the event loop.

    Jobs run in order; each is bounded (a step by ``limits.step_seconds``, a frame
    by its interval).  *Long* jobs (a step, a frame of a network whose epoch
    outlasts a frame) hold at most ``n_threads - 1`` threads at once, so one
    thread always serves the short frames of the other sessions.  The threads
    are daemons so that a stopping server never waits for the epoch under way.
    """

    def __init__(self, n_threads: int):
        self.n_threads = max(1, int(n_threads))
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._long: tuple[Any, asyncio.Semaphore] | None = None  # (loop, its gate)

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.n_threads:
                t = threading.Thread(
                    target=self._work, name=f"initlab-train-{len(self._threads)}", daemon=True
                )
                t.start()
                self._threads.append(t)

    def _work(self) -> None:
        if sys.platform.startswith("linux"):  # where a thread id names the thread's own nice
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _TRAINING_NICENESS)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future, loop = job
            try:
                outcome = (True, fn())
            except BaseException as exc:  # handed to the awaiting request
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, outcome)

    async def run(self, fn: Callable[[], Any], long: bool = False) -> Any:
        """Run ``fn()`` in a training thread; its result (or exception)."""
        self._start()
        loop = asyncio.get_running_loop()
        if not long:
            return await self._submit(fn, loop)
        if self._long is None or self._long[0] is not loop:
            self._long = (loop, asyncio.Semaphore(max(1, self.n_threads - 1)))
        async with self._long[1]:
            return await self._submit(fn, loop)

    async def _submit(self, fn: Callable[[], Any], loop) -> Any:
        future = loop.create_future()
        self._jobs.put((fn, future, loop))
        return await future

    def shutdown(self) -> None:
        """Let the threads end after their current job."""
        with self._lock:
            for _ in self._threads:
                self._jobs.put(None)
            self._threads = []


def _settle(future: asyncio.Future, outcome: tuple[bool, Any]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread while the app runs (OpenBLAS's setting is per process)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    limiter = threadpool_limits(limits=1, user_api="blas")
    try:
        yield
    finally:
        limiter.restore_original_limits()


class SessionNotFound(LookupError):
    """No session with that id (never created, deleted, or expired)."""


class _Handlers:
    """The routes' handlers, over one app's session store, limits and training pool."""

    def __init__(self, store: SessionStore, limits: Limits, pool: TrainingPool):
        self.store, self.limits, self.pool = store, limits, pool

    def session_or_404(self, request: Request) -> Session:
        sid = request.path_params["sid"]
        session = self.store.get(sid)
        if session is None:
            raise SessionNotFound(sid)
        return session

    async def body_of(self, request: Request, key: str, example: str) -> dict[str, Any]:
        """A JSON object with at most the one setting ``key``."""
        body = await _json_object(request, self.limits.max_body, example)
        extra = sorted(set(body) - {key})
        if extra:
            raise ConfigError(extra[0], f"unknown setting {extra[0]!r}; send {example}")
        return body

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def get_options(self, request: Request) -> Response:
        return JSONResponse(options(self.limits))

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "sessions": len(self.store.sessions())})

    async def create(self, request: Request) -> Response:
        config = parse_config(await _json_body(request, self.limits.max_body), self.limits)
        replace = request.query_params.get("replace")
        session = await asyncio.to_thread(self.store.create, config, replace)
        frame = await asyncio.to_thread(session.frame)
        return JSONResponse({**session.describe(), "frame": frame}, status_code=201)

    async def show(self, request: Request) -> Response:
        session = self.session_or_404(request)
        frame = await asyncio.to_thread(session.frame, False)
        return JSONResponse({**session.describe(), "frame": frame})

    async def change(self, request: Request) -> Response:
        session = self.session_or_404(request)
        changes = await _json_object(request, self.limits.max_body, '{"learning_rate": 0.1}')
        config = parse_live(session.config, changes, self.limits)
        await asyncio.to_thread(session.retune, config)
        frame = await asyncio.to_thread(session.frame, False)
        return JSONResponse({**session.describe(), "frame": frame})

    async def delete(self, request: Request) -> Response:
        self.store.delete(request.path_params["sid"])
        return Response(status_code=204)

    async def heartbeat(self, request: Request) -> Response:
        self.session_or_404(request)  # looking it up keeps it alive
        return Response(status_code=204)

    async def step(self, request: Request) -> Response:
        session = self.session_or_404(request)
        body = await self.body_of(request, "epochs", '{"epochs": 1}')
        epochs = body.get("epochs", 1)
        if isinstance(epochs, bool) or not isinstance(epochs, int):
            raise ConfigError("epochs", f"epochs must be an integer, got {epochs!r}")
        if not 1 <= epochs <= self.limits.max_step_epochs:
            raise ConfigError(
                "epochs",
                f"epochs must be between 1 and {self.limits.max_step_epochs} per step, "
                f"got {epochs}",
            )
        session.playing = False
        token = session.begin_work()  # ends a running stream or step

        def work():
            ran = session.advance(epochs, self.limits.step_seconds, token)
            return ran, session.frame()

        long = (
            min(epochs * session.epoch_estimate, self.limits.step_seconds) > 1 / self.limits.max_fps
        )
        ran, frame = await self.pool.run(work, long)
        return JSONResponse({**frame, "epochs_run": ran})

    async def reset(self, request: Request) -> Response:
        session = self.session_or_404(request)
        session.interrupt()
        await asyncio.to_thread(session.reset)
        return JSONResponse(await asyncio.to_thread(session.frame))

    async def reseed(self, request: Request) -> Response:
        session = self.session_or_404(request)
        body = await self.body_of(request, "seed", '{"seed": 123}')
        if "seed" not in body:
            raise ConfigError("seed", 'send the new seed as {"seed": 123}')
        session.interrupt()
        await asyncio.to_thread(session.reseed, body["seed"])
        return JSONResponse({**session.describe(), "frame": await asyncio.to_thread(session.frame)})

    async def pause(self, request: Request) -> Response:
        session = self.session_or_404(request)
        session.interrupt()
        return JSONResponse({"epoch": session.epoch, "playing": False})

    async def weights(self, request: Request) -> Response:
        session = self.session_or_404(request)
        body = await _json_body(request, self.limits.max_body)
        if not isinstance(body, dict) or not {"layer", "to", "value"} <= set(body):
            raise ConfigError(
                "body",
                'send {"layer": l, "from": i, "to": j, "value": w} (a weight; without '
                '"from": the bias of unit j)',
            )
        await asyncio.to_thread(
            session.set_weight, body["layer"], body["to"], body["value"], body.get("from")
        )
        return JSONResponse(await asyncio.to_thread(session.frame, False))

    async def export(self, request: Request) -> Response:
        config = parse_config(await _json_body(request, self.limits.max_body), self.limits)
        return JSONResponse({"toml": export_toml(config), "python": export_python(config)})

    async def stream(self, request: Request) -> Response:
        session = self.session_or_404(request)
        plan = _Plan(
            max_frames=_query_number(request, "max_frames", None, 1, 1_000_000),
            fixed=_query_number(
                request, "epochs_per_frame", None, 1, self.limits.max_epochs_per_frame
            ),
            fps=_query_number(request, "fps", self.limits.max_fps, 1, self.limits.max_fps, float),
            speed=_query_number(
                request, "speed", self.limits.default_speed, 0, self.limits.max_speed, float
            ),
        )
        session.stream_token += 1
        stream_no = session.stream_token
        work = session.begin_work()
        session.playing = True
        frames = _frames(session, stream_no, work, plan, self.limits, self.pool, self.store)
        return _EventStream(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


# --- error responses ---
async def _config_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConfigError)
    return _error(422, exc.message, exc.field)


async def _too_large(request: Request, exc: Exception) -> Response:
    return _error(413, str(exc), "body")


async def _limit_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "30"})


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(
        404,
        f"no playground session {request.path_params.get('sid')!r} (it may have expired "
        "after being idle; reload the page)",
    )


async def _gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=400)  # the client stopped sending its body


def create_app(limits: Limits | None = None, store: SessionStore | None = None) -> Starlette:
    """The playground app.

    Parameters
    ----------
    limits : Limits, optional
        Bounds on sessions and work (defaults: :class:`~initlab.web.config.Limits`).
    store : SessionStore, optional
        Where sessions live (tests pass one with a fake clock).

    Returns
    -------
    starlette.applications.Starlette
        ``app.state.store`` is the session store, ``app.state.pool`` the
        :class:`TrainingPool`, and ``app.state.shutdown()`` ends every stream and
        training (a stopping server calls it before waiting for connections).
    """
    if store is None:
        store = SessionStore(limits or Limits())
    limits = limits or store.limits
    pool = TrainingPool(limits.train_threads)
    h = _Handlers(store, limits, pool)

    routes = [
        Route("/", h.index),
        Route("/api/options", h.get_options),
        Route("/api/health", h.health),
        Route("/api/export", h.export, methods=["POST"]),
        Route("/api/sessions", h.create, methods=["POST"]),
        Route("/api/sessions/{sid}", h.show, methods=["GET"]),
        Route("/api/sessions/{sid}", h.change, methods=["PATCH"]),
        Route("/api/sessions/{sid}", h.delete, methods=["DELETE"]),
        Route("/api/sessions/{sid}/step", h.step, methods=["POST"]),
        Route("/api/sessions/{sid}/reset", h.reset, methods=["POST"]),
        Route("/api/sessions/{sid}/reseed", h.reseed, methods=["POST"]),
        Route("/api/sessions/{sid}/pause", h.pause, methods=["POST"]),
        Route("/api/sessions/{sid}/heartbeat", h.heartbeat, methods=["POST"]),
        Route("/api/sessions/{sid}/weights", h.weights, methods=["POST"]),
        Route("/api/sessions/{sid}/stream", h.stream, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]

    def shutdown() -> None:
        store.close_all()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def sweeper():
            while True:
                await asyncio.sleep(max(1.0, min(30.0, limits.idle_timeout / 4)))
                store.cleanup()

        app.state.loop = asyncio.get_running_loop()
        with _one_blas_thread():
            task = asyncio.create_task(sweeper())
            try:
                yield
            finally:
                task.cancel()
                shutdown()
                pool.shutdown()

    app = Starlette(
        routes=routes,
        exception_handlers={
            ConfigError: _config_error,
            BodyTooLarge: _too_large,
            SessionLimitError: _limit_error,
            SessionNotFound: _not_found,
            ClientDisconnect: _gone,
        },
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.limits = limits
    app.state.pool = pool
    app.state.shutdown = shutdown
    return app


def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


class _EventStream(StreamingResponse):
    """A stream whose generator always closes (its ``finally`` stops the training),
    also when the client went away mid-stream."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (OSError, ClientDisconnect):
            pass  # the client is gone; the generator's finally releases the session
        finally:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Plan:
    """What a stream was asked for (its query parameters)."""

    max_frames: int | None
    fixed: int | None  # epochs per frame, or None: as many as fit
    fps: float
    speed: float  # epochs per second at most, 0: no limit


#: Reasons that end a stream without waiting for the frame under way (the others --
#: diverged, finished -- come from that frame's own epochs, which it still sends).
_INTERRUPTS = ("shutdown", "closed", "replaced", "paused")


def _stopped(session: Session, stream_no: int, work: int, store: SessionStore) -> str | None:
    """Why the stream must end now, or None."""
    if store.closing:
        return "shutdown"
    if session.closed:
        return "closed"
    if session.stream_token != stream_no:
        return "replaced"
    if session.work_token != work or not session.playing:
        return "paused"
    if session.halted:
        return "diverged"
    if session.finished:
        return "finished"
    return None


async def _nap(seconds: float, stop: Callable[[], str | None]) -> None:
    """Sleep ``seconds``, waking early when ``stop()`` says why."""
    end = time.perf_counter() + seconds
    while (rest := end - time.perf_counter()) > 0 and stop() is None:
        await asyncio.sleep(min(rest, _NAP))


async def _frames(
    session: Session,
    stream_no: int,
    work: int,
    plan: _Plan,
    limits: Limits,
    pool: TrainingPool,
    store: SessionStore,
):
    """Train and yield SSE frames until stopped (:func:`_stopped`) or ``max_frames`` sent.

    The epochs come from a bucket that fills at ``plan.speed`` epochs a second
    (up to a frame's worth); each frame trains what the bucket holds, at most
    ``limits.max_epochs_per_frame`` and for about 60 % of the frame interval.
    """
    interval = 1.0 / plan.fps
    long = session.epoch_estimate > interval
    need = plan.fixed or 1
    cap = need + plan.speed * interval + 1
    bucket, last = 1.0, time.perf_counter()
    sent = 0
    ended = False

    def stop() -> str | None:
        return _stopped(session, stream_no, work, store)

    def train(n: int, seconds: float):  # in a training thread, JSON encoding included
        ran = session.advance(n, seconds, work)
        if not ran:
            return 0, ""
        frame = session.frame()
        return ran, _sse("frame", frame, frame["epoch"])

    try:
        while True:
            reason = stop()
            if reason is None and plan.max_frames is not None and sent >= plan.max_frames:
                reason = "max_frames"
            if reason is not None:
                break
            t0 = time.perf_counter()
            n = plan.fixed or limits.max_epochs_per_frame
            if plan.speed > 0:
                bucket, last = min(bucket + plan.speed * (t0 - last), cap), t0
                if bucket < need:
                    await _nap((need - bucket) / plan.speed, stop)
                    continue
                n = min(n, int(bucket))
            seconds = limits.step_seconds if plan.fixed else max(0.6 * interval, 1e-3)
            job = asyncio.ensure_future(
                pool.run(lambda n=n, seconds=seconds: train(n, seconds), long)
            )
            while not job.done() and stop() not in _INTERRUPTS:  # those end it at once
                await asyncio.wait({job}, timeout=_NAP)
            if not job.done():
                job.cancel()  # the epoch under way finishes alone; its metrics stay recorded
                reason = stop()
                break
            ran, event = job.result()
            if not ran:
                reason = stop() or "finished"
                break
            bucket -= ran
            yield event
            sent += 1
            session.touch()
            await _nap(interval - (time.perf_counter() - t0), stop)
        ended = True
        yield _sse("end", {"reason": reason, "epoch": session.epoch})
    finally:
        abandoned = not ended and session.work_token == work and not store.closing
        if session.stream_token == stream_no:
            session.playing = False
        if session.work_token == work:
            session.begin_work()  # the epoch under way is the last
        if abandoned:  # the client went away while playing: a closed tab
            store.delete(session.id)
