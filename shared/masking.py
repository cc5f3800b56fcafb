"""Masking of a caller's personal data shown to departments (DOMAIN.md §6): the one definition,
used by the gateway (console and API answers) and by dispatch (the department feed and webhooks).
"""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` → ``138****5678`` (DOMAIN.md §6)."""
    if not phone:
        return phone
    if "-" in phone:
        area, local, *ext = phone.split("-")
        return f"{area}-****{local[-4:]}" + "".join(f"-{e}" for e in ext)
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else "****"


def mask_name(name: str | None) -> str | None:
    """保密 on the caller's request: ``李秀英`` → ``李**`` for the departments."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)
