"""Values as a run hands them back: JSON-safe, cut when one is too long to show, collected under the row and
byte caps.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any, TypeAlias
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


_MAX_BATCH = 500


class Collector:
    """Pulls rows in batches sized from the rows seen so far until the row or byte cap is passed.

    Each batch holds about half the byte cap of values as the engine sent them, so a result of
    huge rows is read one row at a time and memory stays near the cap whatever the query returns.
    """

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.rows: list[list[JSONValue]] = []
        self.bytes = 0
        self.truncated = False
        self.first_types: list[type | None] = []  # of the first non-NULL value per column (SQLite types)
        self._seen_rows = 0
        self._seen_bytes = 0

    def drain(self, fetchmany: Callable[[int], Sequence[Sequence[Any]]]) -> None:
        """Fetch through `fetchmany` until the result is exhausted or a cap is passed."""
        batch = 1
        while self._take(fetchmany(batch)):
            average = max(1, self._seen_bytes // self._seen_rows)
            batch = max(1, min(_MAX_BATCH, self.max_bytes // 2 // average, self.max_rows - len(self.rows) + 1))

    def _take(self, raw: Sequence[Sequence[Any]]) -> bool:
        """Keep what fits of one batch; whether to fetch more. No raw row outlives this call."""
        if not raw:
            return False
        for row in raw:
            if len(self.rows) >= self.max_rows:
                self.truncated = True
                return False
            cells = [cell(value) for value in row]
            self._note_types(row)
            self._seen_rows += 1
            self._seen_bytes += sum(size for _, size, _ in cells)
            converted = [value for value, _, _ in cells]
            size = len(json.dumps(converted, ensure_ascii=False).encode())
            if self.bytes + size > self.max_bytes:
                self.truncated = True
                return False
            self.truncated |= any(cut for _, _, cut in cells)
            self.rows.append(converted)
            self.bytes += size
        return True

    def _note_types(self, row: Sequence[Any]) -> None:
        if len(self.first_types) < len(row):
            self.first_types.extend([None] * (len(row) - len(self.first_types)))
        for index, value in enumerate(row):
            if self.first_types[index] is None and value is not None:
                self.first_types[index] = type(value)
