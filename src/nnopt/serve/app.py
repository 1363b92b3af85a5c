"""The playground's ASGI app (Starlette): the page, its JSON API and each tab's event stream.

    GET  /                         the page (static/index.html, app.js, plot.js, style.css)
    GET  /api/schema               the recipe form, generated from the parameter specs
    GET  /api/surfaces             the 2-D test functions; /api/surfaces/NAME.png their contours
    POST /api/trajectories         {surface, steps, start, noise, schedule, runs: [{optimizer, fields}]}
    POST /api/export               {values} → the recipe's TOML and the matching lab experiments
    GET  /api/events               a tab's session: an SSE stream (first message: its id); closing
                                   the stream (the tab) stops the session's training
    POST /api/sessions/ID/ACTION   start | pause | resume | step | reset, with {values} for start/step

A bad value answers 400 with {error, field}: the message is the recipe's own ConfigError. Sessions,
concurrent trainings and trajectory computations are capped; the server keeps running on bad input.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import threading
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError
from ..toy.functions2d import SURFACES
from .forms import FormError, field_of, recipe_from_form, schema
from .lab_links import lab_links, recipe_choices
from .session import Session
from .surfaces import contour_png, surfaces_json, trajectories

STATIC = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost"]
MAX_BODY = 1_000_000  # bytes of a request body


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


def error(message: str, status: int = 400, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def read_json(request: Request):
    """The request's JSON body, read up to MAX_BODY bytes (FormError beyond, or when not JSON)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise FormError(f"request body of more than {MAX_BODY} bytes — at most {MAX_BODY}")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"{}")
    except (ValueError, RecursionError):
        raise FormError("request body is not valid JSON") from None


def create_app(max_sessions: int = 8, max_running: int = 4, fps: float = 8.0, loopback_only: bool = True):
    """The Starlette app; `loopback_only` refuses requests whose Host is not localhost (DNS rebinding)."""
    sessions = Sessions(max_sessions, max_running, fps)
    compute = anyio.CapacityLimiter(2)  # trajectory requests computed at once
    starting = anyio.Lock()  # the training limit is checked and taken in one go
    form_schema = schema()

    async def index(request):
        return FileResponse(STATIC / "index.html")

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
        out = await anyio.to_thread.run_sync(trajectories, body, limiter=compute)
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
                except ConfigError as exc:  # a rule across fields, found when the run is built
                    raise FormError(str(exc), field_of(str(exc), values)) from None
        elif action == "step":
            session.proceed(1)
        elif action in ("start", "resume"):
            session.proceed()
        elif action == "pause":
            session.pause()
        elif action == "reset":
            await anyio.to_thread.run_sync(session.reset)
        else:
            return error(f"action = {action[:40]!r} — must be one of 'start', 'pause', 'resume', 'step', "
                         "'reset'", 404)
        return JSONResponse({"state": session.state})

    async def on_form_error(request, exc):
        return error(str(exc), 400, getattr(exc, "field", None))

    async def on_limit(request, exc):
        return error(str(exc), 429)

    async def on_missing(request, exc):
        return error(str(exc).strip("'\""), 404)

    async def on_conflict(request, exc):
        return error(str(exc), 409)

    routes = [
        Route("/", index),
        Route("/api/schema", get_schema),
        Route("/api/surfaces", get_surfaces),
        Route("/api/surfaces/{name}.png", surface_png),
        Route("/api/trajectories", post_trajectories, methods=["POST"]),
        Route("/api/export", export, methods=["POST"]),
        Route("/api/events", events),
        Route("/api/sessions/{sid}/{action}", act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS)] if loopback_only else []
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={
        ConfigError: on_form_error, LimitError: on_limit, LookupError: on_missing, RuntimeError: on_conflict})
    app.state.sessions = sessions
    return app
