"""Real signals through the real command, in a subprocess."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import write_config
from rnngen import checkpoint


def train_cmd(cfg, *extra):
    return [sys.executable, "-m", "rnngen", "train", "--config", str(cfg), "-q", *extra]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_writes_a_checkpoint_that_resumes_to_the_same_weights(tmp_path, text_file, sig,
                                                                     code):
    steps = 1000
    straight = write_config(tmp_path, text_file, name="a.yaml",
                            train={"output": str(tmp_path / "a.npz"), "steps": steps,
                                   "eval_every": 50})
    subprocess.run(train_cmd(straight), check=True, capture_output=True)

    cfg = write_config(tmp_path, text_file, name="b.yaml",
                       train={"output": str(tmp_path / "b.npz"), "steps": steps,
                              "eval_every": 50})
    proc = subprocess.Popen(train_cmd(cfg), stderr=subprocess.PIPE, text=True)
    # wait until training is under way (the first validation writes the checkpoint)
    deadline = time.time() + 60
    while not (tmp_path / "b.npz").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(np.random.default_rng().uniform(0, 0.2))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == code, err
    assert "checkpoint written to" in err and "--resume" in err and "Traceback" not in err
    stopped_at = checkpoint.load(tmp_path / "b.npz").step
    assert 0 < stopped_at < steps

    resumed = subprocess.run(train_cmd(cfg, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a, b = checkpoint.load(tmp_path / "a.npz"), checkpoint.load(tmp_path / "b.npz")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)
    np.testing.assert_array_equal(a.state, b.state)


def test_sample_into_a_closed_pipe_exits_quietly(tmp_path, text_file):
    cfg = write_config(tmp_path, text_file)
    subprocess.run(train_cmd(cfg), check=True, capture_output=True)
    sample = subprocess.Popen([sys.executable, "-m", "rnngen", "sample", "--checkpoint",
                               str(tmp_path / "model.npz"), "--n", "1000000"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = sample.stdout.read(100)
    sample.stdout.close()  # what `| head -c 100` does
    err = sample.stderr.read().decode()
    sample.wait(timeout=60)
    assert len(head) == 100
    assert sample.returncode == 0 and err == ""


WRITER = """
import sys, numpy as np
from rnngen import checkpoint
from rnngen.engine import model
from rnngen.engine.spec import ModelSpec
spec = ModelSpec(65, 1024, 2)
params = model.init_params(spec, np.random.default_rng(0))  # ~20 MB a write
i = 0
while True:
    i += 1
    params["by"][:] = i
    checkpoint.save(sys.argv[1], checkpoint.Checkpoint(spec, params, {
        "model": {"hidden_size": 1024, "num_layers": 2},
        "vocab": "".join(chr(32 + k) for k in range(65)), "step": i}))
    print(i, flush=True)
"""


def test_kill_9_during_checkpoint_writes_never_leaves_it_unreadable(tmp_path):
    path = tmp_path / "c.npz"
    rng = np.random.default_rng()
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # one complete write exists
        time.sleep(rng.uniform(0, 0.3))  # then die at a random point of a later one
        proc.kill()
        proc.wait()
        ckpt = checkpoint.load(path)
        step = ckpt.step
        assert (ckpt.params["by"] == step).all()  # arrays and metadata from the same write
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "c.npz"]
    assert all(name.startswith(".c.npz.") for name in leftovers)  # only temp files, if any
