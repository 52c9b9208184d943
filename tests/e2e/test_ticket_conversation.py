"""Filing a complaint through the REST channel, checking it, and the owner-only status rule."""
import re
import uuid

NUMBER = re.compile(r"GD\d{8}-\d{4}")


def sender() -> str:
    return f"resident-{uuid.uuid4().hex[:10]}"


def file_complaint(stack, who: str, first: str, answers):
    replies = stack.say(who, first)
    transcript = [replies]
    for answer in answers:
        replies = stack.say(who, answer)
        transcript.append(replies)
    return transcript


def test_complaint_is_filed_and_only_its_owner_can_see_it(stack):
    owner = sender()
    transcript = file_complaint(stack, owner, "楼上那家每天凌晨一点还在拖椅子 吵得孩子睡不着",
                                ["阳光花园3栋2单元502", "不留", "确认"])
    # It asked where, then for a phone, then for confirmation — and did not ask what happened.
    asked = " ".join(" ".join(r) for r in transcript[:3])
    assert "在哪里" in asked and "手机号" in asked and "请确认" in " ".join(transcript[2])
    assert "描述" not in " ".join(transcript[0])
    final = " ".join(transcript[-1])
    match = NUMBER.search(final)
    assert match, transcript
    number = match.group(0)
    assert "承办单位" in final

    mine = " ".join(stack.say(owner, f"查询 {number}"))
    assert number in mine

    stranger = " ".join(stack.say(sender(), f"查询 {number}"))
    assert "没有找到" in stranger
    assert "阳光花园" not in stranger and "承办" not in stranger


def test_the_first_message_can_carry_everything_but_the_confirmation(stack):
    who = sender()
    first = stack.say(who, "幸福里小区12号楼门口的垃圾三天没人清了 臭死了 电话13812345678")
    assert any("请确认" in r for r in first), first
    assert any("138" in r for r in first)
    done = " ".join(stack.say(who, "对"))
    assert NUMBER.search(done)


def test_a_letter_is_filed_with_its_place_and_a_yes_to_the_phone_question_asks_for_the_number(stack):
    who = sender()
    letter = ("尊敬的社区领导：您好！我是幸福里小区5栋2单元的住户。我们单元一楼楼道长期停放七八辆电动车，"
              "还有住户从窗户拉电线给电动车充电，常常整夜充电，万一出事后果不堪设想。我跟物业反映过三次，"
              "物业贴了一张通知就没下文了。恳请社区联合物业尽快清理，并增设集中充电棚。")
    first = " ".join(stack.say(who, letter))
    assert "119" not in first  # a feared fire is not an emergency now
    assert "手机号" in first  # the letter said where: the bot went on to the phone number
    yes = stack.say(who, "好的")
    assert yes == ["好的，请直接发您的11位手机号；不想留请回复“不留”。"], yes
    summary = " ".join(stack.say(who, "13812345678"))
    assert "地点：幸福里小区5栋2单元" in summary and "尊敬的社区" not in summary.split("地点：")[1]
    assert "增设集中充电棚" not in summary and "…" in summary  # the letter is previewed, not echoed whole
    number = NUMBER.search(" ".join(stack.say(who, "确认"))).group(0)
    kept = stack.stored_ticket(number).description  # but the ticket keeps all of it
    assert kept == letter  # in the resident's own characters, not the classifiers' normalised text


def test_the_ticket_keeps_the_residents_own_words(stack):
    # The classifiers read Simplified, lower-case text; the ticket keeps what the resident wrote.
    for text, confirm in (("陽光花園3棟樓道的燈壞了一個禮拜 晚上黑漆漆的 電話13912345678", "確認"),
                          ("The lift in Block 5 of Sunny Garden has been broken since Monday, call me on 13912345678",
                           "yes")):
        who = sender()
        stack.say(who, text)
        number = NUMBER.search(" ".join(stack.say(who, confirm))).group(0)
        ticket = stack.stored_ticket(number)
        assert ticket.description == text and ticket.location in text, (ticket.description, ticket.location)


def test_correction_and_cancel(stack):
    who = sender()
    stack.say(who, "小区东门的路灯坏了一个礼拜了 晚上黑乎乎的")
    stack.say(who, "东门口")
    summary = " ".join(stack.say(who, "13900001111"))
    assert "东门口" in summary
    corrected = " ".join(stack.say(who, "地址改成阳光花园北门"))
    assert "阳光花园北门" in corrected and "请确认" in corrected
    cancelled = " ".join(stack.say(who, "取消"))
    assert "取消" in cancelled and not NUMBER.search(cancelled)


def test_english_report_in_english(stack):
    who = sender()
    # "block 5" already says where: the bot goes on to the phone number.
    asked = " ".join(stack.say(who, "The lift in block 5 has been broken for a week and nobody from the property company came"))
    assert "mobile number" in asked
    # Still saying where when asked for a phone: the place is taken whole, no "didn't get that".
    noted = stack.say(who, "Sunshine Garden building 5")
    assert not any("didn't" in reply for reply in noted), noted
    assert "Sunshine Garden building 5" in noted[0] and "mobile number" in noted[-1]
    summary = " ".join(stack.say(who, "no"))
    assert "Where: Sunshine Garden building 5" in summary
    done = " ".join(stack.say(who, "yes"))
    assert NUMBER.search(done) and "Handled by" in done


def test_the_answer_to_where_is_kept_whole(stack):
    who = sender()
    stack.say(who, "楼下的路灯坏了一个星期了，晚上很黑")
    stack.say(who, "幸福小区3栋门口")
    summary = " ".join(stack.say(who, "不留"))
    assert "地点：幸福小区3栋门口" in summary


def test_a_resident_asking_without_tickets_is_told_so(stack):
    replies = " ".join(stack.say(sender(), "我的工单怎么样了"))
    assert "还没有提交过工单" in replies


def test_resolution_asks_for_a_rating_and_a_low_one_reopens(stack):
    import time

    from bot.db import Database
    from bot.tickets.models import Notification
    from bot.tickets.routing import load_routing
    from bot.tickets.service import TicketService

    who = sender()
    done = " ".join(file_complaint(stack, who, "单元门口的垃圾桶满了三天没人清 味道很大", ["幸福里小区5号楼", "不留", "确认"])[-1])
    number = NUMBER.search(done).group(0)
    db = Database(stack.database_url)
    service = TicketService(db, load_routing())
    service.sign(number, "grid-worker")
    service.resolve(number, "grid-worker", "已联系环卫清运")
    # The delivery service appends the rating request to the conversation (REST cannot push it).
    deadline = time.monotonic() + 30
    request = None
    while time.monotonic() < deadline and request is None:
        _, tracker = stack.get(f"/conversations/{who}/tracker")
        request = next((e for e in tracker["events"] if e["event"] == "bot" and number in (e.get("text") or "")
                        and "1–5" in e["text"]), None)
        time.sleep(0.5)
    assert request, "the rating request never reached the conversation"
    assert tracker["slots"]["awaiting_rating"] == number
    with db.session(read_only=True) as s:
        statuses = {n.kind: (n.status, n.last_error) for n in s.query(Notification).filter_by(recipient_id=who)}
    assert statuses["rating_request"][0] == "undeliverable" and "rest" in statuses["rating_request"][1]

    reply = " ".join(stack.say(who, "2 根本没人来"))
    assert "重新交给" in reply
    assert service.get(number).state == "reopened"
    db.dispose()


def test_a_question_in_the_middle_of_a_report_is_answered_and_the_report_goes_on(stack):
    who = sender()
    stack.say(who, "楼道灯坏了好几天了 晚上上楼很黑")
    replies = stack.say(who, "请问社区居委会几点下班")
    # The question gets its answer, then the form asks again where; the question is not the place.
    assert len(replies) >= 2 and "具体在哪里" in replies[-1], replies
    assert not any("具体在哪里" in reply for reply in replies[:-1]), replies
    again = stack.say(who, "好的")
    assert again and "具体在哪里" in again[-1], again
    stack.say(who, "幸福小区5栋2单元")
    summary = " ".join(stack.say(who, "不留"))
    assert "地点：幸福小区5栋2单元" in summary and "下班" not in summary and "好的" not in summary


def test_inside_the_form_a_no_or_a_bare_detail_is_not_answered_as_if_the_report_were_dropped(stack):
    who = sender()
    stack.say(who, "小区东门的垃圾桶满了好几天没人清理")
    stack.say(who, "小区东门")
    stack.say(who, "13800001111")
    for text in ("13800001111", "不对"):
        replies = stack.say(who, text)
        assert replies and "请确认" in replies[-1], replies
        said = " ".join(replies)
        assert "没太明白" not in said and "随时找我" not in said, replies


def test_i_want_to_complain_asks_what_happened_and_the_answer_decides_the_category(stack):
    who = sender()
    first = stack.say(who, "我要投诉")
    assert first and "描述" in first[-1] and "其他" not in " ".join(first), first
    again = stack.say(who, "好的")  # not a description: asked again
    assert again and "描述" in again[-1], again
    assert "具体在哪里" in " ".join(stack.say(who, "物业好几个月不打扫楼道了 垃圾堆着也没人管"))
    stack.say(who, "阳光花园7栋")
    stack.say(who, "不留")
    number = NUMBER.search(" ".join(stack.say(who, "确认"))).group(0)
    ticket = stack.stored_ticket(number)
    assert (ticket.intent, ticket.category) == ("complaint", "property")


def test_a_description_that_says_where_is_not_asked_where_again(stack):
    who = sender()
    stack.say(who, "I want to make a complaint")
    asked = " ".join(stack.say(who, "the bins behind block 3 haven't been emptied for a week"))
    assert "mobile number" in asked and "Where exactly" not in asked, asked


def test_small_talk_in_the_middle_of_a_report_is_answered_and_is_not_taken_for_an_answer(stack):
    who = sender()
    stack.say(who, "电梯坏了两天了 一直没人修")
    thanks = stack.say(who, "谢谢")
    assert thanks and "具体在哪里" in thanks[-1], thanks
    stack.say(who, "幸福小区5栋")
    hello = stack.say(who, "你好")
    assert hello and "手机号" in hello[-1] and not any("号码好像不对" in r for r in hello), hello
    summary = " ".join(stack.say(who, "不留"))
    assert "地点：幸福小区5栋" in summary and "谢谢" not in summary


def test_a_bare_phone_number_first_is_asked_what_the_problem_is(stack):
    replies = " ".join(stack.say(sender(), "13812345678"))
    assert "什么问题" in replies and "没太明白" not in replies, replies


def test_chasing_a_case_already_reported_chases_it_instead_of_starting_a_new_report(stack):
    who = sender()
    stack.say(who, "楼下烧烤店天天半夜吵 幸福小区2栋 电话13812345678")
    number = NUMBER.search(" ".join(stack.say(who, "确认"))).group(0)
    chased = " ".join(stack.say(who, "我前天反映的问题怎么还没人管"))
    assert "催办" in chased and number in chased and "具体在哪里" not in chased and "描述" not in chased, chased
    assert stack.stored_ticket(number).actions.count("urged") == 1
    assert "确认" not in " ".join(stack.say(who, "你好"))  # no form was left open



def test_chasing_a_case_we_have_no_record_of_takes_it_down_anew_asking_what_it_is(stack):
    replies = stack.say(sender(), "我前天反映的问题怎么还没人管")
    assert "没有找到" in " ".join(replies) and "描述" in replies[-1], replies
