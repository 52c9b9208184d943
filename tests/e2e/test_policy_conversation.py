"""Consultations through the REST channel: quoted provisions with citations, or an honest 'not found'."""
import re
import uuid

CITATION = re.compile(r"《[^》]+》(第[一二三四五六七八九十百]+条|[一二三四五六七八九十]+、)")


def sender() -> str:
    return f"asker-{uuid.uuid4().hex[:10]}"


def test_policy_question_is_answered_with_a_citation(stack):
    replies = " ".join(stack.say(sender(), "通化的社区治理条例什么时候开始施行"))
    assert "《通化市社区治理促进条例》" in replies
    assert CITATION.search(replies)


def test_english_question_gets_an_english_explanation_and_the_chinese_article(stack):
    replies = " ".join(stack.say(sender(), "how many community workers should a community have in Wenzhou"))
    assert "《温州市城乡社区规范化建设暂行办法》" in replies
    assert re.search(r"[A-Za-z]{4,}", replies)


def test_unanswerable_question_cites_nothing_and_offers_staff(stack):
    who = sender()
    replies = " ".join(stack.say(who, "小区加装电梯政府补贴多少钱"))
    assert "《" not in replies
    followup = " ".join(stack.say(who, "好的"))
    assert "工作人员" in followup


def test_a_follow_up_question_after_the_offer_of_staff_is_a_question_not_a_yes(stack):
    who = sender()
    assert "工作人员" in " ".join(stack.say(who, "小区加装电梯政府补贴多少钱"))
    followup = " ".join(stack.say(who, "那社区工作者呢"))
    assert followup and "转接" not in followup, followup


def test_a_question_inside_a_letter_is_answered_from_the_city_it_names(stack):
    letter = ("尊敬的社区领导：您好！我是温州的一名退休教师，对社区的事情一直很关心。"
              "想问一下，按规定居委会下面要设哪些委员会？盼回复，谢谢！")
    replies = " ".join(stack.say(sender(), letter))
    assert "《温州市城乡社区规范化建设暂行办法》" in replies and CITATION.search(replies), replies


def test_an_unanswered_question_that_tells_a_problem_is_offered_as_a_report_and_yes_files_it(stack):
    who = sender()
    question = "楼上装修太吵了，请问装修时间有规定吗？"
    offer = " ".join(stack.say(who, question))
    assert "《" not in offer and "登记" in offer, offer
    assert "具体在哪里" in " ".join(stack.say(who, "好的"))
    stack.say(who, "幸福小区8栋")
    stack.say(who, "不留")
    done = " ".join(stack.say(who, "确认"))
    number = re.search(r"GD\d{8}-\d{4}", done).group(0)
    ticket = stack.stored_ticket(number)
    assert (ticket.category, ticket.description) == ("noise", question)
