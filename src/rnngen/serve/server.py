"""Running the application on uvicorn: the listening socket, the address once ready,
and a graceful stop on SIGTERM or Ctrl-C (stop accepting, let the work in flight
finish up to Limits.drain_seconds, exit normally)."""
import signal
import socket
import threading

import uvicorn

from .. import threads
from ..device import CPU
from ..errors import RnngenError
from . import app, models
from .limits import Limits


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it is ready and draining the batcher on a stop."""

    def __init__(self, config, state, on_ready):
        super().__init__(config)
        self.state, self.on_ready = state, on_ready

    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            self.on_ready()

    async def shutdown(self, sockets=None):
        # refuse new work, give the work in flight drain_seconds, then cut it short (with
        # an answer) before uvicorn's own timeout cancels what is left
        self.state.draining = True
        for batcher in self.state.batchers:
            batcher.drain(self.state.limits.drain_seconds)
        await super().shutdown(sockets)


def listen(host, port):
    """A socket bound to host:port (port 0: one the system picks), listening."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise RnngenError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise RnngenError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose "
                          "another --port, or 0 for any free one") from None
    sock.set_inheritable(True)
    return sock


def url(sock):
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(checkpoints, host, port, token=None, limits=Limits(), device=CPU, on_ready=None,
        log=print, workers=1):
    """Serve ``checkpoints`` ([NAME=]PATH strings) until SIGTERM or SIGINT, then drain.

    on_ready(url) is called once the server accepts connections. Raises RnngenError
    (OptionError for bad arguments) before serving.
    """
    named = models.parse(checkpoints)
    sock = listen(host, port)
    try:
        loaded = models.load(named, device)
        # one BLAS thread per batcher: the rows' products are small, and a spare core
        # serves HTTP
        threads.use(1)
        state = app.State(loaded, limits, token, log, workers)
        config = uvicorn.Config(app.build(state), log_level="warning", access_log=False,
                                lifespan="on", server_header=False,
                                timeout_graceful_shutdown=limits.drain_seconds + 2)
        address = url(sock)
        server = _Server(config, state, lambda: on_ready and on_ready(address))
        # uvicorn hands SIGTERM/SIGINT to these after its graceful stop: they end the
        # process normally (exit 0) instead of by the signal
        main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, _stopped)
                    for s in (signal.SIGTERM, signal.SIGINT) if main}
        try:
            server.run(sockets=[sock])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    finally:
        sock.close()


def _stopped(signum, frame):
    """Nothing more to do: the server has already stopped gracefully."""
