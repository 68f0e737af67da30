"""Decoding text from a model: what to decode (a Decoding), the model kept loaded on a
device (a Model), and one batched loop (a Decoder) that also serves a single stream.

    from rnngen import decoding

    model = decoding.Model.load("runs/shakespeare.npz")
    for piece in decoding.stream(model, "ROMEO:", decoding.Decoding(n=200, temperature=0.8)):
        print(piece, end="")

A Decoder holds rows, each with its own Decoding and its own numpy Generator; rows may
join and leave between steps (continuous batching), and ``step`` gives every live row
one more character. A row's draws come from its own generator only; with ``rowwise``
(the default) its products are its own too (see engine.sampling), so a row decodes the
same text alone or among any others. Beam search (engine.beam) keeps K hypotheses of
one text instead, on the same stepper. Every path runs on the model's device.
"""
import contextlib
import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import jsonout
from .corpus import Vocabulary
from .device import CPU
from .engine import beam as beam_search
from .engine import sampling
from .engine.backend import to_host
from .errors import CheckpointError, OptionError
from .threads import one_stream


def _whole(v, lo):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo


def _number(v):
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) \
        and math.isfinite(v)


@dataclass(frozen=True)
class Decoding:
    """How to decode one request, validated once, here (OptionError names the option
    as {name}; the CLI shows its flags instead). None means "not given"."""
    n: int = 500  # characters to generate after the seed
    temperature: float = None  # softmax temperature, 0 = the likeliest; None: 1 (sampling)
    top_k: int = None  # draw among the k likeliest only (None or 0: all)
    top_p: float = None  # draw among the likeliest reaching total p (None or 1: all)
    beam: int = None  # beam search with this many beams instead of sampling
    length_norm: bool = False  # beam search: rank by log-probability per character
    no_repeat_ngram: int = None  # beam search: never repeat a sequence of this many
    stop: str = None  # end a sample where it first produces this text (included)
    num_samples: int = 1  # samples drawn (or, with beam, the best beams returned)
    random_seed: int = None  # sample i draws from a generator seeded random_seed + i
    fresh_state: bool = False  # start from zeros, not the state training ended with

    def __post_init__(self):
        self._check_ranges()
        if self.temperature is not None:
            object.__setattr__(self, "temperature", float(self.temperature))
        if self.top_p is not None:
            object.__setattr__(self, "top_p", float(self.top_p))
        if self.beam:
            drawn = [o for o, on in (("temperature", self.temperature), ("top_k", self.top_k),
                                     ("top_p", self.top_p)) if on]
            if drawn:
                raise OptionError(
                    f"{{beam}} finds the most probable text and draws nothing at random, so "
                    f"{' and '.join('{' + o + '}' for o in drawn)} cannot apply (they shape "
                    "random draws); drop one or the other", ("beam", *drawn))
            if self.num_samples > self.beam:
                raise OptionError(f"{{beam}} {self.beam} keeps {self.beam} beams, so "
                                  "{num_samples} (the best beams to print) must be at most "
                                  f"{self.beam}", ("beam", "num_samples"))
        else:
            for option in ("length_norm", "no_repeat_ngram"):
                if getattr(self, option):
                    raise OptionError(f"{{{option}}} steers beam search; use it with {{beam}} K",
                                      (option, "beam"))
        if self.stop == "":
            raise OptionError("{stop} needs a non-empty TEXT", ("stop",))

    def _check_ranges(self):
        checks = [
            ("n", _whole(self.n, 0), "a whole number >= 0"),
            ("temperature", self.temperature is None
             or _number(self.temperature) and self.temperature >= 0, "a number >= 0"),
            ("top_k", self.top_k is None or _whole(self.top_k, 0), "a whole number >= 1"),
            ("top_p", self.top_p is None or _number(self.top_p) and 0 < self.top_p <= 1,
             "a number in (0, 1]"),
            ("beam", self.beam is None or _whole(self.beam, 1), "a whole number >= 1"),
            ("no_repeat_ngram", self.no_repeat_ngram is None
             or _whole(self.no_repeat_ngram, 1), "a whole number >= 1"),
            ("stop", self.stop is None or isinstance(self.stop, str), "a text"),
            ("num_samples", _whole(self.num_samples, 1), "a whole number >= 1"),
            ("random_seed", self.random_seed is None or _whole(self.random_seed, 0),
             "a whole number >= 0"),
            ("length_norm", isinstance(self.length_norm, bool), "true or false"),
            ("fresh_state", isinstance(self.fresh_state, bool), "true or false"),
        ]
        for option, ok, what in checks:
            if not ok:
                raise OptionError(f"{{{option}}} must be {what}, got "
                                  f"{getattr(self, option)!r}", (option,))

    @property
    def sampling_temperature(self):
        """The temperature a sample draws at (1 when none was given)."""
        return 1.0 if self.temperature is None else self.temperature

    @property
    def rule(self):
        """How each character is chosen: "beam", "greedy" (temperature 0), "gumbel"
        (plain temperature sampling, engine.sampling.gumbel_block) or "draw" (top-k
        or top-p, or a temperature too large for Gumbel noise)."""
        if self.beam:
            return "beam"
        if self.sampling_temperature == 0:
            return "greedy"
        if (not self.top_k and (self.top_p is None or self.top_p >= 1.0)
                and self.sampling_temperature <= sampling.GUMBEL_MAX_TEMPERATURE):
            return "gumbel"
        return "draw"

    def with_random_seed(self):
        """This decoding with a random seed: its own, or a fresh one."""
        if self.random_seed is not None:
            return self
        return replace(self, random_seed=int(np.random.default_rng().integers(2**62)))

    def settings(self, checkpoint=None):
        """The settings as `rnngen sample --json` reports them with each sample."""
        if self.beam:
            shown = dict(beam=self.beam, length_norm=self.length_norm,
                         no_repeat_ngram=self.no_repeat_ngram)
        else:
            shown = dict(temperature=self.sampling_temperature, top_k=self.top_k,
                         top_p=self.top_p)
        return dict(shown, checkpoint=None if checkpoint is None else str(checkpoint),
                    n=self.n, stop=self.stop, fresh_state=self.fresh_state)


class Model:
    """A model on a device, ready to decode (what a server keeps loaded): its
    description, parameters (host arrays, copied to the device), vocabulary and the
    (L, S*H) state a stream starts from (None: zeros)."""

    def __init__(self, spec, params, vocab_chars, saved_state=None, device=CPU):
        self.spec, self.device = spec, device
        self.vocab = Vocabulary(vocab_chars)
        self.params = {k: device.to_device(v) for k, v in params.items()}
        self.saved_state = saved_state

    @classmethod
    def from_checkpoint(cls, ckpt, device=CPU, path="the checkpoint"):
        """The model of a checkpoint that generates; CheckpointError for a classifier."""
        if ckpt.spec.task != "generate":
            raise CheckpointError(f"{path} is a classifier ({ckpt.spec.describe()}): it "
                                  f"labels text, it does not write it; use rnngen classify "
                                  f"--checkpoint {path}")
        # a stream starts from stream 0 of training's last batch, as char-rnn's sampler did
        state = ckpt.state[:, 0, :] if ckpt.state is not None else None
        return cls(ckpt.spec, ckpt.params, ckpt.vocab_chars, state, device)

    @classmethod
    def load(cls, path, device=CPU):
        from . import checkpoint

        return cls.from_checkpoint(checkpoint.load(path), device, path)

    def start_state(self, fresh=False):
        """The (L, S*H) state a stream starts from (host), or None for zeros."""
        return None if fresh else self.saved_state

    def seed_ids(self, seed, rng):
        """(ids that prime the model, ids printed as the seed). With no seed: a line
        break, not printed, or, in a vocabulary without one, a character drawn
        uniformly with rng, printed. VocabularyError names unknown characters."""
        vocab = self.vocab
        if seed:
            ids = vocab.encode(seed, what="the seed text")
            return [int(i) for i in ids], [int(i) for i in ids]
        if "\n" in vocab.index:
            return [vocab.index["\n"]], []
        ids = [int(rng.integers(len(vocab)))]
        return ids, ids

    def seed_log_probs(self, seed_ids, fresh=False):
        """Log-probabilities of seed_ids[1:] (a list), each given the ids before it."""
        return sampling.seed_log_probs(self.spec, self.params, seed_ids,
                                       self.start_state(fresh)).tolist()


@dataclass
class Sample:
    """One generated text and, when scored, its log-probabilities under the model."""
    seed: str  # the seed text (printed before the sample)
    text: str  # the generated characters, after the seed
    stopped: bool  # it ended at the stop text (included in text)
    random_seed: int  # the seed of the generator this sample drew from (None: nothing drawn)
    logprobs: list = None  # nats, one per character of text
    seed_logprobs: list = None  # nats, one per seed character after the first

    @property
    def logprob(self):
        return None if self.logprobs is None else jsonout.finite(math.fsum(self.logprobs))

    def as_dict(self):
        """A JSON-ready dict: non-finite numbers (a broken model) become null."""
        return {"seed": self.seed, "text": self.text, "chars": len(self.text),
                "logprob": self.logprob, "logprobs": jsonout.finite(self.logprobs),
                "seed_logprobs": jsonout.finite(self.seed_logprobs), "stopped": self.stopped,
                "random_seed": self.random_seed}


@dataclass(eq=False)
class Row:
    """One text being decoded in a Decoder."""
    decoding: Decoding
    chars: str  # the model's vocabulary
    rng: np.random.Generator  # its own: no other row draws from it
    key: object  # the caller's name for it
    seed: str  # the seed text as printed
    seed_ids: list  # the ids that primed it
    stop_ids: list
    random_seed: int = None  # reported with its Sample
    ids: list = field(default_factory=list)  # the characters generated so far
    logprobs: list = None  # their log-probabilities under the model, when scored
    stopped: bool = False  # it ended at the stop text
    done: bool = False  # n characters generated, or stopped: it takes no more steps
    last: int = 0  # the id it reads at its next step
    noise: object = None  # its current block of Gumbel noise (gumbel rule)

    @property
    def text(self):
        """The characters generated so far."""
        return "".join(self.chars[i] for i in self.ids)

    def take(self, idx):
        """Append the chosen id; done (and stopped) once the ids end with the stop text
        or n ids are made. Returns done."""
        generated, stop = self.ids, self.stop_ids
        generated.append(idx)
        self.last = idx
        if stop and generated[-len(stop):] == stop:
            self.stopped = self.done = True
        elif len(generated) >= self.decoding.n:
            self.done = True
        return self.done

    def next_noise(self, xp, by):
        """This step's Gumbel noise (1, V) (gumbel rule): a slice of its block, a new
        block drawn every sampling.BLOCK ids, so a row consumes its generator the same
        way alone or in any batch."""
        t = len(self.ids) % sampling.BLOCK
        if t == 0:
            self.noise = xp.asarray(sampling.gumbel_block(
                self.rng, self.decoding.sampling_temperature, by))
        return self.noise[t:t + 1]


class Decoder:
    """Rows decoded side by side, one character each per ``step``, on the model's
    device: one product per layer per step serves them all.

    rowwise: every product row by row (engine.sampling), so a row's text does not
    depend on the other rows; False is one (N, H) product for all rows (faster at
    large N; a row may then differ from its text alone in a near-tie). scores: keep
    each character's log-probability under the model (temperature 1, no filters).
    """

    def __init__(self, model, rowwise=True, scores=False):
        self.model, self.scores = model, scores
        self.rows = []
        self.stepper = sampling.Stepper(model.spec, model.params, streams=0, rowwise=rowwise)
        self._feed = np.zeros(0, dtype=np.intp)  # (N,) the id each row reads next
        self._plan = None

    def add(self, decoding, seed=None, rng=None, key=None, random_seed=None):
        """A new row for ``decoding`` primed with ``seed`` (see Model.seed_ids), drawing
        from ``rng`` (default: a generator seeded with decoding.random_seed); it joins
        the batch before the next step. Returns the Row."""
        return self.add_many([(decoding, seed, rng, key, random_seed)])[0]

    def add_many(self, requests):
        """Rows for (decoding, seed, rng, key, random_seed) tuples (the last three may
        be None), primed together: seeds of one length share each product."""
        return self.join(self.prime(requests))

    def prime(self, requests):
        """Rows for (decoding, seed, rng, key, random_seed) tuples, their seeds read but
        not yet in the batch: ``join`` adds them. Priming reads only the weights, so it
        may run on another thread while this Decoder steps (a server primes a long seed
        there rather than hold every other row up for it)."""
        rows = [self._row(*request) for request in requests]
        by_length = {}
        for row in rows:
            by_length.setdefault(len(row.seed_ids), []).append(row)
        groups = []
        for length, group in by_length.items():
            states = [self.model.start_state(r.decoding.fresh_state) for r in group]
            primer = self.stepper.sibling(_stack_states(self.model.spec, states), len(group))
            seeds = np.array([r.seed_ids for r in group], dtype=np.intp)
            for ids in seeds[:, :-1].T:  # all but the last seed id; the first step reads it
                primer.advance(ids)
            for r in group:
                r.last = r.seed_ids[-1]
                r.done = r.decoding.n == 0
            groups.append((group, primer.state))
        return Primed(rows, groups)

    def join(self, primed):
        """Add primed rows (from ``prime``) to the batch, before the next step; returns
        them, in the order asked for."""
        for group, state in primed.groups:
            self.stepper.join(state)
            self.rows += group
            self._feed = np.append(self._feed, [r.last for r in group])
        self._plan = None
        return primed.rows

    def _row(self, decoding, seed, rng, key, random_seed):
        if decoding.beam:
            raise OptionError("a Decoder samples; beam search is its own search (see "
                              "decoding.samples)")
        if rng is None:
            random_seed = decoding.with_random_seed().random_seed
            rng = np.random.default_rng(random_seed)
        seed_ids, shown = self.model.seed_ids(seed, rng)
        vocab = self.model.vocab
        stop = [int(i) for i in vocab.encode(decoding.stop, what="the stop text")] \
            if decoding.stop else []
        return Row(decoding, vocab.chars, rng, key, vocab.decode(shown), seed_ids, stop,
                   random_seed, logprobs=[] if self.scores else None)

    def remove(self, row):
        """Take a row out of the batch (finished or not)."""
        i = self.rows.index(row)
        del self.rows[i]
        self.stepper.keep([j for j in range(len(self.rows) + 1) if j != i])
        self._feed = np.delete(self._feed, i)
        self._plan = None

    @property
    def live(self):
        """The rows that will take a character at the next step."""
        return [r for r in self.rows if not r.done]

    def step(self):
        """One character for every live row -> [(row, id)]. A row that reaches its n
        characters or its stop text is done: it stays in the batch, unchanged, until
        removed (so the batch's shape, and with it the rows' rounding, stays put)."""
        plan = self._plan or self._make_plan()
        if not plan.live:
            return []
        st = self.stepper
        st.advance(self._feed)
        z = st.decode(st.logits)  # (N, V) the logits less the decoder bias
        # the common case (one stream, or a batch of plain samples) goes straight to
        # the noise: no clean logits to keep, no rule to gather
        ids, lp = (self._gumbel(z, plan), None) if plan.only_gumbel else self._choose(z, plan)
        out, feed = [], self._feed
        for j, (i, row, idx) in enumerate(zip(plan.live, plan.live_rows, ids)):
            feed[i] = idx
            if lp is not None:
                row.logprobs.append(float(lp[j]))
            if row.take(idx):
                self._plan = None
            out.append((row, idx))
        return out

    def steps(self):
        """Yield (row, id) as ``step`` calls would, one call after another, until every
        row is done.

        While the batch is one row that draws plain Gumbel noise and scores nothing
        (one stream: `rnngen sample`'s default), each step is the same operations on
        the same numbers as ``step``'s, without a batch's bookkeeping around them: a
        one-row step of a small model is a few dozen microseconds, and that
        bookkeeping several. Any other batch goes through ``step``. No row may join or
        leave while it runs."""
        plan = self._plan or self._make_plan()
        if len(self.rows) != 1 or not plan.only_gumbel:
            while self.live:
                yield from self.step()
            return
        row, st, feed = self.rows[0], self.stepper, self._feed
        z, xp = st.logits, st.xp  # (1, V), the decoder's output buffer
        flat = z.reshape(-1)  # argmax of the one row, as argmax(axis=1) finds it
        while not row.done:
            st.advance(feed)
            st.decode(z)
            z += row.next_noise(xp, st.by)
            idx = feed[0] = int(flat.argmax())
            row.take(idx)
            yield row, idx
        self._plan = None

    def _choose(self, z, plan):
        """(ids, log-probabilities or None) of the live rows, in plan.live's order,
        each id chosen by its row's rule from z (N, V), the logits less the decoder
        bias (overwritten); log-probabilities (with scores) under the model."""
        rows, st = self.rows, self.stepper
        clean = z + st.by if self.scores or plan.greedy or plan.draw else None
        chosen = {}
        if plan.gumbel:
            chosen.update(zip(plan.gumbel, self._gumbel(z, plan)))
        if plan.greedy:
            picked = _rows(clean, plan.at["greedy"]).argmax(axis=1)
            chosen.update(zip(plan.greedy, to_host(picked).tolist()))
        if plan.draw:
            host = to_host(_rows(clean, plan.at["draw"]))
            for j, i in enumerate(plan.draw):
                d = rows[i].decoding
                chosen[i] = sampling.draw(host[j], rows[i].rng, d.sampling_temperature,
                                          d.top_k or 0, 1.0 if d.top_p is None else d.top_p)
        ids = [chosen[i] for i in plan.live]
        if not self.scores:
            return ids, None
        return ids, sampling.log_softmax_at(to_host(_rows(clean, plan.at["live"])), ids)

    def _make_plan(self):
        """Which rows are live and how each chooses, kept until a row joins, leaves
        or finishes (so a step does not ask every row again)."""
        rows, xp = self.rows, self.stepper.xp
        live = [i for i, r in enumerate(rows) if not r.done]
        rules = {"gumbel": [], "greedy": [], "draw": []}
        for i in live:
            rules[rows[i].decoding.rule].append(i)

        def where(idx):  # None: every row, in order (no gather needed)
            return None if len(idx) == len(rows) else xp.asarray(np.asarray(idx, np.intp))

        at = {name: where(idx) for name, idx in dict(rules, live=live).items()}
        only_gumbel = not self.scores and len(rules["gumbel"]) == len(live)
        self._plan = _Plan(live, [rows[i] for i in live], rules["gumbel"],
                           [rows[i] for i in rules["gumbel"]], rules["greedy"], rules["draw"],
                           at, only_gumbel)
        return self._plan

    def _gumbel(self, z, plan):
        """The ids chosen for the gumbel rows: argmax of logits plus their noise (z is
        overwritten where every row is one)."""
        xp = self.stepper.xp
        by = self.stepper.by
        # (1, V) each: one row adds it with no broadcast
        noise = [row.next_noise(xp, by) for row in plan.gumbel_rows]
        at = plan.at["gumbel"]
        noisy = z if at is None else z[at]  # every row: add in place, no gather
        noisy += noise[0] if len(noise) == 1 else xp.concatenate(noise)
        return to_host(noisy.argmax(axis=1)).tolist()

    def sample(self, row, seed_scores=None):
        """The Sample a row has made so far. seed_scores, a dict, shares the scoring of
        each distinct seed between rows (only with scores)."""
        sample = Sample(row.seed, row.text, row.stopped, row.random_seed)
        if self.scores:
            sample.logprobs = list(row.logprobs)
            sample.seed_logprobs = _seed_scores(self.model, row.seed, row.seed_ids,
                                                row.decoding.fresh_state, seed_scores)
        return sample


@dataclass
class _Plan:
    live: list  # rows that take a character at the next step (indices into rows)
    live_rows: list  # those rows (Row objects), in the same order
    gumbel: list  # the live rows of each rule
    gumbel_rows: list  # the gumbel rows' Row objects
    greedy: list
    draw: list
    at: dict  # rule (or "live") -> device indices of its rows, or None for every row
    only_gumbel: bool  # every live row draws Gumbel noise and nothing is scored


def _rows(a, at):
    return a if at is None else a[at]


@dataclass
class Primed:
    """Rows whose seeds have been read (Decoder.prime), waiting to join a batch:
    ``groups`` pairs the rows of each seed length with their state (L, K, S*H)."""
    rows: list
    groups: list


def _stack_states(spec, states):
    """One (L, K, S*H) host state from K (L, S*H) states (None: zeros)."""
    if all(s is None for s in states):
        return None
    zero = np.zeros((spec.num_layers, spec.state_size))
    return np.stack([zero if s is None else s for s in states], axis=1)


def _seed_scores(model, seed, seed_ids, fresh, cache):
    cache = {} if cache is None else cache
    if seed not in cache:
        cache[seed] = model.seed_log_probs(seed_ids, fresh)
    return cache[seed]


def stream(model, seed, decoding, one_thread=True):
    """Yield the printed seed, then each generated character, as it is made: one
    sample (decoding.num_samples 1, no beam), through a one-row Decoder.

    one_thread: choose BLAS's thread count for the stream by measurement
    (threads.one_stream: 1 or all, timed at the start and checked as it goes; a
    one-row product often runs faster on one thread, and a busy neighbour core makes
    waiting threads slow); False leaves the count as it is (--threads given).
    """
    if decoding.beam or decoding.num_samples != 1:
        raise OptionError("stream makes one sample by drawing; use samples for "
                          "{num_samples} > 1 or {beam}", ("num_samples", "beam"))
    decoding = decoding.with_random_seed()
    chars = _stream_chars(model, seed, decoding)
    if one_thread and model.device.is_host:
        chars = one_stream(chars, one_stream_trial(model.spec, model.params))
    with contextlib.closing(chars):
        yield from chars


def _stream_chars(model, seed, decoding):
    decoder = Decoder(model)
    row = decoder.add(decoding, seed)
    yield row.seed
    chars = model.vocab.chars
    for _, idx in decoder.steps():
        yield chars[idx]


TRIAL_CHARS = 8  # characters a trial of one_stream_trial samples


def one_stream_trial(spec, params):
    """A few characters of one stream of this model (host arrays), on a sampler of
    their own: what threads.one_stream times to choose its BLAS thread count."""
    stepper = sampling.Stepper(spec, params)
    V = spec.vocab_size
    return lambda: [stepper.step(i % V) for i in range(TRIAL_CHARS)]


def samples(model, seed, decoding, scores=False):
    """decoding.num_samples whole Samples: drawn side by side (sample i from a generator
    seeded with random_seed + i), or the best of a beam search, best first.

    The rows share one product per layer per step (Decoder rowwise False), as
    `rnngen sample --num-samples` has always drawn them: sample i is the text of a
    single sample with random seed + i up to the rounding of that product.
    """
    decoding = decoding.with_random_seed()
    if decoding.beam:
        return _beam(model, seed, decoding, scores)
    decoder = Decoder(model, rowwise=False, scores=scores)
    base = decoding.random_seed
    rows = decoder.add_many([(decoding, seed, np.random.default_rng(base + i), i, base + i)
                             for i in range(decoding.num_samples)])
    for _ in decoder.steps():
        pass
    seed_scores = {}
    return [decoder.sample(row, seed_scores) for row in rows]


def _beam(model, seed, decoding, scores):
    """The num_samples best of a beam search; the random seed only draws the first
    character when there is no seed text and no line break to start from."""
    d = decoding
    seed_ids, shown = model.seed_ids(seed, np.random.default_rng(d.random_seed))
    vocab = model.vocab
    stop = vocab.encode(d.stop, what="the stop text") if d.stop else []
    found = beam_search.beam_search(model.spec, model.params, seed_ids, d.n, d.beam,
                                    model.start_state(d.fresh_state), stop, d.length_norm,
                                    d.no_repeat_ngram or 0)
    used = d.random_seed if not seed and len(shown) else None  # beam search draws nothing
    out, seed_scores = [], {}
    for h in found[:d.num_samples]:
        sample = Sample(vocab.decode(shown), vocab.decode(h.ids), h.stopped, used)
        if scores:
            sample.logprobs = [float(x) for x in h.logprobs]
            sample.seed_logprobs = _seed_scores(model, sample.seed, seed_ids, d.fresh_state,
                                                seed_scores)
        out.append(sample)
    return out
