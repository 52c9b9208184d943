"""Tokens for retrieval: jieba words plus character bigrams, from the normalised (Simplified) text.

Documents and questions go through the same function, so a resident's word matches the regulation's
word whether jieba cuts it the same way (word token) or not (bigrams inside and across words).
"""
from __future__ import annotations

import functools
import logging
import math
import re

import jieba
import yaml

from .script import DATA_DIR

_CJK = re.compile(r"^[\u3400-\u9fff]+$")
_WORD = re.compile(r"[\u3400-\u9fff]+|[a-zA-Z]+|\d+")

# Function words, question words and the words every regulation uses for itself: they say nothing
# about which provision answers. (应当/规定/条例 are everywhere; 通化 etc. are handled by the city filter.)
STOPWORDS = frozenset("""
的 了 和 与 及 以及 或 或者 等 等等 在 是 有 对 把 被 为 以 由 将 从 向 于 之 其 而 并 也 都 就 要 会 能 可 可以
吗 呢 啊 吧 么 嘛 呀 哦 么 什么 怎么 怎样 怎么样 如何 哪些 哪里 哪儿 哪 谁 多少 几 几个 是否 有没有 是不是 能不能
需要 应该 应当 必须 请问 请 问 问下 问一下 我 我们 你 您 他 她 它 他们 这 那 这个 那个 这些 那些 一个 个 里 上 下
中 们 想 想问 知道 一下 了解 告诉 说 讲 规定 规定了 条例 办法 方案 法规 政策 文件 本 本市 本条例 本办法 这里
咱们 咱 我家 我们家 现在 目前 关于 对于 按照 根据 依照 相关 有关 具体 一般 主要 还 又 再 吧 没有 不 没 给 让
如果 的话 时候 多 大 小 呢 哈 嗯 啦 能否 要求 方面 怎么办 该 谁来 由谁 干 做 搞 弄 办 算 属于 规矩
市 县 区 我市 我县 当地 本地 我们这 这边 社区里 一些 有些 所有 各 每 之类 方面 情况 问题 事 事情 东西
不能 能 让 办 来 去 当 找 用 看 得 着 过 到 跟 同 向 往 被 叫 使 开始 以后 之后 以前 之前 时 后 前 不要 要不要 需不需要 应不应该
会不会 可不可以 行不行 对不对 到底 究竟 通常 平时 一定 听说 里面 一共 总共 哪个 哪天 哪一天 哪年 那么 这样 那样
为啥 啥 咋 咋办 干啥 多久 多长 怎么弄 想要 打听 咨询 请教 帮忙 帮 查 看看 说说 讲讲 介绍 内容 里头 哪条 第几条 条款
归谁 是从 问问 问一问 想了解 干什么 干嘛 做什么 干啥 是干什么 什么样 怎么样的 啥样 什么样子 写 写了 提到 提 说过 自己 别人 人家 大家 个人 一下子 能够 已经 还是 或是 就是 只是 但是 可是 因为 所以 然后 而且
""".split())


@functools.lru_cache(maxsize=1)
def _lexicon() -> tuple[str, ...]:
    """Governance terms that must stay one token (网格员, 居民委员会, 业委会 …)."""
    words: set[str] = set()
    glossary = yaml.safe_load((DATA_DIR / "glossary_en_zh.yml").read_text(encoding="utf-8")) or []
    for entry in glossary:
        words.update(str(w) for w in entry.get("zh") or [])
    for group in yaml.safe_load((DATA_DIR / "synonyms_zh.yml").read_text(encoding="utf-8")) or []:
        words.update(str(w) for w in group)
    return tuple(sorted(w for w in words if len(w) >= 2 and _CJK.match(w)))


@functools.lru_cache(maxsize=1)
def segmenter() -> jieba.Tokenizer:
    # A private tokenizer: the user words must not change how other parts of the bot cut text.
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    lexicon = _lexicon()
    _GENERAL_FREQ.update({w: tok.FREQ.get(w, 0) for w in lexicon})   # before add_word overrides them
    for word in lexicon:
        tok.add_word(word, freq=20000)
    return tok


_GENERAL_FREQ: dict[str, int] = {}


def general_weight(word: str) -> float:
    """How telling a word is in everyday Chinese, 0.1 (来, 开始, 自己) … 1.0 (护照, 户口, 供暖).

    Used for question words the regulations never contain: a rare, specific word there means the
    question is about something the corpus does not cover; a common one is just how people talk."""
    tok = segmenter()
    freq = _GENERAL_FREQ.get(word, tok.FREQ.get(word, 0))
    if not freq:
        return 1.0
    surprise = math.log(tok.total / freq)
    return min(1.0, max(0.1, (surprise - 8.0) / 3.5))


def words(text: str, for_index: bool = False) -> list[str]:
    """Content words (stopwords and punctuation dropped), in order.

    for_index: the provision side also gets the parts of compound words (教育培训 → 教育, 培训), so a
    resident's shorter word still meets the regulation's longer one."""
    out = []
    tok = segmenter()
    # HMM off: a word jieba does not know falls apart into known words instead of becoming an
    # invented token (由谁来, 要配) that matches nothing and weighs like a rare topic.
    cut = tok.cut_for_search(text, HMM=False) if for_index else tok.cut(text, HMM=False)
    for w in cut:
        w = w.strip().lower()
        if w and _WORD.fullmatch(w) and w not in STOPWORDS:
            out.append(w)
    return out


def bigrams(ws: list[str]) -> list[str]:
    """Character bigrams inside each word and across adjacent content words."""
    out = []
    joined = ""
    for w in ws:
        if not _CJK.match(w):
            joined = ""
            continue
        for i in range(len(w) - 1):
            out.append("~" + w[i:i + 2])
        if joined:
            out.append("~" + joined[-1] + w[0])
        joined = w
    return out


def tokenize(text: str, for_index: bool = False) -> list[str]:
    if for_index:
        return words(text, for_index=True) + bigrams(words(text))
    ws = words(text)
    return ws + bigrams(ws)
