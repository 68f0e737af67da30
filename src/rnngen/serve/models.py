"""The models a server keeps loaded, by name: clients choose among these names only,
so nothing a client sends names a file on the server."""
import re
from dataclasses import dataclass
from pathlib import Path

from .. import checkpoint, decoding, info
from ..errors import OptionError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a name a URL and a JSON field carry


@dataclass
class Served:
    """One loaded model: its name, its checkpoint, and the model on its device (a
    decoding.Model to generate text, a classification.Classifier to classify)."""
    name: str
    path: Path
    checkpoint: object  # checkpoint.Checkpoint
    model: object

    @property
    def task(self):
        return self.checkpoint.spec.task

    def describe(self):
        """What `rnngen info --json` says, the server's file path replaced by the name."""
        return dict(info.describe(self.checkpoint, self.name), name=self.name, task=self.task)


def parse(specs):
    """[(name, path)] from --checkpoint values, PATH or NAME=PATH; a PATH's name is its
    file name without .npz. OptionError for a bad or repeated name."""
    named = []
    for spec in specs:
        name, sep, path = str(spec).partition("=")
        if not sep or not NAME.fullmatch(name):  # PATH alone (which may hold '=')
            name, path = Path(spec).stem, spec
        if not NAME.fullmatch(name):
            raise OptionError(f"{{checkpoint}} {spec}: {name!r} cannot name a model (letters, "
                              "digits, '.', '_', '-'); give it one as NAME=PATH",
                              ("checkpoint",))
        if any(name == other for other, _ in named):
            raise OptionError(f"{{checkpoint}}: two models are named {name!r}; name them "
                              "apart as NAME=PATH", ("checkpoint",))
        named.append((name, Path(path)))
    return named


def load(named, device):
    """{name: Served}, in the order given (the first is the default model)."""
    loaded = {}
    for name, path in named:
        ckpt = checkpoint.load(path)
        if ckpt.spec.task == "classify":  # POST /v1/classify's model
            from .. import classification

            model = classification.Classifier.from_checkpoint(ckpt, device, path=str(path))
        else:
            model = decoding.Model.from_checkpoint(ckpt, device)
        loaded[name] = Served(name, path, ckpt, model)
    return loaded
