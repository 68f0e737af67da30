"""Sampling text from a checkpoint: seed handling, hidden state, decoding."""
import math

from .corpus import Vocabulary
from .device import CPU
from .engine import sampling
from .errors import OptionError


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
    if seed:
        seed_ids = shown = vocab.encode(seed, what="the seed text")
    elif "\n" in vocab.index:
        seed_ids, shown = [vocab.index["\n"]], []
    else:
        seed_ids = shown = [int(rng.integers(len(vocab)))]
    state = ckpt.state[:, 0, :] if saved_state and ckpt.state is not None else None
    params = {k: device.to_device(v) for k, v in ckpt.params.items()}
    yield vocab.decode(shown)
    chars = vocab.chars
    for idx in sampling.generate(ckpt.spec, params, seed_ids, n, rng, state, temperature,
                                 top_k, top_p):
        yield chars[idx]

