"""The type names of a PostgreSQL result's columns, as a statement there would write them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.numeric import Oid

# PostgreSQL's own types are named by psycopg (int4, varchar(20), text[]); a database's own (enums,
# composites, arrays of them) reach it as bare oids and are named from pg_type. A domain column arrives as
# its base type (the server sends that), so a column read straight from a table is named from
# pg_attribute when its type is a domain. One query for both, sending only oids and column numbers.
# format_type qualifies a type the session's search path does not hold: the service pins that path to
# pg_catalog, so its results say `public.mpaa_rating`, the name a statement there has to write.
_TYPE_NAMES = """
SELECT 0, 0, pg_catalog.format_type(t.oid, NULL), t.oid FROM pg_catalog.pg_type t
WHERE t.oid OPERATOR(pg_catalog.=) ANY (%s)
UNION ALL
SELECT a.attrelid, a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod), 0
FROM ROWS FROM (pg_catalog.unnest(%s::pg_catalog.oid[]), pg_catalog.unnest(%s::pg_catalog.int2[])) AS c(rel, num)
JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.rel AND a.attnum OPERATOR(pg_catalog.=) c.num
JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid AND t.typtype OPERATOR(pg_catalog.=) 'd'
"""


def names(cursor: psycopg.Cursor[Any], description: Sequence[psycopg.Column]) -> list[str]:
    """Each result column's type name; a lookup only for a table's columns or a type not PostgreSQL's own."""
    conn = cursor.connection
    unknown = sorted({column.type_code for column in description if conn.adapters.types.get(column.type_code) is None})
    result = cursor.pgresult
    count = len(description)
    origins = [(result.ftable(i), result.ftablecol(i)) for i in range(count)] if result else [(0, 0)] * count
    read = sorted({origin for origin in origins if origin[0]})
    by_oid: dict[int, str] = {}
    domains: dict[tuple[int, int], str] = {}
    if unknown or read:
        params = [[Oid(oid) for oid in unknown], [Oid(rel) for rel, _ in read], [num for _, num in read]]
        for rel, num, name, oid in conn.execute(_TYPE_NAMES, params).fetchall():
            if rel:
                domains[(int(rel), int(num))] = str(name)
            else:
                by_oid[int(oid)] = str(name)
    names = [by_oid.get(column.type_code, column.type_display) for column in description]
    return [domains.get(origin, name) for origin, name in zip(origins, names, strict=True)]
