"""`make train` / `make run`: train the model when its inputs changed, and run all services.

Run starts the action server and the Rasa server (later also channels and the web app) on
127.0.0.1, waits until each answers, and stops all of them cleanly on Ctrl-C or when one dies.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from bot.settings import ROOT, VAR_DIR, ensure_token, load_env

MODEL_DIR = ROOT / "models"
MODEL = MODEL_DIR / "current.tar.gz"
FINGERPRINT = MODEL_DIR / "current.fingerprint"
# Everything that changes what `rasa train` produces: the data, and the code our components train with.
CODE_INPUTS = ["bot/nlu", "bot/category_model.py", "bot/tokenize.py", "bot/language.py", "bot/urgency.py",
               "bot/data/jieba_userdict.txt", "bot/data/urgency.yml", "requirements.lock"]
TRAINING_INPUTS = ["config.yml", "domain.yml", "nlu_data"] + CODE_INPUTS
RASA_CACHE = ROOT / "var" / "rasa-cache"
PY = sys.executable
BIN = Path(sys.executable).parent


def training_fingerprint(inputs: List[str] = TRAINING_INPUTS) -> str:
    digest = hashlib.sha256()
    for name in inputs:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".pyc" or "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def rasa_cache_for_code() -> Path:
    """Rasa's training cache, one per version of our component code. Rasa keys its cache on config and
    data only, so after a change to, say, bot/category_model.py it restored components trained by the
    old code (a model that disagreed with the code running it). Older caches are removed."""
    current = RASA_CACHE / training_fingerprint(CODE_INPUTS)[:16]
    if RASA_CACHE.is_dir():
        for old in RASA_CACHE.iterdir():
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
    current.mkdir(parents=True, exist_ok=True)
    return current


def train(force: bool = False) -> None:
    fingerprint = training_fingerprint()
    if not force and MODEL.exists() and FINGERPRINT.exists() and FINGERPRINT.read_text() == fingerprint:
        print("==> model is up to date (training data unchanged)")
        return
    print("==> training the model (training data changed)")
    started = time.monotonic()
    MODEL_DIR.mkdir(exist_ok=True)
    subprocess.run(
        [str(BIN / "rasa"), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "nlu_data",
         "--out", str(MODEL_DIR), "--fixed-model-name", "current"],
        cwd=ROOT, check=True, env=dict(os.environ, RASA_CACHE_DIRECTORY=str(rasa_cache_for_code())),
    )
    FINGERPRINT.write_text(fingerprint)
    print(f"==> trained in {time.monotonic() - started:.0f} s")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Service:
    name: str
    argv: List[str]
    port: Optional[int] = None  # None: a background job without an HTTP face
    health_path: str = "/"
    process: Optional[subprocess.Popen] = None


def service_environment() -> Dict[str, str]:
    """Environment for the child processes: the embedded (SQLite) defaults unless configured."""
    env = dict(os.environ)
    host = env["BIND_HOST"]
    VAR_DIR.mkdir(exist_ok=True)
    env.setdefault("ACTION_ENDPOINT_URL", f"http://{host}:{env['ACTION_PORT']}/webhook")
    env.setdefault("TRACKER_STORE_URL", f"sqlite:///{VAR_DIR / 'rasa_tracker.db'}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def services() -> List[Service]:
    host = os.environ["BIND_HOST"]
    rasa_port, action_port = int(os.environ["RASA_PORT"]), int(os.environ["ACTION_PORT"])
    return [
        Service("action server", [PY, "-m", "actions", "--host", host, "--port", str(action_port)], action_port, "/health"),
        Service("rasa server", [PY, "-m", "connectors.serve", "--host", host, "--port", str(rasa_port)], rasa_port, "/"),
        # Resident chat page (/) and staff console (/console/).
        Service("web app", [PY, "-m", "bot.web", "--host", host, "--port", os.environ["WEB_PORT"]],
                int(os.environ["WEB_PORT"]), "/healthz"),
        # Moves overdue cases one level up the ladder; started after the action server migrated the DB.
        Service("escalation job", [PY, "-m", "bot.tickets", "escalate", "--interval",
                                   os.environ.get("ESCALATION_INTERVAL", "60")]),
        # Later messages to residents (status changes, staff replies, rating requests) via Rasa's API.
        Service("delivery service", [PY, "-m", "bot.delivery", "--interval", os.environ.get("DELIVERY_INTERVAL", "5")]),
        # Conversation statistics for the dashboard, from the Rasa processes' tracker events on RabbitMQ.
        *([Service("statistics feed", [PY, "-m", "bot.events"])] if os.environ.get("RABBITMQ_URL", "").strip() else []),
        # Telegram without a public URL: getUpdates, handed to the Rasa server's Telegram webhook.
        *([Service("telegram polling", [PY, "-m", "connectors.telegram_polling"])]
          if os.environ.get("TELEGRAM_TOKEN") and os.environ.get("TELEGRAM_MODE", "").strip().lower() == "polling"
          else []),
    ]


def wait_healthy(service: Service, host: str, stop_requested, timeout: float = 300) -> bool:
    if service.port is None:
        time.sleep(1)
        return service.process.poll() is None
    deadline = time.monotonic() + timeout
    url = f"http://{host}:{service.port}{service.health_path}"
    while time.monotonic() < deadline and not stop_requested():
        if service.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


class Restarts:
    """A service that dies is started again (like systemd's Restart=on-failure) while the others keep
    serving: a crashed action server costs the residents one apology, not the whole bot. A service
    that keeps dying (more than MAX_RESTARTS within WINDOW seconds) stops everything with an error."""

    MAX_RESTARTS = 5
    WINDOW = 120.0

    def __init__(self, env: Dict[str, str]) -> None:
        self.env = env
        self.delay = float(os.environ.get("RESTART_DELAY_SECONDS", "1"))
        self.history: Dict[str, List[float]] = {}

    def restart(self, service: Service, host: str, stop_requested) -> bool:
        now = time.monotonic()
        recent = [t for t in self.history.get(service.name, []) if now - t < self.WINDOW] + [now]
        self.history[service.name] = recent
        print(f"error: the {service.name} stopped (exit {service.process.returncode}); restarting it",
              file=sys.stderr)
        if len(recent) > self.MAX_RESTARTS:
            print(f"error: the {service.name} keeps stopping; stopping the rest", file=sys.stderr)
            return False
        time.sleep(self.delay * len(recent))  # back off a little more each time
        service.process = subprocess.Popen(service.argv, cwd=ROOT, env=self.env, start_new_session=True)
        if not wait_healthy(service, host, stop_requested):
            return stop_requested()  # Ctrl-C while restarting is a clean stop; otherwise give up
        print(f"==> {service.name} restarted (pid {service.process.pid})")
        return True


def stop_all(running: List[Service]) -> None:
    for service in reversed(running):
        if service.process and service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for service in running:
        if not service.process:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


def run() -> int:
    host = os.environ["BIND_HOST"]
    wanted = services()
    taken = [s for s in wanted if s.port is not None and not port_is_free(host, s.port)]
    if taken:
        for s in taken:
            print(f"error: port {s.port} on {host} is already in use, so the {s.name} cannot start. "
                  f"Stop whatever uses it, or choose another port in .env.", file=sys.stderr)
        return 2
    if not MODEL.exists():
        print("error: no trained model; run `make train` first", file=sys.stderr)
        return 2
    env = service_environment()
    running: List[Service] = []
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for service in wanted:
            # Each child in its own process group: Ctrl-C reaches only us, and we stop them in order.
            service.process = subprocess.Popen(service.argv, cwd=ROOT, env=env, start_new_session=True)
            running.append(service)
            healthy = wait_healthy(service, host, lambda: stopping)
            if stopping:  # Ctrl-C while starting is a clean stop too
                print("==> stopping")
                return 0
            if not healthy:
                print(f"error: the {service.name} did not start (see its log above)", file=sys.stderr)
                return 1
            where = f" on http://{host}:{service.port}" if service.port else ""
            print(f"==> {service.name} ready{where} (pid {service.process.pid})")
        print(f"==> all services up. Chat page: http://{host}:{os.environ['WEB_PORT']}/  "
              f"staff console: http://{host}:{os.environ['WEB_PORT']}/console/  "
              f"REST: POST http://{host}:{os.environ['RASA_PORT']}/webhooks/rest/webhook  (Ctrl-C stops)")
        supervisor = Restarts(env)
        while not stopping:
            for service in running:
                if service.process.poll() is not None and not supervisor.restart(service, host, lambda: stopping):
                    return 1
            time.sleep(0.5)
        print("==> stopping")
        return 0
    finally:
        stop_all(running)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser = sub.add_parser("train", help="train the model if its inputs changed")
    train_parser.add_argument("--force", action="store_true")
    sub.add_parser("run", help="run every service on 127.0.0.1 until Ctrl-C")
    sub.add_parser("fingerprint", help="print the training-input fingerprint")
    args = parser.parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")  # nothing leaves the machine; children inherit
    sys.stdout.reconfigure(line_buffering=True)  # progress lines in order with the children's logs
    os.chdir(ROOT)
    load_env()
    if args.command == "train":
        train(force=args.force)
        return 0
    if args.command == "fingerprint":
        print(training_fingerprint())
        return 0
    ensure_token()
    from bot.web.config import ensure_secret_key

    ensure_secret_key()
    return run()


if __name__ == "__main__":
    sys.exit(main())
