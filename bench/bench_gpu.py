"""Training speed of rnngen on a GPU (CuPy) against PyTorch's cuDNN RNNs on the same GPU.

Both train the same shape on the same tinyshakespeare batches, taking turns in this
one process: per round, K timed steps of rnngen (after a warm-up step), then K of
the peer (nn.Embedding + nn.RNN/LSTM/GRU + nn.Linear, Adam 2e-3, value clipping 5,
cuDNN), at each shape given. Every step of both ends with the loss read back to the
host, so each step's time includes its whole GPU work. Reports chars/s, medians over
rounds and the median paired ratio (each pair back to back).

    python bench/bench_gpu.py                                  # the issue's shapes, tanh
    python bench/bench_gpu.py --cell lstm --json $OUT/gpu-lstm.json
    python bench/bench_gpu.py --device cpu --shapes 64x1x8x20  # a smoke run without a GPU

--cpu-chars-per-s gives the 2-core CPU engine's figure at the same shape (from
bench_engine.py on that machine) for the GPU/CPU ratio; it is not measured here.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402  (shares the trainers, peers and batches)

SHAPES = "512x3x256x100,1024x3x128x100,512x3x64x100"  # H x L x N x T


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn")
    p.add_argument("--shapes", default=SHAPES, help="comma-separated HxLxNxT")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps-per-round", type=int, default=10)
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--corpus", type=Path, default=be.DEFAULT_CORPUS)
    p.add_argument("--cpu-chars-per-s", type=float, default=None,
                   help="the 2-core CPU engine's training chars/s at the first shape")
    p.add_argument("--json", type=Path, metavar="PATH")
    return p.parse_args(argv)


def shape_args(args, spec):
    H, L, N, T = (int(x) for x in spec.split("x"))
    return argparse.Namespace(hidden=H, layers=L, batch=N, seq=T, cell=args.cell,
                              corpus=args.corpus, steps_per_round=args.steps_per_round)


def rnngen_job(sargs, corpus, device_name):
    from rnngen import device

    where = device.select(device_name)
    trainer = be.rnngen_trainer(sargs, corpus, where)
    step = be.rnngen_step_fn(trainer)
    train_ids = be.train_ids_of(corpus)

    def run(r):
        batches = [(where.to_device(x), where.to_device(y), new)
                   for x, y, new in be.round_batches(train_ids, sargs, r)]
        return be.time_steps(step, batches)
    return run


def torch_job(sargs, corpus, device_name):
    torch = be.torch
    dev = torch.device(device_name)
    peer = be.make_torch_peer(len(corpus.vocab), sargs.hidden, sargs.layers, sargs.cell).to(dev)
    step = be.torch_step_fn(peer)
    train_ids = be.train_ids_of(corpus)

    def run(r):
        batches = [(x.to(dev), y.to(dev), new)
                   for x, y, new in be.as_torch(be.round_batches(train_ids, sargs, r))]
        return be.time_steps(step, batches)
    return run


def main(argv=None):
    args = parse_args(argv)
    be.load_libraries(threads=1)
    if be.torch is None:
        raise SystemExit(be.NO_TORCH)
    from rnngen.corpus import read_corpus

    corpus = read_corpus(args.corpus)
    results = {"setup": {"cell": args.cell, "device": args.device, "rounds": args.rounds,
                         "steps_per_round": args.steps_per_round, "commit": be.git_commit(),
                         "torch": be.torch.__version__,
                         "cudnn": (be.torch.backends.cudnn.version()
                                   if args.device == "cuda" else None)},
               "shapes": {}}
    if args.device == "cuda":
        import cupy
        results["setup"]["cupy"] = cupy.__version__
        results["setup"]["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    lines = [f"rnngen ({args.device}) vs PyTorch {'cuDNN' if args.device == 'cuda' else 'CPU'} "
             f"{be.PEER_CELLS[args.cell]}, float32; {args.rounds} rounds x "
             f"{args.steps_per_round} steps; chars/s",
             "", "| H x L x N x T | rnngen | peer | rnngen / peer (median paired) |",
             "|---|---:|---:|---:|"]
    for spec in args.shapes.split(","):
        sargs = shape_args(args, spec)
        jobs = {"rnngen": rnngen_job(sargs, corpus, args.device),
                "torch": torch_job(sargs, corpus, args.device)}
        rounds = be.alternate(jobs, args.rounds)
        mine, peer = rounds["rnngen"], rounds["torch"]
        ratio = be.paired_ratio(mine, peer)
        results["shapes"][spec] = {"rnngen": mine, "torch": peer, "paired_ratio": ratio}
        lines.append(f"| {spec} | {statistics.median(mine):,.0f} | "
                     f"{statistics.median(peer):,.0f} | {ratio:.2f}x |")
    if args.cpu_chars_per_s:
        first = args.shapes.split(",")[0]
        gpu = statistics.median(results["shapes"][first]["rnngen"])
        lines.append(f"\n{first}: {gpu / args.cpu_chars_per_s:.1f}x the CPU engine's "
                     f"{args.cpu_chars_per_s:,.0f} chars/s")
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)
