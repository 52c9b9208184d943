"""Which channels the Rasa server opens: REST always, the others when their settings are present.

Channel settings live in the environment (or .env), never in a committed file; credentials.yml
holds only what is always on. The Rasa server reads the merged result (connectors/serve.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Mapping

import yaml

# Rasa's key for a custom channel is the import path of its InputChannel class; each class reads its
# own settings from the environment (see README "Channels"). A channel is on when its first
# variable is set.
CHANNELS: Dict[str, str] = {
    "WECHAT_TOKEN": "connectors.wechat.WeChatInput",
    "TELEGRAM_TOKEN": "connectors.telegram.TelegramInput",
}


# Several Rasa processes: with this variable set, the web chat's sockets share a message queue
# (connectors/socketio.py reads it).
SOCKETIO_QUEUE_VARIABLE = "SOCKETIO_MESSAGE_QUEUE"
SHARED_SOCKETIO_CHANNEL = "connectors.socketio.SocketIOInput"


def credentials(base_file: Path, env: Mapping[str, str]) -> Dict:
    data = yaml.safe_load(base_file.read_text(encoding="utf-8")) if base_file.exists() else {}
    data = data or {}
    if env.get(SOCKETIO_QUEUE_VARIABLE, "").strip() and "socketio" in data:
        data[SHARED_SOCKETIO_CHANNEL] = data.pop("socketio")
    for variable, channel in CHANNELS.items():
        if env.get(variable):
            data.setdefault(channel, {})
    return data


def write_runtime_credentials(base_file: Path, env: Mapping[str, str], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600, exist_ok=True)
    target.chmod(0o600)  # channel secrets may end up here: readable by the service user only
    target.write_text(yaml.safe_dump(credentials(base_file, env), allow_unicode=True), encoding="utf-8")
    return target
