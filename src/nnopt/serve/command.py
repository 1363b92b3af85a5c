"""`nnopt serve [--port 8765] [--host 127.0.0.1]`: the web playground on a local port."""
from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
import threading

from ..errors import ConfigError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0 = any free one; default 8765)")
    p.add_argument("--host", default=None,
                   help="interface to listen on (default 127.0.0.1, this machine only); a public address "
                        "lets anyone who reaches it train on this machine")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; ConfigError naming the option when that is impossible."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} — must be in [0, 65535] (0 = any free port)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} — not an address of this machine ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"--port {port} — already in use on {host}; choose another (0 = any free port)") \
                from None
        raise ConfigError(f"--host {host!r} --port {port} — cannot listen there: {exc.strerror}") from None
    sock.listen(64)
    return sock


HEADER_TIMEOUT = 10.0  # seconds a connection may take to send a whole request (head and body)


def url_of(sock: socket.socket) -> str:
    """The URL to open: the bound address (loopback for a wildcard bind, 0.0.0.0 or ::)."""
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def server_for(sock: socket.socket, host: str, **app_options):
    """A uvicorn Server for the playground app on `sock` (not started); requests must name `host`
    (as typed) or the bound address."""
    import h11
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from .app import Hosts, create_app

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            """Ctrl-C: the event streams end at once (a tab's stream would hold the shutdown)."""
            app.state.sessions.closing = True
            super().handle_exit(sig, frame)

    class Protocol(H11Protocol):
        """uvicorn's HTTP/1.1, plus a deadline: a request not fully received HEADER_TIMEOUT s after
        its connection opened or its first bytes came (partial headers or body, "slowloris") is
        dropped. uvicorn itself times out only idle keep-alive connections."""

        deadline = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self.arm()

        def arm(self):
            if self.deadline is None:
                self.deadline = self.loop.call_later(HEADER_TIMEOUT, self.expire)

        def data_received(self, data):
            self.arm()
            super().data_received(data)
            if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):  # the request is in
                self.deadline.cancel()
                self.deadline = None

        def on_response_complete(self):
            super().on_response_complete()
            if self.deadline is not None and self.conn.their_state is h11.IDLE:
                self.deadline.cancel()  # keep-alive: uvicorn's own idle timeout applies
                self.deadline = None

        def expire(self):
            self.deadline = None
            if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc):
            if self.deadline is not None:
                self.deadline.cancel()
            super().connection_lost(exc)

    bound, port = sock.getsockname()[:2]
    app = create_app(hosts=Hosts(bound, port, names=(host,)), **app_options)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, access_log=False,
                            http=Protocol, timeout_keep_alive=5, limit_concurrency=200,
                            h11_max_incomplete_event_size=64 * 1024)
    threading.Thread(target=warm_up, daemon=True, name="nnopt-serve-warm-up").start()
    return Server(config)


def warm_up() -> None:
    """Build the default recipe once, so the page's first Start does not wait for lazy imports."""
    from ..recipe import Recipe
    from ..train import build
    from .forms import DEFAULTS

    build(Recipe(DEFAULTS))


def serve_in_thread(host: str = DEFAULT_HOST, port: int = 0, **app_options):
    """Start the playground in a daemon thread (tests, benchmarks): returns (url, stop)."""
    sock = bind(host, port)
    server = server_for(sock, host, **app_options)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="nnopt-serve")
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.02)

    def stop():
        server.config.app.state.sessions.closing = True
        server.should_exit = True
        thread.join(10)
        server.config.app.state.sessions.shutdown()
        sock.close()

    return url_of(sock), stop


def run(args) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print("error: nnopt serve needs the serve extra: pip install 'nnopt[serve]'", file=sys.stderr)
        return 2
    host = args.host if args.host is not None else DEFAULT_HOST
    sock = bind(host, args.port)
    if not is_loopback(host):
        print(f"warning: --host {host} listens beyond this machine: anyone on your network who reaches "
              f"port {sock.getsockname()[1]} can train models here (up to 4 at once, on your CPU); "
              "use the default 127.0.0.1 unless you mean that", file=sys.stderr)
    server = server_for(sock, host)
    print(f"nnopt serve: open {url_of(sock)}  (Ctrl-C stops)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:  # trainings end at a step boundary before the interpreter exits
        server.config.app.state.sessions.shutdown()
    return 0
