"""`python -m bot.web --host 127.0.0.1 --port N` starts the app (migrating its database) and stops on
Ctrl-C."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, free_port


def test_the_command_serves_health_chat_page_and_console(tmp_path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", WEB_SECRET_KEY="k" * 40,
               RASA_TOKEN="t" * 24, RASA_PORT=str(free_port()), LOG_LEVEL="WARNING")
    process = subprocess.Popen([sys.executable, "-m", "bot.web", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.3)
        assert health and health["status"] == "ok", process.stdout.read().decode(errors="replace") if process.poll() is not None else health
        with urllib.request.urlopen(f"{base}/", timeout=5) as response:
            assert "社区服务" in response.read().decode()
        with urllib.request.urlopen(f"{base}/console/login", timeout=5) as response:
            assert response.status == 200 and "console_session=" in response.headers["set-cookie"]
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
    assert code == 0
