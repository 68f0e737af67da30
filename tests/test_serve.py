"""rnngen serve through real HTTP: a server started in a subprocess on a free port.

Each test asks the server what a client would and checks the answer against the
command line (`rnngen sample`, `eval`, `info`) or the documented bound.
"""
import http.client
import socket
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner

pytest.importorskip("starlette", reason="rnngen serve needs its extra: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="rnngen serve needs its extra: pip install -e '.[serve]'")

from rnngen.cli import main  # noqa: E402

READY_SECONDS = 90  # a loaded machine can take this long to import and load the model


class Server:
    """`rnngen serve --port 0 ARGS` in a subprocess; .url once it printed its address."""

    def __init__(self, tmp_path, *args, env=None):
        self.log = open(tmp_path / f"serve-{os.getpid()}-{time.monotonic_ns()}.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnngen", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            env=dict(os.environ, **(env or {})))
        ready, _, _ = select.select([self.proc.stdout], [], [], READY_SECONDS)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("http://"):
            self.stop()
            raise AssertionError(f"the server did not print its address: {line!r} "
                                 f"{self.stderr()}")
        self.url = line
        parsed = urlparse(line)
        self.host, self.port = parsed.hostname, parsed.port

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc.stdout.close()

    # -- requests ------------------------------------------------------------------

    def call(self, method, path, body=None, headers=None, timeout=120):
        """(status, JSON answer, headers)."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.load(r), r.headers
        except urllib.error.HTTPError as e:
            return e.code, json.load(e), e.headers

    def post(self, path, body, **kwargs):
        return self.call("POST", path, body, **kwargs)[:2]

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)[:2]

    def stream(self, body, headers=None):
        """(connection, response) of a streamed POST /v1/sample, not yet read."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        conn.request("POST", "/v1/sample", json.dumps(dict(body, stream=True)),
                     {"Content-Type": "application/json", **(headers or {})})
        return conn, conn.getresponse()


def events(response):
    """Yield (event, data) from a server-sent event stream."""
    kind, data = None, []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and kind:
            yield kind, json.loads("".join(data))
            kind, data = None, []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("serve"))
    yield s
    assert s.stop() == 0, s.stderr()


def cli(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


# -- the same results as the command line ------------------------------------------------

@pytest.mark.parametrize("options", [
    {"seed": "ROMEO:", "n": 200, "temperature": 0.8, "random_seed": 11},  # Gumbel draws
    {"seed": "KING", "n": 150, "top_k": 5, "top_p": 0.9, "random_seed": 3},  # filtered draws
    {"n": 120, "temperature": 0, "random_seed": 1},  # greedy, no seed
    {"seed": "First", "n": 300, "stop": "\n\n", "random_seed": 5, "fresh_state": True},
    # a seed long enough to be read on a worker thread while the batch steps
    {"seed": "ROMEO:\nBut soft, what light through yonder window breaks?\n" * 4, "n": 100,
     "random_seed": 9, "num_samples": 1},
])
def test_sample_is_what_the_cli_prints(server, options):
    status, answer = server.post("/v1/sample", options)
    assert status == 200, answer
    [got] = answer["samples"]
    flags = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag] if value is True else [flag, str(value)]
    [line] = cli("sample", "--json", *flags).splitlines()
    want = json.loads(line)
    assert got["seed"] + got["text"] == cli("sample", *flags)  # the streamed path's text
    assert set(got) == set(want)  # the fields of sample --json
    want["settings"]["checkpoint"] = "shakespeare"  # the model's name, not a server path
    for key in ("seed", "text", "chars", "stopped", "random_seed", "index", "settings"):
        assert got[key] == want[key], key
    assert got["logprobs"] == pytest.approx(want["logprobs"], abs=1e-5)
    assert got["seed_logprobs"] == pytest.approx(want["seed_logprobs"], abs=1e-5)


def test_several_samples_and_beams_are_the_clis(server):
    status, answer = server.post("/v1/sample", {"seed": "ROMEO:", "n": 80, "num_samples": 3,
                                                "random_seed": 40})
    assert status == 200, answer
    texts = [s["seed"] + s["text"] for s in answer["samples"]]
    # sample i is the single sample with random seed 40 + i, exactly
    assert texts == [cli("sample", "--seed", "ROMEO:", "--n", "80", "--random-seed", str(40 + i))
                     for i in range(3)]
    assert [s["random_seed"] for s in answer["samples"]] == [40, 41, 42]
    status, answer = server.post("/v1/sample", {"seed": "ROMEO:", "n": 60, "beam": 4,
                                                "num_samples": 2})
    assert status == 200, answer
    want = [json.loads(line) for line in cli("sample", "--seed", "ROMEO:", "--n", "60",
                                             "--beam", "4", "--num-samples", "2",
                                             "--json").splitlines()]
    assert [s["text"] for s in answer["samples"]] == [w["text"] for w in want]
    assert answer["samples"][0]["settings"]["beam"] == 4


def test_stream_sends_characters_as_made(server):
    body = {"seed": "JULIET:", "n": 250, "temperature": 0.9, "random_seed": 8}
    conn, response = server.stream(body)
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    got = list(events(response))
    conn.close()
    kinds = [k for k, _ in got]
    assert kinds[0] == "seed" and kinds[-1] == "done" and kinds.count("text") >= 2
    assert got[0][1] == {"index": 0, "seed": "JULIET:", "random_seed": 8}
    text = "".join(d["text"] for k, d in got if k == "text")
    logprobs = [x for k, d in got if k == "text" for x in d["logprobs"]]
    [done] = got[-1][1]["samples"]
    status, answer = server.post("/v1/sample", body)
    assert done == answer["samples"][0]
    assert text == done["text"] and len(text) == 250
    assert logprobs == done["logprobs"]


def test_score_is_what_eval_prints(server, tmp_path):
    text = "ROMEO:\nBut soft, what light through yonder window breaks?\n" * 20
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    status, got = server.post("/v1/score", {"text": text})
    assert status == 200, got
    want = json.loads(cli("eval", "--corpus", str(tmp_path / "t.txt"), "--json"))
    assert got["chars"] == want["chars"] == len(text) - 1
    for key in ("nats_per_char", "bits_per_char", "perplexity"):
        assert got[key] == pytest.approx(want[key], rel=1e-6), key
    assert got["model"] == "shakespeare"
    status, got = server.post("/v1/score", {"text": text + "\u00e9\u00e9", "skip_unknown": True})
    assert status == 200 and got["skipped"] == 2 and got["chars"] == want["chars"]
    status, got = server.post("/v1/score", {"text": "caf\u00e9 au lait"})
    assert status == 422 and "never saw" in got["error"]


def test_models_are_what_info_says(server):
    status, got = server.get("/v1/models")
    assert status == 200
    [model] = got["models"]
    want = json.loads(cli("info", "--json"))
    assert model["name"] == "shakespeare" and model["task"] == "generate"
    assert model["checkpoint"] == "shakespeare"  # never the server's file path
    assert {k: v for k, v in model.items() if k not in ("checkpoint", "name")} == \
        {k: v for k, v in want.items() if k != "checkpoint"}


def test_health_classify_and_unknown_routes(server):
    status, health = server.get("/healthz")
    assert status == 200 and health["status"] == "ok" and health["models"] == ["shakespeare"]
    assert health["limits"]["n"] == 10_000 and health["token"] is False
    status, got = server.post("/v1/classify", {"texts": ["a text"]})
    assert status == 400 and "not a classifier" in got["error"]
    status, got = server.post("/v1/classify", {"texts": "a text"})
    assert status == 422 and "list" in got["error"]
    status, got = server.get("/v2/nothing")
    assert status == 404 and "no such endpoint" in got["error"]
    status, got = server.get("/v1/sample")
    assert status == 405 and "GET" in got["error"]


def test_classify_is_what_the_cli_prints(tmp_path):
    from test_classify_cli import markers, write_config, write_tsv

    data = write_tsv(tmp_path / "m.tsv", markers(200))
    cli("train", "--config", str(write_config(tmp_path, data, train={"steps": 20})), "-q")
    texts = [t for t, _ in markers(5, seed=9)]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    want = [json.loads(line) for line in cli("classify", "--checkpoint", str(tmp_path / "c.npz"),
                                             str(tmp_path / "texts.txt"), "--json").splitlines()]
    from rnngen import resources

    s = Server(tmp_path, "--checkpoint", str(resources.shipped_model()),
               "--checkpoint", f"markers={tmp_path / 'c.npz'}")
    try:
        status, got = s.post("/v1/classify", {"texts": texts, "model": "markers"})
        assert status == 200, got
        assert got["model"] == "markers" and len(got["predictions"]) == 5
        for mine, theirs in zip(got["predictions"], want):
            assert mine["text"] == theirs["text"] and mine["label"] == theirs["label"]
            assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-6)
        status, got = s.post("/v1/sample", {"model": "markers", "n": 5})
        assert status == 400 and "not one that generates text" in got["error"]
        status, got = s.post("/v1/classify", {"texts": ["abc"]})  # the default: shakespeare
        assert status == 400 and "not a classifier" in got["error"]
        tasks = {m["name"]: m["task"] for m in s.get("/v1/models")[1]["models"]}
        assert tasks == {"shakespeare": "generate", "markers": "classify"}
    finally:
        assert s.stop() == 0, s.stderr()


# -- continuous batching -------------------------------------------------------------

def test_a_request_among_63_others_gives_the_same_text(server):
    target = {"seed": "ROMEO:", "n": 300, "temperature": 0.9, "random_seed": 1234}
    status, alone = server.post("/v1/sample", target)
    assert status == 200
    others = [{"seed": ["KING", "First", "Q", None][i % 4], "n": 100 + 7 * i,
               "temperature": [0.5, 1.0, 1.3][i % 3], "random_seed": i,
               **({"top_k": 10} if i % 5 == 0 else {}),
               **({"num_samples": 2} if i % 9 == 0 else {})} for i in range(63)]
    bodies = others[:31] + [target] + others[31:]
    most = []

    def watch():  # how many rows were stepped together while the requests ran
        while not done.is_set():
            most.append(server.get("/healthz")[1]["rows_in_batch"])
            time.sleep(0.05)
    done = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    barrier = threading.Barrier(len(bodies))

    def send(body):
        barrier.wait()
        return server.post("/v1/sample", body)
    try:
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(send, bodies))
    finally:
        done.set()
        watcher.join()
    assert all(status == 200 for status, _ in answers), answers
    assert answers[31][1]["samples"] == alone["samples"]  # the same text, logprobs and all
    assert max(most) >= 32, most  # it really was stepped among many others
    for body, (_, answer) in zip(bodies[:3], answers[:3]):  # and so were they
        assert len(answer["samples"][0]["text"]) == body["n"]


# -- bounds ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b"[" * 100_000, 400, "not JSON"),
    ({"seed": "x", "colour": "red"}, 422, "unknown field 'colour'"),
    ({"n": "many"}, 422, "n must be a whole number"),
    ({"n": 2.5}, 422, "n must be a whole number"),
    ({"n": True}, 422, "n must be a whole number"),
    ({"n": -1}, 422, "n must be"),
    ({"temperature": -1}, 422, "temperature must be"),
    ({"top_p": 1.5}, 422, "top_p must be"),
    ({"seed": 12}, 422, "seed must be a text"),
    ({"stream": "yes"}, 422, "stream must be true or false"),
    ({"beam": 3, "temperature": 0.5}, 422, "beam"),
    ({"beam": 3, "stream": True}, 422, "beam search"),
    ({"stop": ""}, 422, "stop"),
    ({"n": 10_001}, 422, "at most 10,000"),
    ({"num_samples": 65}, 422, "at most 64"),
    ({"beam": 17}, 422, "at most 16"),
    ({"n": 10_000, "num_samples": 11}, 422, "at most 100,000"),
    ({"seed": "a" * 4001}, 422, "at most 4,000 characters"),
    ({"stop": "a" * 101}, 422, "at most 100 characters"),
    ({"seed": "caf\u00e9"}, 422, "never saw"),
    ({"model": "../../etc/passwd"}, 404, "no model named"),
    ({"model": "/work/checkpoints/shakespeare.npz"}, 404, "no model named"),
])
def test_bad_requests_are_refused_saying_what_is_wrong(server, body, status, words):
    got_status, got = server.post("/v1/sample", body)
    assert got_status == status, got
    assert set(got) == {"error"} and words in got["error"], got["error"]
    assert "\n" not in got["error"]


def _raw_post(server, headers, body=b""):
    """(status, JSON answer) of a POST /v1/sample written by hand: ``headers`` and
    ``body`` sent as they are, nothing more, then the answer read. The server must
    answer without waiting for anything it was not sent."""
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(b"POST /v1/sample HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\n" + headers + b"\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def test_body_size_is_bounded_before_reading(server):
    # a declared length over the limit is refused before a byte of the body is sent
    status, got = _raw_post(server, b"Content-Length: %d\r\n" % ((1 << 20) + 1))
    assert status == 413 and "1,048,576 bytes" in got["error"]
    # a chunked body is refused once it passes the limit, not read to its end
    chunk = b"a" * (1 << 16)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(17))
    status, got = _raw_post(server, b"Transfer-Encoding: chunked\r\n", body)
    assert status == 413 and "1,048,576 bytes" in got["error"]
    status, got = server.post("/v1/score", {"text": "a" * 200_001})
    assert status == 422 and "at most 200,000" in got["error"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A server with small limits, to fill."""
    s = Server(tmp_path_factory.mktemp("small"), "--limit", "rows=3", "--limit", "requests=3",
               "--limit", "searches=1")
    yield s
    assert s.stop() == 0, s.stderr()


def test_a_full_server_answers_503_at_once(small):
    conns = []
    try:
        for _ in range(2):  # two streams of 10,000 characters hold 2 of the 3 rows
            conn, response = small.stream({"n": 10_000})
            assert response.status == 200
            next(events(response))
            conns.append(conn)
        start = time.monotonic()
        status, got = small.post("/v1/sample", {"n": 10, "num_samples": 2})
        assert status == 503 and "full" in got["error"] and "rows" in got["error"]
        assert time.monotonic() - start < 5  # at once, not queued
        status, _, headers = small.call("POST", "/v1/sample", {"n": 5})  # the third row fits
        assert status == 200
        conn, response = small.stream({"n": 10_000})  # the third request
        conns.append(conn)
        status, got = small.post("/v1/sample", {"n": 5})
        assert status == 503 and "requests in flight" in got["error"]
    finally:
        for conn in conns:
            conn.close()


def test_time_limit_cuts_a_request_short(tmp_path):
    s = Server(tmp_path, "--limit", "seconds=1")
    try:
        start = time.monotonic()
        status, got = s.post("/v1/sample", {"n": 10_000})
        assert status == 503 and "limit of 1 s" in got["error"], got
        assert time.monotonic() - start < 15
        conn, response = s.stream({"n": 10_000})
        kind, data = list(events(response))[-1]
        conn.close()
        assert kind == "error" and "limit of 1 s" in data["error"]
        _wait_idle(s)
    finally:
        assert s.stop() == 0


# -- disconnects --------------------------------------------------------------------------

def _wait_idle(server, seconds=20):
    """The health report once no request holds rows (AssertionError if it never is)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        health = server.get("/healthz")[1]
        if health["rows"] == 0 and health["rows_in_batch"] == 0:
            return health
        time.sleep(0.05)
    raise AssertionError(f"rows still held: {health}")


def test_a_client_that_leaves_frees_its_rows(server):
    _wait_idle(server)
    conn, response = server.stream({"n": 10_000, "num_samples": 4})
    stream = events(response)
    assert next(stream)[0] == "seed"
    while next(stream)[0] != "text":
        pass
    assert server.get("/healthz")[1]["rows_in_batch"] == 4
    steps = server.get("/healthz")[1]["steps"]
    conn.sock.shutdown(2)
    conn.close()
    health = _wait_idle(server)
    assert health["steps"] - steps < 10_000  # freed long before its 10,000 characters
    # a client waiting for a whole answer that leaves frees its rows too
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("POST", "/v1/sample", json.dumps({"n": 10_000, "num_samples": 3}),
                 {"Content-Type": "application/json"})
    end = time.monotonic() + 20
    while server.get("/healthz")[1]["rows_in_batch"] != 3 and time.monotonic() < end:
        time.sleep(0.02)
    conn.sock.shutdown(2)
    conn.close()
    _wait_idle(server)


# -- the token, the bind --------------------------------------------------------------------

def test_token_is_required_when_given(tmp_path):
    s = Server(tmp_path, env={"RNNGEN_TOKEN": "s3cret-token"})
    try:
        status, got, headers = s.call("GET", "/v1/models")
        assert status == 401 and "Bearer" in got["error"]
        assert headers["WWW-Authenticate"] == "Bearer"
        for wrong in ("Bearer nope", "s3cret-token", "Basic s3cret-token"):
            status, _ = s.post("/v1/sample", {"n": 5}, headers={"Authorization": wrong})
            assert status == 401, wrong
        good = {"Authorization": "Bearer s3cret-token"}
        assert s.get("/v1/models", headers=good)[0] == 200
        assert s.post("/v1/sample", {"n": 5}, headers=good)[0] == 200
        status, health = s.get("/healthz")  # open, for a load balancer's checks
        assert status == 200 and health["token"] is True
    finally:
        assert s.stop() == 0


def test_binding_beyond_this_machine_needs_a_token(monkeypatch):
    monkeypatch.delenv("RNNGEN_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "--token" in result.output and "RNNGEN_TOKEN" in result.output
    result = CliRunner().invoke(main, ["serve", "--token", " ", "--port", "0"])
    assert result.exit_code == 2 and "--token must be" in result.output


def test_without_the_extra_one_line_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette fails
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: rnngen serve needs starlette, which is not installed; install it with "
        "pip install 'rnngen-text[serve]'"]


def test_a_busy_port_is_one_line(server):
    result = CliRunner().invoke(main, ["serve", "--port", str(server.port)])
    assert result.exit_code == 1 and "cannot listen" in result.output
    assert len(result.output.strip().splitlines()) == 1


# -- SIGTERM ----------------------------------------------------------------------------

def test_sigterm_finishes_work_in_flight_then_exits_0(tmp_path):
    s = Server(tmp_path)
    conn, response = s.stream({"n": 600, "random_seed": 2})
    stream = events(response)
    next(stream)
    s.proc.send_signal(signal.SIGTERM)
    refused = False
    end = time.monotonic() + 20
    while not refused and time.monotonic() < end:  # it stops accepting...
        try:
            http.client.HTTPConnection(s.host, s.port, timeout=5).request("GET", "/healthz")
            time.sleep(0.05)
        except OSError:
            refused = True
    rest = list(stream)  # ...but finishes the stream in flight
    assert refused
    assert rest[-1][0] == "done", rest[-1]
    assert len(rest[-1][1]["samples"][0]["text"]) == 600
    conn.close()
    assert s.stop() == 0, s.stderr()


def test_sigterm_cuts_work_short_after_the_drain_limit(tmp_path):
    s = Server(tmp_path, "--limit", "drain_seconds=1")
    conn, response = s.stream({"n": 10_000})
    stream = events(response)
    next(stream)
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    kind, data = list(stream)[-1]
    assert kind == "error" and "shut down" in data["error"]
    conn.close()
    assert s.stop() == 0, s.stderr()
    assert time.monotonic() - start < 15


# -- the page, in a real browser ------------------------------------------------------------

def test_page_streams_text_into_a_real_browser(server, tmp_path):
    from browser import driver as chrome

    driver = chrome(tmp_path / "p")  # skips where no browser is installed
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        driver.get(server.url + "/")
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        driver.find_element(By.ID, "seed").send_keys("ROMEO:")
        n = driver.find_element(By.ID, "n")
        n.clear()
        n.send_keys("400")
        driver.find_element(By.ID, "random-seed").send_keys("21")
        driver.find_element(By.ID, "go").click()
        out = driver.find_element(By.ID, "text")
        WebDriverWait(driver, 120).until(
            lambda d: out.get_attribute("data-state") in ("done", "error"))
        assert out.get_attribute("data-state") == "done", \
            driver.find_element(By.ID, "status").text
        shown = driver.execute_script("return document.getElementById('text').textContent")
        status, answer = server.post("/v1/sample", {"seed": "ROMEO:", "n": 400,
                                                    "temperature": 0.8, "random_seed": 21})
        want = answer["samples"][0]
        assert shown == want["seed"] + want["text"]
        assert int(out.get_attribute("data-chunks")) >= 2  # it arrived in pieces
        shades = driver.execute_script(
            "return [...document.querySelectorAll('#text span[data-p]')]"
            ".map(s => [Number(s.dataset.p), getComputedStyle(s).backgroundColor])")
        assert len(shades) == 400
        for (p, colour), logprob in zip(shades, want["logprobs"]):
            assert p == pytest.approx(2.718281828459045 ** logprob, abs=1e-4)
        # the less likely a character, the darker its shade
        alpha = {p: float(c.rsplit(",", 1)[1].rstrip(")")) for p, c in shades if "rgba" in c}
        ordered = [alpha[p] for p in sorted(alpha)]
        assert ordered == sorted(ordered, reverse=True) and ordered[0] > ordered[-1]
        assert "done: 400 characters" in driver.find_element(By.ID, "status").text
    finally:
        driver.quit()


# -- memory ---------------------------------------------------------------------------

def test_a_finished_request_frees_its_rows_without_waiting_for_the_collector():
    """A row's key names its job, which holds its rows: the batcher breaks that cycle,
    or every row's noise block would stay until a full garbage collection (the
    server's memory then grows under load)."""
    import asyncio
    import gc
    import weakref

    from rnngen import decoding, resources
    from rnngen.serve import models
    from rnngen.serve.batcher import Batcher, Job

    loaded = models.load(models.parse([str(resources.shipped_model())]), decoding.CPU)
    batcher = Batcher(loaded, 60)
    batcher.start()

    async def one():
        job = Job(loaded["shakespeare"], decoding.Decoding(n=20, random_seed=1), "ROMEO:",
                  time.monotonic() + 60, streaming=True)
        batcher.prime(job)
        batcher.submit(job)
        while not job.rows and not job.finished:
            await asyncio.sleep(0.001)
        row = weakref.ref(job.rows[0])
        await job.ended.wait()
        return job, row
    gc.disable()
    try:
        job, row = asyncio.run(one())
        assert job.samples[0][0].text and len(job.samples[0][0].text) == 20
        del job
        end = time.monotonic() + 5  # the batcher thread's step may still hold it a moment
        while row() is not None and time.monotonic() < end:
            time.sleep(0.01)
        assert row() is None
    finally:
        gc.enable()
        batcher.stop()
