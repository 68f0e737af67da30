"""Every public command prints what it printed when the goldens were recorded (see
golden_cases.py): the same --random-seed gives the same text on every sampling path."""
import json

import pytest

from golden_cases import GOLDEN, cases, run, text_file

EXPECTED = json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return text_file(tmp_path_factory.mktemp("golden"))


def test_every_case_has_a_golden(text):
    assert sorted(name for name, *_ in cases(text)) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_output_is_unchanged(name, text):
    (_, path, args, stdin), = [c for c in cases(text) if c[0] == name]
    code, out, err = run(path, args, stdin)
    assert [code, out, err.replace(str(text.parent), "<TMP>")] == EXPECTED[name]


VALIDATION = json.loads((GOLDEN.parent / "shipped_validation.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VALIDATION))
def test_the_recorded_validation_split_gives_the_same_output(name, shakespeare_corpora):
    from click.testing import CliRunner

    from rnngen import resources
    from rnngen.cli import main

    args = {"eval validation": ["eval", "--json"],
            "report terminal validation": ["report", "--terminal"]}[name]
    result = CliRunner().invoke(main, args)
    code, out, err = VALIDATION[name]
    assert result.exit_code == code and result.stderr == err
    assert result.stdout == out.replace("<CKPT>",
                                        str(resources.shipped_model()))
