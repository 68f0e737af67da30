"""Load test of `rnngen serve`: many streaming clients at once against one at a time.

    python bench/bench_serve.py                      # 1, 8, 64, 256 clients, 20 s each
    python bench/bench_serve.py --minutes 10         # then 64 clients for 10 minutes

It starts the server (the shipped model unless --checkpoint) on a free port and,
for each number of clients C, runs C clients for --seconds: each streams requests
back to back (POST /v1/sample with stream true), of random length (--n-min to
--n-max characters), temperature and seed, and leaves a fraction of them
(--disconnect) after a random number of characters. Every client draws its
requests from its own generator (seeded with --seed + its number), so C = 1 serves
one at a time the requests that the first client of every other level sends.

Per level it prints characters a second received by all clients, that rate
against C = 1, the time from sending a request to its first generated character
(median, 95th percentile), requests, disconnects, errors (any answer but a 200
stream ending in `done`, not counting the client's own disconnects) and the
server's resident memory, sampled every 0.5 s, and the server's CPU use: cores
busy on average, and CPU milliseconds per 1,000 characters (on a shared machine,
the steadier measure of what a character costs), and the batcher thread's share
of that CPU (the rest is HTTP: the event loop, the streams' writes). With --minutes it then runs 64
clients that long and prints the server's memory minute by minute.

The clients speak HTTP through h11 (installed with uvicorn) on asyncio, one
process, so that on a small machine they take as little CPU from the server as
they can; the server and the clients share the machine, as in any one-box test.
"""
import argparse
import asyncio
import json
import os
import random
import select
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import h11

SEEDS = ["ROMEO:", "JULIET:", "First Citizen:\n", "KING HENRY", "O", "", "To be, or not",
         "MENENIUS:\nWhat work's, my countrymen, in hand?"]


def start_server(args):
    cmd = [sys.executable, "-m", "rnngen", "serve", "--port", "0",
           "--limit", f"requests={max(1024, 2 * max(args.levels))}",
           "--limit", f"rows={max(1024, 2 * max(args.levels))}"]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    cmd += ["--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    url = proc.stdout.readline().strip() if ready else ""
    if not url.startswith("http://"):
        proc.kill()
        sys.exit(f"bench_serve: the server did not start ({url!r})")
    host, port = url[len("http://"):].rsplit(":", 1)
    return proc, host, int(port)


def cpu_seconds(pid):
    """The process's CPU time so far (user + system), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def engine_cpu(host, port):
    """The batcher thread's CPU seconds so far, from GET /healthz."""
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=30) as r:
        return json.load(r)["batcher_cpu_seconds"]


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


class Sampler(threading.Thread):
    """The server's RSS every ``every`` seconds, with the time of each sample."""

    def __init__(self, pid, every=0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            value = rss_mib(self.pid)
            if value is not None:
                self.samples.append((time.monotonic(), value))
            self.stop.wait(self.every)

    def between(self, start, end):
        return [v for t, v in self.samples if start <= t <= end]


def request_for(rng, args):
    body = {"seed": rng.choice(SEEDS) or None, "n": rng.randint(args.n_min, args.n_max),
            "temperature": round(rng.uniform(0.5, 1.2), 2),
            "random_seed": rng.randrange(2**31), "stream": True}
    if rng.random() < 0.2:
        body["top_k"] = 20
    leave = rng.randint(1, body["n"]) if rng.random() < args.disconnect else None
    return body, leave


async def one(host, port, body, leave):
    """Stream one request -> (characters received, seconds to the first, outcome)."""
    payload = json.dumps(body).encode()
    conn = h11.Connection(our_role=h11.CLIENT)
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(conn.send(h11.Request(method="POST", target="/v1/sample", headers=[
        ("Host", host), ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))), ("Connection", "close")]))
        + conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage()))
    chars, first, status, buffer, outcome = 0, None, None, b"", "error"
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE:
                    break
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                buffer += event.data
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    kind, _, data = frame.partition(b"\ndata: ")
                    kind = kind[len(b"event: "):]
                    if kind == b"text":
                        if first is None:
                            first = time.perf_counter() - start
                        chars += len(json.loads(data)["text"])
                        if leave is not None and chars >= leave:
                            return chars, first, "left"
                    elif kind == b"done":
                        outcome = "done"
                    elif kind == b"error":
                        outcome = "error: " + json.loads(data)["error"][:60]
            else:  # EndOfMessage, ConnectionClosed
                break
    finally:
        writer.transport.abort()
    return chars, first, outcome if status == 200 else f"http {status}"


async def level(host, port, clients, seconds, args):
    """Run ``clients`` clients for ``seconds`` -> results of every finished request."""
    end = time.monotonic() + seconds
    results = []

    async def client(i):
        rng = random.Random(args.seed + i)
        while time.monotonic() < end:
            body, leave = request_for(rng, args)
            try:
                results.append(await one(host, port, body, leave))
            except OSError as e:
                results.append((0, None, f"{type(e).__name__}"))
    start = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return results, time.monotonic() - start


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run(args):
    proc, host, port = start_server(args)
    sampler = Sampler(proc.pid)
    sampler.start()
    rows, serial = [], None
    try:
        for clients in args.levels:
            t0, cpu0, engine0 = time.monotonic(), cpu_seconds(proc.pid), engine_cpu(host, port)
            results, wall = asyncio.run(level(host, port, clients, args.seconds, args))
            rss = sampler.between(t0, time.monotonic())
            cpu = cpu_seconds(proc.pid) - cpu0
            engine = engine_cpu(host, port) - engine0
            chars = sum(r[0] for r in results)
            rate = chars / wall
            serial = rate if clients == 1 else serial
            firsts = [r[1] * 1000 for r in results if r[1] is not None]
            errors = [r[2] for r in results if r[2] not in ("done", "left")]
            rows.append({"clients": clients, "requests": len(results), "chars": chars,
                         "chars_per_s": rate, "x_serial": rate / serial if serial else None,
                         "ttfc_median_ms": statistics.median(firsts) if firsts else None,
                         "ttfc_p95_ms": percentile(firsts, 0.95),
                         "disconnects": sum(r[2] == "left" for r in results),
                         "errors": len(errors), "error_kinds": sorted(set(errors)),
                         "rss_mib_min": min(rss), "rss_mib_max": max(rss),
                         "server_cores": cpu / wall,
                         "server_cpu_ms_per_1k_chars": 1e6 * cpu / max(chars, 1),
                         "batcher_share": engine / cpu if cpu else None})
            print_row(rows[-1], header=len(rows) == 1)
        minutes = []
        if args.minutes:
            t0 = time.monotonic()
            results, wall = asyncio.run(level(host, port, 64, args.minutes * 60, args))
            for m in range(int(args.minutes)):
                values = sampler.between(t0 + 60 * m, t0 + 60 * (m + 1))
                if values:
                    minutes.append({"minute": m + 1, "rss_mib_median": statistics.median(values),
                                    "rss_mib_max": max(values)})
            errors = sum(r[2] not in ("done", "left") for r in results)
            print(f"\n64 clients for {args.minutes:g} minutes: {len(results)} requests, "
                  f"{sum(r[0] for r in results) / wall:,.0f} chars/s, {errors} errors")
            print("| minute | server RSS MiB (median) | max |\n|---:|---:|---:|")
            for m in minutes:
                print(f"| {m['minute']} | {m['rss_mib_median']:.1f} | {m['rss_mib_max']:.1f} |")
    finally:
        sampler.stop.set()
        proc.terminate()
        code = proc.wait(60)
    print(f"\nserver exit status after SIGTERM: {code}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"levels": rows, "minutes": minutes, "args": vars(args)}, f, indent=1)


def print_row(r, header):
    if header:
        print("| clients | requests | chars/s | x one at a time | TTFC median ms | TTFC p95 ms "
              "| disconnects | errors | server RSS MiB | server cores | server CPU ms / 1k chars "
              "| batcher's share |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    x = f"{r['x_serial']:.1f}" if r["x_serial"] else "-"
    print(f"| {r['clients']} | {r['requests']} | {r['chars_per_s']:,.0f} | {x} "
          f"| {r['ttfc_median_ms']:.0f} | {r['ttfc_p95_ms']:.0f} | {r['disconnects']} "
          f"| {r['errors']}{' ' + ','.join(r['error_kinds']) if r['errors'] else ''} "
          f"| {r['rss_mib_min']:.0f}-{r['rss_mib_max']:.0f} | {r['server_cores']:.2f} "
          f"| {r['server_cpu_ms_per_1k_chars']:.0f} | {r['batcher_share']:.0%} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                   default=[1, 8, 64, 256], help="client counts, comma-separated (1 first)")
    p.add_argument("--seconds", type=float, default=20, help="seconds per level")
    p.add_argument("--minutes", type=float, default=0,
                   help="then 64 clients for this many minutes, memory per minute")
    p.add_argument("--n-min", type=int, default=50)
    p.add_argument("--n-max", type=int, default=500)
    p.add_argument("--disconnect", type=float, default=0.1,
                   help="fraction of requests the client leaves early")
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--workers", type=int, default=1, help="the server's --workers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the numbers here")
    args = p.parse_args()
    if args.levels[0] != 1:
        p.error("--levels must start with 1: the other levels are compared with it")
    print(f"bench_serve: {os.cpu_count()} CPUs, {args.workers} worker(s), levels {args.levels}, "
          f"{args.seconds:g} s each, "
          f"n {args.n_min}-{args.n_max}, {args.disconnect:.0%} left early", flush=True)
    run(args)


if __name__ == "__main__":
    main()
