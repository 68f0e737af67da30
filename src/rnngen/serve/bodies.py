"""Request bodies: read within the size limit, parsed, and checked against the fields
each endpoint takes and the server's Limits, before any work. Every refusal says
what is wrong in one line."""
import json
from dataclasses import dataclass, fields

from .. import decoding
from ..errors import OptionError, VocabularyError
from .refused import Refused

# POST /v1/sample: sample's flags as JSON fields (decoding.Decoding's options), and these
SAMPLE_EXTRA = {"seed": (str, "a text"), "model": (str, "a model's name"),
                "stream": (bool, "true or false")}
SAMPLE_FIELDS = tuple(f.name for f in fields(decoding.Decoding)) + tuple(SAMPLE_EXTRA)


async def read_json(request, limit):
    """The body as a JSON object, read no further than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, f"the body is larger than this server's limit of {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"the body is larger than this server's limit of {limit:,} "
                               "bytes")
    try:
        data = json.loads(bytes(body))
    except (ValueError, RecursionError) as e:
        where = f" ({e.msg} at character {e.pos})" if isinstance(e, json.JSONDecodeError) \
            else ""
        raise Refused(400, f"the body is not JSON{where}; send a JSON object such as "
                           '{"seed": "ROMEO:", "n": 200}') from None
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object, such as "
                           f'{{"seed": "ROMEO:", "n": 200}}; got {type(data).__name__}')
    return data


def _known(body, allowed):
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Refused(422, f"unknown field {unknown[0]!r}; the fields are "
                           f"{', '.join(allowed)}")


def _typed(body, name, kind, what):
    """body[name] when it is of ``kind`` (or absent/null: None)."""
    value = body.get(name)
    if value is not None and (not isinstance(value, kind)
                              or kind is not bool and isinstance(value, bool)):
        raise Refused(422, f"{name} must be {what}, got {json.dumps(value)[:60]}")
    return value


def model(models, body, task="generate"):
    """The Served model a body names (the first loaded when it names none)."""
    name = _typed(body, "model", str, "a model's name")
    if name is None:
        served = next(iter(models.values()))
    elif name in models:
        served = models[name]
    else:
        raise Refused(404, f"no model named {name[:80]!r}; this server has "
                           f"{', '.join(models)} (GET /v1/models describes them)")
    if served.task != task:  # 400, not 422: the request is fine, the model is not for it
        if task == "classify":
            raise Refused(400, f"model {served.name!r} is not a classifier (its task is "
                               f"{served.task}); GET /v1/models shows each model's task")
        raise Refused(400, f"model {served.name!r} is a {served.task} model, not one that "
                           "generates text; use POST /v1/classify")
    return served


@dataclass
class SampleRequest:
    served: object  # models.Served
    decoding: decoding.Decoding  # with its random seed filled in
    seed: str  # the priming text, or None
    stream: bool


def sample(body, models, limits):
    """A SampleRequest from a POST /v1/sample body, or Refused (422/404)."""
    _known(body, SAMPLE_FIELDS)
    extra = {name: _typed(body, name, kind, what)
             for name, (kind, what) in SAMPLE_EXTRA.items()}
    options = {k: v for k, v in body.items() if k not in SAMPLE_EXTRA and v is not None}
    try:
        dec = decoding.Decoding(**options)
    except OptionError as e:  # its message names the options as the JSON fields
        raise Refused(422, str(e)) from None
    except TypeError as e:  # a dataclass given a wrong kind of value, say
        raise Refused(422, str(e)) from None
    rows = dec.beam or dec.num_samples
    for name, value, bound in (("n", dec.n, limits.n),
                               ("num_samples", dec.num_samples, limits.num_samples),
                               ("beam", dec.beam or 0, limits.beam),
                               ("seed", len(extra["seed"] or ""), limits.seed_chars),
                               ("stop", len(dec.stop or ""), limits.stop_chars)):
        if value > bound:
            unit = " characters" if name in ("seed", "stop") else ""
            raise Refused(422, f"{name} is {value:,}{unit}; this server allows at most "
                               f"{bound:,}{unit}")
    if dec.n * rows > limits.request_chars:
        raise Refused(422, f"n times {'beam' if dec.beam else 'num_samples'} is "
                           f"{dec.n * rows:,} characters; this server allows at most "
                           f"{limits.request_chars:,} in one request")
    if extra["stream"] and dec.beam:
        raise Refused(422, "stream sends sampled characters as they are drawn; a beam "
                           "search finds whole texts, so send it without stream")
    served = model(models, body)
    vocab = served.model.vocab
    try:
        for text, what in ((extra["seed"], "the seed"), (dec.stop, "the stop text")):
            if text:
                vocab.encode(text, what=what)
    except VocabularyError as e:
        raise Refused(422, str(e)) from None
    return SampleRequest(served, dec.with_random_seed(), extra["seed"], bool(extra["stream"]))


def score(body, models, limits):
    """(served, text, skip_unknown) from a POST /v1/score body."""
    _known(body, ("text", "model", "skip_unknown"))
    text = _typed(body, "text", str, "a text")
    if text is None:
        raise Refused(422, 'text is missing: send {"text": "the text to score"}')
    if len(text) > limits.score_chars:
        raise Refused(422, f"text is {len(text):,} characters; this server scores at most "
                           f"{limits.score_chars:,}")
    skip = bool(_typed(body, "skip_unknown", bool, "true or false"))
    return model(models, body), text, skip


def classify(body, models, limits):
    """(served, texts) from a POST /v1/classify body."""
    _known(body, ("texts", "model"))
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise Refused(422, 'texts must be a non-empty list of texts: {"texts": ["...", ...]}')
    if len(texts) > limits.classify_texts:
        raise Refused(422, f"texts holds {len(texts):,}; this server classifies at most "
                           f"{limits.classify_texts:,} in one request")
    if sum(map(len, texts)) > limits.score_chars:
        raise Refused(422, f"texts hold {sum(map(len, texts)):,} characters; this server "
                           f"reads at most {limits.score_chars:,} in one request")
    return model(models, body, task="classify"), texts
