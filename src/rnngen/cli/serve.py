"""rnngen serve: the server (rnngen.serve) on the flags' address, models and limits."""
import click

from .. import device, resources
from ..console import say
from ..errors import OptionError
from .options import device_option

SERVE_FLAGS = {"checkpoint": "--checkpoint", "host": "--host", "token": "--token",
               "limit": "--limit", "workers": "--workers"}


@click.command()
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="[NAME=]PATH",
              help="A checkpoint to serve as NAME (default: its file name without .npz); "
                   "repeatable, the first is the default model. Default: the shipped model.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but this machine's own needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free one; the address printed says which).")
@click.option("--token", envvar="RNNGEN_TOKEN", default=None, metavar="TOKEN",
              help="Require 'Authorization: Bearer TOKEN' on every /v1 request (or set "
                   "RNNGEN_TOKEN, which keeps it out of the process list).")
@click.option("--limit", "limits", multiple=True, metavar="NAME=VALUE",
              help="Change a safety limit, e.g. --limit n=2000; GET /healthz lists them. "
                   "Repeatable.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads stepping the batch, each its own rows (more use more cores).")
@device_option()
def serve(checkpoints, host, port, token, limits, workers, device_name):
    """Serve models over HTTP: sampling (streamed or whole), scoring, model descriptions
    and a page at / to play with them (docs/serve.md).

    Prints its address on stdout once it accepts connections; messages go to stderr.
    SIGTERM or Ctrl-C stops it: no new requests, the ones in flight finish (up to
    --limit drain_seconds), then it exits 0.
    """
    from .. import serve as server

    def ready(url):
        click.echo(url)
        say(f"rnngen: serving on {url} (the page is at {url}/); stop with Ctrl-C or SIGTERM")

    try:
        server.run(checkpoints or [str(resources.shipped_model())], host, port, token,
                   limits, device.select(device_name), on_ready=ready, log=say,
                   workers=workers)
    except OptionError as e:
        raise click.UsageError(e.naming(SERVE_FLAGS)) from None
