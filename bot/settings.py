"""Runtime settings from the environment and the repository's .env file (never committed)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".env"
VAR_DIR = ROOT / "var"

DEFAULTS: Dict[str, str] = {
    "BIND_HOST": "127.0.0.1",
    "RASA_PORT": "5005",
    "ACTION_PORT": "5055",
    "WEB_PORT": "8000",
    "CITY": "default",
}


def read_env_file(path: Path = ENV_FILE) -> Dict[str, str]:
    values: Dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def load_env(path: Path = ENV_FILE) -> None:
    """Fill os.environ from .env and defaults; variables already set win."""
    for key, value in {**DEFAULTS, **read_env_file(path)}.items():
        os.environ.setdefault(key, value)


def ensure_secret(name: str, nbytes: int = 32, path: Path = ENV_FILE) -> str:
    """A secret from the environment or .env; generated into .env (mode 600) when missing, so it
    survives restarts and is never committed."""
    value = os.environ.get(name) or read_env_file(path).get(name)
    if not value:
        value = secrets.token_urlsafe(nbytes)
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        if existing and not existing.endswith("\n"):
            existing += "\n"
        path.write_text(existing + f"{name}={value}\n", encoding="utf-8")
        path.chmod(0o600)
        print(f"==> generated {name} into {path}")
    os.environ[name] = value
    return value


def ensure_token(path: Path = ENV_FILE) -> str:
    """RASA_TOKEN: the Rasa HTTP API's token."""
    return ensure_secret("RASA_TOKEN", 32, path)
