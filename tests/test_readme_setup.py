"""The README's first set-up command, interrupted after a few seconds of training, leaves
the shipped model as it was, so the second command (python -m pytest) still passes."""
import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time

from conftest import ROOT
from rnngen import checkpoint, resources


def _readme_train_command():
    """The training half of the set-up's first command, as the README gives it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up", 1)[1]
    first = re.search(r"```bash\n(.*?)\n", setup).group(1)
    install, _, train = first.partition("&&")
    assert install.strip() == 'pip install -e ".[test]"', first
    return shlex.split(train)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_readme_training_command_interrupted_leaves_the_shipped_model(tmp_path,
                                                                          shakespeare_corpora):
    args = _readme_train_command()
    assert args[:4] == ["rnngen", "train", "--config", "shakespeare.yaml"]
    shipped = resources.shipped_model()
    before = _sha256(shipped)
    # from a scratch directory rather than the checkout, so the run cannot replace a
    # runs/shakespeare.npz of the user's; the shipped model is the checkout's either way
    proc = subprocess.Popen([sys.executable, "-m", "rnngen"] + args[1:], cwd=tmp_path,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, RNNGEN_CORPORA=str(shakespeare_corpora)))
    try:
        lines = []
        for line in proc.stderr:  # wait until the model is built and training starts
            lines.append(line)
            if "parameters" in line:
                break
        time.sleep(4)  # a few steps
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = "".join(lines) + rest
    assert _sha256(shipped) == before, "training replaced the shipped model"
    assert proc.returncode == 130, stderr
    assert "stopped by SIGINT" in stderr
    assert "runs/shakespeare.npz" in lines[0]
    run = tmp_path / "runs" / "shakespeare.npz"
    assert checkpoint.load(run).step >= 1
    assert checkpoint.load(shipped).meta.get("weights_only")  # still the exported model
