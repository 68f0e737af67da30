"""Commands whose output must stay byte for byte the same: every sampling path (streamed,
several samples, --stop, --json, -0, beam search) and eval, info and report, on the shipped
model and on the format-version-2 fixtures of each cell (tests/data).

``tests/golden/outputs.json`` holds what they printed; ``test_golden_outputs.py`` checks
them. Record again (python tests/golden_cases.py) only when an output is meant to change.
"""
import json
import math
import re
import sys
from pathlib import Path

from click.testing import CliRunner

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden" / "outputs.json"
FIXTURES = TESTS / "data"
CKPT = "<CKPT>"  # the checkpoint's path, as it appears in an output

SAMPLES = [
    ["--n", "300", "--random-seed", "7"],
    ["--n", "200", "--temperature", "0.7", "--top-k", "5", "--random-seed", "3"],
    ["--n", "200", "--top-p", "0.8", "--random-seed", "4", "--fresh-state", "--seed", "KING:"],
    ["--n", "150", "--temperature", "0", "--seed", "ROMEO:"],
    ["--n", "200", "--num-samples", "3", "--random-seed", "5"],
    ["--n", "200", "--num-samples", "3", "--top-k", "8", "--temperature", "0.9",
     "--random-seed", "6"],
    ["--n", "300", "--stop", "\n\n", "--num-samples", "2", "--json", "--random-seed", "8"],
    ["--n", "100", "--json", "--random-seed", "9", "--seed", "KING"],
    ["--n", "120", "--beam", "4", "--num-samples", "2", "--json", "--seed", "ROMEO:"],
    ["--n", "120", "--beam", "3", "--no-repeat-ngram", "4", "--stop", ".", "--length-norm"],
    ["--n", "100", "-0", "--num-samples", "2", "--random-seed", "10", "--temperature", "0"],
    ["--n", "80", "--stop", "e", "--random-seed", "12", "--top-p", "0.95"],
    ["--n", "60", "--num-samples", "4", "--stop", "a", "--random-seed", "13", "--top-k", "3"],
]
LONG = [  # across a block of Gumbel noise (engine.sampling.BLOCK), one stream and a batch
    ["--n", "1100", "--random-seed", "2", "--seed", "ROMEO:"],
    ["--n", "1030", "--num-samples", "2", "--random-seed", "11", "--temperature", "0.8"],
]
TEXT = ("ROMEO:\nWhat is love but a word my lord.\n\nKING:\nSpeak to thee of rome.\n\n"
        "JULIET:\nThe night is sweet.\n")  # in the vocabulary of every checkpoint here
LONGEST = 20_000  # an output longer than this (the report page) is kept as its sha256


def cases(text_file):
    """(name, checkpoint path, args, stdin) for every golden case."""
    shipped = TESTS.parent / "checkpoints" / "shakespeare.npz"
    ckpts = {"shipped": shipped, **{p.stem: p for p in sorted(FIXTURES.glob("v2_*.npz"))}}
    out = []
    for name, path in ckpts.items():
        runs = SAMPLES + (LONG if name in ("shipped", "v2_lstm") else [])
        for i, args in enumerate(runs):
            out.append((f"{name} sample {i}", path, ["sample", "--checkpoint", path, *args], None))
        out += [
            (f"{name} info", path, ["info", path], None),
            (f"{name} info json", path, ["info", path, "--json"], None),
            (f"{name} eval file", path, ["eval", "--checkpoint", path, "--corpus", text_file],
             None),
            (f"{name} eval stdin json", path, ["eval", "--checkpoint", path, "--corpus", "-",
                                               "--json"], TEXT),
            (f"{name} eval skip", path, ["eval", "--checkpoint", path, "--corpus", "-",
                                         "--skip-unknown"], TEXT + "@#\n"),
            (f"{name} report terminal", path, ["report", "--checkpoint", path, "--corpus",
                                               text_file, "--terminal"], None),
            (f"{name} report page", path, ["report", "--checkpoint", path, "--corpus", "-",
                                           "--output", "-", "--unit", "0:3"], TEXT * 3),
        ]
    return out


def run(path, args, stdin):
    """(exit code, stdout, stderr) of one case, the checkpoint's path replaced by CKPT."""
    from rnngen.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args], input=stdin)
    clean = [s.replace(str(path), CKPT) for s in (result.stdout, result.stderr)]
    recorded = _recorded_output(path)  # a fixture records where it was recorded
    if recorded and recorded != str(path):
        clean = [s.replace(recorded, CKPT) for s in clean]
    return [result.exit_code, *(_short(s) for s in clean)]


def _recorded_output(path):
    """The train.output a fixture (tests/data) records: its path in the checkout that
    recorded the goldens, which printed as CKPT there; None for the shipped model."""
    from rnngen import checkpoint

    if Path(path).parent != FIXTURES:
        return None
    return checkpoint.load(path).settings("train").get("output")


def _short(text):
    if len(text) <= LONGEST:
        return text
    import hashlib

    return f"sha256 {hashlib.sha256(text.encode()).hexdigest()}, {len(text)} characters"


# A float printed to many digits: its last digits depend on how the BLAS on the machine splits
# a sum (its kernels and thread count), so such numbers are compared to 1e-6 relative; every
# other character of an output must match exactly.
FLOAT = re.compile(r"-?\d+\.\d{6,}(?:[eE][-+]?\d+)?")
RELATIVE = 1e-6


def same_output(actual, expected):
    """True when two outputs differ at most in the last digits of long floats."""
    if FLOAT.split(actual) != FLOAT.split(expected):
        return False
    pairs = zip(FLOAT.findall(actual), FLOAT.findall(expected))
    return all(math.isclose(float(a), float(b), rel_tol=RELATIVE) for a, b in pairs)


def text_file(folder):
    path = Path(folder) / "text.txt"
    path.write_text(TEXT * 4, encoding="utf-8")
    return path


def record():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outputs = {name: run(path, args, stdin)
                   for name, path, args, stdin in cases(text_file(tmp))}
    outputs = {k: [v[0], v[1], v[2].replace(tmp, "<TMP>")] for k, v in outputs.items()}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(outputs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {len(outputs)} outputs in {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    record()
