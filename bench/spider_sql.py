"""The local assistant's SQL builder on Spider dev: how often it answers, and how often the answer is right.

For every dev question it builds the cards of that question's database from tables.json (original names,
types, primary keys, foreign keys as `references`; Spider's natural-language column names go in as the
description where they differ from the name, as a catalog's human description would), ranks the tables
by word overlap with the question, and calls `datadesk.ai.local.sql.build`. The built SQL and the gold SQL
run on the rebuilt SQLite database; results are compared as multisets of rows (as lists when the gold
query orders them), allowing the columns in another order.

    .venv/bin/python bench/spider_sql.py [--data ../shared/data] [--db concert_singer] [--show 15]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from datadesk.ai.local.sql import build


def _words(text: str) -> list[str]:
    spaced = re.sub(r"[^A-Za-z0-9]+", " ", text)
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", spaced)]


def cards_for(db: dict[str, Any]) -> list[dict[str, Any]]:
    """Catalog cards of one Spider database, as the connectors would describe it."""
    names = db["table_names_original"]
    natural = db["table_names"]
    cards: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        card: dict[str, Any] = {
            "id": f"{db['db_id']}.{name}",
            "type": "table",
            "name": name,
            "qualified_name": f"{db['db_id']}.main.{name}",
            "integration_id": db["db_id"],
            "columns": [],
        }
        if _words(natural[index]) != _words(name):
            card["description"] = natural[index]
        cards.append(card)
    originals = db["column_names_original"]
    references = {source: target for source, target in db["foreign_keys"]}
    for index, ((table, column), (_, plain), kind) in enumerate(
        zip(originals, db["column_names"], db["column_types"], strict=True)
    ):
        if table < 0:
            continue
        item: dict[str, Any] = {"name": column, "type": kind}
        if _words(plain) != _words(column):
            item["description"] = plain
        if index in db["primary_keys"]:
            item["primary_key"] = True
        if index in references:
            t_table, t_column = originals[references[index]]
            item["references"] = f"main.{names[t_table]}.{t_column}"
        cards[table]["columns"].append(item)
    return cards


def rank(question: str, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tables by how many of their name and column words the question uses; ties keep schema order."""
    asked = {w.rstrip("s") for w in _words(question)}

    def score(card: dict[str, Any]) -> tuple[int, int]:
        own = {w.rstrip("s") for w in _words(card["name"] + " " + card.get("description", ""))}
        columns = {w.rstrip("s") for c in card["columns"] for w in _words(c["name"] + " " + c.get("description", ""))}
        return (len(asked & own), len(asked & columns))

    return sorted(cards, key=score, reverse=True)


def run(connection: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    rows = connection.execute(sql).fetchall()
    return [tuple(round(v, 4) if isinstance(v, float) else v for v in row) for row in rows]


def same(gold: list[tuple[Any, ...]], built: list[tuple[Any, ...]], ordered: bool) -> bool:
    if len(gold) != len(built):
        return False
    if not gold:
        return True
    width = len(gold[0])
    if width != len(built[0]):
        return False
    for order in itertools.permutations(range(width)):
        moved = [tuple(row[i] for i in order) for row in built]
        if (moved == gold) if ordered else (Counter(moved) == Counter(gold)):
            return True
    return False


def shape(sql: str) -> str:
    text = sql.upper()
    parts = []
    if "COUNT(" in text:
        parts.append("count")
    elif re.search(r"\b(AVG|SUM|MIN|MAX)\(", text):
        parts.append("aggregate")
    else:
        parts.append("list")
    for word, label in (("JOIN", "join"), ("WHERE", "filter"), ("GROUP BY", "group"), ("ORDER BY", "order")):
        if word in text:
            parts.append(label)
    return "+".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--db", help="only this database")
    parser.add_argument("--show", type=int, default=15, help="how many wrong answers to print")
    parser.add_argument("--declined", type=int, default=0, help="how many declined questions to print")
    args = parser.parse_args()
    root = args.data / "spider_dev"
    schemas = {db["db_id"]: db for db in json.loads((root / "tables.json").read_text())}
    questions = json.loads((root / "dev.json").read_text())
    if args.db:
        questions = [q for q in questions if q["db_id"] == args.db]
    connections: dict[str, sqlite3.Connection] = {}
    answered, right, errors = 0, 0, 0
    shapes: Counter[str] = Counter()
    shapes_right: Counter[str] = Counter()
    wrong: list[str] = []
    declined: Counter[str] = Counter()
    declined_examples: list[str] = []
    for item in questions:
        db_id = item["db_id"]
        if db_id not in connections:
            path = root / "sqlite_rebuilt" / db_id / f"{db_id}.sqlite"
            connections[db_id] = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            connections[db_id].text_factory = lambda b: b.decode(errors="replace")
        cards = rank(item["question"], cards_for(schemas[db_id]))
        draft = build(item["question"], cards, "sqlite")
        if draft.sql is None:
            declined[draft.unsupported[0] if draft.unsupported else "?"] += 1
            if len(declined_examples) < args.declined:
                declined_examples.append(f"  {item['question']}\n    -> {draft.unsupported}")
            continue
        answered += 1
        kind = shape(draft.sql)
        shapes[kind] += 1
        connection = connections[db_id]
        try:
            built = run(connection, draft.sql)
        except sqlite3.Error as error:
            errors += 1
            wrong.append(f"  [{db_id}] {item['question']}\n    built: {draft.sql}\n    error: {error}")
            continue
        gold = run(connection, item["query"])
        if same(gold, built, "order by" in item["query"].lower()):
            right += 1
            shapes_right[kind] += 1
        else:
            wrong.append(f"  [{db_id}] {item['question']}\n    built: {draft.sql}\n    gold:  {item['query']}")
    total = len(questions)
    print(f"Spider dev: {total} questions")
    print(f"answered: {answered} ({answered / total:.1%})")
    if answered:
        print(f"execution accuracy on answered: {right}/{answered} ({right / answered:.1%}); errors: {errors}")
    print("per shape (right/answered):")
    for kind, count in shapes.most_common():
        print(f"  {kind:28} {shapes_right[kind]}/{count}")
    print("most common first reasons to decline:")
    for reason, count in declined.most_common(12):
        print(f"  {count:4}  {reason}")
    if wrong:
        print(f"wrong answers ({len(wrong)}; first {args.show}):")
        print("\n".join(wrong[: args.show]))
    if declined_examples:
        print("declined:")
        print("\n".join(declined_examples))


if __name__ == "__main__":
    main()
