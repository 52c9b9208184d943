"""The part of a long message that asks.

A resident's letter wraps its question in a greeting, an introduction, a story and thanks. For a
message of FOCUS_MIN_CHARS or more, the question is the sentences that ask, and in them the asking
clauses with a clause that puts the topic first ("关于网格员的产生，有什么规定？"). Used by the policy
answers (bot/policy/query.py) and the intent classifier (bot/nlu/components.py).
"""
from __future__ import annotations

import re

FOCUS_MIN_CHARS = 40
_SENTENCE_END = re.compile(r"(?<=[。！!？?\n])|(?<=\.)\s+")
_CLAUSE = re.compile(r"[^，,；;：:]+")  # not 、: it lists, it does not end a clause
_TOPIC_FIRST = re.compile(r"^\s*(关于|对于|针对|按照|根据|依照|按)")
_ASKING = re.compile(r"[？?]|请问|想问|问一下|问问|咨询|请教|吗|怎么|怎样|如何|多少|哪些|哪个|哪里|哪儿|什么|是否|能否|可否|"
                     r"可不可以|能不能|有没有|要不要|是不是|由谁|谁来|谁负责|"
                     r"\b(what|which|who|whom|whose|how|when|where|whether|why|could you|can you|would you|"
                     r"please (tell|explain|let me know)|i (would like|want|wish) to know|i wonder)\b", re.I)


def asks(text: str) -> bool:
    """Does the text ask anything (a question mark, 请问, 吗, how …)?"""
    return bool(_ASKING.search(text))


# A clause with the marks that end it (a question mark belongs to its clause); a space between Chinese
# characters ends one too ("垃圾站太近 臭得不行 有没有规定"); a full stop in 3.5 does not.
_CLAUSE_WITH_END = re.compile(r"(?:[^，,。！!？?；;\n.]|\.(?=\d))+[，,。！!？?；;\n.]*")
_HAN_SPACE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def statement_part(text: str) -> str:
    """The clauses that do not ask: "楼上装修太吵了" of "楼上装修太吵了，请问装修时间有规定吗？"."""
    clauses = [m.group(0) for piece in _HAN_SPACE.split(text) for m in _CLAUSE_WITH_END.finditer(piece)]
    kept = [c.strip(" ，,。！!？?；;\n.") for c in clauses if not _ASKING.search(c)]
    return "，".join(c for c in kept if c)


def asking_part(text: str) -> str:
    """The part of a long message that asks; the whole text when it is short or asks nowhere."""
    if len(text) < FOCUS_MIN_CHARS:
        return text
    kept = []
    for sentence in _SENTENCE_END.split(text):
        if not _ASKING.search(sentence):
            continue
        if re.search(r"[\u4e00-\u9fff]", sentence):
            clauses = _CLAUSE.findall(sentence)
            sentence = "，".join(c for i, c in enumerate(clauses)
                                if _ASKING.search(c) or (_TOPIC_FIRST.match(c) and i + 1 < len(clauses)))
        kept.append(sentence)
    return " ".join(kept) or text


# Questions that complain rather than ask ("为什么还不取缔？", "到底有没有人管？"): the writer wants
# something dealt with, not information.
_RHETORICAL = re.compile(r"为什么还|为何还|凭什么|难道|谁来负责|谁负责|谁来管|没人管|有没有人管|还有没有|怎能|岂能|"
                         r"何时才能|到底要|到底有没有|还要等|天理何在|合理吗|合法吗|像话吗|有用吗")


def is_rhetorical(text: str) -> bool:
    return bool(_RHETORICAL.search(text))
