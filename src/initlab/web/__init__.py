"""The initlab playground: a local web app that trains networks live (``initlab serve``).

Pick a data set, input features, layers, activation, initializer, optimizer,
loss and regularization in the page; the server trains with
:mod:`initlab.engine` and streams the decision boundary (or the predicted
value, for regression), the curves, per-layer statistics recorded every epoch,
the network view (:mod:`initlab.web.netview`) and per-parameter updates to it.
Lessons (:data:`initlab.web.config.LESSONS`) open it on a preset.
Compare mode trains a grid of combinations (the blog's 4 activations x 4
initializers by default) side by side.

Needs the ``web`` extra (``pip install initlab[web]``: Starlette and
uvicorn).  :mod:`initlab.web.config`, :mod:`initlab.web.session` and
:mod:`initlab.web.netview` do not;
:func:`create_app` and :func:`serve` do.
"""

from __future__ import annotations

from .config import ConfigError, Limits, PlaygroundConfig, parse_config

__all__ = ["ConfigError", "Limits", "PlaygroundConfig", "create_app", "parse_config", "serve"]

MISSING = (
    "the playground needs Starlette and uvicorn: pip install initlab[web] "
    "(or pip install starlette uvicorn)"
)


def create_app(*args, **kwargs):
    """The Starlette app (see :func:`initlab.web.app.create_app`)."""
    from .app import create_app as _create

    return _create(*args, **kwargs)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    limits: Limits | None = None,
    log_level: str = "warning",
    announce=print,
) -> None:
    """Run the playground with uvicorn until interrupted (Ctrl+C, SIGTERM).

    Stopping is graceful and quick: open streams get their ``end`` event
    (reason ``shutdown``), training stops at the next epoch and the process
    returns within about a second, whatever the pages are doing.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Interface to bind; the default is reachable from this machine only.
    port : int, default 8000
        0 picks a free port.
    open_browser : bool
        Open the page in the default browser once the server listens.
    limits : Limits, optional
    log_level : str
    announce : callable
        Called with the line giving the address (default: ``print``).
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(MISSING) from exc
    import threading
    import webbrowser

    app = create_app(limits)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,  # a connection that still hangs is cut after 1 s
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):  # a signal handler: no locks, hand over to the loop
            super().handle_exit(sig, frame)
            app.state.store.closing = True
            loop = getattr(app.state, "loop", None)
            if loop is not None:
                loop.call_soon_threadsafe(app.state.shutdown)

    server = Server(config)

    def announce_when_up():
        import time

        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            bound = port
            for s in getattr(server, "servers", []):
                for sock in getattr(s, "sockets", []):
                    bound = sock.getsockname()[1]
                    break
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{bound}/"
            announce(f"initlab playground running at {url}  (Ctrl+C to stop)")
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=announce_when_up, daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it handled
        pass
