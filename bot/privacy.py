"""Personal data protection: masking of phone and ID-card numbers in any text, a logging filter that
applies it to every log record, and helpers for exports.

Masking errs on the side of hiding: a long digit string that merely looks like an ID-card or phone
number is masked too. Full-width digits (１３８…) are recognised as well.

Retention (anonymising old closed tickets) lives with the ticket models in ``bot/tickets/retention.py``
and is run by ``python -m bot.tickets retention --older-than-days N``.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any

_D = "[0-9\uff10-\uff19]"  # ASCII and full-width digits
_NOT_D = "(?![0-9\uff10-\uff19])"
_NOT_D_BEFORE = "(?<![0-9\uff10-\uff19])"

# 18-digit ID card (last character may be X), and the old 15-digit form.
_ID18 = re.compile(rf"(?<![0-9\uff10-\uff19A-Za-z])({_D}{{3}}){_D}{{11}}({_D}{{3}}[0-9\uff10-\uff19Xx\uff38\uff58])(?![0-9\uff10-\uff19A-Za-z])")
_ID15 = re.compile(rf"{_NOT_D_BEFORE}({_D}{{3}}){_D}{{9}}({_D}{{3}}){_NOT_D}")
# Mainland mobile, optionally +86 / 0086, optionally split by spaces or dashes: 138 1234 5678.
_MOBILE = re.compile(
    rf"{_NOT_D_BEFORE}((?:(?:\+|00|\uff0b)?(?:86|\uff18\uff16)[ \-]?)?[1\uff11][3-9\uff13-\uff19]{_D})[ \-]?{_D}{{4}}[ \-]?({_D}{{4}}){_NOT_D}"
)
# Landline with area code: 0435-1234567, 010 12345678.
_LANDLINE = re.compile(rf"{_NOT_D_BEFORE}([0\uff10]{_D}{{2,3}}[ \-]?){_D}{{3,4}}({_D}{{4}}){_NOT_D}")


def mask_phone(text: str) -> str:
    """``13812345678`` → ``138****5678``; landlines keep the area code and the last four digits."""
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_id_card(text: str) -> str:
    """``110105199001011234`` → ``110***********1234``."""
    text = _ID18.sub(lambda m: m.group(1) + "*" * 11 + m.group(2), text)
    return _ID15.sub(lambda m: m.group(1) + "*" * 9 + m.group(2), text)


# Log lines that carry JSON (Rasa's structured logs) write non-ASCII text as \uXXXX escapes: full-width
# digits (\uff11) the patterns above would not see, and escapes ending in a digit (证 = \u8bc1) that
# hide where a number starts. They are turned back into the characters first (surrogates left alone).
_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(match: "re.Match") -> str:
    code = int(match.group(1), 16)
    return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)


def mask_text(text: Any) -> Any:
    """Mask every ID-card and phone number in ``text`` (non-strings are returned unchanged)."""
    if not isinstance(text, str) or not text:
        return text
    if "\\u" in text:
        text = _ESCAPED.sub(_unescape, text)
    return mask_phone(mask_id_card(text))


def mask_value(value: Any) -> Any:
    """``mask_text`` applied through dicts, lists and tuples (for exports and JSON payloads)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v) for v in value)
    return value


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a log record in place: its message with arguments merged, exception text and stack."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is logging's problem to report, not ours
        return record
    masked = mask_text(message)
    if masked != message or record.args:
        record.msg, record.args = masked, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record


class MaskingFilter(logging.Filter):
    """Attach to a handler (or use in ``logging.config.dictConfig``) to mask everything it emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_installed = False
_install_lock = threading.Lock()


def install_log_masking() -> None:
    """Mask every log record of the process from now on, whatever logger or handler it goes through.

    Wraps the log record factory (so handlers added later are covered too) and adds the filter to the
    root logger's current handlers. Safe to call more than once.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            return mask_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())
        _installed = True
