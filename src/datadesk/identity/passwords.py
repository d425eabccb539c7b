"""The password rule: the identity service enforces it, and the API schema states the same numbers."""

from __future__ import annotations

from datadesk.errors import Invalid

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def check_password(password: str) -> str:
    """The password as given when its length keeps the rule, else Invalid (which never echoes it)."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"A password has at most {MAX_PASSWORD} characters.")
    return password
