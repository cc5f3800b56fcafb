"""Intake's business rules: phone numbers, order numbers, registration checks (工单登记).

Plain Python: no nameko, no database session.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from shared.business_time import (
    business_day,  # noqa: F401  (re-exported: order numbers follow the local day)
)

MAX_DAILY_SEQUENCE = 999_999

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# Area codes: 010 and 02x are 3 digits; the rest 4 digits (03xx–09xx). Local part 7–8 digits,
# not starting with 0 or 1; an optional extension after '-' or 'ext'.
_LANDLINE = re.compile(r"^(0(?:10|2[0-9]|[3-9][0-9]{2}))-?([2-9][0-9]{6,7})(?:(?:-|ext|转)([0-9]{1,6}))?$")
# Service numbers with no area code (12345 itself, 95xxx customer lines) are not callers' numbers.


class PhoneError(ValueError):
    pass


def normalize_phone(raw: str) -> str:
    """Return the canonical form of a mainland phone number, or raise :class:`PhoneError`.

    Accepts a mobile (``13812345678``), a landline with its area code (``010-62345678``,
    ``0571 87654321``), with an optional ``+86`` / ``0086`` / ``86`` prefix and spaces, dashes
    or brackets. Canonical forms: ``13812345678`` and ``010-62345678`` (``-123`` extension kept).
    """
    if raw is None:
        raise PhoneError("电话号码不能为空 phone is required")
    # full-width digits and dashes (１３８…, －) are common in typed input; anything else that
    # is a "digit" to Unicode but not ASCII is refused by the ASCII-only patterns below
    s = unicodedata.normalize("NFKC", str(raw))
    s = re.sub(r"[\s()]", "", s).replace("—", "-")
    international = False
    for prefix in ("+86", "0086"):
        if s.startswith(prefix):
            s, international = s[len(prefix):].lstrip("-"), True
            break
    else:
        if s.startswith("86") and len(re.sub(r"[^0-9]", "", s)) == 13:
            s, international = s[2:], True
    digits = s.replace("-", "")
    if _MOBILE.match(digits):
        return digits
    if international and not s.startswith("0"):
        s, digits = "0" + s, "0" + digits  # +86 10 6234 5678: the trunk 0 is dropped abroad
    m = _LANDLINE.match(s) or _LANDLINE.match(digits)
    if m:
        area, local, ext = m.groups()
        return f"{area}-{local}" + (f"-{ext}" if ext else "")
    raise PhoneError(f"电话号码格式不正确 not a mainland mobile or landline number: {raw!r}")




def format_ticket_no(day: date, sequence: int) -> str:
    """登记编号: ``YYYYMMDD`` + 6-digit daily sequence, e.g. ``20261123000042``."""
    if not 1 <= sequence <= MAX_DAILY_SEQUENCE:
        raise ValueError(f"daily sequence {sequence} out of range 1..{MAX_DAILY_SEQUENCE}")
    return f"{day:%Y%m%d}{sequence:06d}"

