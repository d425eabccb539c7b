"""The catalog's integration type Literal names the integration types of the registry, in its order."""

from __future__ import annotations

from typing import get_args

from datadesk.catalog.schemas import IntegrationType
from datadesk.connectors.registry import TYPES


def test_integration_type_is_the_registrys_types() -> None:
    assert get_args(IntegrationType) == TYPES
