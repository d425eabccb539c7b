"""The walk over a qualified query's scopes: which source columns each output column and each filter reads."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, find_all_in_scope

# (name of a table as the qualified query names it, column name): a column read from a real table.
Leaf = tuple[str, str]
NONE: frozenset[Leaf] = frozenset()


class ScopeWalk:
    """Follows columns through CTEs, derived tables, subqueries and set operations, once per scope and column."""

    def __init__(self, root: Scope) -> None:
        self.root = root
        self._memo: dict[tuple[int, str | int], frozenset[Leaf]] = {}

    def outputs(self) -> list[tuple[str, frozenset[Leaf]]]:
        """Each output column of the query, in order, with the source columns its value is computed from."""
        expression = self.root.expression
        assert isinstance(expression, exp.Query)
        return [(name, self.output(self.root, index)) for index, name in enumerate(expression.named_selects)]

    def filters(self) -> frozenset[Leaf]:
        """Source columns that any scope's JOIN ON, WHERE, GROUP BY, HAVING, QUALIFY or DISTINCT ON reads."""
        found: set[Leaf] = set()
        for scope in self.root.traverse():
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            clauses = [select.args.get(key) for key in ("where", "having", "qualify")]
            clauses += [join.args.get("on") for join in find_all_in_scope(select, exp.Join)]
            group = select.args.get("group")
            if group is not None and group.args.get("all"):  # GROUP BY ALL: every select without an aggregate
                clauses += [s for s in select.selects if not s.find(exp.AggFunc)]
            clauses.append(group)
            distinct = select.args.get("distinct")
            clauses.append(distinct.args.get("on") if distinct is not None else None)
            for clause in clauses:
                if clause is not None:
                    found |= self.reads(scope, clause)
        return frozenset(found)

    def output(self, scope: Scope, key: str | int) -> frozenset[Leaf]:
        """Source columns of one output column of a scope, named or by position."""
        memo = (id(scope), key)
        if memo in self._memo:
            return self._memo[memo]
        self._memo[memo] = NONE  # a recursive CTE reads itself: the cycle stops here
        found = self._output(scope, key)
        self._memo[memo] = found
        return found

    def _output(self, scope: Scope, key: str | int) -> frozenset[Leaf]:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):  # each branch, by position
            if isinstance(key, str):
                names = [s.alias_or_name for s in expression.selects]
                key = names.index(key) if key in names else -1
            if key < 0:
                return NONE
            return NONE.union(*(self.output(branch, key) for branch in scope.set_operation_scopes))
        if isinstance(expression, exp.Select):
            selects = expression.selects
            if isinstance(key, int):
                return self.reads(scope, selects[key]) if key < len(selects) else NONE
            select = next((s for s in selects if s.alias_or_name == key), None)
            if select is not None:
                return self.reads(scope, select)
            if expression.is_star:  # a * the schema could not expand: the column comes from whichever source has it
                return NONE.union(*(self._source(s, key) for _, s in scope.selected_sources.values()))
            return NONE
        inner = scope.table_scopes or scope.subquery_scopes
        if isinstance(expression, exp.Subquery) and inner:  # a parenthesised query
            return self.output(inner[0], key)
        return self.reads(scope, expression)  # a table function or VALUES: whatever its arguments read

    def reads(self, scope: Scope, node: exp.Expr) -> frozenset[Leaf]:
        """Source columns an expression of a scope reads, through the subqueries inside it too."""
        found: set[Leaf] = set()
        for column in find_all_in_scope(node, exp.Column):
            if not isinstance(column.this, exp.Star):
                found |= self._column(scope, column)
        if scope.subquery_scopes:
            inner = {id(s.expression): s for s in scope.subquery_scopes}
            for query in find_all_in_scope(node, *exp.UNWRAPPED_QUERIES):
                if id(query) in inner:
                    for index in range(len(query.selects)):
                        found |= self.output(inner[id(query)], index)
        return frozenset(found)

    def _column(self, scope: Scope, column: exp.Column) -> frozenset[Leaf]:
        name = column.table
        current: Scope | None = scope
        while current is not None:  # a correlated subquery reads its outer query's sources
            if name:
                source = current.sources.get(name)
            else:  # left unqualified: the schema did not say; only a single source is certain
                selected = list(current.selected_sources.values())
                source = selected[0][1] if len(selected) == 1 else None
            if source is not None:
                return self._source(source, column.name)
            current = current.parent if name else None
        return NONE

    def _source(self, source: exp.Table | Scope, column: str) -> frozenset[Leaf]:
        if isinstance(source, Scope):
            return self.output(source, column)
        return frozenset({(source.name, column)})
