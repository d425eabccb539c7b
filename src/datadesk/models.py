"""Imports every domain's tables so Base.metadata knows them all (Alembic, tests)."""

from datadesk.access import models as access_models
from datadesk.ai import models as ai_models
from datadesk.catalog import models as catalog_models
from datadesk.catalog import usage_models
from datadesk.identity import models as identity_models
from datadesk.sql import models as sql_models

__all__ = ["access_models", "ai_models", "catalog_models", "identity_models", "sql_models", "usage_models"]
