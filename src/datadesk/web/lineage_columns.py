"""Column-level lineage of a table, in a constant number of queries however many columns it has.

Loaded only when someone opens it (the resource page asks for it through htmx): one lineage hop of
the table, the columns of the table and of the tables it reads, and one batched `lineage_graph.direct`
over all of those columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datadesk.access.caller import Caller
from datadesk.catalog import lineage_graph, service
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession

TABLE_TYPES = ("table", "view")


@dataclass
class ColumnRow:
    column: Resource
    sources: list[Resource]  # the columns its values are computed from
    feeds: list[Resource]  # columns computed from it, and tables whose rows it decides


@dataclass
class TableColumns:
    table: Resource
    rows: list[ColumnRow] = field(default_factory=list)  # the columns with lineage the caller can see
    filters: list[Resource] = field(default_factory=list)  # columns deciding which rows the table holds
    without: int = 0  # visible columns with no lineage known

    @property
    def is_table(self) -> bool:
        return self.table.type in TABLE_TYPES


def table_columns(*, session: StoreSession, caller: Caller, resource_id: str) -> TableColumns:
    """Each visible column of a table with its visible sources and dependents, and what filters the table."""
    around = lineage_graph.graph(session=session, caller=caller, resource_id=resource_id)
    table = around.start  # the warehouse face when there is one: it holds the columns
    result = TableColumns(table)
    if not result.is_table:
        return result
    read = [n.resource for n in around.upstream if n.resource is not None and n.resource.type in TABLE_TYPES]
    found = service.details(session, caller, [table, *read])
    own = [c for c, _ in found[0].columns or []]
    theirs = [c for d in found[1:] for c, _ in d.columns or []]
    near = lineage_graph.direct(session, caller, [*own, *theirs])
    for column in own:
        sources, feeds = near.get(column.id, ([], []))
        if sources or feeds:
            result.rows.append(ColumnRow(column, sources, feeds))
        else:
            result.without += 1
    anchor = table.sibling_id or table.id
    # A column edge that ends at a table (not a column) is a filter edge: that column decides its rows.
    result.filters = [
        c for c in theirs if any(d.type != "column" and (d.sibling_id or d.id) == anchor for d in near[c.id][1])
    ]
    return result
