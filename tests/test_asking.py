"""The part of a long message that asks (bot/asking.py), and what it does for the intent of letters."""
import asyncio
import logging

import pytest

from bench.nlu_eval import in_letters
from bot.asking import asking_part, is_rhetorical, statement_part


def test_a_short_message_is_its_own_question():
    assert asking_part("网格长由谁担任？") == "网格长由谁担任？"


def test_a_letter_keeps_its_asking_sentences_and_a_topic_put_first():
    letter = ("尊敬的社区领导：您好！我是温州的一名退休教师，平时喜欢参加社区活动。"
              "想问一下，关于居委会的下属委员会，按规定要设哪些？我想报名参加。盼回复，谢谢！")
    assert asking_part(letter) == "想问一下，关于居委会的下属委员会，按规定要设哪些？"


def test_an_english_letter_keeps_its_question():
    letter = ("Dear Sir or Madam, I moved here last spring and volunteer at the centre. "
              "Could you tell me which committees the residents' committee has to set up? Thank you.")
    assert asking_part(letter) == "Could you tell me which committees the residents' committee has to set up?"


def test_a_letter_that_asks_nothing_is_kept_whole():
    letter = "尊敬的领导：我们小区门口的路灯坏了两个月了，晚上一片漆黑，老人出门很不方便，恳请尽快修复。"
    assert asking_part(letter) == letter


def test_complaining_questions_are_told_apart():
    assert is_rhetorical("生产二十多年了，为什么还不取缔？") and is_rhetorical("到底有没有人管？")
    assert not is_rhetorical("按规定居委会下面要设哪些委员会？")


# Residents' questions about the rules (tests/policy) inside letters (bench/nlu_eval.py's LETTER_WRAPPERS).
def test_questions_about_the_rules_inside_letters_are_consultations(model_path):
    from rasa.core.agent import load_agent
    from rasa.utils.log_utils import configure_structlog

    from bench.policy_bench import load_questions

    configure_structlog(logging.WARNING)
    questions = [q["q"] for q in load_questions() if q["lang"] == "zh-Hans"]

    async def intents():
        agent = await load_agent(model_path=str(model_path))
        return [(await agent.parse_message(letter))["intent"]["name"]
                for q in questions for letter in in_letters(q, "zh-Hans")]

    found = asyncio.run(intents())
    # About half on the whole letter alone; the asking sentences' vote brings it to ≈ 0.88 (README).
    assert found.count("consultation") / len(found) >= 0.8, found.count("consultation") / len(found)


@pytest.mark.parametrize("text,statement", [
    ("楼上装修太吵了，请问装修时间有规定吗？", "楼上装修太吵了"),
    ("垃圾站离我家窗户太近 臭得不行 有没有相关规定", "垃圾站离我家窗户太近，臭得不行"),
    ("My upstairs neighbour renovates every night. Are there rules on hours?", "My upstairs neighbour renovates every night"),
    ("电费3.5元一度太贵了，标准是多少", "电费3.5元一度太贵了"),
    ("申请低保需要什么条件", ""),
    ("小区没有物业怎么办", ""),
])
def test_the_statement_part_is_what_does_not_ask(text, statement):
    assert statement_part(text) == statement

