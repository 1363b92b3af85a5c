"""The playground's costs: training slowdown under the live view, update rate, frame render times.

1. Training speed (training samples/s, the Trainer's own clock; medians of alternating repeats) of the
   playground's default recipe (moons, MLP [16, 16], batch 32) without a viewer, with the LiveView
   callback alone, and through the server with an SSE client reading every frame; and the share of
   the training time spent inside the LiveView callback and the CPU time of the server's event-loop
   thread (what the viewer can cost at most; robust to a busy machine's noise).
2. Frames per second the SSE client receives (the network view's update rate).
3. In the system Chromium (when installed): ms per frame of the 2-D view (contours + 4 trajectories
   of 1000 steps + the loss plot) and ms per redraw of the network view (5 plots).
4. With --hostile, only: 50 heavy trajectory requests at once (8 optimizers × 1000 steps each) —
   how many are answered, how many get 429 and how long the answered ones wait; and N connections
   that send half a request header and stall — how long until the server has closed them all.

    python bench/serve.py [--repeats 3] [--epochs 150] [--fps 8]
    python bench/serve.py --hostile [--stalled 500]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request

from nnopt.recipe import Recipe
from nnopt.report import format_table
from nnopt.serve.command import serve_in_thread
from nnopt.serve.forms import DEFAULTS, form_values
from nnopt.serve.session import LiveView, Session
from nnopt.train import Trainer, build


def recipe(epochs: int) -> Recipe:
    return Recipe(DEFAULTS).override({"train.epochs": epochs})


class TimedLiveView(LiveView):
    """A LiveView that adds up the seconds spent in its per-step event (frames included)."""

    spent = 0.0

    def on_step_end(self, trainer, step, metrics):
        t0 = time.perf_counter()
        super().on_step_end(trainer, step, metrics)
        self.spent += time.perf_counter() - t0


def fit(epochs: int, fps: float | None) -> tuple[float, float]:
    """(training samples/s, share of the training time spent in the viewer) of one fit, with a
    LiveView at `fps` or without a viewer."""
    view = TimedLiveView(Session("bench", fps), fps) if fps else None
    with tempfile.TemporaryDirectory() as tmp:
        summary = Trainer(build(recipe(epochs)), tmp, quiet=True, callbacks=[view] if view else []).fit()
    return summary["samples_per_s"], (view.spent / summary["time_s"] if view else 0.0)


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read())


def thread_cpu(name: str) -> float:
    """CPU seconds used so far by this process's thread `name` (Linux /proc; 0 elsewhere)."""
    thread = next(t for t in threading.enumerate() if t.name == name)
    try:
        with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def served(url: str, epochs: int) -> tuple[float, float, float]:
    """(training samples/s, frames/s received, the server thread's CPU time / the training time) of
    one run through the server and an SSE client."""
    frames, summary = [], {}
    cpu0 = thread_cpu("nnopt-serve")
    stream = urllib.request.urlopen(url + "api/events", timeout=60)
    sid = json.loads(stream.readline()[5:])["sid"]

    def read():
        for line in stream:
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message["type"] == "frame" and "loss" in message:
                    frames.append(time.perf_counter())
                if message.get("state") == "finished":
                    summary.update(message["summary"])
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    post(f"{url}api/sessions/{sid}/start", {"values": form_values(recipe(epochs))})
    reader.join(600)
    stream.close()
    rate = (len(frames) - 1) / (frames[-1] - frames[0]) if len(frames) > 1 else 0.0
    return summary["samples_per_s"], rate, (thread_cpu("nnopt-serve") - cpu0) / summary["time_s"]


def browser_times(url: str) -> dict[str, list[float]] | None:
    """ms per 2-D frame and per network-view redraw, measured in the page; None without Chromium."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if path is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(url)
        page.wait_for_function("window.nnopt && window.nnopt.sid !== null")
        page.get_by_test_id("surface-select").select_option("rosenbrock")
        page.get_by_test_id("traj-field-steps").fill("1000")
        for name, lr in (("nesterov", "0.001"), ("adam", "0.05")):
            page.get_by_test_id("add-run").click()
            i = page.locator("[data-testid^=run-]").count() - 1
            page.get_by_test_id(f"traj-field-runs.{i}.optimizer").select_option(name)
            page.get_by_test_id(f"traj-field-runs.{i}.lr").fill(lr)
        page.get_by_test_id("traj-field-runs.0.lr").fill("0.001")
        page.get_by_test_id("traj-field-runs.1.lr").fill("0.001")
        page.get_by_test_id("traj-run").click()
        page.wait_for_function("window.nnopt.trajDone", timeout=60_000)
        frames = page.evaluate("nnopt.frameTimes")
        page.get_by_test_id("tab-train").click()
        page.get_by_test_id("field-train.epochs").fill("100000")
        page.get_by_test_id("train-start").click()
        page.wait_for_function("nnopt.train.frames >= 1", timeout=60_000)
        page.evaluate("nnopt.drawTimes = []")
        time.sleep(5)
        draws = page.evaluate("nnopt.drawTimes")
        browser.close()
    return {"2-D view frame": frames, "network view redraw": draws}


def heavy_burst(url: str, n: int = 50) -> list[tuple[int, float]]:
    """(status, seconds) of `n` heavy trajectory requests sent at once."""
    body = {"surface": "rosenbrock", "steps": 1000,
            "runs": [{"optimizer": name, "fields": {"lr": "0.001"}} for name in ("sgd", "adam") * 4]}
    out = []

    def one():
        t0 = time.perf_counter()
        try:
            post(url + "api/trajectories", body)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:  # timed out (60 s)
            status = None
        out.append((status, time.perf_counter() - t0))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return out


def stalled(url: str, n: int) -> tuple[int, float]:
    """(connections closed by the server, seconds until the last was) of `n` connections that send
    half a request header and nothing more (slowloris); gives up after 60 s."""
    port = int(url.rsplit(":", 1)[1].strip("/"))
    sockets = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        s.setblocking(False)
        sockets.append(s)
    t0, open_ = time.perf_counter(), set(range(n))
    while open_ and time.perf_counter() - t0 < 60:
        for i in list(open_):
            try:
                if sockets[i].recv(1) == b"":
                    open_.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)
        time.sleep(0.1)
    for s in sockets:
        s.close()
    return n - len(open_), time.perf_counter() - t0


def hostile(n_stalled: int) -> None:
    url, stop = serve_in_thread()
    try:
        burst = heavy_burst(url)
        closed, seconds = stalled(url, n_stalled)
    finally:
        stop()
    answered = [t for status, t in burst if status == 200]
    refused = sum(status == 429 for status, _ in burst)
    print(format_table(["hostile load", "result"], [
        ["50 heavy trajectory requests at once", f"{len(answered)} answered (slowest {max(answered):.1f} s), "
                                                 f"{refused} refused with 429, {sum(status is None for status, _ in burst)} timed out (60 s)"],
        [f"{n_stalled} connections stalled mid-header", f"{closed} closed by the server, the last after {seconds:.1f} s"],
    ]))


def quantiles(values: list[float]) -> list[str]:
    ordered = sorted(values)
    return [f"{statistics.median(ordered):.2f}", f"{ordered[int(0.95 * (len(ordered) - 1))]:.2f}",
            f"{ordered[-1]:.2f}", str(len(ordered))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--fps", type=float, default=8.0, help="the server's frame rate (default 8)")
    parser.add_argument("--hostile", action="store_true", help="measure only the server under hostile load")
    parser.add_argument("--stalled", type=int, default=500, help="stalled connections for --hostile")
    args = parser.parse_args()
    if args.hostile:
        return hostile(args.stalled)

    fit(5, None)  # warm up: imports, allocator
    url, stop = serve_in_thread(fps=args.fps)
    live = f"LiveView callback ({args.fps:g} frames/s)"
    speeds = {"no viewer": [], live: [], "server + SSE client": []}
    rates, shares, server_cpu = [], [], []
    try:
        for _ in range(args.repeats):
            speeds["no viewer"].append(fit(args.epochs, None)[0])
            speed, share = fit(args.epochs, args.fps)
            speeds[live].append(speed)
            shares.append(share)
            speed, rate, cpu = served(url, args.epochs)
            speeds["server + SSE client"].append(speed)
            rates.append(rate)
            server_cpu.append(cpu)
        times = browser_times(url)
    finally:
        stop()
    base = statistics.median(speeds["no viewer"])
    rows = [[name, f"{statistics.median(v):,.0f}", f"{base / statistics.median(v):.3f}",
             f"{min(v):,.0f}–{max(v):,.0f}"] for name, v in speeds.items()]
    print(f"moons MLP [16, 16], batch 32, {args.epochs} epochs, medians of {args.repeats}")
    print(format_table(["training", "samples/s", "time ratio vs no viewer", "range over runs"], rows))
    print(f"\ntime inside the LiveView callback: {100 * statistics.median(shares):.2f}% of the training time")
    print(f"CPU time of the server's event-loop thread: {100 * statistics.median(server_cpu):.2f}% of the "
          "training time")
    print(f"network-view updates received: {statistics.median(rates):.1f} frames/s (median of {len(rates)} runs)")
    if times is None:
        print("\n(no Chromium or playwright: browser render times not measured)")
    else:
        print("\n" + format_table(["in Chromium", "median ms", "p95 ms", "max ms", "frames"],
                                  [[name, *quantiles(v)] for name, v in times.items()]))


if __name__ == "__main__":
    main()
