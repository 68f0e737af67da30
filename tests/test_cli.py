"""The command line through click's CliRunner: exit codes, stdout and stderr apart."""
import json

import numpy as np
import pytest

from conftest import write_config
from rnngen import checkpoint
from rnngen.cli import main


def test_train_writes_checkpoints_and_reports_on_stderr(tmp_path, text_file, runner):
    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "--steps", "12",
                                  "--output", str(tmp_path / "o.npz"), "--random-seed", "9"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "step 10: train" in result.stderr and "done at step 12" in result.stderr
    ckpt = checkpoint.load(tmp_path / "o.npz")
    assert ckpt.step == 12 and ckpt.settings("train")["seed"] == 9
    assert (tmp_path / "o.best.npz").exists()


def test_set_overrides_any_key(tmp_path, text_file, runner):
    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "-q", "--steps", "2",
                                  "--set", "model.hidden_size=8", "--set", "model.num_layers=2"])
    assert result.exit_code == 0, result.output
    ckpt = checkpoint.load(tmp_path / "model.npz")
    assert ckpt.settings("model")["hidden_size"] == 8 and ckpt.spec.num_layers == 2


def test_sample_prints_only_the_text(trained, runner):
    ckpt, _ = trained
    result = runner.invoke(main, ["sample", "--checkpoint", str(ckpt), "--seed", "KING:",
                                  "--n", "50", "--temperature", "0.7", "--random-seed", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("KING:")
    assert len(result.stdout) == len("KING:") + 50  # seed, 50 characters; no newline (not a tty)
    again = runner.invoke(main, ["sample", "--checkpoint", str(ckpt), "--seed", "KING:",
                                 "--n", "50", "--temperature", "0.7", "--random-seed", "1"])
    assert again.stdout == result.stdout


def test_sample_seed_from_stdin_and_options(trained, runner):
    ckpt, _ = trained
    result = runner.invoke(main, ["sample", "--checkpoint", str(ckpt), "--seed", "-",
                                  "--n", "20", "--top-k", "3", "--top-p", "0.9",
                                  "--fresh-state", "--temperature", "0"], input="ROMEO:\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ROMEO:\n") and len(result.stdout) == 7 + 20


@pytest.mark.parametrize("args, code, message", [
    (["--seed", "Zax ✓"], 1, "never saw: 'Z', 'x', '✓'"),
    (["--temperature", "-1"], 2, "'--temperature': -1.0 is not in the range x>=0"),
    (["--temperature", "nan"], 2, "must be a finite number, got nan"),
    (["--top-k", "0"], 2, "--top-k"),
    (["--top-p", "0"], 2, "--top-p"),
    (["--top-p", "1.5"], 2, "--top-p"),
    (["--n", "-5"], 2, "--n"),
])
def test_sample_bad_input(trained, runner, args, code, message):
    ckpt, _ = trained
    result = runner.invoke(main, ["sample", "--checkpoint", str(ckpt)] + args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == "" and "Traceback" not in result.output


def test_eval_text_json_and_default_split(trained, runner, text_file):
    ckpt, _ = trained
    result = runner.invoke(main, ["eval", "--checkpoint", str(ckpt), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"nats_per_char", "bits_per_char", "perplexity", "chars"}
    assert data["bits_per_char"] == pytest.approx(data["nats_per_char"] / np.log(2))
    assert data["chars"] == 599  # the last 10% of 6000 characters, less the first
    text = runner.invoke(main, ["eval", "--checkpoint", str(ckpt), "--corpus", str(text_file)])
    assert text.exit_code == 0 and "nats/char" in text.stdout and "chars       5999" in text.stdout
    piped = runner.invoke(main, ["eval", "--checkpoint", str(ckpt), "--corpus", "-"],
                          input="KING:\nThe lord.\n")
    assert piped.exit_code == 0 and "chars       15" in piped.stdout
    bad = runner.invoke(main, ["eval", "--checkpoint", str(ckpt), "--corpus", "-"], input="@@@")
    assert bad.exit_code == 1 and "never saw: '@'" in bad.stderr


def test_resume_continues_to_the_same_weights(tmp_path, text_file, runner):
    straight_cfg = write_config(tmp_path, text_file, name="a.yaml",
                                train={"output": str(tmp_path / "a.npz")})
    assert runner.invoke(main, ["train", "--config", str(straight_cfg), "-q"]).exit_code == 0
    half_cfg = write_config(tmp_path, text_file, name="b.yaml",
                            train={"output": str(tmp_path / "b.npz")})
    first = runner.invoke(main, ["train", "--config", str(half_cfg), "-q", "--steps", "10"])
    assert first.exit_code == 0
    second = runner.invoke(main, ["train", "--config", str(half_cfg), "-q", "--resume"])
    assert second.exit_code == 0, second.output
    assert "resuming at step 10 of 20" in second.stderr
    a, b = checkpoint.load(tmp_path / "a.npz"), checkpoint.load(tmp_path / "b.npz")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_resume_with_a_different_shape_is_refused(trained, runner):
    ckpt, cfg = trained
    result = runner.invoke(main, ["train", "--config", str(cfg), "--resume", str(ckpt),
                                  "--set", "model.hidden_size=32"])
    assert result.exit_code == 1
    assert "model.hidden_size = 16 but the config says 32" in result.stderr


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("train:\n  stpes: 3\n", "unknown key 'train.stpes'"),
    ("train:\n  steps: ten\n", "train.steps must be int"),
    ("model: {hidden_size: 8\n", "YAML syntax error at line"),
])
def test_missing_or_bad_config(tmp_path, runner, content, message):
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content)
    result = runner.invoke(main, ["train", "--config", str(path)])
    assert result.exit_code == 1
    assert message in result.stderr and str(path) in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_missing_checkpoint_and_usage_errors(tmp_path, runner):
    result = runner.invoke(main, ["sample", "--checkpoint", str(tmp_path / "none.npz")])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert runner.invoke(main, ["train", "--steps", "0"]).exit_code == 2
    assert runner.invoke(main, ["frobnicate"]).exit_code == 2


def test_python_dash_m_works():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "rnngen", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("rnngen, version")


def test_export_writes_a_smaller_copy_that_samples_alike_but_cannot_resume(trained, runner,
                                                                           tmp_path):
    ckpt, cfg = trained
    out = tmp_path / "shared.npz"
    result = runner.invoke(main, ["export", "--checkpoint", str(ckpt), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size < ckpt.stat().st_size / 2
    args = ["--seed", "KING:", "--n", "40", "--random-seed", "3"]
    a = runner.invoke(main, ["sample", "--checkpoint", str(ckpt)] + args)
    b = runner.invoke(main, ["sample", "--checkpoint", str(out)] + args)
    assert a.stdout == b.stdout
    resumed = runner.invoke(main, ["train", "--config", str(cfg), "--resume", str(out)])
    assert resumed.exit_code == 1 and "weights-only" in resumed.stderr


def test_report_and_export_say_what_they_wrote_in_one_well_formed_line(trained, runner,
                                                                      tmp_path):
    import re

    ckpt, _ = trained
    page, copy = tmp_path / "page.html", tmp_path / "copy.npz"
    report = runner.invoke(main, ["report", "--checkpoint", str(ckpt), "--output", str(page)])
    export = runner.invoke(main, ["export", "--checkpoint", str(ckpt), "--output", str(copy)])
    assert report.exit_code == 0 and export.exit_code == 0
    said = report.stderr.splitlines()[-1]
    assert re.fullmatch(rf"rnngen: wrote {re.escape(str(page))} \(\d+\.\d MiB\): .*, "
                        r"unit \d+:\d+ shown first", said), said
    assert re.fullmatch(rf"rnngen: wrote {re.escape(str(copy))} \(\d+\.\d MiB, from "
                        r"\d+\.\d MiB\)\n", export.stderr), export.stderr


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_every_cell_trains_samples_evaluates_exports_and_resumes(tmp_path, text_file, runner,
                                                                 cell):
    """rnngen train --config configs/tiny.yaml --set model.cell=CELL, then the rest."""
    from conftest import ROOT
    out = tmp_path / "m.npz"
    base = ["train", "--config", str(ROOT / "configs" / "tiny.yaml"), "--corpus",
            str(text_file), "--set", f"model.cell={cell}", "--set", "model.hidden_size=24",
            "--set", "train.batch_size=8", "--set", "train.eval_every=10", "--output", str(out),
            "-q"]
    result = runner.invoke(main, base + ["--steps", "10"])
    assert result.exit_code == 0, result.output
    ckpt = checkpoint.load(out)
    assert ckpt.spec.cell == cell and ckpt.step == 10
    assert ckpt.state.shape[-1] == 24 * len(ckpt.spec.cell_module.STATE)  # h (and c)
    result = runner.invoke(main, base + ["--steps", "20", "--resume"])
    assert result.exit_code == 0, result.output
    assert "resuming at step 10" in result.stderr
    assert checkpoint.load(out).step == 20
    result = runner.invoke(main, ["sample", "--checkpoint", str(out), "--seed", "KING:",
                                  "--n", "30", "--random-seed", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("KING:") and len(result.stdout.rstrip("\n")) == 35
    result = runner.invoke(main, ["eval", "--checkpoint", str(out), "--corpus", str(text_file),
                                  "--json"])
    assert result.exit_code == 0, result.output
    assert 0 < json.loads(result.stdout)["nats_per_char"] < np.log(len(set(text_file.read_text())))
    result = runner.invoke(main, ["export", "--checkpoint", str(out), "--output",
                                  str(tmp_path / "w.npz")])
    assert result.exit_code == 0, result.output
    exported = checkpoint.load(tmp_path / "w.npz")
    assert exported.spec == ckpt.spec and not exported.optimizer_state


# -- sample: several samples, beam search, --stop, --json ------------------------

def sample_out(runner, ckpt, *args, input=None):
    result = runner.invoke(main, ["sample", "--checkpoint", str(ckpt)] + list(args), input=input)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def test_num_samples_equal_single_runs_with_seeds_s_plus_i(trained, runner):
    ckpt, _ = trained
    args = ["--seed", "KING:", "--n", "60", "--temperature", "0.8"]
    many = sample_out(runner, ckpt, *args, "--num-samples", "4", "--random-seed", "10")
    singles = [sample_out(runner, ckpt, *args, "--random-seed", str(10 + i)) for i in range(4)]
    # a single run ends without a newline off a terminal; each of several ends with one
    assert many.split("\n%%\n") == singles[:3] + [singles[3] + "\n"]
    nul = sample_out(runner, ckpt, *args, "--num-samples", "4", "--random-seed", "10", "-0")
    assert nul.split("\0") == [s.rstrip("\n") for s in singles] + [""]
    assert len(set(singles)) == 4


def test_beam_one_is_temperature_zero_and_beams_are_deterministic(trained, runner):
    ckpt, _ = trained
    args = ["--seed", "KING:", "--n", "80"]
    greedy = sample_out(runner, ckpt, *args, "--temperature", "0")
    assert sample_out(runner, ckpt, *args, "--beam", "1") == greedy
    assert sample_out(runner, ckpt, *args, "--beam", "1", "--fresh-state") == \
        sample_out(runner, ckpt, *args, "--temperature", "0", "--fresh-state")
    three = sample_out(runner, ckpt, *args, "--beam", "4", "--num-samples", "3", "--json")
    again = sample_out(runner, ckpt, *args, "--beam", "4", "--num-samples", "3", "--json")
    lines = [json.loads(line) for line in three.splitlines()]
    assert three == again and len(lines) == 3
    assert [x["logprob"] for x in lines] == sorted((x["logprob"] for x in lines), reverse=True)
    assert lines[0]["logprob"] >= json.loads(sample_out(runner, ckpt, *args, "--temperature",
                                                        "0", "--json"))["logprob"] - 1e-9


@pytest.mark.parametrize("mode", [["--random-seed", "3"], ["--top-k", "4", "--random-seed", "1"],
                                  ["--beam", "3"]])
def test_stop_ends_each_sample_at_the_first_occurrence(trained, runner, mode):
    ckpt, _ = trained
    args = ["--seed", "KING:", "--n", "400"] + mode
    whole = sample_out(runner, ckpt, *args, "--num-samples", "3", "-0").split("\0")[:-1]
    cut = sample_out(runner, ckpt, *args, "--num-samples", "3", "-0", "--stop", "\n\n")
    for full, part in zip(whole, cut.split("\0")):
        text = full[len("KING:"):]
        end = text.find("\n\n")
        if "--beam" not in mode:  # (beams that stop early rank differently)
            assert part == "KING:" + (text[:end + 2] if end >= 0 else text)
        made = part[len("KING:"):]
        assert made.find("\n\n") in (-1, len(made) - 2)  # none, or only at the end
    assert cut.split("\0")[0].endswith("\n\n")


@pytest.mark.parametrize("mode", [[], ["--top-p", "0.9"], ["--beam", "3"]])
def test_json_log_probabilities_equal_eval(trained, runner, tmp_path, mode):
    """The sum of seed and sample log-probabilities from a zero state is eval's total."""
    ckpt, _ = trained
    out = sample_out(runner, ckpt, "--seed", "KING:\nThe", "--n", "120", "--json",
                     "--fresh-state", "--random-seed", "5", "--num-samples", "2", *mode)
    for line in out.splitlines():
        s = json.loads(line)
        assert len(s["logprobs"]) == len(s["text"]) == s["chars"] == 120
        assert len(s["seed_logprobs"]) == len("KING:\nThe") - 1
        assert s["logprob"] == pytest.approx(sum(s["logprobs"]))
        path = tmp_path / "s.txt"
        path.write_text(s["seed"] + s["text"], encoding="utf-8")
        e = json.loads(runner.invoke(main, ["eval", "--checkpoint", str(ckpt), "--corpus",
                                            str(path), "--json"]).stdout)
        total = -e["nats_per_char"] * e["chars"]
        assert sum(s["seed_logprobs"]) + s["logprob"] == pytest.approx(total, rel=1e-5)
        assert s["settings"]["fresh_state"] and s["settings"]["n"] == 120
        assert "NaN" not in line and "Infinity" not in line


def test_json_reports_the_random_seed_that_repeats_a_sample(trained, runner):
    ckpt, _ = trained
    first = json.loads(sample_out(runner, ckpt, "--n", "40", "--json"))  # no --random-seed
    again = json.loads(sample_out(runner, ckpt, "--n", "40", "--json", "--random-seed",
                                  str(first["random_seed"])))
    assert (again["seed"], again["text"]) == (first["seed"], first["text"])


def test_sample_json_turns_non_finite_numbers_into_null():
    from rnngen.decoding import Sample
    s = Sample("a", "bc", False, 1, [float("-inf"), -1.0], [float("nan")])
    assert s.as_dict()["logprobs"] == [None, -1.0] and s.as_dict()["logprob"] is None
    json.dumps(s.as_dict(), allow_nan=False)


@pytest.mark.parametrize("args, message", [
    (["--beam", "2", "--top-p", "0.9"], "--beam finds the most probable text"),
    (["--beam", "2", "--top-k", "3"], "--top-k cannot apply"),
    (["--beam", "2", "--temperature", "0.7"], "--temperature cannot apply"),
    (["--beam", "2", "--num-samples", "3"], "must be at most 2"),
    (["--length-norm"], "--length-norm steers beam search; use it with --beam"),
    (["--no-repeat-ngram", "5"], "--no-repeat-ngram steers beam search"),
    (["--stop", ""], "--stop needs a non-empty TEXT"),
    (["--json", "-0"], "use one of them"),
    (["--num-samples", "0"], "--num-samples"),
    (["--beam", "0"], "--beam"),
])
def test_sample_combinations_that_make_no_sense(trained, runner, args, message):
    ckpt, _ = trained
    result = runner.invoke(main, ["sample", "--checkpoint", str(ckpt)] + args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""
    assert "Traceback" not in result.output


def test_every_sensible_combination_runs_on_every_cell(tmp_path, text_file, runner):
    from conftest import ROOT
    for cell in ("rnn", "lstm", "gru"):
        out = tmp_path / f"{cell}.npz"
        assert runner.invoke(main, ["train", "--config", str(ROOT / "configs" / "tiny.yaml"),
                                    "--corpus", str(text_file), "--set", f"model.cell={cell}",
                                    "--set", "model.hidden_size=12", "--steps", "3",
                                    "--output", str(out), "-q"]).exit_code == 0
        for mode in (["--num-samples", "3", "--top-k", "3"], ["--top-p", "0.5", "--json"],
                     ["--beam", "3", "--length-norm", "--no-repeat-ngram", "4", "--json"],
                     ["--beam", "2", "--temperature", "0"], ["--temperature", "0", "-0"]):
            for extra in ([], ["--fresh-state", "--seed", "KING"], ["--random-seed", "4"]):
                text = sample_out(runner, out, "--n", "30", "--stop", "e", *mode, *extra)
                assert text


def test_stop_text_the_model_never_saw(trained, runner):
    ckpt, _ = trained
    result = runner.invoke(main, ["sample", "--checkpoint", str(ckpt), "--stop", "@"])
    assert result.exit_code == 1 and "the stop text has 1 character(s)" in result.stderr
