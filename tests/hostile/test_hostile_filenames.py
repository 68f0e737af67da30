"""File names that are not valid UTF-8 (b'\\xff...': Python keeps such bytes as lone
surrogates, which no stream can write as they are), and names a terminal's encoding
cannot write ('naïve' under LC_ALL=C, PYTHONIOENCODING=ascii): every command works
with them or says what is wrong in one line, and every message naming one prints."""
import os
import shutil

import pytest

from world import ENV, assert_error, assert_ok, cli, make_world, run
from test_classify_cli import markers, write_config as classifier_config, write_tsv

ASCII = dict(ENV, LC_ALL="C", PYTHONIOENCODING="ascii")
NAMES = {"not UTF-8": (b"\xff", ENV), "not ASCII, on an ASCII terminal": ("naïve", ASCII)}

# name -> (args, None when it works, else the exit code); {N} is the odd name
CASES = {
    "train --corpus": (["train", "--config", "{cfg}", "--corpus", "{N}.txt", "--output",
                        "{N}-o.npz", "-q"], None),
    "train --config": (["train", "--config", "{N}.yaml", "--output", "{N}-p.npz", "-q"], None),
    "sample": (["sample", "--checkpoint", "{N}.npz", "--n", "10"], None),
    "eval --corpus": (["eval", "--checkpoint", "{N}.npz", "--corpus", "{N}.txt"], None),
    "eval --json": (["eval", "--checkpoint", "{N}.npz", "--json"], None),
    "info": (["info", "{N}.npz"], None),
    "info --json": (["info", "--checkpoint", "{N}.npz", "--json"], None),
    "export": (["export", "--checkpoint", "{N}.npz", "--output", "{N}-e.npz"], None),
    "report": (["report", "--checkpoint", "{N}.npz", "--output", "{N}-r.html"], None),
    "report classifier": (["report", "--checkpoint", "{N}-c.npz", "--output", "{N}-cr.html"],
                          None),
    "report --terminal": (["report", "--checkpoint", "{N}.npz", "--terminal"], None),
    "classify": (["classify", "--checkpoint", "{N}-c.npz", "{N}-texts.txt"], None),
    "missing checkpoint": (["eval", "--checkpoint", "{N}-missing.npz"], 1),
    "missing corpus": (["eval", "--checkpoint", "{N}.npz", "--corpus", "{N}-missing.txt"], 1),
    "missing config": (["train", "--config", "{N}-missing.yaml"], 1),
    "output is the corpus": (["train", "--config", "{cfg}", "--corpus", "{N}.txt", "--output",
                              "{N}.txt", "-q"], 1),
}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    w = make_world(tmp_path_factory, "names")
    data = write_tsv(w.d / "m.tsv", markers(60))
    clf_cfg = classifier_config(w.d, data, train={"steps": 2, "eval_every": 2})
    assert_ok(cli(["train", "--config", clf_cfg, "-q"]))
    w.clf = w.d / "c.npz"
    return w


@pytest.fixture(params=sorted(NAMES))
def odd(request, w, tmp_path):
    """(the odd name as bytes, its environment, the folder holding its files)."""
    name, env = NAMES[request.param]
    raw = name if isinstance(name, bytes) else name.encode("utf-8")
    folder = os.fsencode(tmp_path)
    for suffix, source in ((b".txt", w.text), (b".npz", w.ckpt), (b".yaml", w.cfg),
                           (b"-c.npz", w.clf)):
        shutil.copyfile(w.d / source, folder + b"/" + raw + suffix)
    with open(folder + b"/" + raw + b"-texts.txt", "w") as f:
        f.write("abXcdYef\nYghXab\n")
    return raw, env, folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_command_with_an_odd_file_name(w, odd, case):
    raw, env, folder = odd
    args, code = CASES[case]
    name = os.fsdecode(raw)  # subprocess passes it on as the bytes it came from
    result = run([str(w.cfg) if a == "{cfg}" else a.replace("{N}", name) for a in args],
                 cwd=folder, env=env)
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr and "UnicodeEncodeError" not in stderr, stderr
    if code is None:
        assert_ok(result)
        return
    line = assert_error(result, "", code)
    assert "missing" in line or "is the corpus" in line or "input" in line, line


def test_messages_and_pages_show_the_name_escaped(w, odd):
    """A name is shown, escaped where it must be, in the line saying what was written,
    in info's text and in the report page."""
    raw, env, folder = odd
    shown = "\\udcff" if raw == b"\xff" else ("na\\xefve" if env is ASCII else "naïve")
    name = os.fsdecode(raw)
    exported = run(["export", "--checkpoint", name + ".npz", "--output", name + "-e.npz"],
                   cwd=folder, env=env)
    assert_ok(exported)
    assert f"wrote {shown}-e.npz" in exported.stderr.decode("utf-8", "replace")
    info = run(["info", name + ".npz"], cwd=folder, env=env)
    assert_ok(info)
    assert f"checkpoint    {shown}.npz" in info.stdout.decode("ascii" if env is ASCII
                                                              else "utf-8")
    assert_ok(run(["report", "--checkpoint", name + ".npz", "--output", name + "-r.html"],
                  cwd=folder, env=env))
    with open(folder + b"/" + raw + b"-r.html", "rb") as f:
        f.read().decode("utf-8")  # a page in UTF-8 whatever the name
