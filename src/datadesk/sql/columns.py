"""Which columns of which table a checked query reads: `columns_read`, resolved through sqlglot's scopes."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import TypeVar, cast

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from datadesk.sql.checked import Checked, SqlNotAllowed, TableRef, sqlglot_dialect

K = TypeVar("K", bound=Hashable)

_DEFAULT_CATALOG = "dd_default_catalog"
_DEFAULT_SCHEMA = "dd_default_schema"


def columns_read(checked: Checked, schema: Mapping[K, Iterable[str]]) -> dict[K | TableRef, set[str]]:
    """Which columns of which table the query reads, anywhere in it; `*` and `t.*` read every column.

    `schema` maps each table (a TableRef from `checked.tables`, or `(schema, name)`) to its
    catalog columns; results use the same keys. When a column can't be pinned to one table it
    counts against every candidate table; when the query can't be resolved at all, it is refused.
    """
    sg_dialect = sqlglot_dialect(checked.dialect)
    resolver = _ColumnResolver(schema, sg_dialect)
    try:
        qualified = qualify(
            checked.expression.copy(),
            dialect=sg_dialect,
            schema=resolver.mapping_schema(),
            catalog=_DEFAULT_CATALOG,
            db=_DEFAULT_SCHEMA,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
        root_scope = build_scope(qualified)
        if root_scope is None:
            raise SqlNotAllowed("Could not work out which columns the query reads.")
        resolver.resolve(qualified, list(root_scope.traverse()))
    except SqlNotAllowed:
        raise
    except Exception:
        raise SqlNotAllowed("Could not work out which columns the query reads.") from None
    return cast("dict[K | TableRef, set[str]]", resolver.result)


class _ColumnResolver:
    def __init__(self, schema: Mapping[K, Iterable[str]], sg_dialect: str) -> None:
        self.sg_dialect = sg_dialect
        self.keys: dict[TableRef, Hashable] = {}
        self.columns: dict[TableRef, dict[str, str]] = {}  # normalised name -> name as the catalog has it
        for key, names in schema.items():
            ref = self._normalise_ref(key)
            self.keys.setdefault(ref, key)
            known = self.columns.setdefault(ref, {})
            for name in names:
                known[self._normalise(name)] = name
        self.result: dict[Hashable, set[str]] = {}

    def _normalise(self, name: str) -> str:
        # Catalog names are exact, like quoted identifiers; case-insensitive engines still fold them.
        return normalize_identifiers(exp.to_identifier(name, quoted=True), dialect=self.sg_dialect).name

    def _normalise_ref(self, key: Hashable) -> TableRef:
        if isinstance(key, TableRef):
            ref = key
        elif isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], str):
            ref = TableRef(schema=key[0], name=key[1])
        else:
            raise TypeError(f"schema keys are TableRef or (schema, name), not {key!r}")
        return TableRef(
            schema=None if ref.schema is None else self._normalise(ref.schema),
            name=self._normalise(ref.name),
            catalog=None if ref.catalog is None else self._normalise(ref.catalog),
        )

    def mapping_schema(self) -> MappingSchema:
        nested: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for ref, known in self.columns.items():
            schemas = nested.setdefault(ref.catalog or _DEFAULT_CATALOG, {})
            schemas.setdefault(ref.schema or _DEFAULT_SCHEMA, {})[ref.name] = {name: "text" for name in known}
        return MappingSchema(dict(nested), dialect=self.sg_dialect, normalize=False)

    def resolve(self, qualified: exp.Expr, scopes: list[Scope]) -> None:
        by_node = {id(scope.expression): scope for scope in scopes}
        for table in qualified.find_all(exp.Table):
            alias = table.args.get("alias")
            real = self._real(table)
            if real is not None and isinstance(alias, exp.TableAlias) and alias.columns:
                self._read_all(real)  # `users AS u(a, b)` renames by position: count every column
        if any(isinstance(node, exp.Columns) for node in qualified.walk()):
            for scope in scopes:  # DuckDB COLUMNS(regex) picks columns by pattern: count them all
                for source in self._real_sources(scope):
                    self._read_all(source)
        for dot in qualified.find_all(exp.Dot):
            row = dot.this.this if isinstance(dot.this, exp.Paren) else None
            if isinstance(row, exp.TableColumn) or (isinstance(row, exp.Column) and not row.table):
                home = self._scope_of(row, by_node)
                if home is None:
                    raise SqlNotAllowed("Could not work out which columns the query reads.")
                self._check_field(_find_source(row.name, list(_chain(home))), row.name, dot.expression)
        for node in qualified.find_all(exp.Column, exp.TableColumn, exp.Star):
            home = self._scope_of(node, by_node)
            if home is None:
                raise SqlNotAllowed("Could not work out which columns the query reads.")
            chain = list(_chain(home))
            if isinstance(node, exp.Column):
                self._resolve_column(node, chain)
            elif isinstance(node, exp.TableColumn):  # a whole row: `SELECT u FROM users u`
                real = self._real(_find_source(node.name, chain))
                if real is not None:
                    self._read_all(real)
                self._read_candidates(node.name, chain)
            elif not isinstance(node.parent, (exp.Column, exp.Count)):
                # A bare * the qualifier could not expand (or one inside a function): all it can see.
                for source in self._real_sources(home):
                    self._read_all(source)

    def _check_field(self, source: exp.Table | Scope | None, row: str, field: exp.Expr) -> None:
        """`(alias).name` must name a column: PostgreSQL reads it as a call of `name` on the whole row otherwise."""
        real = self._real(source)
        if real is not None:
            outputs = set(self.columns.get(real) or ())
        elif isinstance(source, Scope):
            outputs = set(source.expression.named_selects) if isinstance(source.expression, exp.Query) else set()
            alias = source.expression.parent.args.get("alias") if source.expression.parent else None
            if isinstance(alias, exp.TableAlias):
                outputs |= {column.name for column in alias.columns}
        else:
            return  # a composite column's field: the catalog does not say which fields it has
        quoted = isinstance(field, exp.Identifier) and field.quoted
        name = field.name if isinstance(field, exp.Identifier) else ""
        if name not in outputs and (quoted or name.lower() not in {output.lower() for output in outputs}):
            raise SqlNotAllowed(
                f"({row}).{field.sql()} does not name a column; PostgreSQL would call a function of that name"
                " on the whole row."
            )

    @staticmethod
    def _scope_of(node: exp.Expr, by_node: dict[int, Scope]) -> Scope | None:
        parent = node.parent
        while parent is not None:
            if id(parent) in by_node:
                return by_node[id(parent)]
            parent = parent.parent
        return None

    def _resolve_column(self, column: exp.Column, chain: list[Scope]) -> None:
        qualifier = column.table
        if isinstance(column.this, exp.Star):
            source = _find_source(qualifier, chain) if qualifier else None
            real = self._real(source)
            if real is not None:
                self._read_all(real)
            elif source is None:
                for scope in chain[:1] if not qualifier else chain:
                    for table in self._real_sources(scope):
                        self._read_all(table)
            return
        name = column.name
        if qualifier:
            source = _find_source(qualifier, chain)
            real = self._real(source)
            if real is not None:
                self._read(real, name)
            elif source is None:  # a struct field or an unknown qualifier: count both names
                self._read_candidates(qualifier, chain)
                self._read_candidates(name, chain)
            return
        whole_row = self._real(_find_source(name, chain))  # `SELECT u FROM users u` reads every column
        if whole_row is not None:
            self._read_all(whole_row)
        self._read_candidates(name, chain)

    def _real(self, source: exp.Table | Scope | None) -> TableRef | None:
        if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
            return None
        catalog, schema = source.catalog, source.db
        return TableRef(
            schema=None if schema in ("", _DEFAULT_SCHEMA) else schema,
            name=source.name,
            catalog=None if catalog in ("", _DEFAULT_CATALOG) else catalog,
        )

    def _real_sources(self, scope: Scope) -> list[TableRef]:
        found = (self._real(source) for _, source in scope.selected_sources.values())
        return [ref for ref in found if ref is not None]

    def _read(self, ref: TableRef, name: str) -> None:
        known = self.columns.get(ref)
        if known is None:
            names = {name}
        elif name in known:
            names = {known[name]}
        else:  # engines that fold column names (MySQL) resolve what sqlglot did not
            names = {original for normal, original in known.items() if normal.lower() == name.lower()}
        if names:
            self.result.setdefault(self.keys.get(ref, ref), set()).update(names)

    def _read_all(self, ref: TableRef) -> None:
        known = self.columns.get(ref)
        if known is None:
            raise SqlNotAllowed(f"Could not work out which columns of {ref} the query reads.")
        if known:
            self.result.setdefault(self.keys.get(ref, ref), set()).update(known.values())

    def _read_candidates(self, name: str, chain: list[Scope]) -> None:
        for scope in chain:
            for ref in self._real_sources(scope):
                known = self.columns.get(ref)  # a table with unknown columns may hold this one too
                if known is None or any(normal.lower() == name.lower() for normal in known):
                    self._read(ref, name)


def _chain(scope: Scope) -> Iterator[Scope]:
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent


def _find_source(alias: str, chain: list[Scope]) -> exp.Table | Scope | None:
    for scope in chain:
        if alias in scope.sources:
            source = scope.sources[alias]
            return source if isinstance(source, (exp.Table, Scope)) else None
    return None
