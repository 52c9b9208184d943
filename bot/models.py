"""Every table of the project, for Alembic and the migration test: import this, not the parts."""
import bot.conversation_stats  # noqa: F401
import bot.handoff  # noqa: F401
import bot.inbound  # noqa: F401
import bot.staff  # noqa: F401
import bot.tickets.models  # noqa: F401
from bot.db import Base  # noqa: F401
