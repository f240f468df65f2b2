"""The playground's web server: a Starlette app streaming training over server-sent events.

Routes (all JSON unless noted):

========================================  ===============================================
``GET /``                                 the page (``static/index.html``)
``GET /static/...``                       ``app.js``, ``style.css``
``GET /api/options``                      names, defaults and the server's limits
``GET /api/health``                       ``{"ok": true, "sessions": n}``
``POST /api/sessions``                    config -> new session (``?replace=<id>`` drops one)
``GET /api/sessions/{id}``                the session's description and current frame
``DELETE /api/sessions/{id}``             end it
``POST /api/sessions/{id}/step``          ``{"epochs": n}`` -> trains n epochs, the frame
``POST /api/sessions/{id}/reset``         same initial weights, epoch 0
``POST /api/sessions/{id}/reseed``        ``{"seed": s}`` new initial weights
``POST /api/sessions/{id}/pause``         ends the running stream
``POST /api/sessions/{id}/weights``       ``{"layer", "from", "to", "value"}`` sets a weight
``GET /api/sessions/{id}/stream``         SSE: trains and sends ``frame`` events (play)
``POST /api/export``                      config -> ``{"toml": ..., "python": ...}``
========================================  ===============================================

Invalid settings get a ``422`` with ``{"error": message, "field": name}``;
a full server a ``503``; an unknown session a ``404``.

The stream trains in a worker thread, several epochs per frame when they are
fast, at most ``limits.max_fps`` frames a second, and ends with an ``end``
event when the session is paused, reaches its epoch limit, is replaced by a
newer stream or was asked for ``max_frames`` frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .config import ConfigError, Limits, export_python, export_toml, options, parse_config
from .session import Session, SessionLimitError, SessionStore

__all__ = ["create_app", "STATIC"]

STATIC = Path(__file__).parent / "static"
_MAX_BODY = 64 * 1024


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise ConfigError("body", f"request body is {len(raw)} bytes; at most {_MAX_BODY} allowed")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError("body", f"request body is not valid JSON: {exc.msg}") from None


def _query_int(request: Request, key: str, default: int | None, low: int, high: int) -> int | None:
    text = request.query_params.get(key)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(key, f"{key} must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(key, f"{key} must be between {low} and {high}, got {value}")
    return value


class SessionNotFound(LookupError):
    """No session with that id (never created, deleted, or expired)."""


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
        ``app.state.store`` is the session store.
    """
    if store is None:
        store = SessionStore(limits or Limits())
    limits = limits or store.limits

    def session_or_404(request: Request) -> Session:
        sid = request.path_params["sid"]
        session = store.get(sid)
        if session is None:
            raise SessionNotFound(sid)
        return session

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def get_options(request: Request) -> Response:
        return JSONResponse(options(limits))

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "sessions": len(store.sessions())})

    async def create(request: Request) -> Response:
        config = parse_config(await _json_body(request), limits)
        replace = request.query_params.get("replace")
        session = await asyncio.to_thread(store.create, config, replace)
        frame = await asyncio.to_thread(session.frame)
        return JSONResponse({**session.describe(), "frame": frame}, status_code=201)

    async def show(request: Request) -> Response:
        session = session_or_404(request)
        frame = await asyncio.to_thread(session.frame, False)
        return JSONResponse({**session.describe(), "frame": frame})

    async def delete(request: Request) -> Response:
        store.delete(request.path_params["sid"])
        return Response(status_code=204)

    async def step(request: Request) -> Response:
        session = session_or_404(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ConfigError("body", 'the body must be a JSON object like {"epochs": 1}')
        epochs = body.get("epochs", 1)
        if isinstance(epochs, bool) or not isinstance(epochs, int):
            raise ConfigError("epochs", f"epochs must be an integer, got {epochs!r}")
        if not 1 <= epochs <= limits.max_step_epochs:
            raise ConfigError(
                "epochs",
                f"epochs must be between 1 and {limits.max_step_epochs} per step, got {epochs}",
            )
        session.playing = False
        await asyncio.to_thread(session.advance, epochs)
        return JSONResponse(await asyncio.to_thread(session.frame))

    async def reset(request: Request) -> Response:
        session = session_or_404(request)
        session.playing = False
        await asyncio.to_thread(session.reset)
        return JSONResponse(await asyncio.to_thread(session.frame))

    async def reseed(request: Request) -> Response:
        session = session_or_404(request)
        body = await _json_body(request)
        if not isinstance(body, dict) or "seed" not in body:
            raise ConfigError("seed", 'send the new seed as {"seed": 123}')
        session.playing = False
        await asyncio.to_thread(session.reseed, body["seed"])
        return JSONResponse({**session.describe(), "frame": await asyncio.to_thread(session.frame)})

    async def pause(request: Request) -> Response:
        session = session_or_404(request)
        session.playing = False
        return JSONResponse({"epoch": session.epoch, "playing": False})

    async def weights(request: Request) -> Response:
        session = session_or_404(request)
        body = await _json_body(request)
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

    async def export(request: Request) -> Response:
        config = parse_config(await _json_body(request), limits)
        return JSONResponse({"toml": export_toml(config), "python": export_python(config)})

    async def stream(request: Request) -> Response:
        session = session_or_404(request)
        max_frames = _query_int(request, "max_frames", None, 1, 1_000_000)
        fixed = _query_int(request, "epochs_per_frame", None, 1, limits.max_epochs_per_frame)
        fps = _query_int(request, "fps", int(limits.max_fps), 1, int(limits.max_fps))
        session.stream_token += 1
        token = session.stream_token
        session.playing = True
        return StreamingResponse(
            _frames(session, token, max_frames, fixed, fps, limits),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    routes = [
        Route("/", index),
        Route("/api/options", get_options),
        Route("/api/health", health),
        Route("/api/export", export, methods=["POST"]),
        Route("/api/sessions", create, methods=["POST"]),
        Route("/api/sessions/{sid}", show, methods=["GET"]),
        Route("/api/sessions/{sid}", delete, methods=["DELETE"]),
        Route("/api/sessions/{sid}/step", step, methods=["POST"]),
        Route("/api/sessions/{sid}/reset", reset, methods=["POST"]),
        Route("/api/sessions/{sid}/reseed", reseed, methods=["POST"]),
        Route("/api/sessions/{sid}/pause", pause, methods=["POST"]),
        Route("/api/sessions/{sid}/weights", weights, methods=["POST"]),
        Route("/api/sessions/{sid}/stream", stream, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]

    async def config_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConfigError)
        return _error(422, exc.message, exc.field)

    async def limit_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(
            404,
            f"no playground session {request.path_params.get('sid')!r} (it may have expired "
            "after being idle; reload the page)",
        )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def sweeper():
            while True:
                await asyncio.sleep(max(1.0, min(30.0, limits.idle_timeout / 4)))
                store.cleanup()

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()

    app = Starlette(
        routes=routes,
        exception_handlers={
            ConfigError: config_error,
            SessionLimitError: limit_error,
            SessionNotFound: not_found,
        },
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.limits = limits
    return app


def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _frames(
    session: Session,
    token: int,
    max_frames: int | None,
    fixed: int | None,
    fps: int,
    limits: Limits,
):
    """Train and yield SSE frames until paused, finished, replaced or ``max_frames`` sent."""
    interval = 1.0 / fps
    per_epoch = None  # measured seconds per epoch
    sent = 0
    reason = "finished"
    try:
        while True:
            if session.stream_token != token:
                reason = "replaced"
                break
            if not session.playing:
                reason = "paused"
                break
            if session.finished:
                reason = "finished"
                break
            if max_frames is not None and sent >= max_frames:
                reason = "max_frames"
                break
            t0 = time.perf_counter()
            if fixed is not None:
                n = fixed
            elif per_epoch is None:
                n = 1
            else:  # fill about 60 % of the frame interval with training
                n = int(max(1, min(limits.max_epochs_per_frame, 0.6 * interval / per_epoch)))
            ran = await asyncio.to_thread(session.advance, n)
            if ran:
                per_epoch = (time.perf_counter() - t0) / ran
            frame = await asyncio.to_thread(session.frame)
            yield _sse("frame", frame, frame["epoch"])
            sent += 1
            session.touch()
            rest = interval - (time.perf_counter() - t0)
            await asyncio.sleep(max(rest, 0.001))
    finally:
        if session.stream_token == token:
            session.playing = False
    yield _sse("end", {"reason": reason, "epoch": session.epoch})
