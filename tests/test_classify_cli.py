"""Classification through the command line and the library: the round trip (train,
classify from stdin, eval JSON, info, report, sample refused), exact resume, early
stopping, the settings every run has, and bad input as one line each."""
import json
import math
import re

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from rnngen import checkpoint, classification, config, run
from rnngen.cli import main
from rnngen.engine.cells import CELLS
from rnngen.errors import CheckpointError, ConfigError


def markers(n, seed=0, min_len=6, max_len=14):
    """Labelled texts: which of X and Y comes first in a string of a..h (needs memory)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        chars = list(rng.choice(list("abcdefgh"), rng.integers(min_len, max_len + 1)))
        a, b = sorted(rng.choice(len(chars), 2, replace=False))
        label = int(rng.integers(2))
        chars[a], chars[b] = ("X", "Y") if label == 0 else ("Y", "X")
        rows.append(("".join(chars), "xfirst" if label == 0 else "yfirst"))
    return rows


def write_tsv(path, rows, header=True):
    lines = (["text\tlabel"] if header else []) + [f"{t}\t{c}" for t, c in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_config(tmp_path, data, **sections):
    cfg = {"data": {"corpus": str(data)},
           "model": {"task": "classify", "cell": "gru", "hidden_size": 12},
           "train": {"steps": 60, "batch_size": 32, "seq_length": 16, "learning_rate": 0.02,
                     "eval_every": 30, "output": str(tmp_path / "c.npz")}}
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture
def trained(tmp_path_factory):
    """A classifier trained once through `rnngen train` (shared by the round-trip tests)."""
    tmp = tmp_path_factory.mktemp("trained")
    data = write_tsv(tmp / "m.tsv", markers(400))
    result = CliRunner().invoke(main, ["train", "--config", str(write_config(tmp, data)), "-q"])
    assert result.exit_code == 0, result.output
    return tmp / "c.npz", data, result


def one_line_error(result, code=1):
    """The error's one line (a usage error, exit 2, comes after click's usage lines)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    if code == 2:
        lines = [line for line in lines if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- the round trip ------------------------------------------------------------------

def test_train_says_what_it_reads_and_learns(trained):
    path, _, result = trained
    assert "400" not in result.stderr.split("train /")[0]  # the split is shown, not the total
    assert "train / 40 val texts, 2 classes" in result.stderr
    assert "xfirst  train" in result.stderr and "yfirst  train" in result.stderr
    assert "classify with it: rnngen classify --checkpoint" in result.stderr
    ckpt = checkpoint.load(path)
    assert ckpt.spec.task == "classify" and ckpt.classes == ("xfirst", "yfirst")
    assert ckpt.history[-1]["val_accuracy"] >= 0.9
    assert ckpt.history[-1]["val_loss"] < 0.4 < math.log(2)


def test_classify_from_stdin(trained, runner):
    path, _, _ = trained
    texts = ["abXcdYef", "gYhXab", "XY", "aaaaaaaaaaaaaaaaaaaaaaYbbbbbbbbbbbbbbXc"]
    result = runner.invoke(main, ["classify", "--checkpoint", str(path)],
                           input="\n".join(texts) + "\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(texts)
    labels = [line.split("\t")[0] for line in lines]
    assert labels[:3] == ["xfirst", "yfirst", "xfirst"]
    probs = [float(line.split("\t")[1]) for line in lines]
    assert all(0.5 <= p <= 1 for p in probs)
    # the same answers as the library's, in the input's order, batched or not
    model = classification.Classifier.load(path)
    expected = model.probabilities(texts)
    np.testing.assert_allclose(probs, expected.max(axis=1), atol=1e-4)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(model.probabilities([text])[0], expected[i], rtol=1e-5)


def test_classify_json_and_top(trained, runner, tmp_path):
    path, _, _ = trained
    (tmp_path / "in.txt").write_text("abXcdYef\r\ngYhXab\n", encoding="utf-8")  # CRLF too
    result = runner.invoke(main, ["classify", "--checkpoint", str(path), "--json",
                                  str(tmp_path / "in.txt")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["abXcdYef", "gYhXab"]
    for r in rows:
        assert set(r["probabilities"]) == {"xfirst", "yfirst"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0)
        assert r["probability"] == max(r["probabilities"].values())
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
    top = runner.invoke(main, ["classify", "--checkpoint", str(path), "--top", "5"],
                        input="abXcdYef\n")
    fields = top.stdout.strip().split("\t")
    assert fields[0::2] == ["xfirst", "yfirst"]  # K = 2 classes at most
    assert float(fields[1]) >= float(fields[3])


def test_eval_json_text_info_and_sample_refused(trained, runner):
    path, data, _ = trained
    ev = runner.invoke(main, ["eval", "--checkpoint", str(path), "--json"])
    assert ev.exit_code == 0, ev.output
    summary = json.loads(ev.stdout)
    assert list(summary)[:2] == ["accuracy", "macro_f1"]
    assert summary["accuracy"] >= 0.9 and summary["examples"] == 40
    assert summary["text"].endswith("(validation split)")
    assert np.array(summary["confusion"]).sum() == 40
    whole = json.loads(runner.invoke(main, ["eval", "--checkpoint", str(path), "--corpus",
                                            str(data), "--json"]).stdout)
    assert whole["examples"] == 400
    plain = runner.invoke(main, ["eval", "--checkpoint", str(path)])
    assert "accuracy" in plain.stdout and "precision" in plain.stdout
    assert "confusion" in plain.stdout
    info = runner.invoke(main, ["info", str(path)])
    assert "classes       2: xfirst, yfirst" in info.stdout and "nats/text" in info.stdout
    described = json.loads(runner.invoke(main, ["info", str(path), "--json"]).stdout)
    assert described["task"] == "classify" and described["classes"] == ["xfirst", "yfirst"]
    assert described["last_val_accuracy"] >= 0.9
    sample = runner.invoke(main, ["sample", "--checkpoint", str(path)])
    line = one_line_error(sample)
    assert "classifier" in line and "rnngen classify" in line


@pytest.mark.parametrize("chosen", ["one", "all"])
def test_eval_classifies_on_the_thread_count_its_trial_chooses(trained, runner, tmp_path,
                                                               monkeypatch, chosen):
    """Without --threads, a classifier's eval of many texts times a trial (timings
    injected here) and classifies them all on the count it chose, as a character
    model's eval does; with --threads, or few texts, it measures nothing."""
    from rnngen import threads

    most = threads.thread_count()
    if (most or 1) < 2:
        pytest.skip("OpenBLAS's thread count cannot be set to 2 or more here")
    path, _, _ = trained
    many = write_tsv(tmp_path / "many.tsv", markers(classification.MEASURED_FROM, seed=5))
    trials, seen = [], []

    def timings(work, rounds=5):
        trials.append(work)
        work()  # the trial runs: one batch classified
        return (1, 1.0, 3.0) if chosen == "one" else (most, 3.0, 1.0)

    real = classification.logits

    def logits(spec, params, encoded, *args, **kw):
        seen.append((len(encoded), threads.thread_count()))
        return real(spec, params, encoded, *args, **kw)

    monkeypatch.setattr(threads, "timings", timings)
    monkeypatch.setattr(classification, "logits", logits)
    with threads.blas_threads(most):
        result = runner.invoke(main, ["eval", "--checkpoint", str(path), "--corpus", str(many)])
        assert threads.thread_count() == most  # the choice is undone after eval
    assert result.exit_code == 0, result.output
    assert len(trials) == 1 and seen[0][0] == classification.TRIAL_TEXTS
    want = 1 if chosen == "one" else most
    assert seen[-1] == (classification.MEASURED_FROM, want)
    for args in (["--corpus", str(many), "--threads", "1"], []):  # a count given; 40 texts
        del trials[:], seen[:]
        with threads.blas_threads(most):  # --threads sets the count for the process
            result = runner.invoke(main, ["eval", "--checkpoint", str(path)] + args)
        assert result.exit_code == 0, result.output
        assert trials == [] and len(seen) == 1


def test_report_page_and_terminal(trained, runner, tmp_path):
    path, _, _ = trained
    page = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "--checkpoint", str(path), "--output", str(page),
                                  "--text", "abXcdYef", "--text", "<b>Y&X</b>"])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    for part in ('id="confusion"', 'id="per-class"', "most confident mistakes",
                 'class="reading"', 'data-series="val_accuracy"'):
        assert part in html
    assert "<b>Y&X</b>" not in html and "&lt;b&gt;Y&amp;X&lt;/b&gt;" in html
    assert html.count('<svg class="reading"') == 2
    terminal = runner.invoke(main, ["report", "--checkpoint", str(path), "--terminal",
                                    "--text", "abXcdYef"])
    assert terminal.exit_code == 0
    assert len(terminal.stdout.strip().splitlines()) == 1 + len("abXcdYef")
    refused = runner.invoke(main, ["report", "--checkpoint", str(path), "--unit", "0:1"])
    assert one_line_error(refused, 2)


def test_classify_refuses_bad_lines_and_character_models(trained, runner, tmp_path):
    path, _, _ = trained
    empty = runner.invoke(main, ["classify", "--checkpoint", str(path)], input="abX\n\nY\n")
    assert "stdin:2" in one_line_error(empty) and "empty" in empty.stderr
    raw = runner.invoke(main, ["classify", "--checkpoint", str(path)], input=b"ab\xffX\n")
    assert "stdin:1" in one_line_error(raw) and "UTF-8" in raw.stderr
    missing = runner.invoke(main, ["classify", "--checkpoint", str(path),
                                   str(tmp_path / "nope.txt")])
    assert "nope.txt" in one_line_error(missing)
    shipped = runner.invoke(main, ["classify", "--checkpoint",
                                   str(checkpoint_of_character_model(tmp_path))], input="a\n")
    assert "not a classifier" in one_line_error(shipped)
    unknown = write_tsv(tmp_path / "u.tsv", [("abXY", "xfirst"), ("aYX", "zfirst")])
    ev = runner.invoke(main, ["eval", "--checkpoint", str(path), "--corpus", str(unknown)])
    assert "u.tsv:3" in one_line_error(ev) and "zfirst" in ev.stderr


def checkpoint_of_character_model(tmp_path):
    from rnngen import resources

    return resources.shipped_model()


# -- training: resume, early stopping, every setting ------------------------------------

def _cfg(tmp_path, data, **overrides):
    pairs = {"data.corpus": str(data), "model.task": "classify", "model.hidden_size": 8,
             "train.steps": 12, "train.batch_size": 16, "train.seq_length": 16,
             "train.eval_every": 4, "train.output": str(tmp_path / "r.npz"), **overrides}
    return run.load_config(config.Config(), pairs)[0]


def _train(cfg, resume=None):
    from rnngen.tasks import classify as task

    trainer = run.build_trainer(cfg, task.load(cfg), resume=resume)
    for _ in trainer.run():
        pass
    return trainer


@pytest.mark.parametrize("cell", list(CELLS))
def test_resume_is_exact(tmp_path, cell):
    """Twelve steps at once, or six, a checkpoint, and six more: the same weights to the
    bit (dropout and weight drop on, so the generator's state must carry over)."""
    data = write_tsv(tmp_path / "m.tsv", markers(150, seed=1))
    settings = {"model.cell": cell, "model.dropout": 0.2, "model.weight_drop": 0.1,
                "model.num_layers": 2, "model.bidirectional": True, "model.pooling": "mean",
                "train.class_weights": "balanced"}
    whole = _train(_cfg(tmp_path / "a", data, **settings))
    half = _train(_cfg(tmp_path / "b", data, **settings, **{"train.steps": 6}))
    assert half.step == 6
    ckpt = checkpoint.load(tmp_path / "b" / "r.npz")
    resumed = _train(_cfg(tmp_path / "b", data, **settings), resume=ckpt)
    assert resumed.step == whole.step == 12
    for name, w in whole.params.items():
        np.testing.assert_array_equal(resumed.params[name], w, err_msg=name)
    # the same validations (the resumed run also validated where the first half ended)
    def scores(history):
        return {h["step"]: (h["val_loss"], h["val_accuracy"]) for h in history}

    assert scores(resumed.history).items() >= scores(whole.history).items()


def test_directions_run_on_the_run_threads_with_the_same_weights(tmp_path):
    """A bidirectional run hands its directions to the run's thread pool (one core
    each), training and validating; the weights and validation scores equal those of a
    run that takes them one after the other."""
    from rnngen.tasks import classify as task
    from rnngen.threads import Workers

    data = write_tsv(tmp_path / "m.tsv", markers(150, seed=1))
    cfg = _cfg(tmp_path, data, **{"model.bidirectional": True, "model.dropout": 0.2,
                                  "train.steps": 4, "train.eval_every": 4})
    calls = []

    class Recording(Workers):
        def map(self, fn, items):
            items = list(items)
            calls.append(len(items))
            return super().map(fn, items)

    runs = []
    for workers in (Recording(2), Workers(1)):
        trainer = run.build_trainer(cfg, task.load(cfg))
        trainer.task.workers = workers
        for _ in trainer.run():
            pass
        runs.append(trainer)
    # forward and backward every step (8), and validation's batches
    assert calls.count(2) > 2 * 4 and set(calls) == {2}
    for name, w in runs[0].params.items():
        np.testing.assert_array_equal(w, runs[1].params[name], err_msg=name)
    assert runs[0].history[-1]["val_loss"] == runs[1].history[-1]["val_loss"]


def test_resume_refuses_other_data(tmp_path):
    data = write_tsv(tmp_path / "m.tsv", markers(150, seed=1))
    _train(_cfg(tmp_path, data, **{"train.steps": 4}))
    ckpt = checkpoint.load(tmp_path / "r.npz")
    other = write_tsv(tmp_path / "m.tsv", markers(150, seed=2))
    with pytest.raises(CheckpointError, match="labelled data differ"):
        _train(_cfg(tmp_path, other), resume=ckpt)


@pytest.mark.parametrize("task", ["classify", "generate"])
def test_patience_stops_when_validation_stops_improving(tmp_path, task, monkeypatch):
    """Validation losses 3, 2, 2.5, 2.4, ... with patience 2: the run ends at the fourth
    validation (two without improvement), writing its checkpoint; the count is read
    from the history, so a resumed run counts the same."""
    if task == "classify":
        cfg = _cfg(tmp_path, write_tsv(tmp_path / "m.tsv", markers(150)),
                   **{"train.patience": 2, "train.eval_every": 1, "train.steps": 50})
        from rnngen.tasks import classify as module
    else:
        from conftest import make_text
        from rnngen.tasks import generate as module

        (tmp_path / "t.txt").write_text(make_text(4000), encoding="utf-8")
        cfg = run.load_config(config.Config(), {
            "data.corpus": str(tmp_path / "t.txt"), "model.hidden_size": 8,
            "train.batch_size": 4, "train.seq_length": 16, "train.steps": 50,
            "train.eval_every": 1, "train.patience": 2,
            "train.output": str(tmp_path / "r.npz")})[0]
    losses = iter([3.0, 2.0, 2.5, 2.4, 1.0, 1.0])
    monkeypatch.setattr(module.Task, "validate", lambda self, params: {"val_loss": next(losses)})
    trainer = run.build_trainer(cfg, module.load(cfg, "data.corpus"))
    stats = list(trainer.run())
    assert len(stats) == 4 and trainer.step == 4
    assert "not improved for 2 validations" in trainer.early_stop
    assert "best is 2.0000 at step 2" in trainer.early_stop
    assert checkpoint.load(tmp_path / "r.npz").step == 4
    assert trainer.since_best() == 2


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rmsprop", "adam"])
def test_every_setting_trains(tmp_path, cell, optimizer):
    """Every cell and optimizer, with depth, dropout, weight drop, a schedule with
    warmup, both clippings, each pooling (by cell), bidirectional: every parameter
    moves, and with an adaptive optimizer the loss falls below a uniform guess's
    (plain SGD is too slow on this task in 40 steps to say more than that it runs)."""
    data = write_tsv(tmp_path / "m.tsv", markers(200, seed=3))
    pooling = {"rnn": "last", "lstm": "mean", "gru": "max"}[cell]
    cfg = _cfg(tmp_path, data, **{
        "model.cell": cell, "model.num_layers": 2, "model.dropout": 0.1,
        "model.weight_drop": 0.1, "model.pooling": pooling, "model.bidirectional": True,
        "train.optimizer": optimizer, "train.momentum": 0.9 if optimizer == "sgd" else 0.0,
        "train.learning_rate": {"sgd": 0.1, "adagrad": 0.05}.get(optimizer, 0.01),
        "train.lr_schedule": "cosine", "train.warmup_steps": 3, "train.clip_norm": 1.0,
        "train.steps": 40, "train.eval_every": 40})
    from rnngen.tasks import classify as task

    trainer = run.build_trainer(cfg, task.load(cfg))
    start = {k: v.copy() for k, v in trainer.params.items()}
    losses = [s.loss for s in trainer.run()]
    assert len(losses) == 40 and all(map(math.isfinite, losses))
    for name, w in trainer.params.items():
        assert not np.array_equal(w, start[name]), name
    if optimizer != "sgd":
        assert trainer.history[-1]["val_loss"] < math.log(2)


def test_class_weights_balance_an_unbalanced_set(tmp_path):
    rows = [r for r in markers(300, seed=4) if r[1] == "xfirst"][:30] + \
        [r for r in markers(300, seed=4) if r[1] == "yfirst"]
    data = write_tsv(tmp_path / "u.tsv", rows)
    from rnngen.tasks import classify as task

    cfg = _cfg(tmp_path, data, **{"train.class_weights": "balanced"})
    trainer = run.build_trainer(cfg, task.load(cfg))
    counts = np.bincount(trainer.task.data.train.labels)
    np.testing.assert_allclose(trainer.task.weights * counts, counts.sum() / 2, rtol=1e-6)
    plain = run.build_trainer(_cfg(tmp_path, data), task.load(cfg))
    assert plain.task.weights is None


# -- settings and data that are wrong -----------------------------------------------------

@pytest.mark.parametrize("pairs, key", [
    ({"model.pooling": "max"}, "model.pooling"),
    ({"model.bidirectional": True}, "model.bidirectional"),
    ({"train.class_weights": "balanced"}, "train.class_weights"),
    ({"data.val_file": "v.tsv"}, "data.val_file"),
    ({"model.task": "classify", "model.skip": True, "model.num_layers": 2}, "model.skip"),
    ({"model.task": "translate"}, "model.task"),
    ({"model.task": "classify", "model.pooling": "sum"}, "model.pooling"),
    ({"model.task": "classify", "train.class_weights": "inverse"}, "train.class_weights"),
    ({"train.patience": -1}, "train.patience"),
])
def test_settings_that_do_not_fit_the_task_are_refused(pairs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run.load_config(config.Config(), pairs)


@pytest.mark.parametrize("content, says", [
    (b"", "empty"),
    (b"text\tlabel\nabc\txfirst\nabd\txfirst\n", "class"),
    (b"text\tlabel\nabc\txfirst\nabd\txfirst\textra\nabe\tyfirst\n", "2"),
    (b"text\tcategory\nabc\txfirst\nabd\tyfirst\n", "label"),
    (b"text\tlabel\nab\xff\txfirst\nabd\tyfirst\n", "UTF-8"),
])
def test_bad_labelled_data_is_one_line(tmp_path, runner, content, says):
    (tmp_path / "bad.tsv").write_bytes(content)
    cfg = write_config(tmp_path, tmp_path / "bad.tsv")
    result = runner.invoke(main, ["train", "--config", str(cfg), "-q"])
    line = one_line_error(result)
    assert "bad.tsv" in line and says in line
    assert not (tmp_path / "c.npz").exists()


def test_a_text_longer_than_a_batch_is_refused_by_name(tmp_path, runner):
    rows = markers(50) + [("a" * 40 + "XY", "xfirst")]
    cfg = write_config(tmp_path, write_tsv(tmp_path / "m.tsv", rows),
                       train={"batch_size": 2, "seq_length": 10})
    line = one_line_error(runner.invoke(main, ["train", "--config", str(cfg), "-q"]))
    assert "42 characters" in line and "train.seq_length" in line


def test_a_classifier_checkpoint_without_its_classes_is_refused(trained, tmp_path):
    from conftest import edit_meta

    path, _, _ = trained
    copy = tmp_path / "c.npz"
    copy.write_bytes(path.read_bytes())
    edit_meta(copy, classes=["a", "b", "c"])
    with pytest.raises(CheckpointError, match="answers 2 classes but 3 are named"):
        checkpoint.load(copy)
    edit_meta(copy, classes=None)
    with pytest.raises(CheckpointError, match="classes"):
        checkpoint.load(copy)


def test_report_page_in_headless_chromium(trained, runner, tmp_path):
    """The classifier's page, rendered by a real browser: its tables and readings are
    there as drawn, and the screenshot is a page, not a blank."""
    from test_report import CHROMIUM, chromium

    if CHROMIUM is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    path, _, _ = trained
    page = tmp_path / "r.html"
    result = runner.invoke(main, ["report", "--checkpoint", str(path), "--output", str(page),
                                  "--text", "abXcdYef"])
    assert result.exit_code == 0, result.output
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1000,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    confusion = dom.split('id="confusion"')[1].split("</table>")[0]
    counts = [int(n.replace(",", "")) for n in re.findall(r">([\d,]+)</td>", confusion)]
    assert sum(counts) == 40  # every validation text, once
    reading = dom.split('<svg class="reading"')[1].split("</svg>")[0]
    assert reading.count("<polyline") == 2 and 'data-class="xfirst"' in reading


@pytest.mark.parametrize("cell", list(CELLS))
def test_training_a_classifier_on_a_device_equals_the_cpu(tmp_path, cell):
    """The stand-in device (tests/fakedevice.py refuses host arrays in device work):
    the same losses, weights and validations as the CPU, bidirectional with dropout."""
    from test_device import trained_alike

    from rnngen.tasks import classify as task

    data = write_tsv(tmp_path / "m.tsv", markers(120, seed=5))
    cfg = _cfg(tmp_path, data, **{"model.cell": cell, "model.bidirectional": True,
                                  "model.dropout": 0.2, "model.num_layers": 2,
                                  "train.class_weights": "balanced", "train.clip_norm": 1.0})
    cpu, dev = trained_alike(lambda name, where: run.build_trainer(
        cfg, task.load(cfg), dtype=np.float64, device=where))
    assert dev.history[-1]["val_accuracy"] == cpu.history[-1]["val_accuracy"]


def test_the_output_may_not_be_the_data_it_reads(tmp_path, runner):
    data = write_tsv(tmp_path / "m.tsv", markers(50))
    cfg = write_config(tmp_path, data)
    result = runner.invoke(main, ["train", "--config", str(cfg), "--output", str(data), "-q"])
    assert "labelled data" in one_line_error(result)
    assert data.read_text(encoding="utf-8").startswith("text\tlabel\n")
