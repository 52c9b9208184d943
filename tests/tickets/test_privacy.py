"""Masking of phone / ID numbers in text and logs, exports, and the retention command."""
import csv
import io
import logging

import pytest
from sqlalchemy import select

from bot.privacy import MaskingFilter, install_log_masking, mask_id_card, mask_phone, mask_text, mask_value
from bot.tickets.__main__ import main as cli_main
from bot.tickets.export import write_csv
from bot.tickets.models import Notification, Ticket
from bot.tickets.retention import anonymise_finished, coarse_location, pseudonym, scrub_text
from bot.tickets.validation import normalise_phone

from .conftest import open_complaint


@pytest.mark.parametrize("text,expected", [
    ("电话13812345678", "电话138****5678"),
    ("call 138 1234 5678 please", "call 138****5678 please"),
    ("138-1234-5678", "138****5678"),
    ("+86 13812345678", "+86 138****5678"),
    ("８６１３８１２３４５６７８", "８６１３８****５６７８"),
    ("座机0435-3216549", "座机0435-****6549"),
    ("010 12345678", "010 ****5678"),
    ("工单GD20261124-0007", "工单GD20261124-0007"),
    ("订单号123456789012345678901", "订单号123456789012345678901"),  # 21 digits: not a phone
    ("2026-11-24 10:00", "2026-11-24 10:00"),
])
def test_mask_phone(text, expected):
    assert mask_phone(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("身份证110105199001011234", "身份证110***********1234"),
    ("ID 11010519900101123X.", "ID 110***********123X."),
    ("老身份证110105900101123", "老身份证110*********123"),
    ("１１０１０５１９９００１０１１２３４", "１１０***********１２３４"),
])
def test_mask_id_card(text, expected):
    assert mask_id_card(text) == expected


def test_mask_text_both_and_leaves_other_text():
    text = "我叫张三，身份证110105199001011234，电话13812345678，住3号楼301"
    assert mask_text(text) == "我叫张三，身份证110***********1234，电话138****5678，住3号楼301"
    assert mask_text(None) is None and mask_text(42) == 42
    assert mask_value({"a": ["13812345678", {"b": "x"}], "n": 1}) == {"a": ["138****5678", {"b": "x"}], "n": 1}


def test_logging_filter_masks_messages_args_and_exceptions():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.privacy.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("resident %s phoned from %s", "张三", "13812345678")
        try:
            raise ValueError("bad id 110105199001011234")
        except ValueError:
            logger.exception("failed for 13987654321")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "138****5678" in out and "139****4321" in out and "110***********1234" in out
    assert "13812345678" not in out and "110105199001011234" not in out


def test_install_log_masking_covers_every_logger(caplog):
    install_log_masking()
    install_log_masking()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.other.module").info("user phone %s", "13812345678")
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text


def test_phone_validation():
    assert normalise_phone("138 1234 5678") == "13812345678"
    assert normalise_phone("+86-138-1234-5678") == "13812345678"
    assert normalise_phone("１３８１２３４５６７８") == "13812345678"
    assert normalise_phone("(0435) 3216549") == "0435-3216549"
    assert normalise_phone("010-12345678") == "010-12345678"
    assert normalise_phone("") is None and normalise_phone(None) is None
    for bad in ("12345", "23812345678", "phone", "1381234567a"):
        with pytest.raises(ValueError):
            normalise_phone(bad)


def test_scrub_and_coarse_location():
    assert scrub_text("联系我13812345678 或 me@example.com，门牌12345") == "联系我138****5678 或 ***@***，门牌*****"
    assert coarse_location("幸福小区3号楼2单元301") == "幸福小区"
    assert coarse_location("幸福小区") == "幸福小区"
    assert coarse_location("3号楼") is None


def _finished_case(svc, clock, sender="alice", days_ago=200):
    r = open_complaint(svc, sender=sender, phone="13812345678",
                       description="楼上噪音，身份证110105199001011234，电话13812345678",
                       location="幸福小区3号楼2单元301")
    svc.sign(r.number, "unit:grid")
    svc.resolve(r.number, "unit:grid", "已联系住户13912345678协调")
    svc.rate(r.number, channel="rest", sender_id=sender, score=4, comment="谢谢，有事打13812345678")
    return r


def test_retention_anonymises_old_finished_cases(svc, db, clock, monkeypatch, capsys):
    old = _finished_case(svc, clock)
    clock.advance(days=100)
    recent = _finished_case(svc, clock, sender="bob")
    still_open = open_complaint(svc, sender="carol", phone="13700001111")
    clock.advance(days=100)

    dry = anonymise_finished(db, 180, now=clock(), dry_run=True)
    assert dry.anonymised == [old.number]
    with db.session(read_only=True) as s:
        assert s.execute(select(Ticket.anonymised_at).where(Ticket.number == old.number)).scalar_one() is None

    import bot.tickets.retention as retention_module
    monkeypatch.setattr(retention_module, "utcnow", clock)
    assert cli_main(["--url", db.url, "retention", "--older-than-days", "180"]) == 0
    assert capsys.readouterr().out.strip() == f"anonymised 1 cases: {old.number}"
    with db.session(read_only=True) as s:
        t = s.execute(select(Ticket).where(Ticket.number == old.number)).scalar_one()
        assert t.phone is None and t.location == "幸福小区"
        assert "110105199001011234" not in t.description and "13812345678" not in t.description
        assert t.sender_id == pseudonym("rest", "alice") and t.anonymised_at is not None
        assert "13812345678" not in (t.rating_comment or "") and "13912345678" not in t.resolution
        assert t.state == "closed"  # nothing deleted, the case and its numbers stay
        notes = list(s.execute(select(Notification).where(Notification.ticket_id == t.id)).scalars())
        assert notes and all("13912345678" not in n.text for n in notes)
        assert all(n.recipient_id != "alice" for n in notes if n.audience == "resident")
        for number in (recent.number, still_open.number):
            other = s.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
            assert other.anonymised_at is None and other.phone is not None
    history = svc.history(old.number)
    assert history[-1].action == "anonymised" and history[-1].actor == "retention"
    assert all("13812345678" not in (e.note or "") for e in history)
    assert anonymise_finished(db, 180, now=clock()).anonymised == []  # idempotent
    # the former owner can no longer look it up: nothing links it to them
    from bot.tickets.errors import TicketNotFound
    with pytest.raises(TicketNotFound):
        svc.ticket_status(old.number, "rest", "alice")


def test_export_masks_personal_data(svc, db, clock):
    _finished_case(svc, clock)
    out = io.StringIO()
    assert write_csv(db, out) == 1
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["phone"] == "138****5678"
    assert "13812345678" not in out.getvalue() and "110105199001011234" not in out.getvalue()
    assert row["resident"].startswith("anon:") and "alice" not in out.getvalue()


def test_full_width_digits_escaped_in_json_logs_are_masked_too():
    import json

    line = json.dumps({"text": "我的电话１３８１２３４５６７８ 身份证１１０１０５１９９００１０１１２３４"})
    masked = mask_text(line)
    assert "５６７８" in masked and "１２３４５６７８" not in masked and "\\uff11\\uff13\\uff18\\uff11" not in masked
    assert "１９９００１０１" not in masked
