"""rnngen sweep: a config's sweep: section searched over Optuna (skipped without it)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import write_config
from rnngen import checkpoint
from rnngen.cli import main

LR = "train.learning_rate"


@pytest.fixture
def optuna():
    return pytest.importorskip("optuna")


def sweep_config(tmp_path, corpus, sweep=None, train=None, name="cfg.yaml"):
    """A tiny config (conftest.write_config) with a sweep: section."""
    path = write_config(tmp_path, corpus, name=name, train=dict(
        {"steps": 30, "eval_every": 10, "output": str(tmp_path / "runs" / "cfg.npz")},
        **(train or {})))
    data = yaml.safe_load(path.read_text())
    data["sweep"] = dict({"trials": 3, "seed": 1, "startup_trials": 2,
                          "params": {LR: {"low": 1.0e-7, "high": 0.05, "log": True}}},
                         **(sweep or {}))
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load(tmp_path, optuna, name="cfg"):
    storage = str(tmp_path / "runs" / "cfg-sweep" / "study.journal")
    backend = optuna.storages.journal.JournalFileBackend(storage)
    return optuna.load_study(study_name=name,
                             storage=optuna.storages.journal.JournalStorage(backend))


def sweep_cmd(cfg, *extra):
    return [sys.executable, "-m", "rnngen", "sweep", "--config", str(cfg), *extra]


def test_a_sweep_prunes_the_bad_trial_and_writes_a_best_config_that_trains(
        tmp_path, text_file, runner, optuna, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the baseline (the config's own 0.01), then two enqueued settings: a good rate and
    # a hopeless one, which the median pruner must stop at the first validation
    cfg = sweep_config(tmp_path, text_file,
                       sweep={"enqueue": [{LR: 0.03}, {LR: 1.0e-7}]})
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    study = load(tmp_path, optuna)
    states = optuna.trial.TrialState
    trials = study.get_trials()
    assert [t.params[LR] for t in trials] == [0.01, 0.03, 1.0e-7]
    assert [t.state for t in trials] == [states.COMPLETE, states.COMPLETE, states.PRUNED]
    assert max(trials[2].intermediate_values) == 10  # stopped at its first validation
    assert checkpoint.load(tmp_path / "runs" / "cfg-sweep" / "trial-2.npz").step == 10
    assert "trial 2: pruned at step 10" in result.stderr
    best = tmp_path / "runs" / "cfg-sweep" / "best.yaml"
    assert result.stdout.splitlines()[-1] == str(best)
    assert result.stdout.splitlines()[0].split() == ["trial", "state", "val_loss", "step",
                                                     "minutes", LR]
    assert result.stdout.splitlines()[1].split()[0] == str(study.best_trial.number)

    trained = runner.invoke(main, ["train", "--config", str(best), "-q"])
    assert trained.exit_code == 0, trained.output
    ckpt = checkpoint.load(tmp_path / "runs" / "cfg-sweep" / "best.npz")
    assert ckpt.settings("train")["learning_rate"] == study.best_trial.params[LR]
    # the same run as the best trial: the same validation loss
    assert ckpt.history[-1]["val_loss"] == pytest.approx(study.best_value, rel=1e-6)

    shown = runner.invoke(main, ["sweep", "--config", str(cfg), "--show"])
    assert shown.exit_code == 0, shown.output
    assert "importance" in shown.stdout and "pruned" in shown.stdout
    again = runner.invoke(main, ["sweep", "--config", str(cfg)])  # the study is full
    assert again.exit_code == 0 and len(load(tmp_path, optuna).trials) == 3


def test_the_objective_is_a_metric_the_run_reports(tmp_path, text_file, runner, optuna):
    cfg = sweep_config(tmp_path, text_file, sweep={"objective": "accuracy",
                                                   "direction": "maximize"})
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: sweep.objective 'accuracy' is not a metric this run reports; "
        "it reports train_loss, val_loss")
    assert "Traceback" not in result.output


def test_a_trial_budget_ends_a_trial_at_its_last_validation(tmp_path, text_file, runner,
                                                            optuna):
    cfg = sweep_config(tmp_path, text_file, train={"steps": 100000, "eval_every": 5},
                       sweep={"trials": 1, "trial_minutes": 0.02})
    started = time.monotonic()
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60
    (trial,) = load(tmp_path, optuna).trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.value == trial.intermediate_values[max(trial.intermediate_values)]
    assert "stopped by its time budget" in result.stderr


def test_the_total_budget_starts_no_trial_after_it_and_cuts_the_running_one(
        tmp_path, text_file, runner, optuna):
    steps = 2000  # far more than 3 s of training, however fast the machine
    cfg = sweep_config(tmp_path, text_file, train={"steps": steps, "eval_every": 5},
                       sweep={"trials": 3, "total_minutes": 0.05})
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    # the budget ran out during the first trial: the worker started no other
    (trial,) = load(tmp_path, optuna).trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    last = max(trial.intermediate_values)
    assert trial.value == trial.intermediate_values[last]  # its last validation's value
    stopped = checkpoint.load(tmp_path / "runs" / "cfg-sweep" / "trial-0.npz").step
    assert last <= stopped < steps  # cut short, its checkpoint written where it stopped
    assert "trial 0: complete" in result.stderr
    assert "stopped by its time budget" in result.stderr


def test_the_halving_pruner_stops_a_clearly_worse_trial(tmp_path, text_file, runner,
                                                        optuna):
    # startup_trials holds the median pruner back here: only halving can prune. Halving
    # ranks a trial against those that reached the same rung before it: the baseline
    # (run while no trial had finished, so it set the rungs' steps but holds none), the
    # good rate (alone on its rungs), then the hopeless one, which is not the best of two
    cfg = sweep_config(tmp_path, text_file, sweep={
        "pruner": "halving", "startup_trials": 5, "enqueue": [{LR: 0.03}, {LR: 1.0e-7}]})
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    trials = load(tmp_path, optuna).trials
    states = optuna.trial.TrialState
    assert [t.params[LR] for t in trials] == [0.01, 0.03, 1.0e-7]
    assert [t.state for t in trials] == [states.COMPLETE, states.COMPLETE, states.PRUNED]
    assert max(trials[2].intermediate_values) == 10  # stopped at its first validation
    assert "trial 2: pruned at step 10" in result.stderr


def test_each_worker_process_trains_on_its_share_of_the_cores(tmp_path, text_file, runner,
                                                              optuna, monkeypatch):
    from rnngen import threads
    from rnngen.sweep import workers

    if threads.thread_count() is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS: its thread count cannot be read")
    # six cores between two workers: three BLAS threads each, unlike this machine's own
    # count (a 2-core machine would give each worker one, its count as the BLAS starts)
    monkeypatch.setattr(workers, "cores", lambda: 6)
    cfg = sweep_config(tmp_path, text_file, train={"steps": 10}, sweep={"trials": 2})
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "2 worker processes, each on 3 BLAS threads" in result.stderr
    trials = load(tmp_path, optuna).trials
    assert len(trials) == 2
    assert [t.user_attrs["threads"] for t in trials] == [3, 3]
    assert all(t.user_attrs["pid"] != os.getpid() for t in trials)


def _show_rows(runner, cfg, *extra):
    """The trial numbers --show lists, best first."""
    shown = runner.invoke(main, ["sweep", "--config", str(cfg), "--show", *extra])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:2] == ["trial", "state"]
    return [line.split()[0] for line in lines[1:] if line[:1].isdigit()]


def test_two_studies_in_one_storage_stay_apart(tmp_path, text_file, runner, optuna):
    cfg = sweep_config(tmp_path, text_file, train={"steps": 10})
    best = {}
    for name, count in (("first", 2), ("second", 1)):
        result = runner.invoke(main, ["sweep", "--config", str(cfg), "--study", name,
                                      "--trials", str(count)])
        assert result.exit_code == 0, result.output
        best[name] = result.stdout.splitlines()[-1]
    first, second = (load(tmp_path, optuna, name).trials for name in ("first", "second"))
    states = optuna.trial.TrialState
    assert [t.state for t in first] == [states.COMPLETE] * 2
    assert [t.state for t in second] == [states.COMPLETE]
    # each study's trials wrote their own checkpoints, and each its own best config
    outputs = [t.user_attrs["output"] for t in first + second]
    assert len(set(outputs)) == 3
    assert checkpoint.load(second[0].user_attrs["output"]).history[-1]["val_loss"] == \
        pytest.approx(second[0].value, rel=1e-6)
    assert best["first"] != best["second"]
    for name in best:
        assert f"study {name!r}" in open(best[name], encoding="utf-8").readline()
    assert sorted(_show_rows(runner, cfg, "--study", "first")) == ["0", "1"]
    assert _show_rows(runner, cfg, "--study", "second") == ["0"]


def test_one_study_name_in_two_storages_stays_apart(tmp_path, text_file, runner, optuna):
    """The config's own study in its default journal and a study of the same name in
    another journal file: each writes its own trial-0.npz and best config."""
    cfg = sweep_config(tmp_path, text_file, train={"steps": 10}, sweep={"trials": 1})
    other = tmp_path / "elsewhere" / "other.journal"
    best = []
    for extra in ([], ["--storage", str(other)], ["--storage", str(other)]):
        result = runner.invoke(main, ["sweep", "--config", str(cfg), *extra])
        assert result.exit_code == 0, result.output
        best.append(result.stdout.splitlines()[-1])
    assert best[0] == str(tmp_path / "runs" / "cfg-sweep" / "best.yaml")
    assert best[1] == best[2] != best[0]  # the same storage again: the same folder
    outputs = [t.user_attrs["output"] for t in load(tmp_path, optuna).trials]
    backend = optuna.storages.journal.JournalFileBackend(str(other))
    outputs += [t.user_attrs["output"] for t in optuna.load_study(
        study_name="cfg", storage=optuna.storages.journal.JournalStorage(backend)).trials]
    assert len(outputs) == 2 and len(set(outputs)) == 2
    # the default journal named by another path is still the default
    same = runner.invoke(main, ["sweep", "--config", str(cfg), "--show", "--storage",
                                str(tmp_path / "runs" / ".." / "runs" / "cfg-sweep" /
                                    "study.journal")])
    assert same.exit_code == 0, same.output
    assert [line.split()[0] for line in same.stdout.splitlines()[1:]
            if line[:1].isdigit()] == ["0"]


def test_a_trial_checkpoint_the_study_did_not_make_is_refused_in_sweeps_words(
        tmp_path, text_file, runner, optuna):
    """A study whose journal was deleted leaves trial-0.npz behind: a new study of the
    same name refuses in one line naming --study, and the old checkpoint is kept."""
    cfg = sweep_config(tmp_path, text_file, train={"steps": 10}, sweep={"trials": 1})
    assert runner.invoke(main, ["sweep", "--config", str(cfg)]).exit_code == 0
    folder = tmp_path / "runs" / "cfg-sweep"
    (folder / "study.journal").unlink()
    kept = (folder / "trial-0.npz").read_bytes()
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "trial-0.npz already holds" in line and "--study NAME" in line, line
    assert "--resume" not in line and "Traceback" not in result.stderr
    assert (folder / "trial-0.npz").read_bytes() == kept


def test_a_database_storage_holds_the_study(tmp_path, text_file, runner, optuna):
    pytest.importorskip("sqlalchemy", reason="Optuna's database storage needs sqlalchemy")
    cfg = sweep_config(tmp_path, text_file, train={"steps": 10}, sweep={"trials": 2})
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--storage", url])
    assert result.exit_code == 0, result.output
    best = Path(result.stdout.splitlines()[-1])
    # a study in a storage of its own keeps its files in a folder named for both
    assert best.name == "best.yaml" and best.parent.parent == tmp_path / "runs" / "cfg-sweep"
    assert best.parent.name.startswith("cfg-") and best.is_file()
    trials = optuna.load_study(study_name="cfg", storage=url).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert not (tmp_path / "runs" / "cfg-sweep" / "study.journal").exists()
    assert sorted(_show_rows(runner, cfg, "--storage", url)) == ["0", "1"]
    again = runner.invoke(main, ["sweep", "--config", str(cfg), "--storage", url])
    assert again.exit_code == 0 and len(optuna.load_study(study_name="cfg",
                                                          storage=url).trials) == 2


def test_a_database_storage_without_sqlalchemy_says_what_to_install(tmp_path, text_file,
                                                                    runner, optuna,
                                                                    monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # import sqlalchemy fails
    cfg = sweep_config(tmp_path, text_file)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    for extra in ([], ["--show"]):
        result = runner.invoke(main, ["sweep", "--config", str(cfg), "--storage", url, *extra])
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.strip().splitlines()
        assert "needs sqlalchemy" in line and "pip install 'rnngen-text[sweep]'" in line, line
    assert not (tmp_path / "studies.db").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("extra", [[], ["--show"], ["--show", "--report"]])
def test_a_database_urls_password_is_never_printed(tmp_path, text_file, runner, optuna, extra):
    """A storage URL may carry a password: messages name the storage with it masked
    (here the database cannot be opened, with or without its driver)."""
    cfg = sweep_config(tmp_path, text_file)
    url = "postgresql://bob:hunter2@127.0.0.1:9/studies"
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--storage", url, *extra])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "postgresql://bob:***@127.0.0.1:9/studies" in line, line
    assert "hunter2" not in result.output and "Traceback" not in result.output


def _span(trial):
    return trial.datetime_start, trial.datetime_complete


def _ran_together(these, those):
    """Whether a trial of ``these`` ran while one of ``those`` did (start/end times)."""
    return any(a[0] < b[1] and b[0] < a[1]
               for a in map(_span, these) for b in map(_span, those))


def test_two_commands_and_worker_processes_share_one_study(tmp_path, text_file, optuna):
    # every trial trains for 6 s whatever the machine's speed (its time budget), so the
    # first command's two trials span 12 s, which the second command's start, workers
    # and all, falls well within even on a busy 2-core machine
    cfg = sweep_config(tmp_path, text_file, train={"steps": 100000},
                       sweep={"trial_minutes": 0.1})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    one = subprocess.Popen(sweep_cmd(cfg, "--trials", "2"), cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    two = subprocess.Popen(sweep_cmd(cfg, "--trials", "4", "--workers", "2"), cwd=tmp_path,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for proc in (one, two):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.splitlines()[-1].endswith("best.yaml")
    trials = load(tmp_path, optuna).trials
    assert sorted(t.number for t in trials) == list(range(6))  # 2 + 4, none lost
    assert all(t.state.is_finished() for t in trials)
    baseline = [t for t in trials if t.user_attrs.get("baseline")]
    assert len(baseline) == 1  # taken off the queue by one worker only
    # each trial ran once, in one process, into its own checkpoint
    assert len({t.user_attrs["output"] for t in trials}) == 6
    # the first command's process, and the second's two worker processes at once
    mine = [t for t in trials if t.user_attrs["pid"] == one.pid]
    workers = {}
    for t in trials:
        if t.user_attrs["pid"] != one.pid:
            workers.setdefault(t.user_attrs["pid"], []).append(t)
    assert len(mine) == 2 and len(workers) == 2 and two.pid not in workers
    assert _ran_together(mine, [t for ts in workers.values() for t in ts])
    assert _ran_together(*workers.values())
    for t in trials:
        meta = checkpoint.load(t.user_attrs["output"]).meta
        assert meta["train"]["learning_rate"] == t.params[LR]


def _start_and_stop(cfg, tmp_path, sig):
    """Start a sweep, let its first trial checkpoint once, then send ``sig``."""
    proc = subprocess.Popen(sweep_cmd(cfg), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = tmp_path / "runs" / "cfg-sweep" / "trial-0.npz"
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_sweep_resumes_its_trial(tmp_path, text_file, optuna, sig):
    steps = 600
    cfg = sweep_config(tmp_path, text_file, train={"steps": steps},
                       sweep={"trials": 2, "enqueue": [{LR: 0.02}]})
    code, _, err = _start_and_stop(cfg, tmp_path, sig)
    if code == 0:
        pytest.skip("the sweep finished before the signal arrived")
    stopped = checkpoint.load(tmp_path / "runs" / "cfg-sweep" / "trial-0.npz").step
    assert 0 < stopped < steps
    if sig == signal.SIGINT:
        assert code == 130 and "same command resumes it" in err and "Traceback" not in err

    again = subprocess.run(sweep_cmd(cfg), cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    trials = load(tmp_path, optuna).trials
    states = optuna.trial.TrialState
    assert [t.state for t in trials] == [states.FAIL, states.COMPLETE, states.COMPLETE]
    first = trials[0]
    # the enqueued setting was waiting before the retry was queued, so it runs first
    (resumed,) = [t for t in trials if t.user_attrs.get("retry_of") == 0]
    (second,) = [t for t in trials[1:] if t is not resumed]
    assert resumed.params == first.params
    assert "resumed" in again.stderr
    ckpt = checkpoint.load(resumed.user_attrs["output"])
    assert ckpt.step == steps
    # the resumed run continued the checkpoint: its curve starts with the first's points
    assert ckpt.history[0]["step"] == 10
    assert min(resumed.intermediate_values) == 10
    assert second.params == {LR: 0.02}  # the queue went on where it stopped


BAD = [
    ({"trails": 3}, "unknown key 'sweep.trails' (did you mean 'trials'?)"),
    ({"params": {"train.lr": {"low": 0.1, "high": 1.0}}}, "unknown key 'train.lr'"),
    ({"params": {"train.optimizer": {"low": 0.1, "high": 1.0}}},
     "sweep.params.train.optimizer is a str key"),
    ({"params": {LR: {"low": 0.1, "high": 0.01}}}, "sweep.params.train.learning_rate needs "
                                                   "low below high"),
    ({"params": {LR: {"low": 0.001, "hgih": 0.01}}}, "sweep.params.train.learning_rate.hgih "
                                                     "is not a range key (did you mean 'high'?)"),
    ({"params": {"model.dropout": {"low": 0.0, "high": 1.0}}}, "model.dropout must be in [0, 1)"),
    ({"params": {"model.hidden_size": {"low": 8, "high": 32.5}}},
     "sweep.params.model.hidden_size.high: model.hidden_size must be int"),
    ({"params": {"model.cell": {"choices": ["gru", "transformer"]}}}, "model.cell must be one of"),
    ({"params": {"train.output": {"choices": ["a.npz"]}}}, "train.output cannot be swept"),
    ({"pruner": "hyperband"}, "sweep.pruner must be one of median, halving, none"),
    ({"objective": "accuracy"}, "sweep.direction must be given"),
    ({"params": {LR: {"low": 0.02, "high": 0.05}}}, "sweep.baseline runs the config's own "
                                                    "train.learning_rate = 0.01"),
    ({"enqueue": [{"model.dropout": 0.1}]}, "sweep.enqueue[0].model.dropout is not swept"),
    ({"trials": "many"}, "sweep.trials must be int"),
]


@pytest.mark.parametrize("bad, message", BAD)
def test_a_bad_sweep_section_is_one_line_naming_the_key(tmp_path, text_file, runner, bad,
                                                        message):
    cfg = sweep_config(tmp_path, text_file, sweep=bad)
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {cfg}: ") and message in line, line
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_a_config_without_a_sweep_section_says_what_to_add(tmp_path, text_file, runner):
    cfg = write_config(tmp_path, text_file)
    result = runner.invoke(main, ["sweep", "--config", str(cfg)])
    assert result.exit_code == 1
    assert "has no sweep: section" in result.stderr and len(result.stderr.splitlines()) == 1


def test_train_takes_a_config_with_a_sweep_section(tmp_path, text_file, runner):
    cfg = sweep_config(tmp_path, text_file)
    result = runner.invoke(main, ["train", "--config", str(cfg), "-q"])
    assert result.exit_code == 0, result.output


def test_without_optuna_one_line_says_how_to_install_it(tmp_path, text_file, runner,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    cfg = sweep_config(tmp_path, text_file)
    for args in (["--config", str(cfg)], ["--config", str(cfg), "--show"]):
        result = runner.invoke(main, ["sweep", *args])
        assert result.exit_code == 1
        (line,) = result.stderr.strip().splitlines()
        assert "pip install 'rnngen-text[sweep]'" in line


def test_recover_requeues_only_trials_whose_worker_is_gone(tmp_path, text_file, optuna,
                                                           monkeypatch):
    from rnngen import lock
    from rnngen.sweep import study as studies
    from rnngen.sweep.trial import HOST

    plan = studies.plan(sweep_config(tmp_path, text_file))
    study = studies.open_study(plan)
    states = optuna.trial.TrialState
    output = tmp_path / "runs" / "cfg-sweep" / "trial-0.npz"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(b"a checkpoint")
    alive = study.ask({LR: optuna.distributions.FloatDistribution(1e-7, 0.05, log=True)})
    for key, value in (("host", HOST), ("pid", os.getpid()), ("output", str(output))):
        alive.set_user_attr(key, value)
    elsewhere = study.ask()
    elsewhere.set_user_attr("host", "another-machine")
    nameless = study.ask()  # asked for, then its worker died before naming itself

    with lock.OutputLock(output):  # its run holds the lock: alive
        assert studies.recover(study) == []
    monkeypatch.setattr(studies, "ORPHAN_SECONDS", 0)
    time.sleep(0.01)
    assert studies.recover(study) == [0, 2]  # lock free: gone; no host for too long: gone
    trials = study.get_trials()
    assert [t.state for t in trials[:3]] == [states.FAIL, states.RUNNING, states.FAIL]
    retry, retry_nameless = trials[3:]
    assert retry.state == states.WAITING
    assert retry.system_attrs["fixed_params"] == alive.params  # a waiting trial's values
    assert retry.user_attrs == {"retry_of": 0, "resume_from": str(output)}
    assert retry_nameless.user_attrs == {"retry_of": nameless.number}
    assert studies.recover(study) == []  # each is recovered once
    assert elsewhere.number == 1  # another host's: left to a worker there


def test_show_without_a_study_is_one_line_and_writes_nothing(tmp_path, text_file, runner,
                                                             optuna):
    cfg = sweep_config(tmp_path, text_file)
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--show"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "no study named 'cfg'" in line
    assert not (tmp_path / "runs").exists()


def test_docs_list_every_sweep_key_with_its_default():
    import dataclasses
    import re

    from conftest import ROOT
    from rnngen.sweep.section import SweepConfig

    doc = (ROOT / "docs" / "sweep.md").read_text(encoding="utf-8")
    section = doc.split("Every key of the section and its default:", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    assert yaml.safe_load(block) == {"sweep": dataclasses.asdict(SweepConfig())}


def test_the_storage_may_not_be_a_file_the_sweep_reads(tmp_path, text_file, runner, optuna):
    cfg = sweep_config(tmp_path, text_file)
    before = cfg.read_bytes(), text_file.read_bytes()
    for storage, what in ((cfg, "the config file"), (text_file, "the corpus")):
        result = runner.invoke(main, ["sweep", "--config", str(cfg), "--storage", str(storage)])
        assert result.exit_code == 1
        (line,) = result.stderr.strip().splitlines()
        assert f"is {what}" in line
    assert (cfg.read_bytes(), text_file.read_bytes()) == before
