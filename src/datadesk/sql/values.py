"""Values as a run hands them back: JSON-safe, and cut when one is too long to show."""

from __future__ import annotations

import base64
import json
import math
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import TypeAlias
from uuid import UUID

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

CELL_CAP = 64 * 1024  # characters of one value handed back; longer ones are cut with CUT_MARKER
CUT_MARKER = "…[cut]"


def to_json(value: object) -> JSONValue:
    """A JSON-safe form of a driver value.

    Decimals become strings (exact; a JSON number would be read as a float), bytes become base64,
    NaN and infinities become "NaN", "Infinity", "-Infinity", times ISO 8601, intervals str().
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, clock_time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    return str(value)  # ranges, network addresses, enums and whatever else a driver invents


def cell(raw: object) -> tuple[JSONValue, int, bool]:
    """A value as handed back, its size as the engine sent it, and whether it was cut at CELL_CAP."""
    value = to_json(raw)
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > CELL_CAP:
            return text[:CELL_CAP] + CUT_MARKER, len(text), True
        return value, len(text), False
    if isinstance(value, str):
        if len(value) > CELL_CAP:
            return value[:CELL_CAP] + CUT_MARKER, len(value), True
        return value, len(value), False
    return value, 8, False
