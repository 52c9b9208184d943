"""The console and the resident chat page in a real headless Chromium (Debian's `chromium`, driven by
Playwright's Python API), against the real stack (`python -m bot.cli run` with the socket.io channel)
and the web app on free ports of 127.0.0.1. Every page is checked to load nothing from elsewhere."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from bot import handoff, staff
from bot.db import Database, upgrade_db
from tests.conftest import ROOT, free_port, wait_for

from .conftest import ACCOUNTS, PASSWORD, open_case, settings
from .seed import EXPECTED, seed_dashboard, seed_front_door

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
VENDOR = ROOT / "bot" / "web" / "static" / "vendor"


# ------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "browser.sh")], check=False, timeout=600)
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed and scripts/browser.sh could not install it "
                    "(apt-get install chromium needs root and the Debian package registry)")
    if not (VENDOR / "rasa-webchat.js").exists() or not (VENDOR / "chart.umd.js").exists():
        result = subprocess.run(["bash", str(ROOT / "scripts" / "webchat.sh")], capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"scripts/webchat.sh failed:\n{result.stdout}\n{result.stderr}"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class Page:
    """A Chromium tab that records JavaScript dialogs and refuses any request off 127.0.0.1."""

    def __init__(self, browser):
        self.context = browser.new_context(locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.dialogs, self.external, self.websockets = [], [], []
        self.page.on("websocket", lambda ws: self.websockets.append(ws.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def guard(route):
            url = route.request.url
            if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
                route.continue_()
            else:
                self.external.append(url)
                route.abort()

        self.page.route("**/*", guard)

    def close(self):
        assert self.external == [], f"requests off 127.0.0.1: {self.external}"
        assert self.dialogs == [], f"script ran in the page: {self.dialogs}"
        self.context.close()


@pytest.fixture()
def tab(browser):
    opened = []

    def make():
        opened.append(Page(browser))
        opened[-1].page.websockets = opened[-1].websockets
        return opened[-1].page

    yield make
    for page in opened:
        page.close()


@contextlib.contextmanager
def web_server(database_url: str, **overrides):
    import uvicorn

    from bot.web.app import create_app

    port = free_port()
    app = create_app(settings(database_url=database_url, **overrides), db=Database(database_url))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web app did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def add_accounts(db: Database, routing_units) -> None:
    for username in ("admin", "grid1", "grid2"):
        role, unit = ACCOUNTS[username]
        staff.create_user(username, PASSWORD, role=role, unit_id=unit, known_units=set(routing_units), db=db)


@pytest.fixture(scope="module")
def seeded_site(tmp_path_factory, routing):
    """The web app on a database with the dashboard dataset and two grids' cases (no Rasa needed)."""
    path = tmp_path_factory.mktemp("seeded") / "community.db"
    url = f"sqlite:///{path}"
    upgrade_db(url)
    db = Database(url)
    add_accounts(db, routing.units)
    seed_dashboard(db, routing)
    seed_front_door(db)
    from bot.tickets.service import TicketService

    svc = TicketService(db, routing)
    cases = {
        "mine": open_case(svc, "b-1", "noise", description='<script>alert("pwned")</script>楼上太吵', phone="13812345678"),
        "theirs": open_case(svc, "b-2", "sanitation", description="垃圾站满了", location="和平小区5号楼"),
    }
    with web_server(url) as base:
        yield base, cases
    db.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory, model_path, routing):
    """The real stack with the socket.io channel switched on, and the web app on its database."""
    from tests.e2e.conftest import running_stack

    tmp = tmp_path_factory.mktemp("webstack")
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8")) or {}
    credentials.setdefault("socketio", {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
                                        "session_persistence": True})
    (tmp / "credentials.yml").write_text(yaml.safe_dump(credentials), encoding="utf-8")
    # (WEB_PORT and WEB_SECRET_KEY: for the stack's own web app, once `make run` starts one)
    extra = {"RASA_CREDENTIALS": str(tmp / "credentials.yml"), "WEB_PORT": str(free_port()),
             "WEB_SECRET_KEY": "stack-secret-" + "s" * 40}
    with running_stack(tmp, extra) as stack:
        db = Database(stack.database_url)
        add_accounts(db, routing.units)
        with web_server(stack.database_url, rasa_url=stack.base, rasa_token=stack.token) as base:
            yield stack, base, db
        db.dispose()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/queue")


def tracker(stack, who):
    status, body = stack.get(f"/conversations/{who}/tracker")
    assert status == 200, body
    return body


# ------------------------------------------------------------------------------------- console
def test_staff_log_in_see_a_handed_off_conversation_and_reply(live, tab):
    stack, base, db = live
    who = f"web-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    stack.say(who, "你好")
    evil = '<script>alert("x")</script>我家楼道灯坏了三天了'
    stack.say(who, evil)
    case = handoff.open_handoff("rest", who, "asked", summary=evil, unit_id="grid_1", db=db)
    stack.post(f"/conversations/{who}/tracker/events", {"event": "pause"})

    page = tab()
    # (admin: whatever unit the bot's own handoff action may have given this conversation)
    log_in(page, base, "admin")
    page.click(f"a[href='/console/handoffs/{case.id}']")
    transcript = page.locator("ol.transcript")
    assert '<script>alert("x")</script>我家楼道灯坏了三天了' in transcript.inner_text()  # shown as text
    assert page.locator("#channel").inner_text() == "REST"
    assert page.locator("#language").inner_text() == "简体中文"
    residents = page.locator(".msg.resident .body").all_inner_texts()
    assert residents[:2] == ["你好", evil]
    assert page.locator(".msg.bot").count() >= 1  # the bot's answers, in order with the resident's

    page.fill("#reply-text", "您好，我是网格员，今天下午去看楼道灯。")
    page.click("#send-reply")
    page.wait_for_url(f"{base}/console/handoffs/{case.id}")
    # The delivery service takes it from the outbox into the resident's conversation (REST cannot push,
    # so it is recorded there and marked undeliverable with the reason); the page refreshes itself.
    status = page.locator(".msg.staff .delivery").first
    page.wait_for_selector(".msg.staff .delivery[data-status='undeliverable']", timeout=30_000)
    assert status.inner_text().startswith("无法送达：") and "rest" in status.inner_text()  # with the reason
    bots = [e.get("text") for e in tracker(stack, who)["events"] if e["event"] == "bot"]
    assert "您好，我是网格员，今天下午去看楼道灯。" in bots

    page.click("#return-to-bot")
    page.wait_for_url(f"{base}/console/queue")
    row = handoff.get(case.id, db=db)
    assert (row.state, row.closed_by) == ("returned_to_bot", "admin")
    assert tracker(stack, who)["paused"] is False


def test_a_grid_worker_cannot_open_another_grids_ticket_by_url(seeded_site, tab):
    base, cases = seeded_site
    page = tab()
    log_in(page, base, "grid1")
    response = page.goto(f"{base}/console/tickets/{cases['theirs']}")
    assert response.status == 404 and "未找到" in page.inner_text("h1")
    missing = page.goto(f"{base}/console/tickets/GD20991231-9999")
    assert missing.status == 404
    response = page.goto(f"{base}/console/tickets/{cases['mine']}")
    assert response.status == 200
    # Resident text renders as text: no script ran (the tab records dialogs), the markup is visible.
    assert '<script>alert("pwned")</script>楼上太吵' in page.inner_text("#description")
    assert page.inner_text("#phone").startswith("13812345678")  # grid 1 handles it
    page.goto(f"{base}/console/tickets")
    assert cases["mine"] in page.inner_text("#tickets") and cases["theirs"] not in page.inner_text("#tickets")


def test_the_dashboard_shows_the_numbers_of_the_seeded_dataset(seeded_site, tab):
    base, _ = seeded_site
    page = tab()
    log_in(page, base, "admin")
    page.goto(f"{base}/console/dashboard")
    page.wait_for_selector("body[data-charts='ready']")
    for canvas in ("chart-category", "chart-day", "chart-ontime", "chart-satisfaction", "chart-hotspots",
                   "chart-door-day"):
        box = page.locator(f"#{canvas}").bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50, canvas
    rows = lambda table: [r.split("\t") for r in page.locator(f"#{table} tbody tr").all_inner_texts()]  # noqa: E731
    category = {label: int(n) for label, n in rows("table-category")}
    # The seeded cases plus the two of this module's other test.
    assert category == {"噪声扰民": EXPECTED["by_category"]["noise"] + 1,
                        "环境卫生": EXPECTED["by_category"]["sanitation"] + 1, "停车交通": 1}
    ontime = {r[0]: r[1:] for r in rows("table-ontime")}
    assert ontime["第一网格"] == ["1", "2", "33.3%"] and ontime["第二网格"] == ["2", "0", "100.0%"]
    assert [int(r[1]) for r in rows("table-satisfaction")] == EXPECTED["ratings"]["distribution"]
    assert page.inner_text("#kpi-satisfaction") == "4.25/5" and page.inner_text("#satisfied-rate") == "75.0%"
    hot = [tuple(r) for r in rows("table-hotspots")]
    assert ("幸福小区", "噪声扰民", "4") in hot and ("幸福小区", "环境卫生", "2") in hot
    assert page.inner_text("#kpi-total") == str(EXPECTED["total"] + 2)
    assert (page.inner_text("#door-residents"), page.inner_text("#door-messages")) == ("2", "3")
    assert [tuple(r) for r in rows("table-door-channel")] == [("微信", "2", "1"), ("Telegram", "1", "1")]


# ------------------------------------------------------------------------------------- web chat
def test_the_web_chat_page_keeps_the_conversation_and_receives_staff_replies(live, tab):
    stack, base, db = live
    page = tab()
    page.goto(f"{base}/")
    complaint = "楼上半夜装修吵得睡不着，已经好几天了"

    def answers(after=None):  # the bot's messages (not the typing indicator), optionally after ours
        return page.evaluate("""(after) => {
            let els = [...document.querySelectorAll('.rw-client, .rw-response')];
            if (after) {
                const i = els.findIndex(e => e.classList.contains('rw-client') && e.innerText.includes(after));
                els = i < 0 ? [] : els.slice(i + 1);
            }
            return els.filter(e => e.classList.contains('rw-response')).map(e => e.innerText.trim()).filter(Boolean);
        }""", after)

    greeted = len(wait_for(answers, 60, "the greeting"))
    page.fill(".rw-new-message", complaint)
    page.keyboard.press("Enter")
    page.wait_for_selector(f".rw-client >> text={complaint}")
    answer = wait_for(lambda: answers(complaint), 60, "the bot's answer")[0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answer), answer  # answered in Chinese

    session = json.loads(page.evaluate("window.localStorage.getItem('chat_session')") or "{}")
    session_id = session.get("session_id")
    assert session_id
    wait_for(lambda: complaint in [e.get("text") for e in tracker(stack, session_id)["events"] if e["event"] == "user"],
             10, "the message in the Rasa conversation")

    # The widget upgraded to a WebSocket through the web app's own /socket.io/ (same origin).
    assert any(url.startswith(f"{base.replace('http', 'ws')}/socket.io/") for url in page.websockets), page.websockets
    before = page.locator("#webchat").inner_text()
    page.reload()
    page.wait_for_selector(f".rw-client >> text={complaint}")
    assert answer in answers(complaint)
    wait_for(lambda: len(answers()) >= greeted + 1, 10, "the history after the reload")
    assert json.loads(page.evaluate("window.localStorage.getItem('chat_session')"))["session_id"] == session_id
    assert before.count("楼上半夜装修") == page.locator("#webchat").inner_text().count("楼上半夜装修")

    # A member of staff answers this resident from the console: it arrives in the open chat page.
    case = handoff.open_handoff("socketio", session_id, "asked", unit_id="grid_1", db=db)
    console = tab()
    log_in(console, base, "admin")
    console.goto(f"{base}/console/handoffs/{case.id}")
    assert console.locator("#channel").inner_text() == "网页聊天"
    console.fill("#reply-text", "您好，明天上午九点物业上门处理。")
    console.click("#send-reply")
    page.wait_for_selector(".rw-response >> text=您好，明天上午九点物业上门处理。", timeout=30_000)
    console.wait_for_selector(".msg.staff .delivery[data-status='sent']", timeout=30_000)
