from pathlib import Path

from connectors.channels import credentials

BASE = Path(__file__).resolve().parents[1] / "credentials.yml"


def test_only_the_always_on_channels_without_settings():
    assert set(credentials(BASE, {})) == {"rest", "socketio"}


def test_a_channel_is_on_when_its_token_is_set():
    on = credentials(BASE, {"TELEGRAM_TOKEN": "123:abc", "WECHAT_TOKEN": ""})
    assert "connectors.telegram.TelegramInput" in on and "connectors.wechat.WeChatInput" not in on


def test_the_web_chat_shares_a_message_queue_when_one_is_set():
    on = credentials(BASE, {"SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:6379/0"})
    assert "socketio" not in on
    assert on["connectors.socketio.SocketIOInput"]["session_persistence"] is True  # same settings
    assert "socketio" in credentials(BASE, {"SOCKETIO_MESSAGE_QUEUE": " "})
