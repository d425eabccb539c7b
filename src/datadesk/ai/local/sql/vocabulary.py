"""The words the SQL builder knows: keywords and their meanings, filler, and a crude singular."""

from __future__ import annotations

import re

FILLER = frozenset(
    "the a an all are is was were be been being do does did we you i have there that those these their its it "
    "me please of for to any every in total listed exist exists existing recorded stored currently overall "
    "database our my us either currently respectively together also both known kept registered data table tables "
    "record records row rows entries entry across out still corresponding respective".split()
)
# Words that may be left over without changing what is asked.
HARMLESS = frozenset(
    "what which show list give find return display tell get who how much many is there here "
    "information info details".split()
)

KEYWORDS: dict[str, str] = {
    "how many rows are in": "count",
    "how many rows in": "count",
    "how many records are in": "count",
    "how many records in": "count",
    "number of rows in": "count",
    "how many": "count",
    "number of": "count",
    "count of": "count",
    "count": "count",
    "total number of": "count",
    "total count of": "count",
    "average": "agg:avg",
    "mean": "agg:avg",
    "avg": "agg:avg",
    "total": "agg:sum",
    "sum of": "agg:sum",
    "sum": "agg:sum",
    "combined": "agg:sum",
    "maximum": "agg:max",
    "max": "agg:max",
    "highest": "agg:max",
    "largest": "agg:max",
    "biggest": "agg:max",
    "greatest": "agg:max",
    "maximal": "agg:max",
    "minimum": "agg:min",
    "min": "agg:min",
    "lowest": "agg:min",
    "smallest": "agg:min",
    "minimal": "agg:min",
    "oldest": "sup:age:max",
    "youngest": "sup:age:min",
    "heaviest": "sup:weight:max",
    "lightest": "sup:weight:min",
    "tallest": "sup:height:max",
    "different": "distinct",
    "distinct": "distinct",
    "unique": "distinct",
    "more than": "op:>",
    "greater than": "op:>",
    "larger than": "op:>",
    "bigger than": "op:>",
    "higher than": "op:>",
    "over": "op:>",
    "above": "op:>",
    "exceeding": "op:>",
    "older than": "op:>:age",
    "younger than": "op:<:age",
    "heavier than": "op:>:weight",
    "lighter than": "op:<:weight",
    "taller than": "op:>:height",
    "less than": "op:<",
    "fewer than": "op:<",
    "smaller than": "op:<",
    "lower than": "op:<",
    "below": "op:<",
    "under": "op:<",
    "at least": "op:>=",
    "no less than": "op:>=",
    "not less than": "op:>=",
    "at most": "op:<=",
    "no more than": "op:<=",
    "not more than": "op:<=",
    "between": "between",
    "or more": "post:>=",
    "or greater": "post:>=",
    "or above": "post:>=",
    "or fewer": "post:<=",
    "or less": "post:<=",
    "or below": "post:<=",
    "equal to": "op:=",
    "equals": "op:=",
    "exactly": "op:=",
    "not": "not",
    "other than": "not",
    "without": "without",
    "with no": "without",
    "have no": "without",
    "has no": "without",
    "had no": "without",
    "that have no": "without",
    "who have no": "without",
    "which have no": "without",
    "that has no": "without",
    "who has no": "without",
    "with": "with",
    "use": "with",
    "uses": "with",
    "using": "with",
    "that use": "with",
    "which use": "with",
    "who use": "with",
    "whose": "with",
    "where": "with",
    "has": "with",
    "have": "with",
    "having": "with",
    "had": "with",
    "that had": "with",
    "who had": "with",
    "which had": "with",
    "that have": "with",
    "that has": "with",
    "who have": "with",
    "who has": "with",
    "which have": "with",
    "which has": "with",
    "from": "from",
    "in": "in",
    "during": "in",
    "named": "named",
    "called": "named",
    "before": "before",
    "prior to": "before",
    "earlier than": "before",
    "after": "after",
    "later than": "after",
    "since": "since",
    "last month": "rel:last_month",
    "this month": "rel:this_month",
    "last year": "rel:last_year",
    "this year": "rel:this_year",
    "last quarter": "rel:last_quarter",
    "this quarter": "rel:this_quarter",
    "last week": "rel:last_week",
    "this week": "rel:this_week",
    "today": "rel:today",
    "yesterday": "rel:yesterday",
    "for each": "group",
    "for every": "group",
    "in each": "group",
    "from each": "group",
    "of each": "group",
    "per": "group",
    "each": "group",
    "grouped by": "group",
    "by": "by",
    "ordered by": "order",
    "order by": "order",
    "sorted by": "order",
    "sort by": "order",
    "ranked by": "order",
    "in order of": "order",
    "descending": "dir:desc",
    "in descending order": "dir:desc",
    "in descending order of": "order:desc",
    "in descending order by": "order:desc",
    "decreasing": "dir:desc",
    "in decreasing order": "dir:desc",
    "desc": "dir:desc",
    "from highest to lowest": "dir:desc",
    "from largest to smallest": "dir:desc",
    "from most to least": "dir:desc",
    "ascending": "dir:asc",
    "in ascending order": "dir:asc",
    "in ascending order of": "order:asc",
    "in ascending order by": "order:asc",
    "increasing": "dir:asc",
    "in increasing order": "dir:asc",
    "asc": "dir:asc",
    "from lowest to highest": "dir:asc",
    "from smallest to largest": "dir:asc",
    "from least to most": "dir:asc",
    "from oldest to youngest": "dir:old",
    "from youngest to oldest": "dir:young",
    "in alphabetical order": "dir:alpha",
    "alphabetically": "dir:alpha",
    "in alphabetical order of": "order:alpha",
    "in lexicographical order": "dir:alpha",
    "in reverse alphabetical order": "dir:ralpha",
    "in reversed alphabetical order": "dir:ralpha",
    "in reverse lexicographical order": "dir:ralpha",
    "in reversed lexicographical order": "dir:ralpha",
    "top": "top",
    "most": "most",
    "the most": "most",
    "most number of": "most",
    "the largest number of": "most",
    "the highest number of": "most",
    "greatest number of": "most",
    "the greatest number of": "most",
    "largest number of": "most",
    "highest number of": "most",
    "the most number of": "most",
    "fewest": "fewest",
    "fewest number of": "fewest",
    "the least number of": "fewest",
    "smallest number of": "fewest",
    "lowest number of": "fewest",
    "least": "fewest",
    "least number of": "fewest",
    "the smallest number of": "fewest",
    "the lowest number of": "fewest",
    "most common": "common",
    "most frequent": "common",
    "most popular": "common",
    "least common": "rare",
    "the most common": "common",
    "the most frequent": "common",
    "the most popular": "common",
    "the least common": "rare",
    "least frequent": "rare",
    "and": "and",
    "or": "or",
    "what": "open",
    "which": "open",
    "show": "open",
    "list": "open",
    "give": "open",
    "find": "open",
    "return": "open",
    "display": "open",
    "tell": "open",
    "get": "open",
    "who": "open",
    "do we have": "fill",
    "we have": "fill",
    "do you have": "fill",
    "are there": "fill",
    "is there": "fill",
    "there are": "fill",
    "there is": "fill",
    "in total": "fill",
    "in the database": "fill",
    "sort": "fill:order",
    "sorted": "fill:order",
    "ordered": "fill:order",
    "amount of": "fill:amount",
    "all information": "star",
    "all the information": "star",
    "all information about": "star",
    "all the information about": "star",
    "all details": "star",
    "all the details": "star",
    "all details about": "star",
    "all the details about": "star",
}
# First words of keywords: a shorter name of a column may not start like one ("number" of flight_no).
KEYWORD_STARTS = frozenset(k.split()[0] for k in KEYWORDS)
# Past participles that only say "happened at that time": "cars produced in 1980".
TIME_VERBS = frozenset(
    "made produced built released born founded created established published opened launched issued held "
    "happened occurred placed started joined hired signed registered played".split()
)
LOCATION_WORDS = frozenset(
    "country nationality citizenship continent region city state location hometown town place origin nation "
    "county province".split()
)
NUMERIC = re.compile(r"int|num|dec|real|float|double|money|serial|number|bigint|smallint", re.I)
TEMPORAL = re.compile(r"date|time", re.I)
BOOLEAN = re.compile(r"bool|bit\b", re.I)
VIEW_PREFIXES = ("v", "vw", "view", "dim", "fct", "fact", "stg", "mart", "rpt")
GENERIC_SUFFIXES = ("data", "list", "info", "details", "records", "table")
IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "data": "data", "ids": "id"}


def stem_word(word: str) -> str:
    """A crude singular: enough to match "singers" to singer and "countries" to country."""
    w = word.lower()
    if w in IRREGULAR:
        return IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes", "uses")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def name_words(name: str) -> list[str]:
    """Words of an identifier: snake_case, camelCase and digits apart."""
    spaced = re.sub(r"[^A-Za-z0-9]+", " ", name)
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", spaced)]
