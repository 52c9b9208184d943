"""Several processes starting at once (action servers) migrate a fresh PostgreSQL database safely."""
import threading

from sqlalchemy import inspect

from bot.db import current_revision, make_engine, upgrade_db
from tests.pg import fresh_databases


def test_concurrent_upgrades_take_turns():
    with fresh_databases("migrate", ["tickets"]) as urls:
        url = urls["tickets"]
        errors = []

        def migrate():
            try:
                upgrade_db(url)
            except Exception as error:  # collected: an assertion in a thread would be lost
                errors.append(error)

        threads = [threading.Thread(target=migrate) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert current_revision(url) is not None
        engine = make_engine(url)
        try:
            assert {"tickets", "notifications", "inbound_messages"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
