"""`ijules halt / flatten / resume / status` against a running `ijules paper`, through the database only."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from paper_data import DAY

from ijules_core.store.db import connect
from ijules_pipelines.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _paper(url: str, speed: float, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ijules_pipelines.cli", "paper", "--replay", str(DAY), "--speed", str(speed),
           "--model", "buy_and_hold", "--metrics-port", str(port), "--no-dagster"]
    return subprocess.Popen(cmd, env=os.environ | {"IJULES_DATABASE_URL": url}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait(conn, sql: str, until, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(sql).fetchone()
        conn.commit()
        if row and until(row):
            return row
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting on: {sql}")


def _metrics(port: int) -> dict[str, float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in body.splitlines() if line[:1] != "#"}


LAST = "SELECT held, governor ->> 'state', ts FROM trading.positions ORDER BY ts DESC LIMIT 1"


def test_halt_flatten_resume_and_status_reach_the_running_service(market_url, monkeypatch, capsys):
    monkeypatch.setenv("IJULES_DATABASE_URL", market_url)
    port = _free_port()
    proc = _paper(market_url, speed=2000, port=port)  # a bar every 30 ms
    try:
        with connect(market_url) as conn:
            _wait(conn, LAST, lambda r: all(r[0].values()))  # buy_and_hold is in
            assert main(["status"]) == 0
            out = capsys.readouterr().out
            assert "account paper: trading" in out and "broker connected, governor ACTIVE" in out
            assert re.search(r"positions MSFT [1-9], NVDA [1-9]", out)

            assert main(["flatten"]) == 0
            assert "flatten: governor HALTED" in capsys.readouterr().out
            row = _wait(conn, LAST, lambda r: not any(r[0].values()))
            assert row[1] == "HALTED" and _metrics(port)['ijules_governor_state{state="HALTED"}'] == 1

            assert main(["resume"]) == 0
            assert "resumed: governor ACTIVE" in capsys.readouterr().out
            _wait(conn, LAST, lambda r: all(r[0].values()))  # trading again

            assert main(["halt"]) == 0
            assert "halt: governor HALTED" in capsys.readouterr().out
            halted_at = _wait(conn, LAST, lambda r: not any(r[0].values()))[2]
        proc.send_signal(signal.SIGTERM)  # stops between minutes; the session stays open
        assert proc.wait(timeout=30) == 0
        proc = _paper(market_url, speed=0, port=_free_port())  # restart: the kill switch is remembered
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "flat True, governor HALTED" in out
        with connect(market_url) as conn:
            after = conn.execute("SELECT count(*) FROM trading.orders WHERE created_ts > %s", (halted_at,)).fetchone()
            controls = conn.execute("SELECT command, result FROM trading.controls ORDER BY id").fetchall()
            refused = conn.execute("SELECT count(*) FROM trading.risk_events WHERE reason = 'halted'").fetchone()
        assert after[0] == 0 and refused[0] > 0  # nothing traded after the halt, every buy refused
        assert [c for c, _ in controls] == ["flatten", "resume", "halt"] and all(r for _, r in controls)
    finally:
        if proc.poll() is None:
            proc.kill()
