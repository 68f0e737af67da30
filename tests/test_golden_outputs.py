"""Every public command prints what it printed when the goldens were recorded (see
golden_cases.py): the same --random-seed gives the same text on every sampling path."""
import json

import pytest

from golden_cases import GOLDEN, cases, run, same_output, text_file

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
    want_code, want_out, want_err = EXPECTED[name]
    assert code == want_code and err.replace(str(text.parent), "<TMP>") == want_err
    assert same_output(out, want_out), (out, want_out)


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
    assert same_output(result.stdout, out.replace("<CKPT>", str(resources.shipped_model())))


@pytest.mark.parametrize("actual, agrees", [
    ('{"nats": 1.4472201091692942, "chars": 111539}', True),    # the last digits of a sum
    ('{"nats": 1.4472301075095172, "chars": 111539}', False),   # a change in the 6th digit
    ('{"nats": 1.4472201075095172, "chars": 111538}', False),   # an integer is exact
    ('{"nats": 1.4472201075095172, "char": 111539}', False),    # so is the text
])
def test_outputs_agree_up_to_the_last_digits_of_long_floats(actual, agrees):
    assert same_output(actual, '{"nats": 1.4472201075095172, "chars": 111539}') is agrees
