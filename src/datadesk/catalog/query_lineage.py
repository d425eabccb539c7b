"""Query lineage: table-to-table edges read from the statements of a source's history (catalog.usage).

`INSERT INTO t SELECT ... FROM a JOIN b`, `CREATE TABLE t AS SELECT ... FROM a` and
`SELECT ... INTO t FROM a` give edges a -> t, b -> t (origin "query", of the kind a table reading another
has). They are replaced at each sync by what the history holds then: an edge stays while a statement
giving it stays in the history. A pair another origin already links is left to it; a view is never a
target (its lineage is its definition's). A sync that cannot read the history removes them.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, select, tuple_

from datadesk.catalog.models import Integration, Lineage, Resource
from datadesk.db import StoreSession

ORIGIN = "query"
CHUNK = 500


def replace_edges(session: StoreSession, integration: Integration, wanted: set[tuple[str, str]]) -> int:
    """The integration's query lineage becomes `wanted`, less pairs another origin links; returns how many."""
    upstream = Resource.__table__.alias("up")
    current = session.execute(
        select(Lineage.upstream_id, Lineage.downstream_id, Lineage.origin)
        .join(upstream, upstream.c.id == Lineage.upstream_id)
        .where(upstream.c.integration_id == integration.id)
    ).all()
    ours = {(up, down) for up, down, origin in current if origin == ORIGIN}
    others = {(up, down) for up, down, origin in current if origin != ORIGIN}
    wanted = wanted - others
    gone = sorted(ours - wanted)
    for start in range(0, len(gone), CHUNK):
        pair = tuple_(Lineage.upstream_id, Lineage.downstream_id)
        session.execute(
            delete(Lineage)
            .where(and_(pair.in_(gone[start : start + CHUNK]), Lineage.origin == ORIGIN))
            .execution_options(synchronize_session=False)
        )
    added = [
        {"workspace_id": integration.workspace_id, "upstream_id": up, "downstream_id": down, "origin": ORIGIN}
        for up, down in sorted(wanted - ours)
    ]
    if added:  # kind: the model's default, an asset reading another (as sync's table edges)
        session.execute(insert(Lineage), added)
    return len(wanted)
