"""Checks on what a resident typed, shared by the intake form and the service."""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

from .errors import InvalidPhone

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")


def normalise_phone(text: Optional[str]) -> Optional[str]:
    """A mainland mobile (``13812345678``) or landline with area code (``0435-1234567``), in canonical
    form; None for an empty value; :class:`InvalidPhone` for anything else.

    Accepts full-width digits, spaces, dashes, brackets and a +86 / 0086 prefix.
    """
    if text is None:
        return None
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if not raw:
        return None
    digits = re.sub(r"[\s\-()（）.]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isdigit():
        raise InvalidPhone("a phone number has only digits")
    if _MOBILE.fullmatch(digits):
        return digits
    if _LANDLINE.fullmatch(digits):
        area = 3 if digits[1] in "12" else 4  # 010, 02x are three-digit area codes
        return f"{digits[:area]}-{digits[area:]}"
    raise InvalidPhone("not a mainland mobile or landline number")
