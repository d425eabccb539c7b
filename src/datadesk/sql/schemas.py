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


class SqlOut(BaseModel):
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    duration_ms: int


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
