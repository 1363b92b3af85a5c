"""In-process fuzz of the playground's HTTP API: a few hundred hostile bodies, headers and paths.
Whatever comes in, the answer is 200 or a 4xx with a one-line {error, field} — never a 500 or a
traceback, and every request returns (the training behind a valid Start is a stub)."""
import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient  # noqa: E402

import nnopt.serve.session as session_module  # noqa: E402
from nnopt.serve.app import create_app  # noqa: E402
from nnopt.serve.forms import schema  # noqa: E402

EXAMPLES = int(os.environ.get("NNOPT_FUZZ_EXAMPLES", "1000")) // 4  # bodies (plus the fixed cases)
SCHEMA = schema()
FIELDS = sorted({*SCHEMA["defaults"], "init.path", "data.path", "model.factory", "init.name", "model.name"})
TEXTS = st.one_of(
    st.sampled_from(["", "none", "-1", "0", "1e400", "nan", "inf", "[1, 2]", "[" * 200, "9" * 5000, "/dev/zero",
                     "/etc/shadow", "os:system", "pretrained", "python", "true", "{a = 1}", '"x"', "1" * 40,
                     "[16, 16]", "moons", "digits", "adam", "\x00", "é" * 3000]),
    st.text(max_size=30))
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=4), max_leaves=12)
FORM = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=30) | st.just("a." * 300 + "b"),
                       TEXTS, max_size=8).map(lambda extra: {**SCHEMA["defaults"], **extra})
RUN = st.fixed_dictionaries({"optimizer": st.sampled_from(["sgd", "adam", "momentum", "nope"]) | VALUES,
                             "fields": st.dictionaries(st.sampled_from(["lr", "momentum", "betas", "path", "x"]),
                                                       TEXTS, max_size=3) | VALUES})
TRAJECTORY = st.fixed_dictionaries({
    "surface": st.sampled_from(["saddle", "beale", "x"]) | VALUES,
    "steps": st.sampled_from([1, 5, "5", 0, -1, 10**40, "9" * 5000, 1.5]) | VALUES,
    "start": st.sampled_from([None, "[1, 1]", [1, 2], "[1e400, 0]", "x"]) | VALUES,
    "noise": st.sampled_from([0, "0.1", -1, "inf"]) | VALUES,
    "runs": st.lists(RUN, max_size=3) | VALUES,
    "schedule": st.fixed_dictionaries({"name": st.sampled_from(["constant", "cosine", "nope"]),
                                       "fields": st.dictionaries(st.sampled_from(["lr", "warmup_steps",
                                                                                  "total_steps"]), TEXTS,
                                                                 max_size=2)}) | VALUES})
BODIES = st.one_of(
    st.tuples(st.just("/api/trajectories"), TRAJECTORY | VALUES),
    st.tuples(st.just("/api/export"), st.fixed_dictionaries({"values": FORM}) | VALUES),
    st.tuples(st.sampled_from(["start", "step", "pause", "resume", "reset", "x" * 300]),
              st.fixed_dictionaries({"values": FORM}) | VALUES),
    st.tuples(st.just("speed"), st.fixed_dictionaries({"speed": TEXTS | VALUES}) | VALUES))
RAW = [b"", b"{", b"[" * 100_000, b"\xff\xfe", b'{"values": ' + b"[" * 5000 + b"}", b"1" * 6000,
       b'{"steps": ' + b"9" * 5000 + b"}", b'"x"', b"null", b"NaN", b'{"values": {"a": "b"}}']
HEADERS = [{}, {"Content-Type": "text/plain"}, {"Origin": "http://evil.example"}, {"Host": "evil.example"},
           {"Host": "127.0.0.1:" + "9" * 100}, {"Content-Type": "application/json", "Origin": "null"}]


class FakeTrainer:
    """A Trainer whose fit returns at once (the fuzz tests the server, not training)."""

    def __init__(self, *args, **kwargs):
        pass

    def fit(self):
        return {"status": "completed"}


@pytest.fixture(scope="module")
def client():
    patch = pytest.MonkeyPatch()
    patch.setattr(session_module, "Trainer", FakeTrainer)
    with TestClient(create_app(max_sessions=50, max_running=50), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as c:
        yield c
    patch.undo()


@pytest.fixture(scope="module")
def sid(client):
    """A session opened directly (a TestClient cannot hold an event stream open beside requests)."""
    return client.app.state.sessions.create().sid


def check(response):
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and response.status_code != 499:
        answer = response.json()
        assert set(answer) == {"error", "field"} and "\n" not in answer["error"] and "Traceback" not in answer["error"]


@pytest.mark.slow  # ~10 s
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=BODIES)
def test_fuzz_json_bodies(client, sid, case):
    path, body = case
    if not path.startswith("/"):
        path = f"/api/sessions/{sid}/{path}"
    start = time.monotonic()
    response = client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    check(response)
    if path.endswith("/start") or path.endswith("/step"):
        client.app.state.sessions.get(sid).join(10)
    assert time.monotonic() - start < 30  # no hang


@pytest.mark.parametrize("raw", RAW)
@pytest.mark.parametrize("headers", HEADERS)
def test_fuzz_raw_bodies_and_headers(client, sid, raw, headers):
    for path in ("/api/trajectories", "/api/export", f"/api/sessions/{sid}/start", "/api/sessions/x/y"):
        check(client.post(path, content=raw, headers={"Content-Type": "application/json", **headers}))
    for path in ("/api/surfaces/" + "x" * 5000 + ".png", "/static/../../etc/passwd", "/api/events/x", "/%00"):
        check(client.get(path, headers=headers))
