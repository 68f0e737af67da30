"""The report pages' plot legends never cover a curve, measured in a real browser
(headless Chromium through selenium; skipped where either is missing): a generating
model's report and a classifier's, whose accuracy curve rises into the plot's top."""
import pytest
from click.testing import CliRunner

from browser import MEASURE, overlap, page_browser
from conftest import write_config
from test_classify_cli import markers, write_config as classifier_config, write_tsv
from rnngen.cli import main

browser = page_browser("the report's plots")


def report_of(tmp_path, cfg):
    runner = CliRunner()
    trained = runner.invoke(main, ["train", "--config", str(cfg), "-q"])
    assert trained.exit_code == 0, trained.output
    page = tmp_path / "page.html"
    made = runner.invoke(main, ["report", "--checkpoint", str(tmp_path / "model.npz"),
                                "--output", str(page)])
    assert made.exit_code == 0, made.output
    return page


@pytest.mark.parametrize("kind", ["generate", "classify"])
def test_no_legend_covers_a_curve(browser, tmp_path, text_file, kind):
    if kind == "generate":
        cfg = write_config(tmp_path, text_file, train={"steps": 40, "eval_every": 5})
    else:
        data = write_tsv(tmp_path / "m.tsv", markers(300))
        cfg = classifier_config(tmp_path, data, train={
            "steps": 60, "eval_every": 6, "output": str(tmp_path / "model.npz")})
    browser.get(report_of(tmp_path, cfg).as_uri())
    plots = browser.execute_script(MEASURE)
    want = {"step", "minutes"} | ({"accuracy"} if kind == "classify" else set())
    assert want <= {p["kind"] for p in plots}, plots
    for p in plots:
        assert p["marks"] and all(overlap(m, p["plot"]) for m in p["marks"])
        assert p["legend"][2] > p["legend"][0]  # it is drawn
        assert not overlap(p["legend"], p["plot"]), p
        assert not any(overlap(p["legend"], m) for m in p["marks"]), p
