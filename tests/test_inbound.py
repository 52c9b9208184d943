import threading

from bot.db import Database, upgrade_db
from bot.inbound import first_delivery


def test_a_delivery_is_first_only_once_even_concurrently(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade_db(url)
    db = Database(url)
    results = []

    def deliver():
        results.append(first_delivery("wechat", "msg-1", db))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    assert first_delivery("telegram", "msg-1", db) is True  # ids are per channel
    db.dispose()
