"""The bounds every request to `rnngen serve` is checked against before any work.

One home for them: the server reads them from here, `--limit NAME=VALUE` sets them,
and GET /healthz reports the ones in force.
"""
from dataclasses import asdict, dataclass, fields, replace

from ..errors import OptionError


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 1 << 20  # a request's JSON body
    n: int = 10_000  # characters generated per sample
    seed_chars: int = 4_000  # priming text (primed between steps, so it delays other rows)
    stop_chars: int = 100  # the stop text
    num_samples: int = 64  # samples in one request
    beam: int = 16  # beams in one beam search
    request_chars: int = 100_000  # n times the rows a request makes (num_samples, or beam)
    rows: int = 512  # sampled rows in flight, all requests together (each holds its state)
    requests: int = 512  # requests in flight (a stream counts until it ends)
    searches: int = 2  # beam searches and scorings running at once (each takes a core)
    score_chars: int = 200_000  # a text to score
    classify_texts: int = 256  # texts in one classify request
    seconds: float = 120.0  # a request's time in the server, start to last character
    drain_seconds: float = 30.0  # on SIGTERM: how long work in flight may go on

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise OptionError(f"{{limit}} {f.name} must be a number > 0, got {value!r}",
                                  ("limit",))

    def as_dict(self):
        return asdict(self)

    def with_assignments(self, assignments):
        """These limits with NAME=VALUE strings applied (OptionError names a bad one)."""
        names = {f.name: f.type for f in fields(self)}
        changes = {}
        for text in assignments:
            name, sep, value = text.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in names:
                raise OptionError(f"{{limit}} takes NAME=VALUE with NAME one of "
                                  f"{', '.join(names)}; got {text!r}", ("limit",))
            kind = float if names[name] in (float, "float") else int
            try:
                changes[name] = kind(value.strip())
            except ValueError:
                what = "a number" if kind is float else "a whole number"
                raise OptionError(f"{{limit}} {name} must be {what}, got {value.strip()!r}",
                                  ("limit",)) from None
        return replace(self, **changes)
