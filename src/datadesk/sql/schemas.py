"""Pydantic shapes of the SQL API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class SqlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration_id: str
    sql: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    limit: Annotated[int, Field(ge=1)] | None = None
    max_bytes: Annotated[int, Field(ge=1)] | None = None  # callers may only lower the workspace's byte cap


class SqlOut(BaseModel):
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    duration_ms: int


class SqlSettingsIn(BaseModel):
    """PUT /settings/sql: fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    run_sql_enabled: bool | None = None
    row_cap: Annotated[int, Field(ge=1, le=100_000)] | None = None
    byte_cap: Annotated[int, Field(ge=1000, le=500_000_000)] | None = None
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] | None = None
    sensitive_tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] | None = Field(
        default=None, max_length=100
    )


class SqlSettingsOut(BaseModel):
    run_sql_enabled: bool
    row_cap: int
    byte_cap: int
    timeout_seconds: int
    sensitive_tags: list[str]


class Permissions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query_access: list[str] | None = Field(default=None, max_length=500)
    sensitive_access: list[str] | None = Field(default=None, max_length=500)


class PermissionsOut(BaseModel):
    query_access: list[str]
    sensitive_access: list[str]


class QueryRunOut(BaseModel):
    id: str
    user_id: str | None
    integration_id: str
    sql: str
    source: str
    status: str
    error_code: str
    duration_ms: int
    row_count: int
    created_at: datetime


class QueryRunList(BaseModel):
    runs: list[QueryRunOut]
