"""rnngen info and configs: what a checkpoint holds, and the configs rnngen ships."""
import click

from .. import checkpoint, jsonout, resources
from ..console import data_out, print_data
from .options import checkpoint_option, checkpoint_or_shipped, json_option


@click.command()
@click.argument("ckpt_path", required=False, metavar="[CHECKPOINT]")
@checkpoint_option("describe (the same as the CHECKPOINT argument)", "ckpt_option")
@json_option()
def info(ckpt_path, ckpt_option, as_json):
    """Describe a checkpoint (default: the shipped model): model, corpus, training, losses."""
    from ..info import as_text, describe

    if ckpt_path is not None and ckpt_option is not None and ckpt_path != ckpt_option:
        raise click.UsageError("give the checkpoint once: as CHECKPOINT or as --checkpoint")
    ckpt_path = checkpoint_or_shipped(ckpt_path if ckpt_path is not None else ckpt_option)
    described = describe(checkpoint.load(ckpt_path), ckpt_path)
    print_data(jsonout.dumps(described) if as_json
               else as_text(described, data_out().encoding or "utf-8"))


@click.command(name="configs")
@click.argument("name", required=False)
def configs_(name):
    """List the configs shipped with rnngen, for train --config NAME; with NAME, print
    that config (to copy and edit: rnngen configs tiny > mine.yaml)."""
    shipped = resources.shipped_configs()
    if name is not None:
        stem = name[:-len(".yaml")] if name.endswith(".yaml") else name
        if stem not in shipped:
            raise click.UsageError(f"no shipped config is named {name!r}; use one of: "
                                   f"{', '.join(shipped)}")
        print_data(shipped[stem][0].read_text(encoding="utf-8"), end="")
        return
    width = max(map(len, shipped), default=0) + 2
    print_data("\n".join(f"{stem:<{width}}{description}"
                          for stem, (_, description) in shipped.items()))
