"""Imports every domain's tables so Base.metadata knows them all (Alembic, tests)."""

from datadesk.catalog import models as catalog_models
from datadesk.identity import models as identity_models

__all__ = ["catalog_models", "identity_models"]
