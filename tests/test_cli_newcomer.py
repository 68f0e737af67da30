"""The command line as a new user meets it: names, defaults, help, info, configs, friction."""
import json
import math

import pytest

from conftest import write_config
from rnngen import checkpoint, console, resources, threads
from rnngen.cli import main


def test_bare_rnngen_prints_help_and_exits_0(runner):
    result = runner.invoke(main, [])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and "Commands:" in result.stdout


def test_help_shows_each_command_summary_whole(runner):
    result = runner.invoke(main, ["--help"], terminal_width=60)
    flat = " ".join(result.stdout.split())  # the summaries may wrap, but not be cut
    for name in ("train", "sample", "eval", "export", "info", "configs"):
        summary = main.get_command(None, name).help.split("\n")[0]
        assert summary in flat, summary
    assert "..." not in result.stdout.split("Commands:")[1]


def test_option_help_shows_ranges(runner):
    help_text = " ".join(runner.invoke(main, ["sample", "--help"]).stdout.split())
    for flag, shown in (("--n", "x>=0"), ("--temperature", "x>=0"), ("--top-k", "x>=1"),
                        ("--top-p", "0<x<=1"), ("--random-seed", "x>=0"), ("--threads", "x>=1")):
        after = help_text[help_text.index(flag + " "):]
        assert shown in after[:after.index("--", 3)], flag


def test_configs_lists_the_shipped_configs_with_their_first_comment(runner):
    result = runner.invoke(main, ["configs"])
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ["names", "shakespeare", "shakespeare-gru", "shakespeare-lstm", "tiny"]
    for name, line in zip(names, lines):
        first = (resources.configs_dir() / f"{name}.yaml").read_text().splitlines()[0]
        assert line.endswith(first.lstrip("# "))


def test_train_by_config_name_writes_to_runs_and_says_how_to_sample(tmp_path, text_file,
                                                                     runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["train", "--config", "tiny", "--corpus", str(text_file),
                                  "--steps", "2", "--set", "model.hidden_size=8",
                                  "--set", "train.batch_size=4", "--set", "train.seq_length=8"])
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[:2]
    assert "runs/tiny.npz" in first[0]
    assert first[1].endswith("rnngen sample --checkpoint runs/tiny.npz")
    assert checkpoint.load(tmp_path / "runs" / "tiny.npz").step == 2


def test_train_refuses_the_shipped_model_before_any_work(tmp_path, runner, monkeypatch):
    before = resources.shipped_model().read_bytes()
    cfg = write_config(tmp_path, tmp_path / "no-such-corpus.txt")
    result = runner.invoke(main, ["train", "--config", str(cfg), "--output",
                                  str(resources.shipped_model())])
    assert result.exit_code == 1
    assert "the model rnngen ships" in result.stderr and "(--output)" in result.stderr
    assert "no-such-corpus" not in result.stderr  # refused before the corpus was looked at
    assert resources.shipped_model().read_bytes() == before


def test_train_seed_is_a_usage_error_pointing_to_random_seed(tmp_path, text_file, runner):
    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "--seed", "3"])
    assert result.exit_code == 2 and "use --random-seed" in result.stderr
    ok = runner.invoke(main, ["train", "--config", str(cfg), "--random-seed", "3", "-q",
                              "--steps", "1"])
    assert ok.exit_code == 0, ok.output
    assert checkpoint.load(tmp_path / "model.npz").settings("train")["seed"] == 3


def test_a_bad_corpus_flag_is_named_as_the_flag(tmp_path, text_file, runner, trained):
    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "--corpus", "gone.txt"])
    assert result.exit_code == 1 and "check --corpus" in result.stderr
    cfg = write_config(tmp_path, tmp_path / "gone.txt", name="g.yaml")
    result = runner.invoke(main, ["train", "--config", str(cfg)])
    assert result.exit_code == 1 and "check data.corpus in the config" in result.stderr
    ckpt, _ = trained
    result = runner.invoke(main, ["eval", "--checkpoint", str(ckpt), "--corpus", "gone.txt"])
    assert result.exit_code == 1 and "check --corpus" in result.stderr


def test_progress_without_a_terminal_is_plain_lines(tmp_path, text_file, runner):
    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "--steps", "40"])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("step ")
                and "/40: train loss" in line]
    assert 10 <= len(progress) <= 40, result.stderr  # every 1/20 of the run, less validations
    assert "bpc" in progress[0]


def test_a_resumed_run_shows_the_last_validation_loss(tmp_path, text_file, runner):
    cfg = write_config(tmp_path, text_file)
    assert runner.invoke(main, ["train", "--config", str(cfg), "-q", "--steps", "10"]).exit_code == 0
    last = checkpoint.load(tmp_path / "model.npz").history[-1]["val_loss"]
    result = runner.invoke(main, ["train", "--config", str(cfg), "--resume"])
    assert result.exit_code == 0, result.output
    assert f"last val {last:.4f} nats/char" in result.stderr
    first_progress = next(line for line in result.stderr.splitlines() if "/20: train loss" in line)
    assert f"val {last:.3f}" in first_progress


def test_sample_without_seed_starts_after_a_line_break_and_adds_no_newline(trained, runner):
    ckpt, _ = trained
    args = ["sample", "--checkpoint", str(ckpt), "--n", "60", "--random-seed", "5"]
    plain = runner.invoke(main, args)
    primed = runner.invoke(main, args + ["--seed", "\n"])
    assert plain.exit_code == 0 and primed.exit_code == 0
    assert len(plain.stdout) == 60  # nothing printed for the priming, no final newline
    assert primed.stdout == "\n" + plain.stdout


def test_sample_seed_dash_on_a_terminal_says_it_reads_stdin(trained, runner, monkeypatch):
    ckpt, _ = trained
    args = ["sample", "--checkpoint", str(ckpt), "--seed", "-", "--n", "5"]
    piped = runner.invoke(main, args, input="KING:")
    assert piped.stderr == ""
    monkeypatch.setattr(console, "stdin_is_terminal", lambda: True)
    typed = runner.invoke(main, args, input="KING:")
    assert typed.exit_code == 0
    assert "reading the seed text from stdin" in typed.stderr
    assert typed.stdout.startswith("KING:")


def test_sample_eval_export_default_to_the_shipped_model(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found as package data, not relative to a checkout
    result = runner.invoke(main, ["sample", "--seed", "ROMEO:", "--n", "20", "--random-seed", "1"])
    assert result.exit_code == 0 and result.stdout.startswith("ROMEO:")
    out = tmp_path / "copy.npz"
    assert runner.invoke(main, ["export", "--output", str(out)]).exit_code == 0
    assert checkpoint.load(out).vocab_chars == checkpoint.load(resources.shipped_model()).vocab_chars
    scored = runner.invoke(main, ["eval", "--corpus", "-", "--json"], input="ROMEO:\nO, she doth")
    assert scored.exit_code == 0 and json.loads(scored.stdout)["chars"] == 17


def test_export_will_not_overwrite_what_it_reads(trained, runner):
    ckpt, _ = trained
    before = ckpt.read_bytes()
    result = runner.invoke(main, ["export", "--checkpoint", str(ckpt), "--output", str(ckpt)])
    assert result.exit_code == 1 and "checkpoint being exported" in result.stderr
    assert ckpt.read_bytes() == before


def test_eval_skip_unknown_scores_the_rest_and_counts_what_it_skipped(trained, runner):
    ckpt, _ = trained
    args = ["eval", "--checkpoint", str(ckpt), "--corpus", "-", "--json"]
    refused = runner.invoke(main, args, input="KING:\n@The lord.@@\n")
    assert refused.exit_code == 1 and "never saw: '@'" in refused.stderr
    skipped = runner.invoke(main, args + ["--skip-unknown"], input="KING:\n@The lord.@@\n")
    clean = runner.invoke(main, args, input="KING:\nThe lord.\n")
    assert skipped.exit_code == 0, skipped.output
    a, b = json.loads(skipped.stdout), json.loads(clean.stdout)
    assert a["skipped"] == 3
    # a skipped character is neither predicted nor context: the same as the text without it
    assert a["nats_per_char"] == b["nats_per_char"] and a["chars"] == b["chars"]
    text = runner.invoke(main, args[:-1] + ["--skip-unknown"], input="KING:@\n")
    assert "skipped     1" in text.stdout


def test_threads_flag_and_environment_variable(trained, runner, monkeypatch):
    ckpt, _ = trained
    args = ["sample", "--checkpoint", str(ckpt), "--n", "30", "--random-seed", "2"]
    one = runner.invoke(main, args)
    two = runner.invoke(main, args + ["--threads", "2"])
    assert one.exit_code == 0 and two.exit_code == 0 and one.stdout == two.stdout
    bad = runner.invoke(main, args, env={"RNNGEN_THREADS": "0"})
    assert bad.exit_code == 2 and "--threads" in bad.stderr
    seen = []
    monkeypatch.setattr(threads, "set_thread_count", lambda n: seen.append(n) or True)
    assert runner.invoke(main, args, env={"RNNGEN_THREADS": "3"}).exit_code == 0
    assert seen == [3]


def test_info_describes_a_checkpoint_and_the_shipped_model(trained, runner):
    ckpt, _ = trained
    result = runner.invoke(main, ["info", str(ckpt), "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    loaded = checkpoint.load(ckpt)
    assert (d["cell"], d["hidden_size"], d["num_layers"]) == ("rnn", 16, 1)
    assert d["parameters"] == sum(p.size for p in checkpoint.load(ckpt).params.values())
    assert d["vocab_size"] == len(loaded.vocab_chars) and d["steps"] == 20
    assert d["corpus_sha256"] == loaded.corpus.sha256
    assert d["last_val_nats"] == loaded.history[-1]["val_loss"]
    assert d["best_val_bits"] == pytest.approx(loaded.best_val / math.log(2))
    assert d["format_version"] == loaded.version == 3
    assert d["config"]["train"]["steps"] == 20
    shipped = runner.invoke(main, ["info"])
    assert shipped.exit_code == 0
    assert "3 x 512 RNN" in shipped.stdout and "1,378,881" in shipped.stdout
    assert "best val      1.4472 nats/char (2.0879 bits/char)" in shipped.stdout
