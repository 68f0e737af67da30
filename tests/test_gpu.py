"""GPU tests (marker gpu): run only where CuPy and an NVIDIA GPU are present.

    python -m pytest -m gpu -v tests/test_gpu.py

They check what the stand-in device (test_device.py) cannot: that CuPy runs the
engine, to float64 finite differences and CPU agreement, and the CLI on a GPU.
"""
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_text, sample_text, write_config
from rnngen import checkpoint, config, corpus
from rnngen.cli import main
from rnngen.device import CPU, select
from rnngen.engine import model
from rnngen.run import build_trainer
from rnngen.engine.gradcheck import relative_error
from rnngen.engine.spec import ModelSpec
from rnngen.errors import DeviceError

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu():
    try:
        return select("cuda")
    except DeviceError as e:
        pytest.skip(f"no GPU here: {e}")


def numerical_gradient(f, x, eps=1e-5):
    """Centred differences on a device array, one element at a time (tiny shapes only)."""
    grad = np.zeros(x.shape)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float64_gradients_on_the_gpu(gpu, cell):
    from rnngen.engine.layers import CounterBits
    xp = gpu.xp
    spec = ModelSpec(5, 4, 2, cell, skip=True)
    rng = np.random.default_rng(0)
    params = {k: xp.asarray(v + 0.1 * rng.standard_normal(v.shape))
              for k, v in model.init_params(spec, rng, dtype=np.float64).items()}
    inputs = xp.asarray(rng.integers(0, 5, (4, 3)))
    targets = xp.asarray(rng.integers(0, 5, (4, 3)))
    s0 = xp.asarray(0.5 * rng.standard_normal(spec.state_shape(3)))

    def loss():
        return model.loss_and_grads(spec, params, inputs, targets, s0, 0.3,
                                    CounterBits(1, 2, xp), 0.4)[0]

    _, grads, ds0, _ = model.loss_and_grads(spec, params, inputs, targets, s0, 0.3,
                                            CounterBits(1, 2, xp), 0.4)
    for name in params:
        assert relative_error(grads[name].get(), numerical_gradient(loss, params[name])) < 1e-6
    assert relative_error(ds0.get(), numerical_gradient(loss, s0)) < 1e-6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cpu_and_gpu_agree(gpu, cell):
    """float64: forward and gradients to 1e-9 relative."""
    xp = gpu.xp
    spec = ModelSpec(65, 64, 2, cell)
    rng = np.random.default_rng(1)
    params = model.init_params(spec, rng, dtype=np.float64)
    inputs, targets = rng.integers(0, 65, (20, 8)), rng.integers(0, 65, (20, 8))
    s0 = model.zero_state(spec, 8, np.float64)
    cpu = model.loss_and_grads(spec, params, inputs, targets, s0)
    dev = model.loss_and_grads(spec, {k: xp.asarray(v) for k, v in params.items()},
                               xp.asarray(inputs), xp.asarray(targets), xp.asarray(s0))
    assert dev[0] == pytest.approx(cpu[0], rel=1e-9)
    for name, g in cpu[1].items():
        assert relative_error(dev[1][name].get(), g) < 1e-9, name


class CounterCPU(type(CPU)):
    def mask_bits(self, rng, seed, step):
        from rnngen.engine.layers import CounterBits
        return CounterBits(seed, step, np)


def _cfg(tmp_path, cell, steps=20):
    cfg = config.Config()
    cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers = cell, 64, 2
    cfg.model.dropout = 0.1
    t = cfg.train
    t.steps, t.batch_size, t.seq_length, t.eval_every = steps, 16, 32, 10
    t.output, t.seed = str(tmp_path / "m.npz"), 3
    return config.apply_overrides(cfg, [])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_training_losses_agree_over_20_steps(gpu, tmp_path, cell):
    text = corpus.text_corpus(make_text(20000))
    losses = {}
    for name, where in (("cpu", CounterCPU("cpu", np)), ("gpu", gpu)):
        trainer = build_trainer(_cfg(tmp_path / name, cell), text, device=where)
        losses[name] = [s.loss for s in trainer.run()]
    np.testing.assert_allclose(losses["gpu"], losses["cpu"], atol=1e-4)


def test_resume_on_the_gpu_is_bit_identical(gpu, tmp_path):
    text = corpus.text_corpus(make_text(20000))
    straight = build_trainer(_cfg(tmp_path / "a", "lstm"), text, device=gpu)
    list(straight.run())
    first = build_trainer(_cfg(tmp_path / "b", "lstm"), text, device=gpu)
    for stats in first.run():
        if stats.step == 7:
            first.request_stop("test")
    resumed = build_trainer(_cfg(tmp_path / "b", "lstm"), text, device=gpu,
                      resume=checkpoint.load(tmp_path / "b" / "m.npz"))
    list(resumed.run())
    for name, w in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name].get(), w.get(), err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cli_train_resume_sample_eval_on_the_gpu(gpu, tmp_path, text_file, cell):
    runner = CliRunner()
    cfg = write_config(tmp_path, text_file, model={"cell": cell})
    out = str(tmp_path / "model.npz")
    for extra in ([], ["--steps", "30", "--resume"]):
        result = runner.invoke(main, ["train", "--config", str(cfg), "--device", "cuda", "-q"]
                               + extra)
        assert result.exit_code == 0, result.output
    assert checkpoint.load(out).step == 30
    texts = []
    for where in ("cuda", "cpu"):
        result = runner.invoke(main, ["sample", "--checkpoint", out, "--seed", "KING:", "--n",
                                      "80", "--temperature", "0", "--device", where])
        assert result.exit_code == 0, result.output
        texts.append(result.stdout)
    assert texts[0] == texts[1]  # a GPU checkpoint samples the same text on the CPU
    scores = []
    for where in ("cuda", "cpu"):
        result = runner.invoke(main, ["eval", "--checkpoint", out, "--corpus", str(text_file),
                                      "--json", "--device", where])
        assert result.exit_code == 0, result.output
        scores.append(result.stdout)
    import json
    a, b = (json.loads(s)["nats_per_char"] for s in scores)
    assert a == pytest.approx(b, rel=1e-5)


def test_gpu_sampling_matches_the_cpu_at_temperature_zero(gpu):
    from rnngen import resources
    ckpt = checkpoint.load(resources.shipped_model())
    texts = [sample_text(ckpt, "ROMEO:", 200, 0, where, temperature=0) for where in (CPU, gpu)]
    assert texts[0] == texts[1]
