"""`ijules ui` serves both UIs on 127.0.0.1 and SIGTERM stops every process it started."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def _servers(dagster_port: int, mlflow_port: int) -> list[str]:
    found = subprocess.run(["pgrep", "-f", "--", f"(-p|--port) ({dagster_port}|{mlflow_port})"],
                           capture_output=True, text=True)
    return found.stdout.split()


def test_ui_serves_dagster_and_mlflow_and_stops_on_sigterm(db_url, tmp_path):
    dagster_port, mlflow_port = _free_port(), _free_port()
    env = {**os.environ, "IJULES_DATABASE_URL": db_url, "IJULES_HOME": str(tmp_path)}
    # started like a script would in the background: SIGINT ignored, no job control
    proc = subprocess.Popen(
        [sys.executable, "-m", "ijules_pipelines.cli", "ui", "--port", str(dagster_port), "--mlflow-port", str(mlflow_port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 120
        while not (_up(f"http://127.0.0.1:{dagster_port}/server_info") and _up(f"http://127.0.0.1:{mlflow_port}/health")):
            assert proc.poll() is None, "ijules ui exited early"
            assert time.monotonic() < deadline, "the UIs did not come up within 120 s"
            time.sleep(1)
        assert _servers(dagster_port, mlflow_port)  # the pattern does find them while they run
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        time.sleep(1)
        assert not _up(f"http://127.0.0.1:{dagster_port}/server_info")
        assert not _up(f"http://127.0.0.1:{mlflow_port}/health")
        assert not _servers(dagster_port, mlflow_port), "processes left behind"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
