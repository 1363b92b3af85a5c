"""`nnopt serve` as a user runs it: prints the URL, serves the page on loopback, stops on Ctrl-C
(also while a tab trains)."""
import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from nnopt.cli import main
from nnopt.serve.command import is_loopback
from nnopt.serve.forms import schema

pytest.importorskip("uvicorn")


@pytest.mark.slow  # a fresh interpreter imports torch: ~15 s on a busy 2-core machine
def test_serve_prints_the_url_serves_the_page_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "nnopt.cli", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("nnopt serve: open http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert "<title>nnopt playground</title>" in page.read().decode()
        with urllib.request.urlopen(url + "static/app.js", timeout=30) as script:
            assert script.status == 200
        with urllib.request.urlopen(url + "api/events", timeout=60) as tab:  # a tab that trains
            sid = json.loads(tab.readline()[5:])["sid"]
            values = {**schema()["defaults"], "train.epochs": "100000"}
            start = urllib.request.Request(f"{url}api/sessions/{sid}/start", json.dumps({"values": values}).encode(),
                                           {"Content-Type": "application/json"})
            assert json.loads(urllib.request.urlopen(start, timeout=60).read())["state"] == "running"
            tab.readline()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 130  # like nnopt run: Ctrl-C exits 130
        err = proc.stderr.read()
        assert "Traceback" not in err and "terminate called" not in err, err  # the training ended cleanly
    finally:
        proc.kill()
        proc.wait()


def test_serve_refuses_a_bad_or_busy_port(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port 70000 — must be in [0, 65535]" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert f"--port {port} — already in use on 127.0.0.1" in capsys.readouterr().err
    assert main(["serve", "--host", "no-such-host.invalid"]) == 2
    assert "--host 'no-such-host.invalid' — not an address of this machine" in capsys.readouterr().err


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                            ("example.org", False)])
def test_only_loopback_is_private(host, loopback):
    assert is_loopback(host) is loopback
