"""The playground's server without a browser: forms, trajectories, sessions, limits, bad input."""
import json
import math
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("starlette")
pytest.importorskip("httpx2")  # Starlette's TestClient
from starlette.testclient import TestClient  # noqa: E402

import nnopt  # noqa: E402
from nnopt._compat import tomllib  # noqa: E402
from nnopt.registry import OPTIMIZERS  # noqa: E402
from nnopt.serve.app import create_app  # noqa: E402
from nnopt.serve.forms import DEFAULTS, FormError, recipe_from_form, schema  # noqa: E402
from nnopt.serve.session import Boundary, Session, guessing, layer_grad_norms, layer_groups, verdict  # noqa: E402


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(max_sessions=3, max_running=1), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def defaults():
    return schema()["defaults"]


def fast(values, **changes):
    """The default form with a shorter run (no warmup) and `changes` (dotted key → text)."""
    return {**values, "data.n_samples": "200", "train.epochs": "2", "schedule.warmup_steps": "0", **changes}


# -- forms -------------------------------------------------------------------------------------------

def test_schema_lists_every_optimizer_with_its_spec():
    opt = next(s for s in schema()["sections"] if s["name"] == "optimizer")
    assert opt["choices"] == OPTIMIZERS.names()
    adam = opt["entries"]["adam"]["fields"]
    assert adam["lr"]["default"] == "0.001" and adam["lr"]["allowed"] == "a number >= 0"
    assert adam["betas"]["default"] == "[0.9, 0.999]"
    assert "nonfinite" not in adam  # the Trainer owns the run's NaN/inf screen
    data = next(s for s in schema()["sections"] if s["name"] == "data")
    assert data["choices"] == ["digits", "moons", "circles", "xor", "spirals"]
    loss = next(s for s in schema()["sections"] if s["name"] == "loss")  # "auto": the run picks it
    assert loss["choices"][0] == "auto" == schema()["defaults"]["loss.name"] and loss["entries"]["auto"]["fields"] == {}


def test_default_form_round_trips_to_the_recipe(defaults):
    recipe = recipe_from_form(defaults)
    assert recipe == nnopt.Recipe(DEFAULTS)
    assert nnopt.Recipe(tomllib.loads(recipe.to_toml())) == recipe  # what "export" gives


@pytest.mark.parametrize("key, text, field, message", [
    ("optimizer.lr", "-0.1", "optimizer.lr", "optimizer.lr = -0.1 — must be >= 0"),
    ("optimizer.lr", "fast", "optimizer.lr", "optimizer.lr = 'fast' — must be a number >= 0"),
    ("model.widths", "[16, 0]", "model.widths", "model.widths[1] = 0 — must be >= 1"),
    ("regularization.dropout", "1.5", "regularization.dropout", "regularization.dropout = 1.5 — must be in [0, 1)"),
    ("regularization.early_stopping.patience", "0", "regularization.early_stopping.patience",
     "regularization.early_stopping.patience = 0 — must be >= 1"),
    ("data.name", "fashion_mnist", "data.name", "the playground trains on"),
    ("optimizer.name", "adma", "optimizer.name", "optimizer.name = 'adma' — must be one of 'adadelta'"),
])
def test_bad_value_names_its_field(defaults, key, text, field, message):
    with pytest.raises(FormError) as info:
        recipe_from_form({**defaults, key: text})
    assert info.value.field == field and message in str(info.value)


def test_an_empty_form_is_the_default_recipe_and_garbage_is_refused():
    assert recipe_from_form({}) == nnopt.Recipe()  # digits, which the playground trains on
    with pytest.raises(FormError, match="nested too deeply"):
        recipe_from_form({"model.widths": "[" * 1500})
    with pytest.raises(FormError, match="at most 500"):
        recipe_from_form({f"train.x{i}": "1" for i in range(501)})


def test_export_answers_toml_or_the_inline_error(client, defaults):
    ok = client.post("/api/export", json={"values": fast(defaults, **{"optimizer.lr": "0.3"})})
    assert ok.status_code == 200 and tomllib.loads(ok.json()["toml"])["optimizer"]["lr"] == 0.3
    assert [x["name"] for x in ok.json()["lab"]] == ["lr_decay"]  # cosine
    values = fast(defaults, **{"init.name": "zeros", "regularization.dropout": "0.2", "schedule.name": "constant"})
    del values["schedule.min_lr"]  # a field of cosine, not of constant (the page sends the entry's own)
    zeros = client.post("/api/export", json={"values": values}).json()
    assert [x["name"] for x in zeros["lab"]] == ["zero_init", "dropout"]
    assert zeros["lab"][0]["command"] == "nnopt lab zero_init"
    bad = client.post("/api/export", json={"values": {**defaults, "train.batch_size": "0"}})
    assert bad.status_code == 400
    assert bad.json() == {"error": "train.batch_size = 0 — must be >= 1", "field": "train.batch_size"}


# -- the 2-D view --------------------------------------------------------------------------------------

def post_runs(client, runs, **settings):
    return client.post("/api/trajectories", json={"surface": "saddle", "steps": 30, **settings, "runs": runs})


def test_sgd_on_the_saddle_is_the_closed_form(client):
    """f = x² − y²: SGD multiplies x by (1 − 2α) and y by (1 + 2α) each step."""
    r = post_runs(client, [{"optimizer": "sgd", "fields": {"lr": "0.05"}}], start="[1.5, 0.001]")
    points = torch.tensor(r.json()["runs"][0]["points"], dtype=torch.float64)
    t = torch.arange(31, dtype=torch.float64)
    torch.testing.assert_close(points[:, 0], 1.5 * 0.9 ** t)
    torch.testing.assert_close(points[:, 1], 0.001 * 1.1 ** t)


def test_momentum_matches_torch_and_escapes_the_saddle_faster(client):
    r = post_runs(client, [{"optimizer": "sgd", "fields": {"lr": "0.05"}},
                           {"optimizer": "momentum", "fields": {"lr": "0.05", "momentum": "0.9"}}])
    sgd, mom = r.json()["runs"]
    assert [x["name"] for x in r.json()["lab"]] == ["saddle_points", "momentum"]
    theta = torch.tensor([1.5, 1e-3], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=0.05, momentum=0.9)
    for _ in range(30):
        opt.zero_grad()
        (theta[0] ** 2 - theta[1] ** 2).backward()
        opt.step()
    torch.testing.assert_close(torch.tensor(mom["points"][-1], dtype=torch.float64), theta.detach())
    assert abs(mom["points"][-1][1]) > 10 * abs(sgd["points"][-1][1])
    assert mom["losses"][-1] < sgd["losses"][-1]


def test_schedule_sets_each_steps_lr(client):
    r = post_runs(client, [{"optimizer": "sgd", "fields": {"lr": "0.1"}}],
                  schedule={"name": "cosine", "fields": {"lr": "none", "total_steps": "none"}})
    lrs = r.json()["runs"][0]["lrs"]
    assert lrs == pytest.approx([0.05 * (1 + math.cos(math.pi * t / 30)) for t in range(30)])


@pytest.mark.parametrize("body, field, message", [
    ({"runs": [{"optimizer": "sgd", "fields": {"lr": "0.1"}}, {"optimizer": "momentum", "fields": {"lr": "-1"}}]},
     "runs.1.lr", "momentum.lr = -1 — must be >= 0"),
    ({"runs": [{"optimizer": "sgdd", "fields": {}}]}, "runs.0.name", "did you mean 'sgd'?"),
    ({"steps": "5000", "runs": [{"optimizer": "sgd"}]}, "steps", "steps = 5000 — must be in [1, 1000]"),
    ({"start": "[1, 2, 3]", "runs": [{"optimizer": "sgd"}]}, "start", "must be [x, y]"),
    ({"surface": "moon", "runs": [{"optimizer": "sgd"}]}, "surface", "surface = 'moon'"),
    ({"runs": [{"optimizer": "sgd"}] * 9}, "runs", "1 to 8"),
    ({"runs": [{"optimizer": "sgd", "fields": {"lr": "1e400"}}]}, "runs.0.lr", "must be a finite number"),
    ({"runs": [{"optimizer": "sgd"}], "schedule": {"name": "cosine", "fields": {"warmup_steps": "40"}}},
     "schedule.warmup_steps", "must be < total_steps"),
])
def test_trajectory_errors_name_the_field(client, body, field, message):
    r = client.post("/api/trajectories", json={"surface": "saddle", "steps": 30, **body})
    assert r.status_code == 400 and r.json()["field"] == field and message in r.json()["error"]


def test_an_optimizer_the_2d_runner_cannot_drive_is_a_400(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("sam: step() needs a closure")

    monkeypatch.setattr("nnopt.serve.surfaces.trajectory", refuse)
    r = post_runs(client, [{"optimizer": "sgd", "fields": {}}])
    assert r.status_code == 400 and r.json() == {"error": "sam: step() needs a closure", "field": "runs.0"}


def test_contours_image_and_the_server_survives_garbage(client):
    png = client.get("/api/surfaces/beale.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/api/surfaces/nope.png").status_code == 404
    as_json = {"Content-Type": "application/json"}
    assert client.post("/api/trajectories", content=b"{not json", headers=as_json).json()["error"] == \
        "request body is not valid JSON"
    assert client.post("/api/trajectories", content=b"[" * 100_000, headers=as_json).status_code == 400
    assert client.post("/api/export", content=b"x" * 2_000_000, headers=as_json).status_code == 400
    assert client.post("/api/export", json={"values": {"optimizer.lr": ["not", "text"]}}).status_code == 400
    assert client.post("/api/sessions/nope/start", json={}).status_code == 404
    assert client.get("/api/schema", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
    assert client.get("/api/schema").status_code == 200
    icon = client.get("/favicon.ico")  # every page load asks for it
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"


# -- the live view -------------------------------------------------------------------------------------

def test_layer_grad_norms_are_each_modules_gradient_norm():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    model(torch.randn(5, 2)).square().sum().backward()
    groups = layer_groups(model)
    assert [label for label, _ in groups] == ["layer 1: Linear 2→3", "layer 2: Linear 3→2"]
    for (_, params), norm in zip(groups, layer_grad_norms(groups)):
        expected = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
        assert norm == pytest.approx(expected, rel=1e-6)


def test_boundary_is_the_models_probability_on_the_grid():
    """A model whose logit difference is x: P(class 1) = sigmoid(x) along each grid row."""
    x = torch.tensor([[-2.0, -1.0], [2.0, 1.0]])
    setup = SimpleNamespace(data=SimpleNamespace(train=SimpleNamespace(x=x, y=torch.tensor([0, 1]))),
                            preprocessor=None, device=torch.device("cpu"))
    boundary = Boundary(setup, grid=5)
    assert boundary.box == pytest.approx([-2.4, 2.4, -1.2, 1.2])
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
        model.bias.zero_()
    probs = boundary.probabilities(model)
    xs = torch.linspace(-2.4, 2.4, 5)
    assert probs == [round(255 * float(torch.sigmoid(v))) for _ in range(5) for v in xs]
    assert boundary.points == [[-2.0, -1.0, 0], [2.0, 1.0, 1]]


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.fixture
def new_session():
    """Session(fps) factory; every session's training is stopped at teardown."""
    made = []
    yield lambda fps=8.0: made.append(Session("test", fps)) or made[-1]
    for session in made:
        session.stop()


def test_session_trains_pauses_steps_and_resets(defaults, new_session):
    session = new_session(fps=20)
    session.start(recipe_from_form(fast(defaults, **{"train.epochs": "500"})))
    messages = []
    wait_for(lambda: messages.extend(session.drain()) or sum(m["type"] == "frame" for m in messages) >= 5)
    start = next(m for m in messages if m["type"] == "start")
    assert start["layers"] == ["layer 1: Linear 2→16", "layer 2: Linear 16→16", "layer 3: Linear 16→2"]
    assert len(start["boundary"]["points"]) == 120
    frame = next(m for m in messages if m["type"] == "frame")
    assert len(frame["boundary"]) == 48 * 48 and len(frame["layers"]) == 3
    session.pause()
    wait_for(lambda: session.state == "paused")
    paused_at = [m for m in session.drain() if m["type"] == "state"][-1]["step"]
    time.sleep(0.3)
    assert session.state == "paused" and not any(m["type"] == "frame" for m in session.drain())
    session.proceed(1)  # "step": one more step, then paused again
    messages = []
    wait_for(lambda: messages.extend(session.drain()) or any(m.get("state") == "paused" for m in messages))
    assert [m["step"] for m in messages if m["type"] == "frame"] == [paused_at + 1]
    session.reset()
    assert session.state == "idle" and session.thread is None


def test_session_finishes_and_its_loss_falls(defaults, new_session):
    session = new_session(fps=50)
    session.start(recipe_from_form(fast(defaults, **{"train.epochs": "30"})))
    wait_for(lambda: session.state == "finished")
    messages = session.drain()
    epochs = [r for m in messages if m["type"] == "frame" for r in m["epochs"]]
    assert [r["epoch"] for r in epochs] == list(range(1, 31))
    assert epochs[-1]["train_loss"] < 0.7 * epochs[0]["train_loss"]
    assert [m for m in messages if m["type"] == "frame"][-1]["epoch"] == 30  # the page shows "epoch 30/30"
    assert [m for m in messages if m["type"] == "state"][-1]["verdict"] is None  # it learned


def test_guessing_is_the_majority_accuracy_and_the_prior_cross_entropy():
    labels = lambda *y: SimpleNamespace(y=torch.tensor(y))  # noqa: E731
    chance, prior = guessing(SimpleNamespace(train=labels(0, 0, 0, 1), val=labels(1, 1, 0, 1, 1)))
    assert chance == 0.8 and prior == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert guessing(SimpleNamespace(train=SimpleNamespace(y=torch.zeros(3)), val=labels(0))) is None  # regression
    assert verdict({"val_acc": 0.81, "train_loss": 0.2}, (0.8, 0.56)).startswith("stuck at chance: val acc 0.810")
    assert verdict({"val_acc": 0.9, "train_loss": 0.6}, (0.8, 0.56)).startswith("no better than guessing")
    assert verdict({"val_acc": 0.9, "train_loss": None}, (0.8, 0.56)).startswith("no better than guessing")
    assert verdict({"val_acc": 0.9, "train_loss": 0.5}, (0.8, 0.56)) is None
    assert "nnopt doctor" in verdict({"val_acc": 0.5, "train_loss": 0.7}, (0.5, 0.69))


def test_a_run_at_lr_50_says_it_learned_nothing_and_points_to_the_doctor(defaults, new_session):
    session = new_session(fps=50)
    session.start(recipe_from_form(fast(defaults, **{"optimizer.lr": "50", "train.epochs": "10"})))
    wait_for(lambda: session.state in ("finished", "failed"))
    state = [m for m in session.drain() if m["type"] == "state"][-1]
    assert "nnopt doctor" in state["verdict"] and "lower optimizer.lr" in state["verdict"]


def test_speed_spaces_the_steps_and_is_validated(client, defaults, new_session):
    session = new_session()
    session.set_speed(20.0)  # steps per second
    began = time.monotonic()
    session.start(recipe_from_form(fast(defaults, **{"train.epochs": "1000"})))
    time.sleep(1.0)
    session.pause()
    wait_for(lambda: session.state == "paused")
    elapsed = time.monotonic() - began
    paused = [m for m in session.drain() if m.get("state") == "paused"][-1]["step"]
    assert 1 <= paused <= 20 * elapsed + 3  # never faster than asked (slower on a busy machine is fine)
    sid = client.app.state.sessions.create().sid
    r = client.post(f"/api/sessions/{sid}/speed", json={"speed": "fast"})
    assert r.status_code == 400 and r.json()["field"] == "speed"
    assert client.post(f"/api/sessions/{sid}/speed", json={"speed": "max"}).status_code == 200
    assert client.post(f"/api/sessions/{sid}/speed", json={"speed": "30"}).status_code == 200
    assert client.app.state.sessions.get(sid).speed == 30.0


def test_diverging_run_fails_in_its_tab_only(defaults, new_session):
    session = new_session(fps=1e6)  # a frame every step, the non-finite ones too
    session.start(recipe_from_form(fast(defaults, **{"optimizer.lr": "1e37", "model.activation": "relu"})))
    wait_for(lambda: session.state == "failed")
    messages = session.drain()
    for message in messages:
        json.dumps(message, allow_nan=False)  # what the event stream sends: no NaN/inf in JSON
    state = [m for m in messages if m["type"] == "state"][-1]
    assert state["error"].startswith("DivergedError: loss became")
    assert state["verdict"].startswith("diverged — lower optimizer.lr") and "nnopt doctor" in state["verdict"]


def request(url, body=None):
    """(status, JSON) of a GET (body None) or POST; a stdlib client, as a browser tab would be."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_closing_the_stream_stops_training_and_limits_hold(defaults):
    from nnopt.serve.command import serve_in_thread

    url, stop = serve_in_thread(max_sessions=2, max_running=1)
    streams = []
    try:
        streams = [urllib.request.urlopen(url + "api/events", timeout=30) for _ in range(2)]
        sids = [json.loads(s.readline()[5:])["sid"] for s in streams]
        assert sids[0] != sids[1]
        status, answer = request(url + "api/events")
        assert status == 429 and "the limit is 2" in answer["error"]
        values = fast(defaults, **{"train.epochs": "100000"})
        assert request(f"{url}api/sessions/{sids[0]}/start", {"values": values})[0] == 200
        status, answer = request(f"{url}api/sessions/{sids[1]}/start", {"values": values})
        assert status == 429 and "the limit is 1" in answer["error"]
        training = [t for t in threading.enumerate() if t.name == f"nnopt-train-{sids[0][:8]}"]
        assert len(training) == 1 and training[0].is_alive()
        streams.pop(0).close()  # the tab that trains is closed: its training stops
        training[0].join(15)
        assert not training[0].is_alive()
        assert request(f"{url}api/sessions/{sids[0]}/pause", {})[0] == 404  # its session is gone
        assert request(f"{url}api/sessions/{sids[1]}/start", {"values": values})[0] == 200  # a slot is free
    finally:
        for s in streams:
            s.close()
        stop()


def test_boundary_points_are_raw_coordinates_under_preprocessing(defaults, new_session):
    session = new_session()
    session.start(recipe_from_form(fast(defaults, **{"preprocess.name": "standardize", "train.epochs": "1"})))
    wait_for(lambda: session.state == "finished")
    start = next(m for m in session.drain() if m["type"] == "start")
    raw = nnopt.data.load("moons", n_samples=200, noise=0.2).train
    points = torch.tensor(start["boundary"]["points"])
    torch.testing.assert_close(points[:, :2], raw.x, atol=2e-4, rtol=0)  # not the standardized inputs
    assert points[:, 2].tolist() == raw.y.tolist()


def test_digits_train_without_a_boundary(defaults, new_session):
    session = new_session()
    values = {**defaults, "data.name": "digits", "train.epochs": "1"}
    values = {k: v for k, v in values.items() if not k.startswith("data.") or k == "data.name"}
    session.start(recipe_from_form(values))
    wait_for(lambda: session.state == "finished", timeout=60)
    messages = session.drain()
    assert next(m for m in messages if m["type"] == "start")["boundary"] is None
    assert all("boundary" not in m for m in messages if m["type"] == "frame")
    assert [m for m in messages if m["type"] == "state"][-1]["summary"]["test_acc"] > 0.5


def test_step_from_idle_and_start_after_a_finished_run(defaults):
    from nnopt.serve.command import serve_in_thread

    url, stop = serve_in_thread()
    stream = urllib.request.urlopen(url + "api/events", timeout=30)
    try:
        sid = json.loads(stream.readline()[5:])["sid"]

        def until(predicate):
            """Messages of the stream up to the first one `predicate` accepts."""
            seen = []
            for line in stream:
                if line.startswith(b"data:"):
                    seen.append(json.loads(line[5:]))
                    if predicate(seen[-1]):
                        return seen

        values = fast(defaults, **{"train.epochs": "1"})
        status, answer = request(f"{url}api/sessions/{sid}/step", {"values": values})
        assert status == 200 and answer["state"] in ("running", "paused")  # step 1 may be done already
        seen = until(lambda m: m.get("state") == "paused")
        assert seen[-1]["step"] == 1 and [m["step"] for m in seen if m["type"] == "frame"] == [1]
        assert request(f"{url}api/sessions/{sid}/resume", {})[0] == 200
        assert until(lambda m: m.get("state") in ("finished", "failed"))[-1]["state"] == "finished"
        assert request(f"{url}api/sessions/{sid}/start", {"values": values})[0] == 200
        seen = until(lambda m: m.get("state") == "finished")
        assert [m["state"] for m in seen if m["type"] == "state"] == ["idle", "running", "finished"]
    finally:
        stream.close()
        stop()
