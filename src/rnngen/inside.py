"""Looking inside a model: what every hidden unit does over a passage, what the model
predicts after each character, and which units track simple features of the text.

The numbers come from one pass of the engine (``model.forward``: the predictions, and
the activations from its cache) from a zero state; the report page and
the terminal view only show them.
"""
from dataclasses import dataclass

import numpy as np

from . import evaluation
from .corpus import Vocabulary
from .engine import layers, model
from .errors import CorpusError, OptionError

PASSAGE_CHARS = 2000  # characters shown; 2,000 x 1,536 units is 3 MB as int8
TOP_K = 5  # next-character predictions kept per position
RANKED_UNITS = 24  # units listed as the most interpretable


@dataclass
class Inside:
    text: str  # the passage, T characters
    source: str  # where it came from, for the page
    acts: np.ndarray  # (T, L, H) each layer's output after reading each character
    top_ids: np.ndarray  # (T, K) the likeliest next characters after each, best first
    top_probs: np.ndarray  # (T, K) their probabilities
    loss: np.ndarray  # (T,) nats of predicting character t from those before; nan at 0
    ranked: list  # Ranked units, best first
    best_by_feature: list  # (feature, Ranked) for each feature with any variation

    @property
    def num_layers(self):
        return self.acts.shape[1]

    @property
    def hidden_size(self):
        return self.acts.shape[2]

    def best_unit(self):
        """(layer, index) of the unit that tracks a feature best (0, 0 when none does)."""
        return (self.ranked[0].layer, self.ranked[0].unit) if self.ranked else (0, 0)

    def shown_unit(self, unit=None):
        """The unit to show first: ``unit`` (checked), or the best one when None."""
        return self.best_unit() if unit is None else self.check_unit(unit)

    def check_unit(self, unit):
        """OptionError unless unit (layer, index) is one of this model's; returns it."""
        layer, index = unit
        L, H = self.num_layers, self.hidden_size
        if not (0 <= layer < L and 0 <= index < H):
            raise OptionError(f"unit {layer}:{index} is out of range: this model has layers "
                              f"0 to {L - 1} and units 0 to {H - 1} in each; pass --unit "
                              "LAYER:UNIT within them")
        return layer, index


@dataclass
class Ranked:
    layer: int
    unit: int
    feature: str  # the feature its activation tracks best
    r: float  # the correlation (signed) with that feature


def validation_passage(ckpt):
    """(text, source): the start of the validation split of the checkpoint's corpus,
    read only if it is provably the text training read (as eval reads it)."""
    corpus, val_ids = evaluation.recorded_validation(
        ckpt, ask="pass --corpus PATH (or - for stdin) with a passage to show")
    return opening(corpus, val_ids, ckpt.corpus.name)


def opening(text, val_ids, name):
    """(passage, source): the start of a corpus's validation ids (see choose_passage);
    name is the corpus as the config named it."""
    return (choose_passage(text.vocab.decode(val_ids[:PASSAGE_CHARS + 600])),
            f"the start of the validation split of {name}")


def choose_passage(text):
    """About PASSAGE_CHARS characters of text, starting after its first blank line (a
    new speech, in a play) when one comes early, so the model starts from a zero
    state at a natural place."""
    for mark in ("\n\n", "\n"):
        at = text.find(mark, 0, 600)
        if at >= 0 and len(text) - (at + len(mark)) >= 2:
            text = text[at + len(mark):]
            break
    return text[:PASSAGE_CHARS]


def look_inside(spec, params, vocab_chars, text, source="text"):
    """Run the model over text (its first PASSAGE_CHARS characters) -> Inside.

    VocabularyError names characters the model never saw.
    """
    text = text[:PASSAGE_CHARS]
    if len(text) < 2:
        raise CorpusError(f"{source} has fewer than 2 characters; give a longer passage")
    ids = Vocabulary(vocab_chars).encode(text, what=source).astype(np.intp)
    inputs = ids[:, None]  # (T, 1): one stream
    s0 = model.zero_state(spec, 1, params["Whh0"].dtype)
    logits, _, cache = model.forward(spec, params, inputs, s0)
    outs = model.cached_outputs(cache)
    acts = np.stack([h[:, 0, :] for h in outs], axis=1)  # (T, L, H)
    logp = layers.log_probs(logits[:, 0, :].astype(np.float64))  # (T, V)
    top_ids = np.argsort(-logp, axis=1, kind="stable")[:, :TOP_K]
    top_probs = np.exp(np.take_along_axis(logp, top_ids, axis=1))
    loss = np.full(len(ids), np.nan)
    loss[1:] = -logp[np.arange(len(ids) - 1), ids[1:]]
    feats = text_features(text)
    ranked, best = rank_units(acts, feats)
    return Inside(text, source, acts, top_ids, top_probs, loss, ranked, best)


# -- features of the text -------------------------------------------------------------

FEATURES = {
    "position in line": "characters read since the last newline (0 on the newline)",
    "position in word": "letters since the word began (0 outside words)",
    "inside quotes": 'between an opening and a closing "',
    "inside brackets": "inside ( ), [ ] or { }",
    "start of word": "a letter after a non-letter",
    "inside a word": "a letter",
    "first line of a speech": "the line after a line ending in ':' (in a play)",
    "speaker's name": "a line ending in ':' (in a play, who speaks next)",
    "vowel": "a, e, i, o, u",
    "uppercase": "a capital letter",
    "space": "a space",
    "end of line": "a newline",
    "punctuation": "one of . , ; : ! ? ' -",
}


def text_features(text):
    """Feature name -> (T,) values for each character of text, as the model has just
    read it (so each is known, or guessable, at that point)."""
    T = len(text)
    f = {name: np.zeros(T) for name in FEATURES}
    column, word, quoted, depth = 0, 0, False, 0
    lines = text.split("\n")
    ends_colon = [line.rstrip().endswith(":") for line in lines]
    t = 0
    for n, line in enumerate(lines):
        first_of_speech = n > 0 and ends_colon[n - 1]
        for c in line + ("\n" if n < len(lines) - 1 else ""):
            letter = c.isalpha()
            word = word + 1 if letter else 0
            if c == '"':
                quoted = not quoted
            depth = max(0, depth + (c in "([{") - (c in ")]}"))
            column = 0 if c == "\n" else column + 1
            f["position in line"][t] = column
            f["position in word"][t] = word
            f["inside quotes"][t] = quoted
            f["inside brackets"][t] = depth > 0
            f["start of word"][t] = word == 1
            f["inside a word"][t] = letter
            f["first line of a speech"][t] = first_of_speech
            f["speaker's name"][t] = ends_colon[n]
            f["vowel"][t] = c in "aeiouAEIOU"
            f["uppercase"][t] = c.isupper()
            f["space"][t] = c == " "
            f["end of line"][t] = c == "\n"
            f["punctuation"][t] = c in ".,;:!?'-"
            t += 1
    return f


def correlations(acts, feats):
    """acts (T, U), feats (T, F) -> (U, F) Pearson correlations; 0 where either is
    constant over the passage (nothing to track)."""
    def standard(x):
        x = x - x.mean(axis=0)
        sd = np.sqrt((x * x).mean(axis=0))
        return np.divide(x, sd, out=np.zeros_like(x), where=sd > 1e-12)

    return standard(acts).T @ standard(feats) / len(acts)


def rank_units(acts, feats, top=RANKED_UNITS):
    """acts (T, L, H), feats {name: (T,)} -> (the ``top`` units by their largest
    |correlation| with any feature, [(feature, its best unit)] for each feature)."""
    T, L, H = acts.shape
    names = list(feats)
    r = correlations(acts.reshape(T, L * H).astype(np.float64),
                     np.stack([feats[n] for n in names], axis=1))  # (L*H, F)
    best_feature = np.abs(r).argmax(axis=1)
    best_r = r[np.arange(L * H), best_feature]
    order = np.argsort(-np.abs(best_r), kind="stable")[:top]
    ranked = [Ranked(int(i) // H, int(i) % H, names[best_feature[i]], float(best_r[i]))
              for i in order if best_r[i] != 0]
    by_feature = []
    for j, name in enumerate(names):
        i = int(np.abs(r[:, j]).argmax())
        if r[i, j] != 0:
            by_feature.append((name, Ranked(i // H, i % H, name, float(r[i, j]))))
    by_feature.sort(key=lambda item: -abs(item[1].r))
    return ranked, by_feature
