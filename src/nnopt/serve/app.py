"""The playground's ASGI app (Starlette): the page, its JSON API and each tab's event stream.

    GET  /                         the page (static/index.html, app.js, plot.js, style.css)
    GET  /api/schema               the recipe form, generated from the parameter specs
    GET  /api/surfaces             the 2-D test functions; /api/surfaces/NAME.png their contours
    POST /api/trajectories         {surface, steps, start, noise, schedule, runs: [{optimizer, fields}]}
    POST /api/export               {values} → the recipe's TOML and the matching lab experiments
    GET  /api/events               a tab's session: an SSE stream (first message: its id); closing
                                   the stream (the tab) stops the session's training
    POST /api/sessions/ID/ACTION   start | pause | resume | step | reset, with {values} for start/step;
                                   speed with {speed}: steps per second ("max" = unthrottled)

Only the page itself can drive the server (`Guard`): a request must name one of the served
addresses as its Host (DNS rebinding), come from the server's own origin (403 otherwise) and, for a
POST, carry JSON (415: a cross-site form or text/plain POST needs no CORS preflight). A bad value
answers 400 with {error, field}: the message is the recipe's own ConfigError. Sessions, concurrent
trainings and trajectory computations are capped (429); the server keeps running on bad input.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import secrets
import socket
import threading
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError
from ..params import Param
from ..toy.functions2d import SURFACES
from .forms import FormError, form_field, read_value, recipe_from_form, schema
from .lab_links import lab_links, recipe_choices
from .session import Busy, Session
from .surfaces import contour_png, surfaces_json, trajectories

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1_000_000  # bytes of a request body
MAX_DIGITS = 30  # a JSON integer longer than this is read as a float (inf beyond 308 digits)
SPEED = Param(float, None, gt=0, le=100_000, nullable=True, doc="training steps per second; none = max")
COMPUTING, WAITING = 2, 2  # trajectory requests computed at once / queued behind them (then 429)


class Sessions:
    """The open tabs (at most `max_sessions`) and their trainings (at most `max_running` at once)."""

    def __init__(self, max_sessions: int = 8, max_running: int = 4, fps: float = 8.0):
        self.max_sessions, self.max_running, self.fps = max_sessions, max_running, fps
        self.open: dict[str, Session] = {}
        self.closed: list[Session] = []  # closed without waiting: joined at shutdown
        self.lock = threading.Lock()
        self.closing = False  # set at shutdown: the event streams end

    def create(self) -> Session:
        with self.lock:
            if len(self.open) >= self.max_sessions:
                raise LimitError(f"{len(self.open)} tabs are open — the limit is {self.max_sessions}; "
                                 "close one and reload")
            session = Session(secrets.token_urlsafe(16), self.fps)
            self.open[session.sid] = session
            return session

    def get(self, sid: str) -> Session:
        session = self.open.get(sid)
        if session is None:
            raise LookupError(f"session {sid[:40]!r} is not open (reload the page)")
        return session

    def running(self) -> int:
        return sum(s.state in ("running", "paused") for s in list(self.open.values()))

    def close(self, sid: str, wait: bool = True) -> None:
        with self.lock:
            session = self.open.pop(sid, None)
            self.closed = [s for s in self.closed if s.thread is not None and s.thread.is_alive()]
            if session is not None and not wait:
                self.closed.append(session)
        if session is not None:
            session.stop(wait)

    def shutdown(self) -> None:
        """End every stream and training and wait for their threads (the server is stopping)."""
        self.closing = True
        for sid in list(self.open):
            self.close(sid)
        for session in self.closed:
            session.join()


class LimitError(RuntimeError):
    """A resource cap is reached (answered 429)."""


class Hosts:
    """The names a request's Host header may give: the addresses the server listens on.

    Bound to one address: that address (and "localhost" for 127.0.0.1 / ::1). Bound to every
    interface (0.0.0.0, ::): an IP address of this machine (one a socket can bind) or its host name.
    Any other name — one an attacker's DNS points here (DNS rebinding) — is refused.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, names: tuple[str, ...] = ()):
        self.host, self.port = host.lower().strip("[]"), port
        self.names = {self.host, *(n.lower().strip("[]") for n in names)}  # e.g. --host as typed
        self.ip = as_ip(self.host)
        self.wildcard = self.ip is not None and self.ip.is_unspecified

    def allows(self, header: str) -> bool:
        name, port = split_host(header)
        if name is None or (port is not None and self.port is not None and port != self.port):
            return False
        ip = as_ip(name)
        if self.wildcard:
            if ip is None:
                return name in ("localhost", socket.gethostname().lower(), socket.getfqdn().lower())
            return (self.ip.version == 6 or ip.version == 4) and is_local(ip)
        if name == "localhost":
            return self.ip is not None and str(self.ip) in ("127.0.0.1", "::1")
        return name in self.names or (ip is not None and ip == self.ip)


def as_ip(name: str):
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def split_host(header: str) -> tuple[str | None, int | None]:
    """("127.0.0.1", 8765) of "127.0.0.1:8765", ("::1", None) of "[::1]"; (None, None) if malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            return None, None
    else:
        name, _, port = header.partition(":")
        port = port if _ else None
    if not name or (port is not None and not (port.isdigit() and len(port) <= 5)):
        return None, None
    return name, None if port is None else int(port)


@functools.lru_cache(maxsize=64)
def is_local(ip) -> bool:
    """Whether `ip` is an address of this machine: a socket can bind to it."""
    if ip.is_loopback:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(ip), 0))
        return True
    except OSError:
        return False


class Guard:
    """ASGI middleware: only the page itself drives the server.

    Refused: a Host that is not a served address (400); an Origin other than the server's own, or a
    fetch its browser marks cross-site (403: another web page the user has open); a POST whose
    Content-Type is not application/json (415: forms and text/plain are "simple requests" a page may
    send cross-origin without a CORS preflight). Requests without Origin (curl, scripts) pass.
    """

    def __init__(self, app, hosts: Hosts):
        self.app, self.hosts = app, hosts
        self.state = app.state  # the app's sessions, for the server that runs it

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        refusal = None
        if not self.hosts.allows(host):
            refusal = error(f"Host {host[:80]!r} — not an address this server listens on", 400)
        elif "origin" in headers and headers["origin"].lower() != f"http://{host.lower()}":
            refusal = error(f"Origin {headers['origin'][:80]!r} — only the playground's own page "
                            f"(http://{host}) may use this server", 403)
        elif headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            refusal = error(f"Sec-Fetch-Site {headers['sec-fetch-site'][:40]!r} — only the playground's "
                            "own page may use this server", 403)
        elif scope["method"] == "POST" and \
                headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            refusal = error(f"Content-Type {headers.get('content-type', '')[:80]!r} — must be "
                            "application/json", 415)
        if refusal is not None:
            return await refusal(scope, receive, send)
        return await self.app(scope, receive, send)


def error(message: str, status: int = 400, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def parse_int(text: str):
    """A JSON integer: int, or a float when longer than MAX_DIGITS (Python refuses to convert
    4,300+ digits; the field's own check then names it)."""
    return int(text) if len(text) <= MAX_DIGITS else float(text)


async def read_json(request: Request):
    """The request's JSON body, read up to MAX_BODY bytes (FormError beyond, or when not JSON)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise FormError(f"request body of more than {MAX_BODY} bytes — at most {MAX_BODY}")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"{}", parse_int=parse_int)
    except (ValueError, RecursionError):
        raise FormError("request body is not valid JSON") from None


async def until_disconnect(request: Request, work):
    """await work(cancelled); cancelled (a threading.Event) is set and None returned when the
    client goes away first (its body already read: the next ASGI message is the disconnect)."""
    cancelled, outcome = threading.Event(), {}
    async with anyio.create_task_group() as group:
        async def watch():
            while (await request.receive())["type"] != "http.disconnect":
                pass
            cancelled.set()
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            outcome["value"] = await work(cancelled)
        except Exception as exc:  # noqa: BLE001 — raised below, outside the task group's wrapping
            outcome["error"] = exc
        group.cancel_scope.cancel()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def create_app(max_sessions: int = 8, max_running: int = 4, fps: float = 8.0, hosts: Hosts | None = None):
    """The Starlette app behind its Guard, answering requests for `hosts` (default: 127.0.0.1)."""
    sessions = Sessions(max_sessions, max_running, fps)
    compute = anyio.CapacityLimiter(COMPUTING)  # trajectory requests computed at once
    queued = [0]  # trajectory requests computing or waiting
    starting = anyio.Lock()  # the training limit is checked and taken in one go
    form_schema = schema()

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def favicon(request):
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    async def get_schema(request):
        return JSONResponse(form_schema)

    async def get_surfaces(request):
        return JSONResponse(surfaces_json())

    async def surface_png(request):
        name = request.path_params["name"]
        if name not in SURFACES:
            return error(f"surface = {name[:40]!r} — must be one of {', '.join(map(repr, SURFACES))}", 404)
        png = await anyio.to_thread.run_sync(contour_png, name, limiter=compute)
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    async def post_trajectories(request):
        body = await read_json(request)
        if queued[0] >= COMPUTING + WAITING:
            raise LimitError(f"{queued[0]} trajectory requests are being computed or waiting — the limit is "
                             f"{COMPUTING + WAITING}; try again in a moment")
        queued[0] += 1
        try:
            out = await until_disconnect(request, lambda cancelled: anyio.to_thread.run_sync(
                trajectories, body, cancelled.is_set, limiter=compute, abandon_on_cancel=True))
        finally:
            queued[0] -= 1
        if out is None:  # the client has gone
            return Response(status_code=499)
        out["lab"] = lab_links([("surface", out["surface"], True),
                                *(("optimizer.name", run["optimizer"], True) for run in out["runs"])])
        return JSONResponse(out)

    async def export(request):
        body = await read_json(request)
        values = body.get("values") if isinstance(body, dict) else None
        recipe = recipe_from_form(values)
        return JSONResponse({"toml": recipe.to_toml(), "lab": lab_links(recipe_choices(recipe))})

    async def events(request):
        session = sessions.create()

        async def stream():
            try:
                yield f"data: {json.dumps({'type': 'hello', 'sid': session.sid})}\n\n"
                quiet = 0
                while not sessions.closing:
                    messages = session.drain()
                    for message in messages:
                        yield f"data: {json.dumps(message, allow_nan=False)}\n\n"
                    quiet = 0 if messages else quiet + 1
                    if quiet >= 20:  # a comment each second of silence: a closed tab is noticed
                        quiet = 0
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(0.05)
            finally:  # the tab is gone (or the server stops): end its training, without blocking
                sessions.close(session.sid, wait=False)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def act(request):
        session = sessions.get(request.path_params["sid"])
        action = request.path_params["action"]
        if action in ("start", "step") and session.state not in ("running", "paused"):
            body = await read_json(request)
            values = body.get("values") if isinstance(body, dict) else None
            recipe = recipe_from_form(values)
            async with starting:
                if sessions.running() >= sessions.max_running:
                    raise LimitError(f"{sessions.running()} runs are training — the limit is "
                                     f"{sessions.max_running}; stop one first")
                if session.state != "idle":
                    await anyio.to_thread.run_sync(session.reset)
                try:
                    await anyio.to_thread.run_sync(session.start, recipe, 1 if action == "step" else None)
                except FormError:
                    raise
                except ConfigError as exc:  # a rule across fields, found when the run is built
                    raise FormError(str(exc), form_field(exc, values)) from None
        elif action == "step":
            session.proceed(1)
        elif action in ("start", "resume"):
            session.proceed()
        elif action == "pause":
            session.pause()
        elif action == "reset":
            await anyio.to_thread.run_sync(session.reset)
        elif action == "speed":
            body = await read_json(request)
            speed = body.get("speed") if isinstance(body, dict) else body
            if isinstance(speed, str):  # form text, like every field: "100", "max"
                speed = None if speed.strip() == "max" else read_value("speed", speed)
            session.set_speed(SPEED.validate("speed", speed))
        else:
            return error(f"action = {action[:40]!r} — must be one of 'start', 'pause', 'resume', 'step', "
                         "'reset', 'speed'", 404)
        return JSONResponse({"state": session.state})

    async def on_config_error(request, exc):
        return error(str(exc), 400, getattr(exc, "field", None))

    async def on_limit(request, exc):
        return error(str(exc), 429)

    async def on_missing(request, exc):
        return error(str(exc).strip("'\""), 404)

    async def on_busy(request, exc):
        return error(str(exc), 409)

    async def on_http(request, exc):  # no such page (404) or method (405): JSON like every answer
        return error(f"{request.method} {request.url.path[:80]} — {exc.detail}", exc.status_code)

    async def on_gone(request, exc):  # the client left mid-body: nobody to answer, nothing to log
        return Response(status_code=499)

    routes = [
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/api/schema", get_schema),
        Route("/api/surfaces", get_surfaces),
        Route("/api/surfaces/{name}.png", surface_png),
        Route("/api/trajectories", post_trajectories, methods=["POST"]),
        Route("/api/export", export, methods=["POST"]),
        Route("/api/events", events),
        Route("/api/sessions/{sid}/{action}", act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        ConfigError: on_config_error, LimitError: on_limit, LookupError: on_missing, Busy: on_busy,
        ClientDisconnect: on_gone, HTTPException: on_http})
    app.state.sessions = sessions
    return Guard(app, hosts or Hosts())
