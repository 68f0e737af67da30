"""The named data set 'surnames', built from faker's name lists into the corpus cache.

The build test needs the optional faker (pip install 'rnngen-text[names]') and skips
without it; the rest fake the build and run anywhere."""
import hashlib
import importlib.abc
import os
import sys

import pytest

from rnngen import labelled
from rnngen.errors import CorpusError
from rnngen.labelled import names

COUNTS = {"Dutch": 1024, "English": 790, "Finnish": 397, "French": 323, "German": 362,
          "Italian": 1150, "Polish": 3838, "Spanish": 936}


def test_names_in_two_languages_are_dropped_from_both():
    kept, dropped = names.unambiguous({
        "German": ["Bauer", "Müller", "Schmidt", "Müller"],
        "English": ["bauer", "Smith", " Jones "],
        "Dutch": ["de Vries", "De Vries", "Bauer"],
    })
    assert kept == {"Dutch": ["De Vries"], "English": ["Jones", "Smith"],
                    "German": ["Müller", "Schmidt"]}
    assert dropped == 1  # Bauer, in three languages; de/De Vries is one Dutch name


def test_unicode_forms_are_one_name():
    kept, dropped = names.unambiguous({"a": ["Mu\u0308ller"], "b": ["M\u00fcller"]})
    assert kept == {} and dropped == 1


def test_build_from_the_installed_faker_matches_the_recorded_digest(monkeypatch, tmp_path):
    pytest.importorskip("faker", reason="faker is the optional 'names' extra")
    data, info = names.build()
    assert hashlib.sha256(data).hexdigest() in names.DIGESTS
    assert info["counts"] == COUNTS and info["dropped"] == 273
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    got = labelled.load("surnames")
    assert dict(zip(got.classes, got.counts().tolist())) == COUNTS
    assert got.source == str(tmp_path / "surnames.tsv")


def _fake_build(monkeypatch, data=b"text\tlabel\nSmith\tEnglish\nKowalski\tPolish\n"):
    """Make build() return data, recorded as good, and count the calls."""
    calls = []
    monkeypatch.setitem(names.DIGESTS, hashlib.sha256(data).hexdigest(), "a test build")
    monkeypatch.setattr(names, "build", lambda: calls.append(1) or (data, {}))
    return calls


def test_resolve_builds_once_then_reads_the_verified_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path / "cache"))
    calls = _fake_build(monkeypatch)
    path = names.resolve()
    assert path == tmp_path / "cache" / "surnames.tsv" and calls == [1]
    assert names.resolve() == path and calls == [1]  # from the cache: no faker needed
    assert labelled.load("surnames").classes == ("English", "Polish")


@pytest.mark.parametrize("entry, says", [
    ("partial", r"does not match the built surnames \(sha256 differs\)"),
    ("folder", r"is a directory, not the surnames text"),
    ("fifo", r"is not a regular file \(a FIFO, socket or device\)"),
    ("dangling link", r"is a symbolic link to .*nowhere.tsv, which does not exist"),
])
def test_a_cache_entry_that_is_not_the_data_set_is_refused(monkeypatch, tmp_path, entry, says):
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    calls = _fake_build(monkeypatch)
    target = tmp_path / "surnames.tsv"
    if entry == "folder":
        target.mkdir()
    elif entry == "fifo":
        os.mkfifo(target)
    elif entry == "dangling link":
        target.symlink_to(tmp_path / "nowhere.tsv")
    else:
        target.write_bytes(b"text\tlabel\nSmi")
    with pytest.raises(CorpusError, match=rf"surnames.tsv {says}.*; delete it so rnngen can "
                                          r"build surnames again"):
        names.resolve()
    assert calls == []  # nothing built, nothing written over what is there
    assert os.path.lexists(target)


def test_a_corpora_folder_that_is_a_file_is_one_line(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path / "file"))
    calls = _fake_build(monkeypatch)
    with pytest.raises(CorpusError, match=r"\$RNNGEN_CORPORA .* is not a folder"):
        names.resolve()
    assert calls == []


def test_a_corpora_path_through_a_file_is_one_line(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path / "file" / "corpora"))
    calls = _fake_build(monkeypatch)
    with pytest.raises(CorpusError, match=r"cannot be used: Not a directory; point it at a "
                                          r"folder$"):
        names.resolve()
    assert calls == []


def test_an_unwritable_cache_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    _fake_build(monkeypatch)

    def refused(path, write):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(names.atomic, "write", refused)
    with pytest.raises(CorpusError, match=r"cannot save surnames in .*: Permission denied; "
                                          r"set RNNGEN_CORPORA to a writable folder$"):
        names.resolve()


def test_missing_faker_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faker", None)  # import faker now fails
    with pytest.raises(CorpusError, match=r"built from the faker package, which is not "
                                          r"installed; pip install 'rnngen-text\[names\]'$"):
        names.build()


class _BrokenFaker(importlib.abc.MetaPathFinder):
    """An installed faker whose import fails with something other than ImportError."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "faker":
            raise RuntimeError("broken install")


def test_a_faker_that_fails_to_import_in_another_way_is_one_line(monkeypatch):
    for name in [n for n in sys.modules if n.split(".")[0] == "faker"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_BrokenFaker(), *sys.meta_path])
    with pytest.raises(CorpusError, match=r"faker package, which could not be read "
                                          r"\(RuntimeError: broken install\); pip install"):
        names.build()


def test_lists_that_differ_from_the_recorded_ones_are_refused(monkeypatch):
    monkeypatch.setattr(names, "_faker_lists",
                        lambda: ({"English": ["Smith"], "Polish": ["Nowak"]}, "99.0.0"))
    with pytest.raises(CorpusError, match=r"the surname lists in faker 99.0.0 differ from the "
                                          r"ones the surnames data set records .*install a "
                                          r"faker it knows: pip install 'rnngen-text\[names\]'"):
        names.build()
