"""The fields every dbt manifest node carries, read one way for tables, exposures, semantic models and metrics."""

from __future__ import annotations

from typing import Any

from datadesk.connectors.base import TableMeta

Json = dict[str, Any]


def enabled(node: Json) -> bool:
    """False only when the node's config says enabled: false."""
    return bool((node.get("config") or {}).get("enabled", True))


def tags_of(item: Json) -> list[str]:
    """Tags set on the item itself and in its config, in order, without repeats."""
    config = item.get("config") or {}
    tags: list[str] = []
    for tag in [*(item.get("tags") or []), *(config.get("tags") or [])]:
        if isinstance(tag, str) and tag not in tags:
            tags.append(tag)
    return tags


def owner_of(*metas: Any) -> str:
    """The first meta.owner found, as text (a dict with name/email becomes "Name <email>")."""
    for meta in metas:
        if isinstance(meta, dict) and meta.get("owner"):
            return as_person(meta["owner"])
    return ""


def as_person(value: Any) -> str:
    """An owner as dbt writes it (a name, {name, email} or a list of them), as one line of text."""
    if isinstance(value, dict):
        name, email = value.get("name") or "", value.get("email") or ""
        return f"{name} <{email}>" if name and email else str(name or email)
    if isinstance(value, list):
        return ", ".join(as_person(v) for v in value)
    return str(value)


def upstream_of(node: Json, tables: dict[str, TableMeta]) -> list[str]:
    """depends_on.nodes that are catalog objects (not macros, metrics or disabled nodes)."""
    depends = (node.get("depends_on") or {}).get("nodes") or []
    return [uid for uid in dict.fromkeys(depends) if uid in tables]
