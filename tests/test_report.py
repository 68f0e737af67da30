"""rnngen report: the page's numbers are the engine's, its curves the history, the
feature ranking finds a planted unit, bad input gets a one-line error, and the page
works in a real browser (headless Chromium, skipped where none is installed)."""
import base64
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_text, write_config
from rnngen import checkpoint, inside, report
from rnngen.cli import main
from rnngen.corpus import Vocabulary
from rnngen.engine import model
from rnngen.engine.cells import CELLS
from rnngen.engine.sampling import Stepper
from rnngen.engine.spec import ModelSpec


@pytest.fixture
def runner():
    return CliRunner()


def hand_built(path, text, cell="rnn", hidden=6, layers=2, seed=0, spec=None, params=None,
               meta=None):
    """A checkpoint written without training: random weights over text's vocabulary,
    or the spec and params given."""
    vocab = Vocabulary(text)
    spec = spec or ModelSpec(len(vocab), hidden, layers, cell)
    if params is None:
        params = model.init_params(spec, np.random.default_rng(seed))
        for w in params.values():  # larger than the init, so units differ clearly
            w *= 3
    meta = dict({"vocab": vocab.chars, "model": {"hidden_size": spec.hidden_size}}, **(meta or {}))
    checkpoint.save(path, checkpoint.Checkpoint(spec, params, meta))
    return checkpoint.load(path)


def page_data(html):
    blob = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    return json.loads(blob.group(1))


def activations(data):
    """The page's int8 activations back as floats, (L, H, T)."""
    q = np.frombuffer(base64.b64decode(data["acts"]), dtype=np.int8)
    q = q.reshape(data["layers"], data["hidden"], data["length"]).astype(np.float64)
    scale = np.array(data["scale"]).reshape(data["layers"], data["hidden"], 1)
    return q * scale / 127, scale


def one_line_error(result, code=1):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- the numbers are the engine's ------------------------------------------------------

@pytest.mark.parametrize("cell", list(CELLS))
def test_page_numbers_are_a_forward_pass(tmp_path, runner, cell):
    text = make_text(700, seed=4)
    ckpt = hand_built(tmp_path / "m.npz", text, cell)
    (tmp_path / "p.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "--checkpoint", str(tmp_path / "m.npz"),
                                  "--corpus", str(tmp_path / "p.txt"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    data = page_data(html)
    spans = re.search(r'<div id="passage">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r"<span>(.*?)</span>", spans, re.S) == list(text)

    # the test's own pass: the sampler's one-step path, character by character
    spec, params = ckpt.spec, ckpt.params
    ids = Vocabulary(ckpt.vocab_chars).encode(text).astype(int)
    stepper = Stepper(spec, params, streams=1)
    hs, probs = [], []
    for i in ids:
        z = stepper.step(np.array([i]))[0].astype(np.float64)  # (V,)
        hs.append(stepper.state[:, 0, :spec.hidden_size].copy())  # (L, H): each layer's h
        p = np.exp(z - z.max())
        probs.append(p / p.sum())
    hs, probs = np.array(hs), np.array(probs)  # (T, L, H), (T, V)

    acts, scale = activations(data)
    assert np.all(np.abs(acts - hs.transpose(1, 2, 0)) <= scale / 254 + 1e-5)
    np.testing.assert_allclose(scale[..., 0], np.abs(hs).max(axis=0), rtol=1e-5)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :5]
    assert data["top_ids"] == order.tolist()
    np.testing.assert_allclose(data["top_probs"], np.take_along_axis(probs, order, 1),
                               atol=1e-4)
    expected_loss = -np.log(probs[np.arange(len(ids) - 1), ids[1:]])
    assert data["loss"][0] is None
    np.testing.assert_allclose(data["loss"][1:], expected_loss, atol=1e-3)
    assert data["vocab"] == ckpt.vocab_chars


def test_page_is_a_few_mb_for_the_default_model_shape(tmp_path):
    """3 x 512 units over 2,000 characters (the default model's passage): the int8
    activations keep the whole page under 5 MB."""
    text = make_text(2000, seed=2)
    ckpt = hand_built(tmp_path / "m.npz", text)
    T, L, H, V = len(text), 3, 512, len(ckpt.vocab_chars)
    rng = np.random.default_rng(0)
    top_ids = np.argsort(rng.random((T, V)), axis=1)[:, :5]
    look = inside.Inside(text, "test", np.tanh(rng.standard_normal((T, L, H))), top_ids,
                         rng.random((T, 5)), np.r_[np.nan, rng.random(T - 1) * 5],
                         inside.rank_units(rng.standard_normal((T, L, H)),
                                           inside.text_features(text))[0], [])
    size = len(report.page(ckpt, look).encode("utf-8"))
    assert 3 * 2**20 < size < 5 * 2**20, size


# -- the learning curves are the history ----------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small run trained with --report, and its page."""
    tmp = tmp_path_factory.mktemp("run")
    corpus = tmp / "corpus.txt"
    corpus.write_text(make_text(), encoding="utf-8")
    cfg = write_config(tmp, corpus, model={"hidden_size": 12, "num_layers": 2},
                       train={"steps": 30})
    result = CliRunner().invoke(main, ["train", "--config", str(cfg), "-q", "--report"])
    assert result.exit_code == 0, result.output
    return tmp / "model.npz", tmp / "model.html", corpus, result


def test_curves_points_are_the_history(trained):
    ckpt_path, page_path, _, _ = trained
    history = checkpoint.load(ckpt_path).history
    assert [h["step"] for h in history] == [10, 20, 30]
    html = page_path.read_text(encoding="utf-8")
    svgs = re.findall(r"<svg class=\"curve\"(.*?)</svg>", html, re.S)
    assert len(svgs) == 2
    xs = {"step": [h["step"] for h in history],
          "minutes": [h["seconds"] / 60 for h in history]}
    for svg in svgs:
        attr = dict(re.findall(r'data-([\w-]+)="([^"]*)"', svg.split(">", 1)[0]))
        x0, x1, y0, y1 = (float(attr[k]) for k in ("x0", "x1", "y0", "y1"))
        left, top, w, h = map(float, attr["box"].split())
        lines = dict(re.findall(r'data-series="(\w+)" points="([^"]*)"', svg))
        assert set(lines) == {"train_loss", "val_loss"}
        for key, points in lines.items():
            pts = np.array([p.split(",") for p in points.split()], dtype=float)
            x = x0 + (pts[:, 0] - left) / w * (x1 - x0)  # pixels back to numbers
            y = y1 - (pts[:, 1] - top) / h * (y1 - y0)
            np.testing.assert_allclose(x, xs[attr["kind"]], atol=0.01 * (x1 - x0) / w)
            np.testing.assert_allclose(y, [e[key] for e in history],
                                       atol=0.01 * (y1 - y0) / h)


def test_train_report_is_written_at_every_validation_and_failure_is_only_a_warning(
        tmp_path, text_file, runner, monkeypatch):
    cfg = write_config(tmp_path, text_file, train={"steps": 20, "eval_every": 10})
    written = []
    real = report.for_training

    def spy(trainer, path):
        written.append(trainer.step)
        real(trainer, path)

    monkeypatch.setattr(report, "for_training", spy)
    result = runner.invoke(main, ["train", "--config", str(cfg), "-q", "--report"])
    assert result.exit_code == 0, result.output
    assert written == [10, 20]
    data = page_data((tmp_path / "model.html").read_text(encoding="utf-8"))
    assert data["length"] > 100

    def broken(trainer, path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report, "for_training", broken)
    result = runner.invoke(main, ["train", "--config", str(cfg), "-q", "--report",
                                  "--output", str(tmp_path / "other.npz")])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: could not write the report") == 2
    assert "disk on fire" in result.stderr and "done at step 20" in result.stderr


# -- the planted unit -------------------------------------------------------------------------

def planted_line_counter(text, unit=3, hidden=8, seed=0, sign=1):
    """A tanh RNN whose unit ``unit`` counts characters since the last newline:
    h = tanh(0.08 + h_prev) on every character but the newline, which drives it to -1
    (with sign -1, all mirrored: it counts down). The other units get random weights
    and never feed it."""
    vocab = Vocabulary(text)
    spec = ModelSpec(len(vocab), hidden, 1)
    rng = np.random.default_rng(seed)
    params = model.init_params(spec, rng, dtype=np.float64)
    params["Whh0"][:, unit] = 0
    params["Whh0"][unit, :] = 0
    params["Whh0"][unit, unit] = 1.0
    params["Wxh0"][:, unit] = 0.08 * sign
    params["Wxh0"][vocab.index["\n"], unit] = -8.0 * sign
    params["bh0"][unit] = 0
    return spec, params, vocab


@pytest.mark.parametrize("sign", [1, -1])
def test_ranking_finds_a_unit_planted_to_track_line_position(tmp_path, runner, sign):
    text = make_text(2000, seed=7)
    spec, params, vocab = planted_line_counter(text, sign=sign)
    look = inside.look_inside(spec, params, vocab.chars, text)
    top = look.ranked[0]
    assert (top.layer, top.unit, top.feature) == (0, 3, "position in line")
    assert top.r * sign > 0.8
    assert dict(look.best_by_feature)["position in line"].unit == 3
    # the command line shows it first, in the page and in the terminal view
    hand_built(tmp_path / "p.npz", text, spec=spec, params=params)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["report", "--checkpoint", str(tmp_path / "p.npz"),
                                  "--corpus", str(tmp_path / "t.txt"), "--terminal"])
    assert result.exit_code == 0, result.output
    assert "layer 0 unit 3, tracks position in line" in result.stderr


def test_features_follow_the_text():
    f = inside.text_features('AB:\n"x (y)"\nhi')
    assert list(f["position in line"]) == [1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2]
    assert list(f["inside quotes"]) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert list(f["inside brackets"]) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert list(f["speaker's name"]) == [1] * 4 + [0] * 10
    assert list(f["first line of a speech"]) == [0] * 4 + [1] * 8 + [0, 0]
    assert list(f["start of word"]) == [1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
    assert list(f["end of line"]) == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]


# -- the terminal view ----------------------------------------------------------------------

def test_terminal_colours_follow_the_unit_and_plain_text_off_a_tty(tmp_path, runner):
    text = "ab\ncab\n" * 20
    spec, params, vocab = planted_line_counter(text, hidden=4, unit=1)
    look = inside.look_inside(spec, params, vocab.chars, text)
    shown, legend = report.terminal_view(look, (0, 2), colour=True)
    a = look.acts[:, 0, 2]  # a unit with random weights, well inside (-1, 1)
    assert np.abs(a).max() < 0.9
    a = a / np.abs(a).max()
    found = re.findall(r"\x1b\[48;2;(\d+);(\d+);(\d+)m\x1b\[38;2;0;0;0m(.)", shown)
    assert "".join(c for *_, c in found) == text.replace("\n", "")
    expected = [report.shade(v) for v, c in zip(a, text) if c != "\n"]
    assert [tuple(map(int, rgb)) for *rgb, _ in found] == expected
    assert "layer 0 unit 2" in legend
    plain, _ = report.terminal_view(look, (0, 2), colour=False)
    assert plain == text
    # through the command line (CliRunner's stdout is no terminal): plain text
    hand_built(tmp_path / "m.npz", text, spec=spec, params=params)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["report", "--checkpoint", str(tmp_path / "m.npz"),
                                  "--corpus", str(tmp_path / "t.txt"), "--terminal",
                                  "--unit", "0:1"])
    assert result.exit_code == 0, result.output
    assert result.stdout == text + "\n"


def test_shade_is_white_at_zero_and_diverges():
    assert report.shade(0) == (255, 255, 255)
    assert report.shade(1) == (214, 96, 77) and report.shade(-1) == (67, 147, 195)
    assert report.shade(5) == report.shade(1)


# -- the page is safe and self-contained ---------------------------------------------------

def test_script_json_never_closes_its_script_element():
    data = {"text": "</script><!-- & \u2028 </SCRIPT>", "n": [1, 2]}
    blob = report.script_json(data)
    assert "</" not in blob and "<!--" not in blob and "<" not in blob
    assert json.loads(blob) == data


def test_page_fetches_nothing(trained):
    html = trained[1].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html)
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html


# -- bad input ------------------------------------------------------------------------------

def test_not_a_checkpoint(tmp_path, runner):
    bad = tmp_path / "notes.npz"
    bad.write_text("hello", encoding="utf-8")
    line = one_line_error(runner.invoke(main, ["report", "--checkpoint", str(bad),
                                               "--output", str(tmp_path / "r.html")]))
    assert "notes.npz" in line
    assert not (tmp_path / "r.html").exists()


def test_corpus_with_unknown_characters_names_them(tmp_path, runner):
    hand_built(tmp_path / "m.npz", make_text(500))
    (tmp_path / "t.txt").write_text("the king § of rome €\n", encoding="utf-8")
    line = one_line_error(runner.invoke(main, [
        "report", "--checkpoint", str(tmp_path / "m.npz"), "--corpus",
        str(tmp_path / "t.txt"), "--output", str(tmp_path / "r.html")]))
    assert "'§'" in line and "'€'" in line


def test_unwritable_output(tmp_path, runner):
    text = make_text(500)
    hand_built(tmp_path / "m.npz", text)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    base = ["report", "--checkpoint", str(tmp_path / "m.npz"), "--corpus",
            str(tmp_path / "t.txt")]
    line = one_line_error(runner.invoke(main, base + ["--output",
                                                      str(tmp_path / "no" / "r.html")]))
    assert "cannot write the report" in line and "--output" in line
    line = one_line_error(runner.invoke(main, base + ["--output", str(tmp_path)]))
    assert "cannot write the report" in line
    assert list(tmp_path.glob(".*.tmp")) == []


def test_output_never_replaces_what_the_report_reads(tmp_path, runner):
    text = make_text(500)
    hand_built(tmp_path / "m.npz", text)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    before = (tmp_path / "m.npz").read_bytes()
    for target in ("m.npz", "t.txt"):
        line = one_line_error(runner.invoke(main, [
            "report", "--checkpoint", str(tmp_path / "m.npz"), "--corpus",
            str(tmp_path / "t.txt"), "--output", str(tmp_path / target)]))
        assert "the file the report reads" in line
    assert (tmp_path / "m.npz").read_bytes() == before
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == text


def test_unit_out_of_range_and_malformed(tmp_path, runner):
    text = make_text(500)
    hand_built(tmp_path / "m.npz", text, hidden=6, layers=2)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    base = ["report", "--checkpoint", str(tmp_path / "m.npz"), "--corpus",
            str(tmp_path / "t.txt"), "--output", str(tmp_path / "r.html")]
    for unit in ("2:0", "0:6"):
        for extra in ([], ["--terminal"]):
            line = one_line_error(runner.invoke(main, base + ["--unit", unit] + extra))
            assert f"unit {unit} is out of range" in line and "layers 0 to 1" in line
    assert not (tmp_path / "r.html").exists()
    result = runner.invoke(main, base + ["--unit", "five"])
    assert result.exit_code == 2 and "LAYER:UNIT" in result.stderr
    assert "Traceback" not in result.output


def test_default_passage_needs_the_training_corpus(tmp_path, runner, trained):
    ckpt_path, _, corpus, _ = trained
    out = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "--checkpoint", str(ckpt_path), "--output",
                                  str(out)])
    assert result.exit_code == 0, result.output
    data = page_data(out.read_text(encoding="utf-8"))
    val = corpus.read_text(encoding="utf-8")[int(len(make_text()) * 0.9):]
    start = val.index("\n\n") + 2
    assert "".join(re.findall(r"<span>(.*?)</span>", out.read_text(encoding="utf-8")
                              .split('id="passage">')[1].split("</div>")[0], re.S)) \
        == val[start:start + data["length"]]
    # a checkpoint whose corpus is gone, or changed, asks for --corpus
    moved = tmp_path / "m.npz"
    moved.write_bytes(ckpt_path.read_bytes())
    from conftest import edit_meta

    meta = checkpoint.load(moved).meta
    edit_meta(moved, data=dict(meta["data"], corpus=str(tmp_path / "gone.txt")))
    line = one_line_error(runner.invoke(main, ["report", "--checkpoint", str(moved),
                                               "--output", str(out)]))
    assert "--corpus" in line and "gone.txt" in line
    changed = tmp_path / "changed.txt"
    changed.write_text(make_text() + "x", encoding="utf-8")
    edit_meta(moved, data=dict(meta["data"], corpus=str(changed)))
    line = one_line_error(runner.invoke(main, ["report", "--checkpoint", str(moved),
                                               "--output", str(out)]))
    assert "sha256" in line and "--corpus" in line


# -- a real browser ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars"]
    done = subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def shading(dom):
    """(status, data-unit, the background of every passage character) from a dumped DOM."""
    status = re.search(r'<p id="status" data-state="(\w+)">([^<]*)<', dom)
    unit = re.search(r'<body[^>]*data-unit="([\d:]+)"', dom)
    passage = dom.split('id="passage">')[1].split("</div>")[0]
    colours = re.findall(r'<span[^>]*style="background-color: ([^;"]+)', passage)
    return status.groups(), unit and unit.group(1), colours


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium); "
                    "skipping the browser test of the report page")
def test_page_in_headless_chromium(tmp_path, runner):
    # a passage with markup in it: it must stay text, and leave the page's script whole
    text = make_text(900, seed=3) + "</script><!-- &amp;"
    hand_built(tmp_path / "m.npz", text, hidden=8, layers=2)
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    page = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "--checkpoint", str(tmp_path / "m.npz"),
                                  "--corpus", str(tmp_path / "t.txt"), "--output", str(page)])
    assert result.exit_code == 0, result.output
    url = page.as_uri()
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1000,1400", f"--screenshot={shot}", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    first = shading(chromium(tmp_path, "--dump-dom", url + "#unit=0:1"))
    second = shading(chromium(tmp_path, "--dump-dom", url + "#unit=1:5"))
    surprise = shading(chromium(tmp_path, "--dump-dom", url + "#view=surprise"))
    for (state, message), _, colours in (first, second, surprise):
        assert state == "ok", message
        assert len(colours) >= len(text) - 1  # surprise leaves the first character white
    assert first[1] == "0:1" and second[1] == "1:5"
    assert first[2] != second[2]  # another unit, another shading
    assert surprise[2] != first[2] and surprise[2] != second[2]
    # the shading is the unit's: character t's colour from its activation on the page
    data = page_data(page.read_text(encoding="utf-8"))
    acts, _ = activations(data)
    top = np.abs(acts[1, 5]).max()
    for t in (0, 10, 100):
        expected = "rgb({}, {}, {})".format(*report.shade(acts[1, 5, t] / top))
        assert second[2][t] == expected


def test_named_corpus_that_cannot_be_fetched_asks_for_corpus(tmp_path, runner, monkeypatch):
    import urllib.error
    import urllib.request

    from conftest import edit_meta

    text = make_text(500)
    hand_built(tmp_path / "m.npz", text)
    from rnngen.corpus import NAMED

    edit_meta(tmp_path / "m.npz", data={"corpus": "tinyshakespeare", "val_fraction": 0.1,
                                        "sha256": NAMED["tinyshakespeare"][1],
                                        "chars": 1115394})
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path / "corpora"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    line = one_line_error(runner.invoke(main, ["report", "--checkpoint", str(tmp_path / "m.npz"),
                                               "--output", str(tmp_path / "r.html")]))
    assert "could not download tinyshakespeare" in line and "pass --corpus" in line


@pytest.mark.parametrize("lo, hi", [(0, 0.004), (0, 0.05), (1.2, 1.9), (0, 4000), (0.9, 1.1),
                                    (-0.001, 0.001), (0, 0.3)])
def test_axis_tick_labels_are_distinct_round_numbers(lo, hi):
    """A short run's minutes axis (0 to 0.004) once read '0.', '0.', '0.': each label must
    name its own tick and read back as its value."""
    from rnngen.report import _ticks

    ticks = _ticks(lo, hi)
    labels = [label for _, label in ticks]
    assert len(ticks) >= 2 and len(set(labels)) == len(labels)
    step = ticks[1][0] - ticks[0][0]
    for value, label in ticks:
        assert not label.endswith(".") and abs(float(label.replace(",", "")) - value) < step / 100
