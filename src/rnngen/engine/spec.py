"""The model's description: the few numbers that rebuild it (as nanoGPT's model_args).

A ModelSpec (a character model that generates) or a ClassifierSpec (a model that
reads a text and answers one of K classes) is stored in every checkpoint's metadata
and read back in one place (``schema``, through ``from_dict``); the engine asks it
for parameter shapes, the state layout and the cell, and never guesses them from
array shapes or key names.
"""
from dataclasses import asdict, dataclass, field, fields, replace
from typing import ClassVar

from . import cells, heads

# generate: predict the next symbol (output_size = vocab_size);
# classify: answer one of output_size classes for a whole text (ClassifierSpec)
TASKS = ("generate", "classify")
REVERSE = "rev_"  # name prefix of a bidirectional classifier's reverse-direction layers


@dataclass(frozen=True)
class ModelSpec:
    vocab_size: int  # V
    hidden_size: int  # H
    num_layers: int  # L
    cell: str = "rnn"  # a name in cells.CELLS
    skip: bool = False  # the decoder reads every layer (only meaningful for L > 1)
    task: str = "generate"  # what the output head predicts: a name in TASKS
    output_size: int = None  # the head's outputs (None: the task's own, V to generate)
    TASK: ClassVar[str] = "generate"  # the task this class describes

    def __post_init__(self):
        if self.output_size is None and self.task == "generate":
            object.__setattr__(self, "output_size", self.vocab_size)
        for name in ("vocab_size", "hidden_size", "num_layers", "output_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if self.task != self.TASK:
            raise ValueError(f"a {type(self).__name__} describes task {self.TASK!r}, "
                             f"not {self.task!r}")
        if self.task == "generate" and self.output_size != self.vocab_size:
            raise ValueError(f"a model that generates has one output per symbol "
                             f"({self.vocab_size}), not {self.output_size}")
        if self.cell not in cells.CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; expected one of "
                             f"{', '.join(cells.CELLS)}")
        if not isinstance(self.skip, bool):
            raise ValueError(f"skip must be true or false, got {self.skip!r}")
        # one layer has nothing to skip: the same model either way, so one spelling
        object.__setattr__(self, "skip", self.skip and self.num_layers > 1)

    @property
    def cell_module(self):
        return cells.CELLS[self.cell]

    @property
    def state_size(self):
        """Width of one layer's carried state per stream: S*H ([h | c] for the LSTM)."""
        return len(self.cell_module.STATE) * self.hidden_size

    def state_shape(self, batch_size):
        """The carried state of all layers: (L, N, S*H)."""
        return (self.num_layers, batch_size, self.state_size)

    @property
    def skip_layers(self):
        """The lower layers the decoder reads directly: range(L-1) with skips, else none."""
        return range(self.num_layers - 1) if self.skip else range(0)

    def layer_shapes(self):
        """Name -> shape of the recurrent layers' parameters. Per layer l: Wxh{l}
        (D, G*H) with D = V for l = 0 (read by id) else H, Whh{l} (H, G*H), bh{l}
        (G*H,) and the cell's own extras."""
        V, H, cell = self.vocab_size, self.hidden_size, self.cell_module
        GH = cell.GATES * H
        shapes = {}
        for l in range(self.num_layers):
            shapes[f"Wxh{l}"] = (V if l == 0 else H, GH)
            shapes[f"Whh{l}"] = (H, GH)
            shapes[f"bh{l}"] = (GH,)
            for name, shape in cell.extra_shapes(H).items():
                shapes[f"{name}{l}"] = shape
        return shapes

    def param_shapes(self):
        """Name -> shape for every parameter, in a fixed order (the init draws in it):
        the layers (``layer_shapes``), then Wsy{l} (H, V) for each skipped layer,
        Why (H, V) and by (V,)."""
        V, H = self.vocab_size, self.hidden_size
        shapes = self.layer_shapes()
        for l in self.skip_layers:
            shapes[f"Wsy{l}"] = (H, V)
        shapes["Why"] = (H, V)
        shapes["by"] = (V,)
        return shapes

    def param_count(self):
        total = 0
        for shape in self.param_shapes().values():
            n = 1
            for d in shape:
                n *= d
            total += n
        return total

    def layer_extras(self, params, l):
        """The cell's extra parameters of layer l, by their short names."""
        return {name: params[f"{name}{l}"] for name in self.cell_module.extra_shapes(1)}

    def describe(self):
        """A short human description, e.g. '3 x 512 LSTM with skip connections'."""
        skips = " with skip connections" if self.skip else ""
        return f"{self.num_layers} x {self.hidden_size} {self.cell_module.TITLE}{skips}"

    def with_vocab(self, vocab_size):
        """The same model reading vocab_size symbols (a generating model's outputs
        follow its vocabulary)."""
        return replace(self, vocab_size=vocab_size, output_size=vocab_size)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """A spec from stored metadata, of the class its task names (a ModelSpec or a
        ClassifierSpec); ValueError for a missing, unknown or bad field."""
        if not isinstance(data, dict):
            raise ValueError("the model description is not a mapping")
        task = data.get("task", "generate")
        if task not in SPECS:
            raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        cls = SPECS[task]
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model description fields {sorted(unknown)}")
        missing = {"vocab_size", "hidden_size", "num_layers"} - set(data)
        if missing:
            raise ValueError(f"the model description lacks {sorted(missing)}")
        return cls(**data)


@dataclass(frozen=True)
class ClassifierSpec(ModelSpec):
    """A many-to-one model: the recurrent layers read a whole text, a head answers
    one of K = output_size classes (engine/classifier.py).

    Parameters: the layers as a character model's; with ``bidirectional`` the same
    again under the prefix REVERSE, reading each text reversed; then the head,
    Wcy (D*H, K) and bc (K,), reading the D directions' pooled outputs.
    """
    task: str = "classify"
    pooling: str = field(default="last", kw_only=True)  # a name in heads.POOLINGS
    bidirectional: bool = field(default=False, kw_only=True)  # also read each text reversed
    TASK: ClassVar[str] = "classify"

    def __post_init__(self):
        if self.output_size is None:
            raise ValueError("a classifier's output_size (its number of classes) is missing")
        super().__post_init__()
        if self.output_size < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {self.output_size}")
        if self.pooling not in heads.POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; expected one of "
                             f"{', '.join(heads.POOLINGS)}")
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"bidirectional must be true or false, got {self.bidirectional!r}")
        if self.skip:
            raise ValueError("skip connections feed the next-character decoder; "
                             "a classifier's head reads the top layer")

    def with_vocab(self, vocab_size):
        """The same classifier reading vocab_size symbols (its K outputs unchanged)."""
        return replace(self, vocab_size=vocab_size)

    @property
    def num_classes(self):
        """K."""
        return self.output_size

    @property
    def prefixes(self):
        """The name prefixes of the layers, one per direction: forward, then reverse."""
        return ("", REVERSE) if self.bidirectional else ("",)

    def initial_state_shape(self, batch_size):
        """Each direction's initial state: (D, L, N, S*H)."""
        return (len(self.prefixes),) + self.state_shape(batch_size)

    def param_shapes(self):
        """Name -> shape: each direction's layers, then Wcy (D*H, K) and bc (K,)."""
        layers = self.layer_shapes()
        shapes = {p + name: shape for p in self.prefixes for name, shape in layers.items()}
        shapes["Wcy"] = (len(self.prefixes) * self.hidden_size, self.output_size)
        shapes["bc"] = (self.output_size,)
        return shapes

    def describe(self):
        """e.g. '2 x 64 GRU, bidirectional, max pooling, 5 classes'."""
        both = ", bidirectional" if self.bidirectional else ""
        return f"{super().describe()}{both}, {self.pooling} pooling, {self.output_size} classes"


SPECS = {cls.TASK: cls for cls in (ModelSpec, ClassifierSpec)}  # task -> its description
