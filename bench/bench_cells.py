"""Where a cell's time goes: its recurrent matrix products against everything else.

    python bench/bench_cells.py                  # hidden 512, 32 streams, BPTT 100, 1 thread
    python bench/bench_cells.py --streams 64 --threads 2

For each cell, one fused forward and backward pass over a precomputed input (T, N, G*H)
(what `cells.<cell>.forward/backward` do inside a training step), against the same
recurrent products alone: per step h_{t-1} W_hh (N, H) x (H, G*H) forward and
dA W_hh^T backward (W_hh dA^T for the gated cells, the form they compute), then the
one dW_hh product over all steps. The rest is the cell's element-wise work (gates,
their derivatives, copies). The default shape is what each
of the trainer's two groups of streams runs on one core at the README's bench shape
(hidden 512, batch 64 split in two, BPTT 100).

The products are a floor no element-wise rewriting can go under: if the cell's own
work cost nothing, its pass would take the products' time. Cells and the two
measurements alternate, rounds are repeated and medians of CPU seconds are printed,
so a busy neighbour slows both halves of a pair alike.

A second table does the same for one-stream sampling (a one-layer model of the same
width and a 65-symbol vocabulary): the sampler's whole step for one character
(`sampling.Stepper.step`: lookup, the cell's step, the decoder) against its recurrent
product alone, (1, H) x (H, G*H), which at this size reads W_hh from memory each time.
"""
import argparse
import os
import statistics
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--streams", type=int, default=32, help="N, streams in one pass")
    p.add_argument("--seq", type=int, default=100, help="T, steps in one pass")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--cells", default="rnn,lstm,gru")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # read when numpy loads
    import numpy as np

    from rnngen import allocator
    from rnngen.engine.cells import CELLS

    allocator.keep_freed_memory()  # as the trainer runs: no page faults per pass
    T, N, H = args.seq, args.streams, args.hidden
    rng = np.random.default_rng(0)
    f32 = np.float32

    def setup(cell):
        G = cell.GATES * H
        return dict(
            a=(0.5 * rng.standard_normal((T, N, G))).astype(f32),
            s0=np.zeros((N, len(cell.STATE) * H), f32),
            Whh=(rng.standard_normal((H, G)) / np.sqrt(H)).astype(f32),
            extra={k: np.zeros(shape, f32) for k, shape in cell.extra_shapes(H).items()},
            dh=rng.standard_normal((T, N, H)).astype(f32))

    def cell_pass(cell, d):
        _, _, cache = cell.forward(d["a"], d["s0"], d["Whh"], d["extra"])
        cell.backward(d["dh"], cache)

    def products(cell, d):
        Whh, G = d["Whh"], d["Whh"].shape[1]
        h, out = np.zeros((N, H), f32), np.empty((N, G), f32)
        for _ in range(T):
            np.matmul(h, Whh, out=out)
        dA = np.zeros((N, G), f32)
        if cell.GATES > 1:  # the gated cells' form: W_hh dA^T, (H, G*H) x (G*H, N)
            dhT = np.empty((H, N), f32)
            for _ in range(T):
                np.matmul(Whh, dA.T, out=dhT)
        else:
            WhhT, dh = np.ascontiguousarray(Whh.T), np.empty((N, H), f32)
            for _ in range(T):
                np.matmul(dA, WhhT, out=dh)
        np.zeros((H, T * N), f32) @ d["a"].reshape(-1, G)

    cells = [CELLS[name] for name in args.cells.split(",")]
    data = {cell.NAME: setup(cell) for cell in cells}

    def timed(whole, part, per=1):
        """Median CPU seconds (divided by ``per``) of whole(cell, data) and of
        part(cell, data) for each cell, the two taking turns every round."""
        times = {(cell.NAME, i): [] for cell in cells for i in (0, 1)}
        for _ in range(args.rounds):
            for cell in cells:
                for i, fn in enumerate((whole, part)):
                    started = time.process_time()
                    fn(cell, data[cell.NAME])
                    times[cell.NAME, i].append((time.process_time() - started) / per)
        return {cell.NAME: [statistics.median(times[cell.NAME, i]) for i in (0, 1)]
                for cell in cells}

    def table(title, columns, medians, scale, digits):
        print(title)
        print(f"{'cell':6} {columns[0]:>11} {columns[1]:>9} {'share':>6} {columns[2]:>13}")
        for cell in cells:
            whole, part = medians[cell.NAME]
            print(f"{cell.NAME:6} {whole * scale:11.{digits}f} {part * scale:9.{digits}f} "
                  f"{part / whole:6.0%} {(whole - part) * scale:13.{digits}f}")

    passes = timed(cell_pass, products)

    from rnngen.engine import model
    from rnngen.engine.sampling import Stepper
    from rnngen.engine.spec import ModelSpec

    steppers = {}
    for cell in cells:
        spec = ModelSpec(65, H, 1, cell.NAME)
        params = model.init_params(spec, rng)  # float32 by default
        steppers[cell.NAME] = Stepper(spec, params)
    reps = 500

    def sampler_steps(cell, _):
        stepper = steppers[cell.NAME]
        for i in range(reps):
            stepper.step(i % 65)

    def sampler_product(cell, _):
        Whh = steppers[cell.NAME].Whh[0]
        h, out = np.zeros((1, H), f32), np.empty((1, Whh.shape[1]), f32)
        for _ in range(reps):
            np.matmul(h, Whh, out=out)

    sampling = timed(sampler_steps, sampler_product, per=reps)
    table(f"hidden {H}, {N} streams, BPTT {T}, float32, {args.threads} BLAS thread(s), median "
          f"of {args.rounds} rounds (CPU ms per forward + backward pass)",
          ("whole pass", "products", "element-wise"), passes, 1e3, 0)
    table(f"\none-stream sampling, one layer of {H}, V=65 (CPU microseconds a character)",
          ("whole step", "product", "the rest"), sampling, 1e6, 1)

if __name__ == "__main__":
    main()
