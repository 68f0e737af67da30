"""The model's description: the few numbers that rebuild it (as nanoGPT's model_args).

A ModelSpec is stored in every checkpoint's metadata and read back in one place
(``schema``); the engine asks it for parameter shapes, the state layout and the
cell, and never guesses them from array shapes or key names.
"""
from dataclasses import asdict, dataclass, fields

from . import cells

TASKS = ("generate",)  # generate: predict the next symbol (output_size = vocab_size)


@dataclass(frozen=True)
class ModelSpec:
    vocab_size: int  # V
    hidden_size: int  # H
    num_layers: int  # L
    cell: str = "rnn"  # a name in cells.CELLS
    skip: bool = False  # the decoder reads every layer (only meaningful for L > 1)
    task: str = "generate"  # what the output head predicts: a name in TASKS
    output_size: int = None  # the head's outputs (None: the task's own, V to generate)

    def __post_init__(self):
        if self.output_size is None and self.task == "generate":
            object.__setattr__(self, "output_size", self.vocab_size)
        for name in ("vocab_size", "hidden_size", "num_layers", "output_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
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

    def param_shapes(self):
        """Name -> shape for every parameter, in a fixed order (the init draws in it).

        Per layer l: Wxh{l} (D, G*H) with D = V for l = 0 (read by id) else H,
        Whh{l} (H, G*H), bh{l} (G*H,) and the cell's own extras; then Wsy{l}
        (H, V) for each skipped layer, Why (H, V) and by (V,).
        """
        V, H, cell = self.vocab_size, self.hidden_size, self.cell_module
        GH = cell.GATES * H
        shapes = {}
        for l in range(self.num_layers):
            shapes[f"Wxh{l}"] = (V if l == 0 else H, GH)
            shapes[f"Whh{l}"] = (H, GH)
            shapes[f"bh{l}"] = (GH,)
            for name, shape in cell.extra_shapes(H).items():
                shapes[f"{name}{l}"] = shape
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

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """A spec from stored metadata; ValueError for a missing, unknown or bad field."""
        if not isinstance(data, dict):
            raise ValueError("the model description is not a mapping")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model description fields {sorted(unknown)}")
        missing = {"vocab_size", "hidden_size", "num_layers"} - set(data)
        if missing:
            raise ValueError(f"the model description lacks {sorted(missing)}")
        return cls(**data)
