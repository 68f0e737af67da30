"""The HTTP layer of `rnngen serve`: Starlette routes that check a request, hand the
work to the library (the batcher's decoding, evaluation, beam search) and answer
JSON, or server-sent events for a stream. docs/serve.md documents the API."""
import asyncio
import hmac
import json
import math
import time
from contextlib import asynccontextmanager
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route

from .. import decoding, evaluation
from ..errors import RnngenError
from . import bodies
from .batcher import Batcher, Job
from .classify import classify_texts
from .refused import Refused

NO_STORE = {"Cache-Control": "no-store"}
PRIME_APART = 64  # seeds longer than this are read on a worker thread (State.submit)


class State:
    """What the routes share: the models, the limits, the token, the batcher, and the
    work in flight (counted on the event loop's thread only)."""

    def __init__(self, models, limits, token=None, log=print, workers=1):
        self.models, self.limits, self.token, self.log = models, limits, token, log
        # each batcher is a thread stepping its own rows; a request goes to the one
        # with the fewest (rows are independent, so which one changes no text)
        self.batchers = [Batcher(models, limits.seconds, log) for _ in range(workers)]
        self.requests = self.rows = self.searches = 0
        self.draining = False
        self.seed_scoring = None  # asyncio.Semaphores, made on the loop
        self.priming = None

    def admit(self, rows=0, search=False):
        """A Ticket for a request, or Refused at once when the server is full."""
        lim = self.limits
        if self.draining:
            raise Refused(503, "the server is shutting down", {"Retry-After": "5"})
        if self.requests >= lim.requests:
            raise Refused(503, f"the server is full ({self.requests} requests in flight, "
                               f"its limit); try again shortly", {"Retry-After": "1"})
        if self.rows + rows > lim.rows:
            raise Refused(503, f"the server is full ({self.rows} of its {lim.rows} rows in "
                               f"use; this request needs {rows}); try again shortly",
                          {"Retry-After": "1"})
        if search and self.searches >= lim.searches:
            raise Refused(503, f"the server is full ({self.searches} beam searches or "
                               "scorings running, its limit); try again shortly",
                          {"Retry-After": "1"})
        return Ticket(self, rows, search)

    async def submit(self, job, ticket):
        """Hand a sampling job to the least loaded batcher. A long seed is read first on
        a worker thread (a few at a time), so that it holds up no other row; a short one
        the batcher reads between two steps, sparing the hand-over."""
        batcher = min(self.batchers, key=lambda b: b.load)
        batcher.load += ticket.rows
        ticket.batcher = batcher
        if len(job.seed or "") > PRIME_APART:
            if self.priming is None:
                self.priming = asyncio.Semaphore(self.limits.searches)
            async with self.priming:
                try:
                    await run_in_threadpool(batcher.prime, job)
                except RnngenError as e:  # checked before: only a missed case lands here
                    raise Refused(422, str(e)) from None
        batcher.submit(job)


class Ticket:
    """A request's share of the limits, given back once, however it ends."""

    def __init__(self, state, rows, search):
        self.state, self.rows, self.search = state, rows, search
        state.requests += 1
        state.rows += rows
        state.searches += search
        self.released = False
        self.batcher = None  # the Batcher its rows went to

    def release(self):
        if not self.released:
            self.released = True
            self.state.requests -= 1
            self.state.rows -= self.rows
            self.state.searches -= self.search
            if self.batcher is not None:
                self.batcher.load -= self.rows


def error(status, message, headers=None):
    return JSONResponse({"error": message}, status, headers=dict(NO_STORE, **(headers or {})))


def guarded(endpoint):
    """The endpoint behind the token (when the server has one); a Refused becomes its
    JSON error."""
    async def guard(request):
        state = request.app.state.rnngen
        if state.token is not None and not _token_ok(request, state.token):
            return error(401, "this server needs its token: send the header "
                              "'Authorization: Bearer TOKEN'", {"WWW-Authenticate": "Bearer"})
        try:
            return await endpoint(request, state)
        except Refused as e:
            return error(e.status, e.message, e.headers)
    return guard


def _token_ok(request, token):
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


# -- routes ------------------------------------------------------------------------

async def page(request):
    return HTMLResponse(request.app.state.page)


async def healthz(request):
    state = request.app.state.rnngen
    return JSONResponse({"status": "draining" if state.draining else "ok",
                         "models": list(state.models), "requests": state.requests,
                         "rows": state.rows,
                         "rows_in_batch": sum(b.rows_now for b in state.batchers),
                         "steps": sum(b.steps for b in state.batchers),
                         "batchers": len(state.batchers),
                         "batcher_cpu_seconds": round(sum(b.cpu_seconds
                                                          for b in state.batchers), 3),
                         "token": state.token is not None,
                         "limits": state.limits.as_dict()}, headers=NO_STORE)


async def models(request, state):
    return JSONResponse({"models": [s.describe() for s in state.models.values()]})


async def sample(request, state):
    body = await bodies.read_json(request, state.limits.body_bytes)
    req = bodies.sample(body, state.models, state.limits)
    settings = req.decoding.settings(checkpoint=req.served.name)
    if req.decoding.beam:
        return await _beam(state, req, settings)
    ticket = state.admit(rows=req.decoding.num_samples)
    try:
        job = Job(req.served, req.decoding, req.seed, time.monotonic() + state.limits.seconds,
                  streaming=req.stream)
        await state.submit(job, ticket)
    except BaseException:
        ticket.release()
        raise
    if req.stream:
        def cleanup():
            job.cancel()
            ticket.release()
        return _Stream(_events(state, job, settings), cleanup, media_type="text/event-stream",
                       headers=dict(NO_STORE, **{"X-Accel-Buffering": "no"}))
    try:
        if not await _finished_or_gone(job, request):
            return error(499, "the client left")
        if job.error:
            return error(*job.error)
        return JSONResponse({"samples": await _samples_json(state, job, settings)},
                            headers=NO_STORE)
    finally:
        job.cancel()
        ticket.release()


async def _beam(state, req, settings):
    """A beam search, on a worker thread: it is one search, not rows of the batch."""
    ticket = state.admit(search=True)
    try:
        found = await run_in_threadpool(decoding.samples, req.served.model, req.seed,
                                        req.decoding, True)
    except RnngenError as e:
        raise Refused(422, str(e)) from None
    finally:
        ticket.release()
    return JSONResponse({"samples": [_sample_json(s, i, settings) for i, s in enumerate(found)]},
                        headers=NO_STORE)


async def score(request, state):
    body = await bodies.read_json(request, state.limits.body_bytes)
    served, text, skip_unknown = bodies.score(body, state.models, state.limits)
    ckpt = served.checkpoint
    skipped = 0
    if skip_unknown:
        text, skipped = served.model.vocab.drop_unknown(text)
    ticket = state.admit(search=True)
    try:  # the text given, never a file: the recorded corpus is the CLI's default only
        result = await run_in_threadpool(evaluation.checkpoint_score, ckpt, text,
                                         "the text", None, served.model.device)
    except RnngenError as e:
        raise Refused(422, str(e)) from None
    finally:
        ticket.release()
    fields = {k: _finite(v) for k, v in result.as_dict().items()}
    extra = {"skipped": skipped} if skip_unknown else {}
    return JSONResponse(dict(fields, model=served.name, **extra), headers=NO_STORE)


async def classify(request, state):
    body = await bodies.read_json(request, state.limits.body_bytes)
    served, texts = bodies.classify(body, state.models, state.limits)
    ticket = state.admit(search=True)
    try:
        found = await run_in_threadpool(classify_texts, served, texts)
    except RnngenError as e:
        raise Refused(422, str(e)) from None
    finally:
        ticket.release()
    return JSONResponse(dict(found, model=served.name), headers=NO_STORE)


# -- waiting on the batcher -----------------------------------------------------------

async def _finished_or_gone(job, request):
    """True once the job ends, False if the client disconnects first."""
    async def gone():
        while (await request.receive())["type"] != "http.disconnect":
            pass
    watcher = asyncio.ensure_future(gone())
    ended = asyncio.ensure_future(job.ended.wait())
    try:
        await asyncio.wait({watcher, ended}, return_when=asyncio.FIRST_COMPLETED)
        return ended.done()
    finally:
        watcher.cancel()
        ended.cancel()


async def _events(state, job, settings):
    """The job's rows as server-sent events: seed, text (as made), then done or error."""
    chars = job.served.model.vocab.chars
    while True:
        await job.ready.wait()
        job.ready.clear()
        seeds, texts, finished = job.take()
        out = [_event("seed", {"index": i, "seed": seed, "random_seed": rs})
               for i, seed, rs in seeds]
        out += [_event("text", {"index": i, "text": "".join(chars[c] for c in ids),
                                "logprobs": [_finite(x) for x in lps]})
                for i, (ids, lps) in sorted(texts.items())]
        if out:
            yield "".join(out)
        if finished:
            break
    if job.error:
        status, message = job.error
        yield _event("error", {"error": message, "status": status})
    else:
        yield _event("done", {"samples": await _samples_json(state, job, settings)})


def _event(kind, data):
    return f"event: {kind}\ndata: {json.dumps(data, allow_nan=False)}\n\n"


class _Stream(StreamingResponse):
    """A stream whose clean-up runs however it ends: finished, client gone, shut down."""

    def __init__(self, content, cleanup, **kwargs):
        super().__init__(content, **kwargs)
        self.cleanup = cleanup

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.cleanup()


async def _samples_json(state, job, settings):
    """The job's samples as `rnngen sample --json` prints them, seed scores included
    (one forward pass over each distinct seed, on a worker thread, a few at a time)."""
    model, fresh = job.served.model, job.decoding.fresh_state
    scored = {}
    if state.seed_scoring is None:
        state.seed_scoring = asyncio.Semaphore(state.limits.searches)
    async with state.seed_scoring:
        for sample, seed_ids in job.samples:
            if sample.seed not in scored:
                scored[sample.seed] = await run_in_threadpool(model.seed_log_probs, seed_ids,
                                                              fresh)
            sample.seed_logprobs = scored[sample.seed]
    return [_sample_json(s, i, settings) for i, (s, _) in enumerate(job.samples)]


def _sample_json(sample, index, settings):
    return dict(sample.as_dict(), index=index, settings=settings)


def _finite(x):
    return x if not isinstance(x, float) or math.isfinite(x) else None


# -- the application --------------------------------------------------------------------

async def _http_error(request, exc):
    """Starlette's own 404 and 405, as JSON like every other error."""
    return error(exc.status_code, {404: f"no such endpoint: {request.url.path}; see "
                                        "docs/serve.md (GET /v1/models, POST /v1/sample, "
                                        "POST /v1/score, POST /v1/classify, GET /healthz)",
                                   405: f"{request.method} is not allowed on "
                                        f"{request.url.path}"}.get(exc.status_code,
                                                                   str(exc.detail)),
                 getattr(exc, "headers", None))


async def _server_error(request, exc):
    request.app.state.rnngen.log(f"rnngen: {request.method} {request.url.path} failed: "
                                 f"{type(exc).__name__}: {exc}")
    return error(500, "the server failed on this request")


def build(state):
    """The Starlette application serving ``state`` (a State)."""
    @asynccontextmanager
    async def lifespan(app):
        for batcher in state.batchers:
            batcher.start()
        try:
            yield
        finally:
            for batcher in state.batchers:
                batcher.stop()

    app = Starlette(routes=[
        Route("/", page, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/v1/models", guarded(models), methods=["GET"]),
        Route("/v1/sample", guarded(sample), methods=["POST"]),
        Route("/v1/score", guarded(score), methods=["POST"]),
        Route("/v1/classify", guarded(classify), methods=["POST"]),
    ], exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan)
    app.state.rnngen = state
    app.state.page = resources.files("rnngen.serve").joinpath("page.html").read_text("utf-8")
    return app
