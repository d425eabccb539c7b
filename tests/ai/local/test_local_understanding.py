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
    from datadesk.ai.local.querying import view_count

    view = {"id": "v", "type": "view", "name": "v_open_invoices", "qualified_name": "acme.finance.v_open_invoices"}
    draft = view_count("how many invoices are still open?", [CARDS[1], view])
    assert draft is not None and draft.sql == 'SELECT COUNT(*) FROM "finance"."v_open_invoices"'
    assert view_count("how many invoices are overdue and open?", [view]) is None  # "overdue" is not in its name
    assert view_count("list the open invoices", [view]) is None  # not a count


# --- places, aliases, spans and handlers (cards of a made-up harbour business) ----------------------

HARBOUR: list[dict[str, Any]] = [
    {"id": "h1", "type": "table", "name": "berths", "qualified_name": "harbour_ops.main.berths", "columns": []},
    {"id": "h2", "type": "table", "name": "berths", "qualified_name": "fleetdb.public.berths", "columns": []},
    {"id": "h3", "type": "table", "name": "ship", "qualified_name": "harbour_ops.main.ship"},
    {"id": "h4", "type": "table", "name": "cabins", "qualified_name": "harbour_ops.main.cabins"},
    {
        "id": "h5",
        "type": "table",
        "name": "revenue_moves",
        "qualified_name": "harbour_ops.main.revenue_moves",
        "columns": [{"name": "upgrade_fee_usd"}, {"name": "downgrade_fee_usd"}, {"name": "tonnage"}],
    },
    {"id": "h6", "type": "glossary_term", "name": "FEE", "qualified_name": "glossary.FEE", "definition": "A charge."},
    {
        "id": "h7",
        "type": "glossary_term",
        "name": "Dock yield",
        "qualified_name": "glossary.Dock yield",
        "definition": "Berth turnover: ships served per berth and day. DY: the same, as people say it.",
    },
    {"id": "h8", "type": "table", "name": "Owners", "qualified_name": "harbour_ops.main.Owners"},
    {
        "id": "h9",
        "type": "glossary_term",
        "name": "Gross tonnage rate",
        "qualified_name": "glossary.Gross tonnage rate",
    },
]


def test_a_named_source_is_taken_out_and_preferred() -> None:
    u = understand("how many berths are in the fleetdb database?", HARBOUR)
    assert u.sources == ["fleetdb"] and "fleetdb" not in u.tokens
    assert u.data_question == "how many berths are ?" and u.things()[0].card["id"] == "h2"
    modifier = understand("show some rows of the harbour berths table", HARBOUR)  # first word alone, as a modifier
    assert modifier.sources == ["harbour_ops"] and modifier.data_question == "show some rows of the berths table"
    assert modifier.things()[0].card["id"] == "h1"


def test_a_glossary_term_is_found_by_the_names_its_definition_gives_it() -> None:
    assert understand("what is berth turnover", HARBOUR).things()[0].name == "Dock yield"
    assert understand("explain DY please", HARBOUR).things()[0].name == "Dock yield"
    assert understand("what's GTR", HARBOUR).things()[0].name == "Gross tonnage rate"  # a term's initials


def test_a_short_real_word_is_not_spelled_into_a_shorter_catalog_word() -> None:
    assert Speller(["net", "invoices"]).correct("next") == "next"


def test_the_kind_word_after_a_name_picks_the_thing_and_not_the_intent() -> None:
    cards = [*HARBOUR, {"id": "d9", "type": "dashboard", "name": "Berth board", "qualified_name": "bi.Berth board"}]
    u = understand("who looks after the berth board dashboard", cards)
    assert u.intent == "owner" and u.things()[0].card["id"] == "d9"
    assert understand("who owns the tonnage table", HARBOUR).mentions == []  # only a column is called tonnage


def test_a_name_that_is_also_the_ask_does_not_hide_the_ask() -> None:
    u = understand("who is the owner of the cabins table", HARBOUR)  # Owners is a table too
    assert u.intent == "owner" and u.things()[0].name == "cabins"


def test_a_longer_name_matched_word_for_word_beats_a_shorter_one_inside_it() -> None:
    [thing] = understand("what is the upgrade fee", HARBOUR).things()
    assert thing.name == "upgrade_fee_usd"


def test_a_bare_word_shares_the_words_after_vs() -> None:
    u = understand("upgrade vs downgrade fee", HARBOUR)
    assert u.intent == "compare" and [t.name for t in u.things()] == ["upgrade_fee_usd", "downgrade_fee_usd"]


def test_the_head_of_a_noun_phrase_is_its_last_name() -> None:
    head = understand("show me the ship cabins", HARBOUR).head("table", "view")
    assert head is not None and head.name == "cabins"


def test_a_question_mostly_about_unknown_things_is_stray() -> None:
    assert understand("what is the tonnage of the Titanic wreck", HARBOUR).stray(HARBOUR)
    assert not understand("what is the tonnage of revenue_moves", HARBOUR).stray(HARBOUR)


def test_where_is_ranks_names_then_columns_then_prose() -> None:
    from datadesk.ai.local.ranking import places

    cards = [
        {"id": "a", "type": "table", "name": "ledger", "description": "Money per cabin."},
        {"id": "b", "type": "table", "name": "ship_cabins"},
        {"id": "c", "type": "table", "name": "crew", "columns": [{"name": "cabin_no"}]},
        {"id": "d", "type": "table", "name": "weather"},
    ]
    assert [c["id"] for c in places(cards, ["cabins", "ship"], set())] == ["b", "c", "a"]
