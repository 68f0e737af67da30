"""rnngen sweep --report: one page with every trial's validation curve (the values it
reported to Optuna), drawn by state with the best on top, and the --show tables. The
studies are made with Optuna directly (no training), but for one real tiny sweep."""
import html
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from browser import MEASURE, overlap, page_browser
from test_sweep import LR, load, sweep_config
from rnngen.cli import main

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def optuna():
    return pytest.importorskip("optuna")


def journal(cfg, optuna):
    path = cfg.parent / "runs" / "cfg-sweep" / "study.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return path, optuna.storages.journal.JournalStorage(backend)


def made_study(cfg, optuna, trials, direction="minimize", name="cfg"):
    """A study beside cfg's runs holding ``trials``: (state name, {step: value}, lr,
    more params); made with Optuna, as the sweep would leave it."""
    path, storage = journal(cfg, optuna)
    study = optuna.create_study(study_name=name, storage=storage, direction=direction)
    states = optuna.trial.TrialState
    rate = optuna.distributions.FloatDistribution(1.0e-7, 0.05, log=True)
    for state, curve, lr, extra in trials:
        params = dict({LR: lr}, **extra)
        dists = dict({LR: rate}, **{k: optuna.distributions.CategoricalDistribution([v])
                                   for k, v in extra.items()})
        finished = state == "COMPLETE"
        study.add_trial(optuna.trial.create_trial(
            state=getattr(states, state), params=params, distributions=dists,
            value=curve[max(curve)] if finished else None, intermediate_values=curve))
    return path


TRIALS = [  # number: state, curve, learning rate, other params
    ("COMPLETE", {10: 3.0, 20: 2.5, 30: 2.2}, 0.01, {}),
    ("COMPLETE", {10: 2.9, 20: 2.1, 30: 1.8}, 0.02, {}),  # the best
    ("PRUNED", {10: 3.6}, 1.0e-6, {}),
    ("FAIL", {10: 3.1, 20: 2.9}, 0.03, {}),
    ("RUNNING", {10: 2.95}, 0.005, {}),
    ("WAITING", {}, 0.004, {}),
]


def plot(page):
    """The page's one plot, parsed: (svg element, {trial: polyline element})."""
    (svg,) = re.findall(r'<svg class="curve".*?</svg>', page, re.S)
    root = ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))
    lines = {int(p.get("data-trial")): p for p in root.iter(f"{SVG}polyline")}
    return root, lines


def values(root, polyline):
    """A polyline's points mapped back through the svg's axes: (steps, values)."""
    x0, x1, y0, y1 = (float(root.get(f"data-{k}")) for k in ("x0", "x1", "y0", "y1"))
    left, top, w, h = map(float, root.get("data-box").split())
    pts = np.array([p.split(",") for p in polyline.get("points").split()], dtype=float)
    return x0 + (pts[:, 0] - left) / w * (x1 - x0), y1 - (pts[:, 1] - top) / h * (y1 - y0)


def legend(root):
    (group,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    return [t.text for t in group.iter(f"{SVG}text")]


def show(runner, cfg, *extra):
    return runner.invoke(main, ["sweep", "--config", str(cfg), "--show", *extra])


def test_the_page_draws_each_trial_s_reported_curve_by_state(tmp_path, text_file, runner,
                                                            optuna):
    cfg = sweep_config(tmp_path, text_file)
    made_study(cfg, optuna, TRIALS)
    page = tmp_path / "page.html"
    result = show(runner, cfg, "--report", str(page))
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"rnngen: wrote {page} (")
    text = page.read_text(encoding="utf-8")
    root, lines = plot(text)
    assert sorted(lines) == [0, 1, 2, 3, 4]  # the waiting trial has no curve...
    assert "Not drawn (no validation point yet): trial 5." in text  # ...and is named
    for number, polyline in lines.items():
        curve = TRIALS[number][1]
        step, value = values(root, polyline)
        np.testing.assert_allclose(step, sorted(curve), atol=0.05)
        np.testing.assert_allclose(value, [curve[s] for s in sorted(curve)], atol=0.005)
    states = {n: p.get("data-state") for n, p in lines.items()}
    assert states == {0: "complete", 1: "complete", 2: "pruned", 3: "failed", 4: "running"}
    # each state drawn its own way, the best unlike all of them, and on top
    look = {n: (p.get("stroke"), p.get("stroke-dasharray"), p.get("stroke-width"))
            for n, p in lines.items()}
    others = [look[n] for n in (0, 2, 3, 4)]
    assert len(set(others)) == 4 and look[1] not in others
    assert [n for n, p in lines.items() if p.get("data-best")] == [1]
    assert list(lines)[-1] == 1
    assert legend(root) == ["complete", "pruned", "failed", "running", "best: trial 1"]
    assert root.get("aria-label").startswith("val_loss")
    assert "val_loss (lower is better)" in [t.text for t in root.iter(f"{SVG}text")]
    # the tables are --show's, as printed
    tables = [html.unescape(t) for t in re.findall(r'<pre class="table">(.*?)</pre>', text, re.S)]
    assert "\n\n".join(tables) + "\n" == result.stdout


def test_a_maximised_objective_says_so_and_its_best_is_the_highest(tmp_path, text_file,
                                                                   runner, optuna):
    cfg = sweep_config(tmp_path, text_file, sweep={"objective": "val_accuracy",
                                                   "direction": "maximize"})
    made_study(cfg, optuna, [("COMPLETE", {5: 0.5, 10: 0.7}, 0.01, {}),
                             ("COMPLETE", {5: 0.4, 10: 0.6}, 0.02, {})], "maximize")
    result = show(runner, cfg, "--report")
    assert result.exit_code == 0, result.output
    root, lines = plot((tmp_path / "runs" / "cfg-sweep" / "report.html").read_text("utf-8"))
    assert [n for n, p in lines.items() if p.get("data-best")] == [0]
    assert legend(root)[-1] == "best: trial 0"
    assert "val_accuracy (higher is better)" in [t.text for t in root.iter(f"{SVG}text")]


def test_names_and_values_are_escaped(tmp_path, text_file, runner, optuna):
    odd = "<b>&'\""
    cfg = sweep_config(tmp_path, text_file, name=f"c{odd}.yaml")
    made_study(cfg, optuna, [("COMPLETE", {10: 2.0}, 0.01, {"note": f"</title>{odd}"})],
               name=f"c{odd}")
    page = tmp_path / "page.html"
    result = show(runner, cfg, "--report", str(page))
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "<b>" not in text and "&'" not in text
    root, lines = plot(text)  # well-formed, and the names come back as they were
    assert lines[0].find(f"{SVG}title").text.endswith(f"note=</title>{odd}")
    assert html.unescape(re.search(r"<title>(.*?)</title>", text).group(1)) == \
        f"rnngen sweep: c{odd}"


def test_a_study_with_no_trials_is_one_line_and_writes_nothing(tmp_path, text_file, runner,
                                                               optuna):
    cfg = sweep_config(tmp_path, text_file)
    made_study(cfg, optuna, [])
    page = tmp_path / "page.html"
    result = show(runner, cfg, "--report", str(page))
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "has no trials yet" in line and "Traceback" not in result.output
    assert not page.exists()


def test_the_page_never_replaces_what_the_sweep_reads_nor_changes_the_study(
        tmp_path, text_file, runner, optuna):
    cfg = sweep_config(tmp_path, text_file)
    study = made_study(cfg, optuna, TRIALS)
    trial = tmp_path / "runs" / "cfg-sweep" / "trial-2.npz"
    trial.write_bytes(b"a checkpoint")
    before = {p: p.read_bytes() for p in (cfg, study, trial, text_file)}
    for path, what in ((cfg, "config file"), (study, "storage"), (trial, "checkpoint of "
                                                                           "trial 2"),
                       (text_file, "corpus")):
        result = show(runner, cfg, "--report", str(path))
        assert result.exit_code == 1, result.output
        (line,) = result.stderr.strip().splitlines()
        assert f"--report {path} is the file the report reads (the {what})" in line
    result = show(runner, cfg, "--report")  # reading the study leaves it as it was
    assert result.exit_code == 0, result.output
    assert {p: p.read_bytes() for p in before} == before


def test_a_bad_report_path_is_one_line(tmp_path, text_file, runner, optuna):
    cfg = sweep_config(tmp_path, text_file)
    made_study(cfg, optuna, TRIALS)
    missing = tmp_path / "no" / "such" / "page.html"
    result = show(runner, cfg, "--report", str(missing))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot write the report to {missing}") and "--report" in line
    result = show(runner, cfg, "--report", "-")
    assert result.exit_code == 2 and "give it a path" in result.stderr
    # a sweep about to run checks the path before any trial
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--report", str(missing)])
    assert result.exit_code == 1 and len(load(tmp_path, optuna).trials) == len(TRIALS)


def test_a_sweep_with_report_writes_the_page_of_its_trials(tmp_path, text_file, runner,
                                                           optuna, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = sweep_config(tmp_path, text_file, sweep={"trials": 2, "enqueue": [{LR: 1.0e-7}],
                                                   "startup_trials": 1})
    from rnngen import sweep as sweeping

    written = []
    real = sweeping.page.Looked.write

    def spy(self, path):
        written.append([t.state.name for t in self.trials])
        real(self, path)

    monkeypatch.setattr(sweeping.page.Looked, "write", spy)
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--report"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("best.yaml")
    # after each trial, and at the end
    assert written == [["COMPLETE", "WAITING"]] + [["COMPLETE", "PRUNED"]] * 2
    page = tmp_path / "runs" / "cfg-sweep" / "report.html"
    assert f"rnngen: wrote {page} (" in result.stderr
    root, lines = plot(page.read_text(encoding="utf-8"))
    trials = load(tmp_path, optuna).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    for t in trials:
        step, value = values(root, lines[t.number])
        curve = t.intermediate_values
        np.testing.assert_allclose(step, sorted(curve), atol=0.05)
        np.testing.assert_allclose(value, [curve[s] for s in sorted(curve)], atol=0.01)
    assert lines[1].get("data-state") == "pruned" and lines[0].get("data-best") == "true"

    def broken(self, path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sweeping.page.Looked, "write", broken)  # a page never ends a sweep
    result = runner.invoke(main, ["sweep", "--config", str(cfg), "--report", "--trials", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: could not write the report") == 2


browser = page_browser("the sweep's page")


def test_the_legend_covers_no_curve_in_a_browser(browser, tmp_path, text_file, runner, optuna):
    cfg = sweep_config(tmp_path, text_file)
    # curves that reach the plot's top left, where a legend inside it would sit
    made_study(cfg, optuna, TRIALS + [("PRUNED", {0: 9.0, 10: 3.7}, 0.04, {})])
    page = tmp_path / "page.html"
    assert show(runner, cfg, "--report", str(page)).exit_code == 0
    browser.get(page.as_uri())
    (p,) = browser.execute_script(MEASURE)
    assert p["kind"] == "trials" and len(p["marks"]) > 10
    assert all(overlap(m, p["plot"]) for m in p["marks"])
    assert p["legend"][2] > p["legend"][0]  # it is drawn
    assert not overlap(p["legend"], p["plot"]), p
    assert not any(overlap(p["legend"], m) for m in p["marks"]), p
