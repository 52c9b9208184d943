"""The environment a Rasa process needs for endpoints.production.yml, built from URLs.

One place for the variable names that file reads (its header documents each), used by the
scale-out test (tests/scale) and benchmark (bench/scale.py) to start real production stacks.
"""
from __future__ import annotations

import urllib.parse
from typing import Dict, Mapping, Optional

# Channel secrets switch channels on (connectors/serve.py); a stack started from a developer's shell
# must not pick them up and talk to WeChat or Telegram.
_CHANNEL_SECRETS = ("WECHAT_", "TELEGRAM_")


def production_env(*, tracker_url: str, action_url: str, redis_url: str, redis_prefix: str,
                   pool_size: Optional[int] = None, max_overflow: Optional[int] = None) -> Dict[str, str]:
    """RASA_ENDPOINTS and every variable endpoints.production.yml expands, except the event broker's
    (connectors/serve.py defaults those to "off"). `redis_prefix`: letters and digits only. The
    tracker store's pool per process is Rasa's default (50 + 100 overflow) unless given."""
    redis = urllib.parse.urlsplit(redis_url)
    pools = {"SQL_POOL_SIZE": pool_size, "SQL_MAX_OVERFLOW": max_overflow}
    return {
        "RASA_ENDPOINTS": "endpoints.production.yml",
        "TRACKER_STORE_URL": tracker_url,
        "ACTION_ENDPOINT_URL": action_url,
        "REDIS_HOST": redis.hostname or "127.0.0.1",
        "REDIS_PORT": str(redis.port or 6379),
        "REDIS_DB": (redis.path or "/0").strip("/") or "0",
        "REDIS_PASSWORD": urllib.parse.unquote(redis.password or ""),
        "REDIS_KEY_PREFIX": redis_prefix,
        **{name: str(size) for name, size in pools.items() if size is not None},
    }


def without_channel_secrets(env: Mapping[str, str]) -> Dict[str, str]:
    """`env` without WeChat and Telegram settings: only the REST channel is on."""
    return {name: value for name, value in env.items() if not name.startswith(_CHANNEL_SECRETS)}
