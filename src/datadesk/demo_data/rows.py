"""Deterministic rows of every raw table of the demo warehouse, keyed by schema.table."""

from __future__ import annotations

import random

from datadesk.demo_data import rows_finance, rows_marketing, rows_product
from datadesk.demo_data.fake import END, START
from datadesk.demo_data.rows_finance import Row

SEED = 2026

__all__ = ["END", "SEED", "START", "Row", "generate"]


def generate() -> dict[str, list[Row]]:
    """Rows in spec column order; the same on every call (one Random(2026), fixed dates)."""
    rng = random.Random(SEED)
    finance = rows_finance.generate(rng)
    product = rows_product.generate(rng, finance)
    marketing = rows_marketing.generate(rng, finance, product)
    return {**finance.rows, **marketing, **product.rows}
