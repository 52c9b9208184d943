"""Word segmentation shared by the Rasa tokenizer component and the category model.

jieba for Chinese (with a small dictionary of governance words), lower-cased Latin words kept whole,
punctuation, spaces and emoji dropped. The number of tokens is bounded so that a 20,000-character
message costs no more to classify than a long normal one.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import List, Tuple

MAX_TOKENS = 200
USER_DICT = Path(__file__).parent / "data" / "jieba_userdict.txt"
_WORD = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]", re.UNICODE)
_lock = threading.Lock()
_ready = False


def _jieba():
    global _ready
    import jieba

    if not _ready:
        with _lock:
            if not _ready:
                jieba.setLogLevel(60)  # its start-up chatter is not our log
                jieba.initialize()
                if USER_DICT.exists():
                    jieba.load_userdict(str(USER_DICT))
                _ready = True
    return jieba


def token_spans(text: str, max_tokens: int = MAX_TOKENS) -> List[Tuple[str, int]]:
    """(token, start offset) pairs for the words of `text` (already normalised for NLU)."""
    out: List[Tuple[str, int]] = []
    for word, start, _end in _jieba().tokenize(text or ""):
        if not _WORD.search(word):
            continue
        out.append((word.strip(), start + (len(word) - len(word.lstrip()))))
        if len(out) >= max_tokens:
            break
    return out


def tokens(text: str, max_tokens: int = MAX_TOKENS) -> List[str]:
    return [t for t, _ in token_spans(text, max_tokens)]
