"""Residents' conversations for the speed and load benchmarks: Chinese (Simplified and Traditional)
and English; some open a report and go through the whole form (where, phone, confirm) or cancel it.
Every message here gets an answer from the bot, so an empty answer counts as an error."""
from __future__ import annotations

from itertools import cycle, islice
from typing import Iterator, List

SCRIPTS: List[List[str]] = [
    # complaint, whole form, then the resident checks the ticket
    ["你好", "楼上天天半夜装修吵得睡不着", "阳光花园3栋2单元502", "不留", "确认", "我的工单怎么样了", "谢谢"],
    # service request in English; "block 3" already says where
    ["hello", "the stairwell light in block 3 is broken, please send someone to fix it", "no", "yes", "thanks"],
    # policy questions: answered from the regulations, and one they do not cover
    ["通化社区里邻居有矛盾纠纷找谁调解？", "申请低保要什么条件", "谢谢"],
    ["When did the Tonghua community governance regulation come into force?", "thank you"],
    # Traditional Chinese report with a phone number, then cancelled
    ["小區東門的路燈壞了一個禮拜了 晚上黑乎乎的", "東門口", "13900001111", "取消"],
    # small talk
    ["你是机器人吗", "你能做什么", "再见"],
    # the first message says everything but the confirmation
    ["幸福里小区12号楼门口的垃圾三天没人清了 臭死了 电话13812345678", "对"],
]


def messages(conversation: int) -> Iterator[str]:
    """The endless message stream of one conversation: the scripts in turn, starting at a
    different script for each conversation so that concurrent ones are not in lock-step."""
    start = conversation % len(SCRIPTS)
    for script in cycle(SCRIPTS[start:] + SCRIPTS[:start]):
        yield from script


def first(conversation: int, n: int) -> List[str]:
    return list(islice(messages(conversation), n))


def all_texts() -> List[str]:
    return [text for script in SCRIPTS for text in script]
