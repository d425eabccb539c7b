"""Imports every domain's tables so Base.metadata knows them all (Alembic, tests)."""

from datadesk.identity import models as identity_models

__all__ = ["identity_models"]
