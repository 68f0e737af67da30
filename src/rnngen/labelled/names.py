"""The named data set 'surnames': surname -> language, built from the faker package.

faker (MIT-licensed) ships per-locale lists of surnames. rnngen keeps no copy of
them: the data set is built from the installed faker into the corpus cache as a TSV
(text<TAB>label, a header row, sorted by label then name), and the bytes are checked
against the sha256 recorded below, so every user trains on the same data. A name
found in more than one language (Bauer is German and English here, Costa Italian
and Spanish) is dropped from all of them: its label would be a coin toss.

faker is an optional extra (pip install 'rnngen-text[names]'); a cached, verified
copy needs no faker.
"""
import csv
import hashlib
import importlib
import io
import unicodedata
from collections import defaultdict

from .. import atomic
from ..corpus import cached, check_folder
from ..errors import CorpusError
from ..resources import corpora_dir

NAME = "surnames"
INSTALL = "pip install 'rnngen-text[names]'"  # the extra pins the faker versions below

# locale -> (label, the Person provider's attributes holding its surnames); pl_PL's
# last_names is a one-name placeholder, its real lists are these two
LOCALES = {
    "en_US": ("English", ("last_names",)),
    "de_DE": ("German", ("last_names",)),
    "fr_FR": ("French", ("last_names",)),
    "it_IT": ("Italian", ("last_names",)),
    "es_ES": ("Spanish", ("last_names",)),
    "nl_NL": ("Dutch", ("last_names",)),
    "fi_FI": ("Finnish", ("last_names",)),
    "pl_PL": ("Polish", ("unisex_last_names", "male_last_names")),
}

# sha256 of the built TSV -> the faker releases checked to give exactly these bytes
DIGESTS = {
    "da8e82508c37388986bdd091ccf519e2aab29b1992df58a5754158acd8acbde2":
        "faker 37.0.0, 39.0.0, 40.0.0, 40.30.0, 40.54.0 and 40.63.0",
}


def path():
    """Where the data set is kept: the corpus cache's surnames.tsv."""
    return corpora_dir() / f"{NAME}.tsv"


def resolve():
    """The local path of the data set: the cached copy, checked, or a fresh build."""
    folder = corpora_dir()
    check_folder(folder)
    target = path()
    again = (f"delete it so rnngen can build {NAME} again (or set RNNGEN_CORPORA to another "
             "folder)")
    if cached(target, DIGESTS, None, NAME, made="built", again=again):
        return target
    data, _ = build()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write(target, lambda f: f.write(data))
    except OSError as e:
        raise CorpusError(f"cannot save {NAME} in {target.parent}: {e.strerror or e}; set "
                          "RNNGEN_CORPORA to a writable folder") from None
    return target


def _faker_lists():
    """({label: [surname, ...]}, faker's version) from the installed faker."""
    try:
        import faker
        lists = defaultdict(list)
        for locale, (label, attributes) in LOCALES.items():
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
            for attribute in attributes:
                lists[label].extend(getattr(provider, attribute))  # a dict's keys if weighted
        version = faker.VERSION
    except Exception as e:  # any failure of an optional package is one line
        missing = isinstance(e, ImportError) and getattr(e, "name", "") == "faker"
        why = "is not installed" if missing else f"could not be read ({type(e).__name__}: {e})"
        raise CorpusError(f"the {NAME} data set is built from the faker package, which {why}; "
                          f"{INSTALL}") from None
    return lists, version


def unambiguous(lists):
    """({label: sorted names}, dropped): each name once, NFC-normalised; a name whose
    case-folded form is in two or more labels is dropped from all of them."""
    labels_of = defaultdict(set)
    spelling = {}  # case-folded -> (label -> its first spelling in sorted order)
    for label, names in lists.items():
        for name in sorted(unicodedata.normalize("NFC", str(n).strip()) for n in names):
            if not name or "\t" in name or "\n" in name:
                continue  # nothing faker ships; a guard that keeps the TSV well formed
            key = name.casefold()
            labels_of[key].add(label)
            spelling.setdefault((key, label), name)
    kept = defaultdict(list)
    for (key, label), name in spelling.items():
        if len(labels_of[key]) == 1:
            kept[label].append(name)
    dropped = sum(1 for labels in labels_of.values() if len(labels) > 1)
    return {label: sorted(kept[label]) for label in sorted(kept)}, dropped


def build():
    """(the TSV's bytes, {'counts': {label: n}, 'dropped': n, 'faker': version}) from the
    installed faker; CorpusError unless the bytes match a recorded digest."""
    lists, version = _faker_lists()
    kept, dropped = unambiguous(lists)
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(["text", "label"])
    for label, names in kept.items():
        writer.writerows([name, label] for name in names)
    data = out.getvalue().encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    if sha not in DIGESTS:
        known = "; ".join(DIGESTS.values())
        raise CorpusError(f"the surname lists in faker {version} differ from the ones the "
                          f"{NAME} data set records (sha256 {sha[:12]}...; known: {known}); "
                          f"install a faker it knows: {INSTALL}")
    info = {"counts": {label: len(names) for label, names in kept.items()},
            "dropped": dropped, "faker": version}
    return data, info
