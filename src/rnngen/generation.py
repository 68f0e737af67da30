"""Sampling text from a checkpoint: seed handling, hidden state, decoding."""
import math
from dataclasses import dataclass

import numpy as np

from .corpus import Vocabulary
from .device import CPU
from .engine import beam, sampling
from .errors import OptionError

TRIAL_CHARS = 8  # characters a trial of one_stream_trial samples


def check_options(n, temperature, top_k, top_p):
    """OptionError for sampling options out of range (the CLI checks them first)."""
    if not isinstance(n, int) or n < 0:
        raise OptionError(f"n must be a whole number >= 0, got {n!r}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
            and temperature >= 0):
        raise OptionError(f"temperature must be a number >= 0, got {temperature!r}")
    if not isinstance(top_k, int) or top_k < 0:
        raise OptionError(f"top_k must be a whole number >= 1 (0 for off), got {top_k!r}")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise OptionError(f"top_p must be in (0, 1], got {top_p!r}")


def sample_chars(ckpt, seed, n, rng, temperature=1.0, top_k=0, top_p=1.0, saved_state=True,
                 device=CPU):
    """Yield the seed's characters, then ``n`` generated ones, as strings.

    The model starts from the state training ended with (stream 0 of the
    last batch, as char-rnn's sampler did) unless saved_state is False. With no
    seed, the model is primed with a line break, unprinted, so text starts as a line
    does; a vocabulary without one gets a random first character, printed.
    Raises VocabularyError naming any seed characters the model never saw. The
    model runs on ``device`` (device.Device); characters are chosen on the host.
    """
    check_options(n, temperature, top_k, top_p)
    vocab = Vocabulary(ckpt.vocab_chars)
    seed_ids, shown = _seed_ids(vocab, seed, rng)
    state = _start_state(ckpt, saved_state)
    params = {k: device.to_device(v) for k, v in ckpt.params.items()}
    yield vocab.decode(shown)
    chars = vocab.chars
    for idx in sampling.generate(ckpt.spec, params, seed_ids, n, rng, state, temperature,
                                 top_k, top_p):
        yield chars[idx]


def one_stream_trial(spec, params):
    """A few characters of one stream of this model (host arrays), on a sampler of
    their own: what threads.one_stream times to choose its BLAS thread count."""
    stepper = sampling.Stepper(spec, params)
    V = spec.vocab_size
    return lambda: [stepper.step(i % V) for i in range(TRIAL_CHARS)]


def _seed_ids(vocab, seed, rng):
    """(ids that prime the model, ids printed as the seed). With no seed: a line
    break, not printed, or, in a vocabulary without one, a character drawn
    uniformly with rng, printed."""
    if seed:
        ids = vocab.encode(seed, what="the seed text")
        return ids, ids
    if "\n" in vocab.index:
        return [vocab.index["\n"]], []
    ids = [int(rng.integers(len(vocab)))]
    return ids, ids


def _start_state(ckpt, saved_state):
    """One stream's starting state (L, S*H): stream 0 of training's last batch, or None."""
    return ckpt.state[:, 0, :] if saved_state and ckpt.state is not None else None


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
        return None if self.logprobs is None else _finite(math.fsum(self.logprobs))

    def as_dict(self):
        """A JSON-ready dict: non-finite numbers (a broken model) become null."""
        return {"seed": self.seed, "text": self.text, "chars": len(self.text),
                "logprob": self.logprob, "logprobs": _finite_list(self.logprobs),
                "seed_logprobs": _finite_list(self.seed_logprobs), "stopped": self.stopped,
                "random_seed": self.random_seed}


def fresh_random_seed():
    """A random seed for a run given none (it is reported with --json)."""
    return int(np.random.default_rng().integers(2**62))


def draw_samples(ckpt, seed, n, num_samples, random_seed, temperature=1.0, top_k=0, top_p=1.0,
                 saved_state=True, stop="", scores=False):
    """``num_samples`` samples drawn as one batch; sample i draws from its own
    generator seeded with random_seed + i, in the order sample_chars draws, so it is
    the text ``sample_chars`` gives with that seed, up to the rounding of a batched
    product (see sampling.generate_batch)."""
    check_options(n, temperature, top_k, top_p)
    vocab = Vocabulary(ckpt.vocab_chars)
    rngs = [np.random.default_rng(random_seed + i) for i in range(num_samples)]
    primed = [_seed_ids(vocab, seed, rng) for rng in rngs]
    seeds = [ids for ids, _ in primed]
    stop_ids = _stop_ids(vocab, stop)
    state = _start_state(ckpt, saved_state)
    batch = sampling.generate_batch(ckpt.spec, ckpt.params, seeds, n, rngs, state, temperature,
                                    top_k, top_p, stop_ids, scores)
    samples, seed_scores = [], {}  # one scoring of each distinct seed
    for i, (seed_ids, shown) in enumerate(primed):
        ids, logprobs = batch.sample(i)
        samples.append(_sample(ckpt, vocab, seed_ids, shown, ids, bool(batch.stopped[i]),
                               random_seed + i, logprobs, state, scores, seed_scores))
    return samples


def beam_samples(ckpt, seed, n, beams, num_samples, random_seed, saved_state=True, stop="",
                 length_norm=False, no_repeat_ngram=0, scores=False):
    """The ``num_samples`` best of a beam search with ``beams`` beams, best first.
    random_seed only draws the first character when there is no seed."""
    if not 1 <= num_samples <= beams:
        raise OptionError(f"beam search keeps {beams} beams, so it cannot return "
                          f"{num_samples}; ask for 1 to {beams}")
    check_options(n, 0.0, 0, 1.0)
    vocab = Vocabulary(ckpt.vocab_chars)
    seed_ids, shown = _seed_ids(vocab, seed, np.random.default_rng(random_seed))
    state = _start_state(ckpt, saved_state)
    found = beam.beam_search(ckpt.spec, ckpt.params, seed_ids, n, beams, state,
                             _stop_ids(vocab, stop), length_norm, no_repeat_ngram)
    used = random_seed if not seed and len(shown) else None  # beam search draws nothing
    seed_scores = {}
    return [_sample(ckpt, vocab, seed_ids, shown, h.ids, h.stopped, used, h.logprobs, state,
                    scores, seed_scores) for h in found[:num_samples]]


def _stop_ids(vocab, stop):
    return vocab.encode(stop, what="the stop text") if stop else []


def _sample(ckpt, vocab, seed_ids, shown, ids, stopped, random_seed, logprobs, state, scores,
            seed_scores):
    """A Sample; its seed is what was printed, its seed scores those of the priming ids
    after the first (none for an unprinted line break)."""
    sample = Sample(vocab.decode(shown), vocab.decode(ids), stopped, random_seed)
    if scores:
        sample.logprobs = [float(x) for x in logprobs]
        if sample.seed not in seed_scores:
            seed_scores[sample.seed] = sampling.seed_log_probs(ckpt.spec, ckpt.params,
                                                               seed_ids, state).tolist()
        sample.seed_logprobs = seed_scores[sample.seed]
    return sample


def _finite(x):
    return x if math.isfinite(x) else None


def _finite_list(values):
    return None if values is None else [_finite(float(x)) for x in values]
