"""Labelled data: every format, header detection, stdin, and every bad input as one error
naming the file and line (through the library; the command line maps these errors)."""
import io
import json

import pytest

from rnngen import labelled
from rnngen.errors import CorpusError
from rnngen.labelled import Limits, read_labelled


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_tsv_without_header_text_then_label(tmp_path):
    path = write(tmp_path, "d.tsv", "good film\tpos\nbad film\tneg\nfine, really\tpos\n")
    data = read_labelled(path)
    assert data.texts == ["good film", "bad film", "fine, really"]
    assert data.classes == ("neg", "pos")
    assert data.labels.tolist() == [1, 0, 1]
    assert data.lines.tolist() == [1, 2, 3]
    assert data.source == str(path) and data.files is None
    assert data.where(2) == f"{path}:3"
    assert data.counts().tolist() == [1, 2]


def test_header_detected_in_any_column_order_with_extra_columns(tmp_path):
    path = write(tmp_path, "d.csv", "id,Label,text\n1,pos,good\n2,neg,bad\n")
    data = read_labelled(path)
    assert data.texts == ["good", "bad"] and data.classes == ("neg", "pos")
    assert data.lines.tolist() == [2, 3]


def test_header_named_with_other_column_names(tmp_path):
    path = write(tmp_path, "d.csv", "review,sentiment\ngood,pos\nbad,neg\n")
    data = read_labelled(path, header=True)
    assert data.texts == ["good", "bad"]
    data = read_labelled(path, text_column="review", label_column="sentiment")
    assert data.texts == ["good", "bad"]


def test_header_false_reads_row_one_as_data(tmp_path):
    path = write(tmp_path, "d.tsv", "text\tlabel\nx\tlabel\ny\tother\n")
    data = read_labelled(path, header=False)
    assert data.texts == ["text", "x", "y"]


def test_undeclared_header_with_other_names_is_an_error_not_a_class(tmp_path):
    path = write(tmp_path, "d.csv", "review,sentiment\ngood,pos\nbad,neg\nok,pos\nno,neg\n")
    with pytest.raises(CorpusError, match=r"d.csv line 1 looks like a header: its label "
                                          r"'sentiment' occurs nowhere else"):
        read_labelled(path)


def test_csv_quoting_commas_quotes_and_line_breaks(tmp_path):
    content = 'text,label\n"a, b",x\n"two\nlines",y\n"say ""hi""",x\n'
    data = read_labelled(write(tmp_path, "d.csv", content))
    assert data.texts == ["a, b", "two\nlines", 'say "hi"']
    assert data.lines.tolist() == [2, 3, 5]  # the row after a two-line field starts on 5


def test_crlf_and_bom_and_label_whitespace(tmp_path):
    data = read_labelled(write(tmp_path, "d.tsv", "\ufeffone\ta \r\ntwo\tb\r\n"))
    assert data.texts == ["one", "two"] and data.classes == ("a", "b")


def test_separator_sniffed_without_a_known_extension(tmp_path):
    assert read_labelled(write(tmp_path, "d.txt", "a,b c\tx\nd\ty\n")).texts == ["a,b c", "d"]
    assert read_labelled(write(tmp_path, "e.txt", "a b,x\nd,y\n")).texts == ["a b", "d"]


def test_jsonl_with_extra_keys_and_number_labels(tmp_path):
    lines = [{"text": "good", "label": 1, "id": 7}, {"label": 0, "text": "bad"},
             {"text": "héllo", "label": "1"}]
    path = write(tmp_path, "d.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    data = read_labelled(path)
    assert data.texts == ["good", "bad", "héllo"]
    assert data.classes == ("0", "1") and data.labels.tolist() == [1, 0, 1]


def test_folder_of_class_folders(tmp_path):
    root = tmp_path / "data"
    for label, texts in {"spam": ["buy now\n", "cheap"], "ham": ["hi mum\r\n"]}.items():
        (root / label / "sub").mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / label / ("sub" if i else "") / f"{i}.txt").write_text(text, newline="")
    (root / "ham" / ".DS_Store").write_bytes(b"\x00\x01")  # hidden: passed over
    data = read_labelled(root)
    assert data.classes == ("ham", "spam")
    assert data.texts == ["hi mum", "buy now", "cheap"]
    assert data.files[2].endswith("spam/sub/1.txt") and data.where(2).endswith("1.txt:1")


def test_stdin_tsv_and_jsonl_detected():
    data = read_labelled("-", stdin=io.BytesIO(b"a\tx\nb\ty\n"))
    assert data.texts == ["a", "b"] and data.source == "<stdin>"
    data = read_labelled("-", stdin=io.BytesIO(b'{"text": "a", "label": "x"}\n'
                                               b'{"text": "b", "label": "y"}\n'))
    assert data.classes == ("x", "y")


def test_subset_keeps_classes_and_origins(tmp_path):
    data = read_labelled(write(tmp_path, "d.tsv", "a\tx\nb\ty\nc\tx\n"))
    part = data.subset([2, 1])
    assert part.texts == ["c", "b"] and part.labels.tolist() == [0, 1]
    assert part.classes == data.classes and part.lines.tolist() == [3, 2]


def test_load_reads_a_path_and_stdin(tmp_path, monkeypatch):
    path = write(tmp_path, "d.tsv", "a\tx\nb\ty\n")
    assert labelled.load(str(path)).texts == ["a", "b"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"c\tx\nd\ty\n")))
    assert labelled.load("-").texts == ["c", "d"]


# every bad input: (file name, content, pattern the one-line message must match)
BAD = [
    ("empty.tsv", "", r"empty.tsv is empty"),
    ("blank.tsv", "  \n\n", r"blank.tsv is empty"),
    ("header.tsv", "text\tlabel\n", r"has no examples \(only a header\)"),
    ("one.tsv", "a\tx\nb\tx\n", r"single class \('x'\).*at least two"),
    ("ragged.tsv", "a\tx\nb\ty\nc\n", r"ragged.tsv line 3 has 1 field\(s\), expected 2"),
    ("wide.csv", "a,x\nhello, world,y\n", r"wide.csv line 2 has 3 field\(s\).*quote a text"),
    ("nolabel.csv", "text,sentiment,x\ngood,pos,1\n", r"line 1: the header has no 'label' column"),
    ("emptytext.tsv", "a\tx\n \ty\n", r"emptytext.tsv line 2: the text is empty"),
    ("emptylabel.tsv", "a\tx\nb\t \n", r"emptylabel.tsv line 2: the label is empty"),
    ("badbytes.tsv", b"a\tx\nb\xff\ty\n", r"not valid UTF-8 \(bad byte at offset 5, line 2\)"),
    ("nul.tsv", b"a\tx\n\x00\ty\n", r"binary file \(NUL byte at offset 4, line 2\)"),
    ("gap.tsv", "a\tx\n\nb\ty\n", r"gap.tsv line 2 is blank"),
    ("quote.csv", 'a,x\n"open,y\n', r"quote.csv line 2: CSV quoting error"),
    ("sep.txt", "no separator here\n", r"cannot tell the format"),
    ("array.txt", '[{"text": "a"}]\n', r"looks like a JSON array"),
    ("list.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n', r"line 2 is a JSON list, not an object"),
    ("nokey.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n', r"line 2 has no 'label' key"),
    ("notjson.jsonl", '{"text": "a", "label": "x"}\n{text: b}\n', r"line 2 is not valid JSON"),
    ("type.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": [1]}\n',
     r"line 2: 'label' is a JSON list, not a string"),
    ("deep.jsonl", '{"text": "a", "label": "x"}\n' + "[" * 100000 + "\n", r"line 2 is not valid JSON"),
    ("ctrl.csv", 'a,x\nb,"y\nz"\n', r"line 2: the label 'y\\nz' holds a control character"),
]


@pytest.mark.parametrize("name, content, message", BAD, ids=[b[0] for b in BAD])
def test_bad_labelled_data_is_one_line_naming_file_and_line(tmp_path, name, content, message):
    with pytest.raises(CorpusError, match=message) as e:
        read_labelled(write(tmp_path, name, content))
    assert "\n" not in str(e.value).replace("\\n", "")


def test_missing_path_and_wrong_format(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read_labelled(tmp_path / "nope.tsv")
    with pytest.raises(CorpusError, match="unknown labelled-data format 'xml'"):
        read_labelled(write(tmp_path, "d.tsv", "a\tx\n"), format="xml")
    with pytest.raises(CorpusError, match="is a folder, not a tsv file"):
        read_labelled(tmp_path, format="tsv")


@pytest.mark.parametrize("limits, message", [
    (Limits(max_bytes=10), r"larger than 10 bytes \(17 bytes\); raise data.max_bytes"),
    (Limits(max_rows=2), r"more than 2 examples; raise data.max_rows"),
    (Limits(max_text_chars=3), r"d.tsv line 3: the text has 4 characters, more than 3; "
                               r"shorten it or raise data.max_text_chars"),
])
def test_bounds_name_the_setting_that_raises_them(tmp_path, limits, message):
    path = write(tmp_path, "d.tsv", "ab\tx\ncd\ty\ncccc\tx\n")
    read_labelled(path)  # within the default bounds
    with pytest.raises(CorpusError, match=message):
        read_labelled(path, limits=limits)


def test_stdin_is_read_at_most_one_byte_past_the_bound():
    stream = io.BytesIO(b"a\tx\n" * 1000)
    with pytest.raises(CorpusError, match=r"<stdin> is larger than 100 bytes \(a stream"):
        read_labelled("-", stdin=stream, limits=Limits(max_bytes=100))
    assert stream.tell() == 101


def test_file_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "huge.tsv"
    with open(path, "wb") as f:
        f.truncate(5000)  # sparse: the size is in the metadata, the bytes were never written
    with pytest.raises(CorpusError, match=r"larger than 1,000 bytes \(5,000 bytes\)"):
        read_labelled(path, limits=Limits(max_bytes=1000))


@pytest.mark.parametrize("layout, message", [
    ({"README.txt": "x"}, r"README.txt is not inside a class folder"),
    ({"a/1.txt": "x", "a/notes.md": "y", "b/1.txt": "z"}, r"notes.md is not a .txt file"),
    ({"a/1.txt": "x", "b/": None}, r"class folder .*b has no .txt files"),
    ({}, r"has no class folders"),
    ({"a/1.txt": "x", "a/2.txt": "y"}, r"single class \('a'\)"),
    ({"a/1.txt": "x", "b/1.txt": "\n"}, r"b/1.txt line 1: the text is empty"),
    ({"a/1.txt": "x", "b/1.txt": b"\xc3("}, r"b/1.txt is not valid UTF-8 \(bad byte at offset 0"),
])
def test_bad_folders(tmp_path, layout, message):
    root = tmp_path / "data"
    root.mkdir()
    for name, content in layout.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(CorpusError, match=message):
        read_labelled(root)


def test_folder_bounds(tmp_path):
    root = tmp_path / "data"
    for label in "ab":
        (root / label).mkdir(parents=True)
        for i in range(3):
            (root / label / f"{i}.txt").write_text("hello" * 2)
    with pytest.raises(CorpusError, match=r"more than 4 example files; raise data.max_rows"):
        read_labelled(root, limits=Limits(max_rows=4))
    with pytest.raises(CorpusError, match=r"larger than 20 bytes .*raise data.max_bytes"):
        read_labelled(root, limits=Limits(max_bytes=20))
    # the file's bytes show it too long before it is decoded: at most 4 bytes a character
    with pytest.raises(CorpusError, match=r"a/0.txt: the text is longer than 1 characters"):
        read_labelled(root, limits=Limits(max_text_chars=1))
    with pytest.raises(CorpusError, match=r"a/0.txt line 1: the text has 10 characters, more "
                                          r"than 9; shorten it or raise data.max_text_chars"):
        read_labelled(root, limits=Limits(max_text_chars=9))
