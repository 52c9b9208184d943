from pathlib import Path

from connectors.channels import credentials

BASE = Path(__file__).resolve().parents[1] / "credentials.yml"


def test_only_the_always_on_channels_without_settings():
    assert set(credentials(BASE, {})) == {"rest", "socketio"}


def test_a_channel_is_on_when_its_token_is_set():
    on = credentials(BASE, {"TELEGRAM_TOKEN": "123:abc", "WECHAT_TOKEN": ""})
    assert "connectors.telegram.TelegramInput" in on and "connectors.wechat.WeChatInput" not in on
