"""The setup and run commands fail with a clear message, not a traceback."""
import os
import shutil
import socket
import subprocess
import sys

from tests.conftest import ROOT


def test_port_taken_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = dict(os.environ, RASA_PORT=str(port), ACTION_PORT=str(port + 1 if port < 65000 else port - 1),
                   WEB_PORT=str(port + 2 if port < 65000 else port - 2), RASA_TOKEN="x" * 32,
                   WEB_SECRET_KEY="y" * 48)
        result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_python310_is_a_clear_error(tmp_path):
    for name in ("requirements.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "nohome")}
    result = subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Python 3.10 was not found" in result.stderr
    assert not (tmp_path / ".venv").exists()


def test_training_fingerprint_tracks_training_inputs(tmp_path):
    from bot import cli

    before = cli.training_fingerprint()
    assert before == cli.training_fingerprint()
    assert len(before) == 64


def test_rasa_cache_follows_our_component_code(tmp_path, monkeypatch):
    """Rasa keys its training cache on config and data only; ours adds the code the components train with."""
    from bot import cli

    (tmp_path / "bot" / "nlu").mkdir(parents=True)
    (tmp_path / "bot" / "nlu" / "components.py").write_text("VERSION = 1\n")
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    monkeypatch.setattr(cli, "CODE_INPUTS", ["bot/nlu"])
    monkeypatch.setattr(cli, "RASA_CACHE", tmp_path / "var" / "rasa-cache")
    first = cli.rasa_cache_for_code()
    (first / "restored-component").write_text("trained by version 1")
    assert cli.rasa_cache_for_code() == first  # same code: the cache is kept
    (tmp_path / "bot" / "nlu" / "components.py").write_text("VERSION = 2\n")
    second = cli.rasa_cache_for_code()
    assert second != first and not first.exists() and not any(second.iterdir())
