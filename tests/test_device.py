"""The device seam without a GPU: the engine and trainer run on a stand-in device
(fakedevice: NumPy underneath, refusing host arrays in device operations and counting
reads back to the host), checkpoints cross devices, --device cuda without CuPy."""
import numpy as np
import pytest
from click.testing import CliRunner

import fakedevice
from conftest import make_text, sample_text
from rnngen import checkpoint, config, corpus, evaluation
from rnngen.cli import main
from rnngen.device import CPU, Device
from rnngen.engine import layers, model
from rnngen.engine.backend import xp_of
from rnngen.engine.spec import ModelSpec
from rnngen.run import build_trainer

FAKE = Device("fake", fakedevice)


class CounterCPU(Device):
    """The CPU with the device path's counter-based dropout bits, for comparisons."""

    def mask_bits(self, rng, seed, step):
        return layers.CounterBits(seed, step, np)


def small_cfg(tmp_path, cell, **train):
    cfg = config.Config()
    cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers = cell, 12, 2
    cfg.model.dropout, cfg.model.weight_drop = 0.2, 0.1
    t = cfg.train
    t.steps, t.batch_size, t.seq_length, t.learning_rate, t.clip_norm = 20, 4, 10, 0.01, 1.0
    t.eval_every, t.output, t.seed = 10, str(tmp_path / "m.npz"), 3
    for k, v in train.items():
        setattr(t, k, v)
    return config.apply_overrides(cfg, [])


def test_the_stand_in_device_refuses_host_arrays_and_counts_reads():
    a = fakedevice.asarray(np.ones(3))
    assert xp_of(a) is fakedevice
    with pytest.raises(fakedevice.HostMix):
        a + np.ones(3)  # a host array meeting a device array, as CuPy refuses
    with pytest.raises(fakedevice.HostMix):
        a[np.array([0, 1])]
    before = fakedevice.reads
    float((a * 2).sum())
    assert fakedevice.reads == before + 1


def test_the_array_module_and_host_copies():
    """xp_of: numpy for host arrays or none at all; to_host: a host array as it is, a
    device array copied back in one read."""
    from rnngen.engine.backend import to_host

    assert xp_of() is np and xp_of(None, 3, "x") is np and xp_of(None, np.ones(2)) is np
    host = np.arange(3.0)
    assert to_host(host) is host
    before = fakedevice.reads
    back = to_host(fakedevice.asarray(host))
    assert type(back) is np.ndarray and back.tolist() == [0.0, 1.0, 2.0]
    assert fakedevice.reads == before + 1


def trained_alike(build):
    """(cpu, device) Trainers from build(name, device), each run to its end: their
    losses and weights equal (float64), the device's weights on the device."""
    runs = {}
    for name, where in (("cpu", CounterCPU("cpu", np)), ("fake", FAKE)):
        trainer = build(name, where)
        runs[name] = (trainer, [s.loss for s in trainer.run()])
    (cpu, cpu_losses), (dev, dev_losses) = runs["cpu"], runs["fake"]
    assert all(isinstance(v, fakedevice.DeviceArray) for v in dev.params.values())
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=1e-10)
    for name, w in cpu.params.items():
        np.testing.assert_allclose(fakedevice.asarray(dev.params[name]).get(), w, rtol=1e-9,
                                   atol=1e-12, err_msg=name)
    return cpu, dev


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_training_on_a_device_equals_the_cpu_with_the_same_masks(tmp_path, cell):
    """20 steps with dropout, weight drop and norm clipping: same losses and weights."""
    text = corpus.text_corpus(make_text())
    cpu, dev = trained_alike(lambda name, where: build_trainer(
        small_cfg(tmp_path / name, cell), text, dtype=np.float64, device=where))
    assert [h["val_loss"] for h in dev.history] == pytest.approx(
        [h["val_loss"] for h in cpu.history], rel=1e-10)


def test_a_training_step_reads_back_only_the_loss_and_the_norm(tmp_path):
    trainer = build_trainer(small_cfg(tmp_path, "lstm"), corpus.text_corpus(make_text()),
                      device=FAKE)
    inputs, targets, _ = trainer.batches.next(trainer.rng)
    assert isinstance(inputs, fakedevice.DeviceArray)  # batches gathered on the device
    trainer.train_step((inputs, targets), 0.01)  # the first step creates optimizer state
    before = fakedevice.reads
    trainer.train_step(trainer.batches.next(trainer.rng)[:2], 0.01)
    assert fakedevice.reads - before == 2  # the loss and the global norm


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_checkpoints_cross_devices_both_ways(tmp_path, cell):
    """Trained on the device: the checkpoint is host NumPy, samples and scores the same
    on the CPU; a CPU checkpoint resumes on the device."""
    text = corpus.text_corpus(make_text())
    trainer = build_trainer(small_cfg(tmp_path, cell, steps=12), text, dtype=np.float64,
                      device=FAKE)
    list(trainer.run())
    ckpt = checkpoint.load(tmp_path / "m.npz")
    assert all(type(v) is np.ndarray for v in ckpt.params.values())
    assert type(ckpt.state) is np.ndarray
    for temperature in (0, 0.8):
        texts = [sample_text(ckpt, "KING:", 60, 4, where, temperature=temperature)
                 for where in (CPU, FAKE)]
        assert texts[0] == texts[1]
    sample = make_text(800, seed=5)
    scores = [evaluation.checkpoint_score(ckpt, sample, device=where).nats
              for where in (CPU, FAKE)]
    assert scores[0] == pytest.approx(scores[1], rel=1e-10)

    resumed = build_trainer(small_cfg(tmp_path, cell, steps=16), text, resume=ckpt, device=FAKE)
    assert resumed.step == 12 and isinstance(resumed.state, fakedevice.DeviceArray)
    assert list(resumed.run())[-1].step == 16


def test_the_engine_keeps_its_module_for_every_cell():
    for cell in ("rnn", "lstm", "gru"):
        spec = ModelSpec(5, 4, 2, cell, skip=True)
        params = {k: fakedevice.asarray(v) for k, v in
                  model.init_params(spec, np.random.default_rng(0), dtype=np.float64).items()}
        inputs = fakedevice.asarray(np.random.default_rng(1).integers(0, 5, (3, 2)))
        s0 = model.zero_state(spec, 2, np.float64, fakedevice)
        loss, grads, ds0, sT = model.loss_and_grads(spec, params, inputs, inputs, s0)
        assert all(isinstance(g, fakedevice.DeviceArray) for g in grads.values())
        assert isinstance(ds0, fakedevice.DeviceArray) and isinstance(sT, fakedevice.DeviceArray)


def test_device_cuda_without_cupy_is_a_one_line_error(monkeypatch, tmp_path, text_file):
    import sys
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    runner = CliRunner()
    for args in (["sample", "--n", "5", "--device", "cuda"],
                 ["eval", "--corpus", str(text_file), "--device", "cuda"],
                 ["train", "--config", "tiny", "--corpus", str(text_file), "--steps", "1",
                  "--output", str(tmp_path / "x.npz"), "--device", "cuda"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 or "needs cupy" in lines[-1], result.stderr
        assert "needs cupy" in result.stderr and "pip install 'rnngen-text[cuda12]'" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_unknown_device_in_a_config_names_the_key(tmp_path, text_file):
    from conftest import write_config
    cfg = write_config(tmp_path, text_file, train={"device": "tpu"})
    result = CliRunner().invoke(main, ["train", "--config", str(cfg)])
    assert result.exit_code == 1
    assert "train.device must be one of cpu, cuda, got 'tpu'" in result.stderr


@pytest.mark.parametrize("chars", [600, 2400])
def test_scoring_on_a_device_sends_the_text_once_and_reads_a_sum_a_window(chars):
    spec = ModelSpec(vocab_size=11, hidden_size=8, num_layers=2, cell="gru")
    params = model.init_params(spec, np.random.default_rng(0), dtype=np.float64)
    ids = np.random.default_rng(1).integers(0, 11, chars)
    kw = dict(streams=4, seq_length=16, warmup=8)
    on_cpu = evaluation.score(spec, params, ids, **kw)
    sends, reads = fakedevice.sends, fakedevice.reads
    on_device = evaluation.score(spec, {k: fakedevice.asarray(v) for k, v in params.items()},
                                 ids, **kw)
    windows = -(-(-(-(chars - 1) // 4) + 8) // 16)  # ceil((chunk + warmup) / seq_length)
    assert on_device.nats == pytest.approx(on_cpu.nats, rel=1e-12)
    # the parameters, then the text and the pieces' three bounds, whatever the length
    assert fakedevice.sends - sends == len(params) + 4
    assert fakedevice.reads - reads == windows


def _fixture(cell):
    from conftest import ROOT

    return checkpoint.load(ROOT / "tests" / "data" / f"v2_{cell}.npz")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_batched_rows_on_a_device_equal_the_cpu(cell):
    """The Decoder's rows (every rule, scores, stop texts) and beam search run with the
    parameters' array module and give the CPU's text and log-probabilities."""
    from rnngen import decoding

    ckpt = _fixture(cell)
    out = {}
    for where in (CPU, FAKE):
        model_ = decoding.Model.from_checkpoint(ckpt, where)
        d = decoding.Decoding(60, num_samples=3, random_seed=5, stop="e")
        rows = [s.as_dict() for s in decoding.samples(model_, "KING:", d, scores=True)]
        decoder = decoding.Decoder(model_, scores=True)
        for i, options in enumerate([dict(temperature=0), dict(top_k=4), dict(top_p=0.6),
                                     dict(temperature=0.7)]):
            decoder.add(decoding.Decoding(50, **options), "ROMEO:", np.random.default_rng(i))
        while decoder.live:
            decoder.step()
        rows += [(r.ids, r.logprobs) for r in decoder.rows]
        beams = decoding.samples(model_, "KING:", decoding.Decoding(
            40, beam=3, num_samples=3, no_repeat_ngram=3), scores=True)
        rows += [s.as_dict() for s in beams]
        assert isinstance(model_.params["Whh0"], fakedevice.DeviceArray) == (where is FAKE)
        out[where.name] = rows
    assert out["cpu"] == out["fake"]


def test_every_sample_path_takes_device_cuda(monkeypatch):
    """--num-samples, --beam, --stop, --json and -0 no longer refuse a device: on the
    stand-in device each prints what the CPU prints."""
    from conftest import ROOT
    from rnngen import device as devices

    path = str(ROOT / "tests" / "data" / "v2_lstm.npz")
    base = ["sample", "--checkpoint", path, "--n", "40", "--random-seed", "3"]
    runs = [["--num-samples", "2"], ["--beam", "3", "--json"], ["--stop", "e"], ["-0"],
            ["--json", "--top-k", "4"], []]
    cpu = [CliRunner().invoke(main, base + extra) for extra in runs]
    monkeypatch.setattr(devices, "select", lambda name: FAKE if name == "cuda" else CPU)
    fake = [CliRunner().invoke(main, base + extra + ["--device", "cuda"]) for extra in runs]
    for extra, a, b in zip(runs, cpu, fake):
        assert a.exit_code == b.exit_code == 0, (extra, b.output)
        assert a.stdout == b.stdout and b.stderr == "", extra
