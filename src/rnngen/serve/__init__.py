"""`rnngen serve`: models kept loaded behind an HTTP API and a page to play with them.

    from rnngen import serve
    serve.run(["shakespeare=checkpoints/shakespeare.npz"], "127.0.0.1", 8000,
              on_ready=print)

Requests for samples are rows of one batch, stepped together by one thread
(batcher.py); the routes (app.py) only check requests and hand work to the library.
Starlette and uvicorn are the optional extra ``serve``; docs/serve.md has the API.
"""
import ipaddress

from .. import extras
from ..errors import OptionError
from .limits import Limits

TOKEN_ENV = "RNNGEN_TOKEN"  # where a token may come from instead of --token


def check_bind(host, token):
    """OptionError when ``host`` serves beyond this machine and there is no token."""
    if token is not None and (not token.strip() or token != token.strip()):
        raise OptionError("{token} must be a non-empty text without surrounding spaces",
                          ("token",))
    if token is None and not is_loopback(host):
        raise OptionError(f"{{host}} {host} lets other machines reach the server, so it "
                          f"needs a token that requests must carry: give {{token}} or set "
                          f"{TOKEN_ENV} (or serve on 127.0.0.1)", ("host", "token"))


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def require():
    """Import the extra's packages, or one line saying how to install them."""
    for module in ("starlette", "uvicorn"):
        extras.require(module, "serve", "rnngen serve")


def run(checkpoints, host="127.0.0.1", port=8000, token=None, limits=(), device=None,
        on_ready=None, log=print, workers=1):
    """Serve the checkpoints ([NAME=]PATH) on host:port until SIGTERM or Ctrl-C.

    limits: a Limits, or NAME=VALUE strings over the defaults. workers: batcher threads
    (each steps its own rows on one BLAS thread). on_ready(url) is called
    once connections are accepted. Checks everything before serving: OptionError for a
    bad argument, RnngenError for the rest (a missing extra, a busy port, a checkpoint).
    """
    require()
    check_bind(host, token)
    if not isinstance(limits, Limits):
        limits = Limits().with_assignments(limits)
    from . import server
    from ..device import CPU

    if not (isinstance(workers, int) and workers >= 1):
        raise OptionError(f"{{workers}} must be a whole number >= 1, got {workers!r}",
                          ("workers",))
    server.run(checkpoints, host, port, token, limits, device or CPU, on_ready, log, workers)
