"""The playground's server refuses what another web page, a DNS-rebinding name or a hostile client
sends: foreign Origin / Host, non-JSON POSTs, any field naming a file or code, numbers and keys
built to crash it, slow or abandoned connections, and more heavy work than it can queue."""
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import torch

pytest.importorskip("starlette")
pytest.importorskip("httpx2")  # Starlette's TestClient
from starlette.testclient import TestClient  # noqa: E402

import nnopt.serve.app as app_module  # noqa: E402
import nnopt.serve.command as command  # noqa: E402
from nnopt.recipe import SECTIONS, Component  # noqa: E402
from nnopt.serve.app import COMPUTING, WAITING, Hosts, create_app  # noqa: E402
from nnopt.serve.command import serve_in_thread  # noqa: E402
from nnopt.serve.forms import MAX_THREADS, FormError, offered, recipe_from_form, schema  # noqa: E402
from nnopt.serve.session import THREADS, Session  # noqa: E402

TRAJECTORY = {"surface": "saddle", "steps": 5, "runs": [{"optimizer": "sgd", "fields": {"lr": "0.1"}}]}


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(max_sessions=3, max_running=1), base_url="http://127.0.0.1",
                      raise_server_exceptions=False)


@pytest.fixture(scope="module")
def defaults():
    return schema()["defaults"]


def small(values, **changes):
    return {**values, "data.n_samples": "100", "train.epochs": "1", "schedule.warmup_steps": "0", **changes}


# -- only the page itself drives the server --------------------------------------------------------

@pytest.mark.parametrize("headers, status", [
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": "http://127.0.0.1:1"}, 403),  # another port of the same machine is another origin
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Origin": "http://127.0.0.1"}, 200),  # the page's own
    ({"Sec-Fetch-Site": "same-origin"}, 200),
])
def test_only_the_servers_own_origin_is_answered(client, headers, status):
    assert client.post("/api/trajectories", json=TRAJECTORY, headers=headers).status_code == status
    assert client.get("/api/schema", headers=headers).status_code == status


def test_session_actions_and_streams_refuse_a_foreign_page(client):
    evil = {"Origin": "http://evil.example"}
    assert client.get("/api/events", headers=evil).status_code == 403  # no session is even opened
    assert client.post("/api/sessions/x/start", json={}, headers=evil).status_code == 403
    assert client.post("/api/export", json={}, headers=evil).json()["error"].startswith(
        "Origin 'http://evil.example' — only the playground's own page")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_post_that_is_not_json_is_refused(client, content_type):
    """The 'simple requests' a page may send cross-site without a CORS preflight."""
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/api/trajectories", "/api/export", "/api/sessions/x/start"):
        r = client.post(path, content=json.dumps(TRAJECTORY).encode(), headers=headers)
        assert r.status_code == 415 and "must be application/json" in r.json()["error"]
    ok = client.post("/api/trajectories", content=json.dumps(TRAJECTORY).encode(),
                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


@pytest.mark.parametrize("bound, header, allowed", [
    ("127.0.0.1", "127.0.0.1:8765", True), ("127.0.0.1", "localhost:8765", True),
    ("127.0.0.1", "evil.example:8765", False), ("127.0.0.1", "127.0.0.1:9999", False),
    ("::1", "[::1]:8765", True), ("::1", "localhost:8765", True), ("127.0.0.2", "127.0.0.2:8765", True),
    ("127.0.0.2", "localhost:8765", False),  # localhost is 127.0.0.1: not the served address
    ("0.0.0.0", "evil.example:8765", False), ("0.0.0.0", "127.0.0.1:8765", True),
    ("0.0.0.0", "[::1]:8765", False),  # an IPv4 wildcard serves no IPv6 address
    ("0.0.0.0", "192.0.2.1:8765", False),  # TEST-NET: not an address of this machine
    ("::", "[::1]:8765", True), ("::", "evil.example:8765", False),
    ("127.0.0.1", "127.0.0.1:8765:1", False), ("127.0.0.1", "[::1", False), ("127.0.0.1", "", False),
])
def test_host_must_be_an_address_the_server_listens_on(bound, header, allowed):
    assert Hosts(bound, 8765).allows(header) is allowed


def raw_get(url, host):
    """Status of GET /api/schema sent to `url` with the Host header `host`."""
    port = int(url.rsplit(":", 1)[1].strip("/"))
    address = url.split("//")[1].rsplit(":", 1)[0].strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(10)
        s.connect((address, port))
        s.sendall(f"GET /api/schema HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return int(s.recv(64).split()[1])


@pytest.mark.parametrize("host", ["::1", "127.0.0.2", "0.0.0.0"])
def test_every_printed_url_works_and_a_foreign_host_is_refused(host):
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        url, stop = serve_in_thread(host=host)
    except Exception as exc:  # noqa: BLE001 — e.g. IPv6 disabled in a container
        pytest.skip(f"cannot listen on {host}: {exc}")
    try:
        with urllib.request.urlopen(url + "api/schema", timeout=30) as r:  # the URL `nnopt serve` prints
            assert r.status == 200
        assert raw_get(url, "evil.example") == 400  # DNS rebinding, with a wildcard bind too
    finally:
        stop()


def test_binding_beyond_loopback_warns_plainly(capsys, monkeypatch):
    class Stub:
        def __init__(self):
            self.config = type("C", (), {"app": type("A", (), {"state": type("S", (), {
                "sessions": type("X", (), {"shutdown": lambda self: None})()})()})()})()

        def run(self, sockets):
            pass

    monkeypatch.setattr(command, "server_for", lambda sock, host: Stub())
    args = type("Args", (), {"host": "0.0.0.0", "port": 0})()
    assert command.run(args) == 0
    out, err = capsys.readouterr()
    assert "warning: --host 0.0.0.0 listens beyond this machine: anyone on your network" in err
    assert "open http://127.0.0.1:" in out  # a URL that works, not http://0.0.0.0


# -- no request names a file or code ---------------------------------------------------------------

def test_no_field_the_page_is_offered_names_a_file_or_code():
    for section in schema()["sections"]:
        for entry in section.get("entries", {}).values():
            for name, field in entry["fields"].items():
                assert name not in ("path", "factory"), (section["name"], name)
    init = next(s for s in schema()["sections"] if s["name"] == "init")
    assert "pretrained" not in init["choices"]


def every_external():
    """(section, entry, field) of every registered field marked external, and entries not offered."""
    out = []
    for section, spec in SECTIONS.items():
        if isinstance(spec, Component):
            for name in spec.registry.names():
                params = spec.registry.get(name).params
                out += [(section, name, k) for k, p in params.items() if p.external]
                if not offered(spec.registry, name):
                    out.append((section, name, None))
    return out


def test_path_and_code_fields_are_marked_external():
    """Every free-text field whose name says it holds a path or code is marked (a new data set's
    `path`, a model's `factory`), so the server refuses it without a hand list."""
    for section, spec in SECTIONS.items():
        if isinstance(spec, Component):
            for name in spec.registry.names():
                for key, p in spec.registry.get(name).params.items():
                    if p.kind is str and p.choices is None and any(w in key for w in ("path", "file", "dir",
                                                                                      "factory", "module")):
                        assert p.external, f"{section} {name}: {key} names a file or code but is not external"
    found = every_external()
    assert ("init", "pretrained", "path") in found and ("init", "pretrained", None) in found


def test_a_request_naming_a_file_or_code_is_refused_before_anything_is_read(client, defaults, monkeypatch):
    """The /dev/zero read that OOM-killed the server: refused whatever the form sends."""
    def never(*args, **kwargs):
        raise AssertionError("the server read or imported what a request named")

    monkeypatch.setattr("nnopt.init.pretrained.read_state_dict", never)
    monkeypatch.setattr("nnopt.user_code.import_target", never)
    cases = every_external()
    assert len(cases) >= 2
    for section, name, key in cases:
        values = small(defaults, **{f"{section}.name": name})
        if key is not None:
            values[f"{section}.{key}"] = "/dev/zero"
        refused = f"{section}.{key}" if key and offered(SECTIONS[section].registry, name) else f"{section}.name"
        r = client.post("/api/export", json={"values": values})
        assert r.status_code == 400 and r.json()["field"] == refused, (section, name, key, r.text)
    with pytest.raises(FormError) as info:
        recipe_from_form(small(defaults, **{"init.name": "pretrained", "init.path": "/dev/zero"}))
    assert info.value.field == "init.name" and "the playground does not offer it" in str(info.value)
    with pytest.raises(FormError) as info:
        recipe_from_form(small(defaults, **{"model.name": "python", "model.factory": "os:system"}))
    assert info.value.field == "model.name"


# -- numbers, keys and threads built to crash it ---------------------------------------------------

BIG = "9" * 5000


@pytest.mark.parametrize("body, field", [
    ({**TRAJECTORY, "steps": BIG}, "steps"),
    ({**TRAJECTORY, "start": f"[{BIG}, 1]"}, "start"),
    ({**TRAJECTORY, "runs": [{"optimizer": "sgd", "fields": {"lr": BIG}}]}, "runs.0.lr"),
])
def test_a_5000_digit_number_is_a_400_naming_its_field(client, body, field):
    r = client.post("/api/trajectories", json=body)
    assert r.status_code == 400 and r.json()["field"] == field, r.text
    raw = json.dumps(TRAJECTORY).replace('"steps": 5', f'"steps": {BIG}')  # a JSON number, not text
    r = client.post("/api/trajectories", content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "steps"


def test_huge_numbers_deep_keys_and_threads_in_the_form(client, defaults):
    r = client.post("/api/export", json={"values": {**defaults, "optimizer.lr": BIG}})
    assert r.status_code == 400 and r.json()["field"] == "optimizer.lr"
    r = client.post("/api/export", json={"values": {**defaults, "train." + ".".join(["a"] * 500): "1"}})
    assert r.status_code == 400 and "not a recipe field" in r.json()["error"]
    r = client.post("/api/export", json={"values": {**defaults, "train.threads": "1024"}})
    assert r.status_code == 400 and r.json()["field"] == "train.threads"
    assert f"at most {MAX_THREADS}" in r.json()["error"]


def test_a_runs_threads_are_its_own(defaults):
    session = Session("t")
    session.start(recipe_from_form(small(defaults, **{"train.threads": "1"})))
    session.join()
    assert session.state == "finished" and torch.get_num_threads() == THREADS


# -- reset, run folders ----------------------------------------------------------------------------

def test_reset_stops_the_run_before_idle_and_deletes_its_folder(defaults):
    session = Session("t")
    session.start(recipe_from_form(small(defaults, **{"train.epochs": "100000"})))
    run_dir, thread = session.run_dir, session.thread
    assert os.path.isdir(run_dir)
    session.reset()
    assert session.state == "idle" and not thread.is_alive() and not os.path.exists(run_dir)


@pytest.mark.parametrize("widths", ["[1500, 1500]", "[100000, 100000]"])
def test_a_model_too_big_to_step_quickly_is_refused_before_it_is_allocated(defaults, widths):
    """[100000, 100000] would take 40 GB: refused from its meta-device count, before any memory."""
    with pytest.raises(FormError) as info:
        Session("t").start(recipe_from_form(small(defaults, **{"model.widths": widths})))
    assert info.value.field == "model.widths" and "the playground trains at most 2,000,000" in str(info.value)


# -- connections: queue, disconnects, slow clients --------------------------------------------------

def post(url, body, timeout=30):
    req = urllib.request.Request(url + "api/trajectories", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def gated(monkeypatch):
    """The server's trajectory computation blocks until `gate` is set; `seen` records each call's
    cancelled() flag when it ends."""
    gate, seen, started = threading.Event(), [], []

    def slow(body, cancelled):
        started.append(1)
        while not gate.is_set() and not cancelled():
            time.sleep(0.01)
        seen.append(cancelled())
        return {"surface": "saddle", "runs": []}

    monkeypatch.setattr(app_module, "trajectories", slow)
    url, stop = serve_in_thread()
    yield url, gate, seen, started
    gate.set()
    stop()


def test_heavy_requests_queue_boundedly_then_429(gated):
    url, gate, seen, started = gated
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(post(url, TRAJECTORY)))
               for _ in range(COMPUTING + WAITING)]
    for t in threads:
        t.start()
    end = time.monotonic() + 20
    while len(started) < COMPUTING and time.monotonic() < end:
        time.sleep(0.01)
    time.sleep(0.3)  # the rest are queued
    assert post(url, TRAJECTORY) == 429
    gate.set()
    for t in threads:
        t.join(30)
    assert statuses == [200] * (COMPUTING + WAITING)


def test_a_client_that_leaves_cancels_its_computation(gated):
    url, gate, seen, started = gated
    port = int(url.rsplit(":", 1)[1].strip("/"))
    body = json.dumps(TRAJECTORY).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /api/trajectories HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        end = time.monotonic() + 20
        while not started and time.monotonic() < end:
            time.sleep(0.01)
    end = time.monotonic() + 20
    while not seen and time.monotonic() < end:
        time.sleep(0.01)
    assert seen == [True]  # stopped because the client left, not because the gate opened


@pytest.fixture
def quick_timeouts(monkeypatch):
    monkeypatch.setattr(command, "HEADER_TIMEOUT", 0.5)
    url, stop = serve_in_thread()
    yield int(url.rsplit(":", 1)[1].strip("/"))
    stop()


@pytest.mark.parametrize("partial", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ",
                                     b"POST /api/export HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/"
                                     b"json\r\nContent-Length: 100\r\n\r\n{\"values\""])
def test_slow_partial_requests_are_dropped(quick_timeouts, partial):
    sockets = []
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", quick_timeouts), timeout=10)
            s.sendall(partial)
            sockets.append(s)
        for s in sockets:  # each is closed by the server (b"") or answered and closed
            data, end = b"", time.monotonic() + 10
            while time.monotonic() < end:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert time.monotonic() < end
    finally:
        for s in sockets:
            s.close()


def test_a_client_leaving_mid_body_logs_no_traceback(quick_timeouts):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        with socket.create_connection(("127.0.0.1", quick_timeouts), timeout=10) as s:
            s.sendall(b"POST /api/export HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"values\": {")
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", quick_timeouts), timeout=10) as s:  # still serving
            s.sendall(b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200") and b"image/svg+xml" in head
        time.sleep(0.3)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if r.exc_info or "Exception" in r.getMessage()], \
        [r.getMessage() for r in records]
