"""The spool on its own: durable files, one claim per file, stale claims returned, bad requests set aside."""
import json
import os
import stat
import time

from bot.spool import STALE_CLAIM_SECONDS, Spool


def test_files_are_private_whole_and_replayed_oldest_first(tmp_path):
    spool = Spool(tmp_path / "s")
    first = spool.put({"n": 1, "phone": "13812345678"})
    spool.put({"n": 2})
    assert stat.S_IMODE(first.stat().st_mode) == 0o600  # it holds a phone number
    assert json.loads(first.read_text(encoding="utf-8"))["n"] == 1
    assert not list((tmp_path / "s").glob(".*partial"))
    seen = []
    report = spool.replay(lambda r: seen.append(r["n"]) or f"case-{r['n']}")
    assert seen == [1, 2] and report.filed == ["case-1", "case-2"] and spool.pending() == 0


def test_a_failure_stops_the_round_and_keeps_the_rest(tmp_path):
    spool = Spool(tmp_path)
    for n in range(3):
        spool.put({"n": n})

    def flaky(r):
        if r["n"] == 1:
            raise ConnectionError("down")
        return str(r["n"])

    report = spool.replay(flaky)
    assert report.filed == ["0"] and report.remaining == 2 and "ConnectionError" in report.error
    assert spool.replay(lambda r: str(r["n"])).filed == ["1", "2"]


def test_a_file_claimed_by_another_worker_is_left_to_it_until_the_claim_is_stale(tmp_path):
    spool = Spool(tmp_path)
    path = spool.put({"n": 1})
    claimed = path.with_name(path.name + ".999.claimed")
    os.rename(path, claimed)  # another worker is filing it right now
    assert spool.replay(lambda r: "x").filed == []
    old = time.time() - STALE_CLAIM_SECONDS - 5
    os.utime(claimed, (old, old))  # …and died doing so
    assert spool.replay(lambda r: "x").filed == ["x"]


def test_requests_the_service_refuses_are_set_aside_not_retried(tmp_path):
    spool = Spool(tmp_path)
    spool.put({"n": 1})
    (tmp_path / "0-broken.json").write_text("{not json", encoding="utf-8")

    def refuse(r):
        raise ValueError("a description is required")

    report = spool.replay(refuse)
    assert report.rejected == 2 and report.remaining == 0
    assert len(list(tmp_path.glob("*.rejected"))) == 2
