"""The local assistant's understanding: intents across paraphrase, typos and word order; linking; writing."""

from __future__ import annotations

from typing import Any

import pytest

from datadesk.ai.local import render
from datadesk.ai.local.intents import IntentModel, model
from datadesk.ai.local.text import Speller, key
from datadesk.ai.local.understand import understand

CARDS: list[dict[str, Any]] = [
    {
        "id": "t1",
        "type": "table",
        "name": "subscriptions",
        "qualified_name": "acme.finance.subscriptions",
        "columns": [{"name": "plan_id"}, {"name": "mrr_usd"}],
    },
    {
        "id": "t2",
        "type": "table",
        "name": "invoices",
        "qualified_name": "acme.finance.invoices",
        "columns": [{"name": "status"}, {"name": "amount_due"}],
    },
    {
        "id": "t3",
        "type": "table",
        "name": "dim_customers",
        "qualified_name": "acme.analytics.dim_customers",
        "columns": [{"name": "is_paying_customer"}, {"name": "lifetime_spend"}],
    },
    {"id": "t4", "type": "table", "name": "fct_churn", "qualified_name": "acme.analytics.fct_churn"},
    {"id": "d1", "type": "dashboard", "name": "Marketing funnel", "qualified_name": "bi.Marketing funnel"},
    {"id": "t5", "type": "table", "name": "marketing_funnel", "qualified_name": "acme.analytics.marketing_funnel"},
    {"id": "g1", "type": "glossary_term", "name": "MRR", "qualified_name": "glossary.MRR"},
]

# Each intent asked in words none of the examples use verbatim: typos, filler, other word order.
PHRASINGS = [
    ("Who is responsible for the subscriptions table?", "owner", "subscriptions"),
    ("whos the ownr of invocies", "owner", "invoices"),
    ("hey, which team looks after invoices these days?", "owner", "invoices"),
    ("what does fct_churn depend on?", "lineage_up", "fct_churn"),
    ("fct_churn: where does its data come from", "lineage_up", "fct_churn"),
    ("if I drop a column from invoices, what would break?", "lineage_down", "invoices"),
    ("which dashboards use marketing_funnel?", "dashboards", "marketing_funnel"),
    ("what columns does the invoices table have?", "columns", "invoices"),
    ("list all fields of subscriptions pls", "columns", "subscriptions"),
    ("what does MRR mean?", "describe", "MRR"),
    ("what is the meaning of lifetime_spend", "describe", "lifetime_spend"),
    ("how many paying customers do we have?", "aggregate", None),
    ("number of invoices per status", "aggregate", "invoices"),
    ("how do I join invoices and subscriptions", "joins", "invoices"),
    ("where would I find churn data", "where_is", None),
    ("which tables are tagged gold", "tagged", None),
    ("which tables contain pii?", "tagged", None),
    ("what are the most popular tables", "popular", None),
    ("subscriptions vs invoices", "compare", "subscriptions"),
    ("show me some rows from invoices", "rows", "invoices"),
]


@pytest.mark.parametrize(("question", "intent", "subject"), PHRASINGS)
def test_a_question_is_understood_however_it_is_worded(question: str, intent: str, subject: str | None) -> None:
    u = understand(question, CARDS)
    assert u.intent == intent, (question, u.intent, u.score)
    if subject is not None:
        assert u.things()[0].name == subject


def test_the_classifier_works_without_the_embedding_model() -> None:
    plain = IntentModel(None)
    assert plain.classify("who owns X").intent == "owner"
    assert plain.classify("what does X depend on").intent == "lineage_up"
    assert plain.classify("how many X are there").intent == "aggregate"


def test_word_order_decides_the_direction_of_lineage() -> None:
    assert model().classify("what does X depend on").intent == "lineage_up"
    assert model().classify("what depends on X").intent == "lineage_down"


def test_an_identifier_typed_as_such_beats_a_same_named_dashboard() -> None:
    u = understand("which dashboards use marketing_funnel", CARDS)
    assert u.things()[0].card["id"] == "t5"
    u = understand("describe the Marketing funnel dashboard", CARDS)
    assert u.things()[0].card["id"] == "d1"


def test_a_column_inside_a_table_card_is_linked_with_its_table() -> None:
    [thing] = understand("what does lifetime_spend mean", CARDS).things()
    assert thing.column == {"name": "lifetime_spend"} and thing.card["id"] == "t3"


def test_nothing_is_linked_when_nothing_is_named() -> None:
    assert understand("what is the airspeed of an unladen swallow", CARDS).mentions == []


def test_spelling_is_corrected_only_towards_known_words() -> None:
    speller = Speller(["owner", "invoices", "subscriptions"])
    assert speller.sentence("whos the ownr of invocies") == ["whos", "the", "owner", "of", "invoices"]
    assert speller.correct("weather") == "weather"
    assert key("DimCustomers") == key("dim_customers") == "dim customer"


def test_display_names_say_what_and_where() -> None:
    assert render.name(CARDS[1]) == "**invoices** (table in acme.finance) [[t2]]"
    assert render.name(CARDS[6], link=False) == "the **MRR** glossary term"
    dbt = {"id": "m", "type": "table", "name": "fct_arr", "qualified_name": "model.acme_analytics.fct_arr"}
    assert render.name(dbt, link=False) == "**fct_arr** (dbt model in acme_analytics)"


@pytest.mark.parametrize("limit", [20, 57, 120, 399])
def test_text_is_never_cut_inside_a_word(limit: int) -> None:
    prose = "A lead converts when its company starts a paid subscription. " * 12
    short = render.shorten("# Title\n\n" + prose, limit)
    assert len(short) <= limit + 1 and "Title" not in short and "#" not in short
    body = short.removesuffix("…")
    assert prose.startswith(body) and prose[len(body)] == " "


def test_a_view_whose_name_states_the_count_is_counted_whole() -> None:
    from datadesk.ai.providers.local import _view_count

    view = {"id": "v", "type": "view", "name": "v_open_invoices", "qualified_name": "acme.finance.v_open_invoices"}
    draft = _view_count("how many invoices are still open?", [CARDS[1], view])
    assert draft is not None and draft.sql == 'SELECT COUNT(*) FROM "finance"."v_open_invoices"'
    assert _view_count("how many invoices are overdue and open?", [view]) is None  # "overdue" is not in its name
    assert _view_count("list the open invoices", [view]) is None  # not a count
