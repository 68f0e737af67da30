"""Reading labelled text: TSV or CSV, JSON Lines, a folder of class folders, stdin.

Every form becomes one Labelled: the N texts, each one's class as an index into the
sorted class names, and where each example came from, so that a message (or the
report's list of mistakes) can name the file and line. A bad row is an error that
names the file, the line and what to do; nothing is skipped silently.

Sizes are checked before anything is allocated for them: the file's size from its
metadata (a stream is read at most one byte past the bound), the rows as they are
counted, each text's length before it is kept. Each bound names the setting that
raises it (``Limits.SETTING``).
"""
import codecs
import csv
import io
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..console import standard_input
from ..errors import CorpusError

FORMATS = ("tsv", "csv", "jsonl", "folder")
EXTENSIONS = {".tsv": "tsv", ".tab": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
STDIN = "-"


@dataclass(frozen=True)
class Limits:
    """Bounds on what one read may allocate; each is raised by the setting named in
    SETTING (the config key the message tells the user to raise)."""

    max_bytes: int = 512 << 20  # the file (or all of a folder's files) in bytes
    max_rows: int = 2_000_000  # examples in one file or folder
    max_text_chars: int = 20_000  # characters in one text (a long review is ~14,000)

    SETTING = {"max_bytes": "data.max_bytes", "max_rows": "data.max_rows",
               "max_text_chars": "data.max_text_chars"}


@dataclass
class Labelled:
    """N labelled texts.

    texts: N strings. labels: (N,) int, each an index into classes. classes: the K
    class names, sorted. source: the file, folder or '<stdin>' read. lines: (N,) the
    line each example starts on (1 for a folder's files). files: for a folder, the
    file of each example; None for the single-file forms.
    """

    texts: list
    labels: np.ndarray
    classes: tuple
    source: str
    lines: np.ndarray
    files: list = field(default=None)

    def __len__(self):
        return len(self.texts)

    def where(self, i):
        """'file:line' of example i, for messages."""
        return f"{self.files[i] if self.files is not None else self.source}:{self.lines[i]}"

    def subset(self, index):
        """The examples at index (an int array), with the same classes."""
        index = np.asarray(index, dtype=np.intp)
        return Labelled([self.texts[i] for i in index], self.labels[index], self.classes,
                        self.source, self.lines[index],
                        None if self.files is None else [self.files[i] for i in index])

    def counts(self):
        """(K,) examples per class."""
        return np.bincount(self.labels, minlength=len(self.classes))


def read_labelled(path, *, format=None, header=None, text_column="text", label_column="label",
                  limits=Limits(), stdin=None):
    """Read labelled data from a file, a folder of class folders, or '-' (stdin).

    format: one of FORMATS, or None to tell it from the extension (.tsv, .csv, .jsonl)
    or, failing that, from the content (a line starting with '{' is JSON Lines; a tab
    in the first line is TSV, a comma CSV). header: True, False or None (detected: a
    first row holding both column names is a header). text_column, label_column: the
    header's (or the JSON objects') names for the two fields; without a header the
    text comes first and the label second. stdin: the binary stream '-' reads
    (default sys.stdin.buffer). Raises CorpusError naming the file and line.
    """
    if format is not None and format not in FORMATS:
        raise CorpusError(f"unknown labelled-data format {format!r}; use one of {', '.join(FORMATS)}")
    names = (text_column, label_column)
    if str(path) == STDIN:
        stream = stdin if stdin is not None else standard_input("the labelled data (-)",
                                                                binary=True)
        data = _read_bounded(stream, "<stdin>", None, limits)
        return _parse(data, "<stdin>", format, header, names, limits)
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"labelled data {path} does not exist; name a .tsv, .csv or .jsonl "
                          "file, a folder of class folders, or - for stdin")
    if path.is_dir():
        if format not in (None, "folder"):
            raise CorpusError(f"{path} is a folder, not a {format} file; name the file instead")
        return _read_folder(path, limits)
    if format == "folder":
        raise CorpusError(f"{path} is not a folder; a folder holds one subfolder of .txt "
                          "files per class")
    try:
        with open(path, "rb") as f:
            data = _read_bounded(f, str(path), os.fstat(f.fileno()), limits)
    except OSError as e:
        raise CorpusError(f"cannot read labelled data {path}: {e.strerror or e}") from None
    return _parse(data, str(path), format or EXTENSIONS.get(path.suffix.lower()), header,
                  names, limits)


def _too_big(what, limits, got):
    return CorpusError(f"{what} is larger than {limits.max_bytes:,} bytes ({got}); raise "
                       f"{Limits.SETTING['max_bytes']} to read it")


def _read_bounded(f, source, info, limits):
    """All bytes of an open binary file; the size is checked before it is read (a
    regular file) or while reading (a pipe: at most max_bytes + 1 bytes are read)."""
    bound = limits.max_bytes
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size > bound:
        raise _too_big(source, limits, f"{info.st_size:,} bytes")
    data = f.read(bound + 1)
    if len(data) > bound:
        raise _too_big(source, limits, "a stream, stopped past the bound")
    return data


def _line_at(data, offset):
    return data.count(b"\n", 0, offset) + 1


def _decode(data, source):
    """UTF-8 bytes -> text (a leading BOM dropped); CorpusError naming offset and line."""
    if b"\x00" in data:
        at = data.index(b"\x00")
        raise CorpusError(f"{source} looks like a binary file (NUL byte at offset {at}, "
                          f"line {_line_at(data, at)}); give UTF-8 text")
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = bom + e.start
        raise CorpusError(f"{source} is not valid UTF-8 (bad byte at offset {at}, line "
                          f"{_line_at(data, at)}); convert it to UTF-8, e.g. with iconv") from None


def _parse(data, source, format, header, names, limits):
    text = _decode(data, source)
    if not text.strip():
        raise CorpusError(f"labelled data {source} is empty; give one text and its label a line")
    format = format or _sniff(text, source)
    if format == "jsonl":
        return _collect(_jsonl_rows(text, source, names), source, limits)
    data = _collect(_delimited_rows(text, source, "\t" if format == "tsv" else ",", header,
                                    names), source, limits)
    first, counts = data.labels[0], data.counts()
    if header is None and data.lines[0] == 1 and counts[first] == 1 and \
            (np.delete(counts, first) > 1).all():
        # a header with other names than text/label would become a class of one
        raise CorpusError(
            f"{source} line 1 looks like a header: its label {data.classes[first]!r} occurs "
            f"nowhere else; name its columns {names[0]!r} and {names[1]!r} (or, if it is an "
            "example, add more of its class)")
    return data


def _sniff(text, source):
    first = next(line for line in text.splitlines() if line.strip())
    if first.lstrip().startswith("{"):
        return "jsonl"
    if first.lstrip().startswith("["):
        raise CorpusError(f"{source} looks like a JSON array; write JSON Lines instead: one "
                          "object with 'text' and 'label' a line")
    if "\t" in first:
        return "tsv"
    if "," in first:
        return "csv"
    raise CorpusError(f"{source}: cannot tell the format (line 1 has no tab or comma and is "
                      "not a JSON object); write text<TAB>label lines, or name it .tsv, .csv "
                      "or .jsonl")


def _delimited_rows(text, source, sep, header, names):
    """Yield (line, text, label) from TSV/CSV text (quoting as the csv module reads it)."""
    kind = "TSV" if sep == "\t" else "CSV"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    columns, width, end = (0, 1), 2, 0
    while True:
        line = end + 1  # a quoted field may span lines: a row starts after the last one
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            if "field larger" in str(e):
                raise CorpusError(
                    f"{source} line {line}: a field is longer than {csv.field_size_limit():,} "
                    f"characters, the most the csv reader takes; shorten it or use JSON Lines"
                    ) from None
            raise CorpusError(f"{source} line {line}: {kind} quoting error ({e}); "
                              'close the quote, or double a literal " inside a quoted field'
                              ) from None
        end = reader.line_num
        if not row or row == [""]:
            raise CorpusError(f"{source} line {line} is blank; remove blank lines")
        if line == 1 and header is not False:
            found = _header(row, names, header, source)
            if found is not None:
                columns, width = found, len(row)
                continue
        if len(row) != width:
            what = f"the header's {width}" if width != 2 or columns != (0, 1) else \
                "2 (text, then label)"
            raise CorpusError(
                f"{source} line {line} has {len(row)} field(s), expected {what}; quote a text "
                f"that holds the separator ({'tab' if sep == chr(9) else 'comma'}), and give "
                "every row its label")
        yield line, row[columns[0]], row[columns[1]]


def _header(row, names, header, source):
    """The (text, label) column indices if row is a header, else None."""
    cells = [c.strip().casefold() for c in row]
    wanted = [n.casefold() for n in names]
    found = [cells.index(n) if n in cells else None for n in wanted]
    if None not in found:
        return tuple(found)
    if header is None and found == [None, None]:
        return None  # no header: row 1 is data
    if header and found == [None, None] and len(row) == 2:
        return (0, 1)  # a named header with other names: text, then label
    missing = [n for n, i in zip(names, found) if i is None]
    raise CorpusError(f"{source} line 1: the header has no {missing[0]!r} column (it has "
                      f"{', '.join(repr(c) for c in row)}); name the columns "
                      f"{names[0]!r} and {names[1]!r}")


def _jsonl_rows(text, source, names):
    """Yield (line, text, label) from JSON Lines (one object a line)."""
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            raise CorpusError(f"{source} line {n} is blank; remove blank lines")
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError) as e:
            reason = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            raise CorpusError(f"{source} line {n} is not valid JSON ({reason}); write one "
                              f"object a line, e.g. {{\"{names[0]}\": \"...\", "
                              f"\"{names[1]}\": \"...\"}}") from None
        if not isinstance(obj, dict):
            raise CorpusError(f"{source} line {n} is a JSON {type(obj).__name__}, not an "
                              f"object; write {{\"{names[0]}\": ..., \"{names[1]}\": ...}}")
        values = []
        for key in names:
            if key not in obj:
                raise CorpusError(f"{source} line {n} has no {key!r} key; give every object "
                                  f"{names[0]!r} and {names[1]!r}")
            value = obj[key]
            if key == names[1] and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # class numbers (0, 1) are common: kept as names
            if not isinstance(value, str):
                raise CorpusError(f"{source} line {n}: {key!r} is a JSON "
                                  f"{type(value).__name__}, not a string; quote it")
            values.append(value)
        yield n, values[0], values[1]


def _collect(rows, source, limits, files=None):
    """Labelled from (line, text, label) rows, bounded; files: a folder's file per row."""
    texts, names, lines = [], [], []
    for line, text, label in rows:
        where = f"{files[len(texts)] if files else source} line {line}"
        if len(texts) >= limits.max_rows:
            raise CorpusError(f"{source} has more than {limits.max_rows:,} examples; raise "
                              f"{Limits.SETTING['max_rows']} to read them all")
        if len(text) > limits.max_text_chars:
            raise CorpusError(f"{where}: the text has {len(text):,} characters, more than "
                              f"{limits.max_text_chars:,}; shorten it or raise "
                              f"{Limits.SETTING['max_text_chars']}")
        if not text.strip():
            raise CorpusError(f"{where}: the text is empty; give every example some text")
        label = label.strip()
        if not label:
            raise CorpusError(f"{where}: the label is empty; give every example its class")
        if not label.isprintable():
            raise CorpusError(f"{where}: the label {label!r} holds a control character (a "
                              "line break or tab); a class name is one line of text")
        texts.append(text)
        names.append(label)
        lines.append(line)
    if not texts:
        raise CorpusError(f"labelled data {source} has no examples (only a header); add rows")
    classes, labels = np.unique(np.array(names, dtype=object), return_inverse=True)
    if len(classes) < 2:
        raise CorpusError(f"{source} has a single class ({classes[0]!r}); a classifier needs "
                          "examples of at least two classes")
    return Labelled(texts, labels.astype(np.intp).reshape(-1), tuple(classes.tolist()), source,
                    np.array(lines, dtype=np.int64), files)


def _read_folder(root, limits):
    """Keras' text_dataset_from_directory layout: root/CLASS/**/*.txt, one example a
    file (its text less one trailing newline). Hidden names are passed over; any other
    file that is not .txt is an error, as is a .txt file outside a class folder."""
    classes, files, total = [], [], 0
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            raise CorpusError(f"{entry} is not inside a class folder; in a labelled folder "
                              "every example is CLASS/NAME.txt: move it into one, or out")
        classes.append(entry.name)
        found = 0
        for folder, dirs, names in os.walk(entry):  # links to folders are not followed
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(n for n in names if not n.startswith(".")):
                path = Path(folder) / name
                if path.suffix.lower() != ".txt":
                    raise CorpusError(f"{path} is not a .txt file; a class folder holds one "
                                      "example per .txt file: rename it or move it out")
                if len(files) >= limits.max_rows:
                    raise CorpusError(f"{root} has more than {limits.max_rows:,} example files; "
                                      f"raise {Limits.SETTING['max_rows']} to read them all")
                try:
                    size = path.stat().st_size
                except OSError as e:
                    raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None
                total += size
                if total > limits.max_bytes:
                    raise _too_big(str(root), limits, "its .txt files together")
                files.append((path, entry.name))
                found += 1
        if not found:
            raise CorpusError(f"class folder {entry} has no .txt files; add examples or "
                              "remove the folder")
    if not classes:
        raise CorpusError(f"labelled folder {root} has no class folders; make one subfolder "
                          "of .txt files per class")
    rows = ((1, _read_example(path, limits), label) for path, label in files)
    return _collect(rows, str(root), limits, [str(p) for p, _ in files])


def _read_example(path, limits):
    # 4 bytes a character at most: a longer file is over the text bound before decoding
    bound = 4 * limits.max_text_chars + 2
    try:
        with open(path, "rb") as f:
            data = f.read(bound + 1)
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > bound:
        raise CorpusError(f"{path}: the text is longer than {limits.max_text_chars:,} "
                          f"characters; shorten it or raise {Limits.SETTING['max_text_chars']}")
    text = _decode(data, str(path))
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
