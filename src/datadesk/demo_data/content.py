"""Human documentation of the demo catalog, added on top of a sync: owners, tags, glossary and documents."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "admin@demo.datadesk.dev"
FIONA = "fiona@demo.datadesk.dev"
MARK = "mark@demo.datadesk.dev"

# Which Team sees each schema's resources; None: everyone in the workspace.
TEAM_OF_SCHEMA: dict[str, str | None] = {
    "finance": "Finance",
    "marketing": "Marketing",
    "product": "Engineering",
    "analytics": None,
}

Owner = tuple[str, str]  # ("user", email) or ("team", name)


def _finance(*people: str) -> list[Owner]:
    return [*(("user", p) for p in people), ("team", "Finance")]


def _marketing(*people: str) -> list[Owner]:
    return [*(("user", p) for p in people), ("team", "Marketing")]


def _engineering(*people: str) -> list[Owner]:
    return [*(("user", p) for p in people), ("team", "Engineering")]


OWNERS: dict[str, list[Owner]] = {
    "acme.finance.accounts": _finance(FIONA),
    "acme.finance.plans": _finance(),
    "acme.finance.subscriptions": _finance(FIONA),
    "acme.finance.invoices": _finance(FIONA),
    "acme.finance.invoice_lines": _finance(),
    "acme.finance.payments": _finance(FIONA),
    "acme.finance.refunds": _finance(),
    "acme.finance.mrr_snapshots": _finance(FIONA),
    "acme.finance.v_open_invoices": _finance(FIONA),
    "acme.marketing.campaigns": _marketing(MARK),
    "acme.marketing.ad_spend": _marketing(MARK),
    "acme.marketing.leads": _marketing(MARK),
    "acme.marketing.web_sessions": _marketing(),
    "acme.marketing.email_sends": _marketing(),
    "acme.marketing.email_events": _marketing(),
    "acme.marketing.attribution_touches": _marketing(MARK),
    "acme.product.workspaces": _engineering(),
    "acme.product.users": _engineering(ADMIN),
    "acme.product.events": _engineering(),
    "acme.product.feature_usage": _engineering(),
    "acme.product.support_tickets": _engineering(),
    "acme.product.nps_responses": _engineering(),
    "acme.product.user_profiles_legacy": _engineering(ADMIN),
    "acme.analytics.dim_customers": [("user", FIONA), ("team", "Finance")],
    "acme.analytics.fct_arr": [("user", FIONA), ("team", "Finance")],
    "acme.analytics.mrr_by_month": [("user", FIONA)],
    "acme.analytics.fct_churn": [("user", FIONA)],
    "acme.analytics.marketing_funnel": [("user", MARK), ("team", "Marketing")],
    "acme.analytics.product_engagement_daily": [("team", "Engineering")],
}

PII_COLUMNS = (
    "acme.finance.accounts.billing_email",
    "acme.finance.accounts.billing_contact_name",
    "acme.finance.accounts.billing_phone",
    "acme.finance.accounts.billing_address",
    "acme.marketing.leads.email",
    "acme.marketing.leads.full_name",
    "acme.marketing.leads.phone",
    "acme.marketing.web_sessions.ip_address",
    "acme.product.users.email",
    "acme.product.users.full_name",
    "acme.product.user_profiles_legacy.email",
    "acme.product.user_profiles_legacy.full_name",
    "acme.product.user_profiles_legacy.phone",
)
PII_TABLES = sorted({name.rsplit(".", 1)[0] for name in PII_COLUMNS})

SUBJECT_TAGS: dict[str, list[str]] = {
    "acme.finance.accounts": ["finance", "core"],
    "acme.finance.subscriptions": ["finance", "core"],
    "acme.finance.invoices": ["finance", "core"],
    "acme.finance.payments": ["finance"],
    "acme.finance.mrr_snapshots": ["finance", "core"],
    "acme.marketing.leads": ["marketing", "core"],
    "acme.marketing.attribution_touches": ["marketing"],
    "acme.product.events": ["product", "core"],
    "acme.product.user_profiles_legacy": ["deprecated"],
    "acme.analytics.dim_customers": ["finance", "gold"],
    "acme.analytics.fct_arr": ["finance", "gold", "metric"],
    "acme.analytics.mrr_by_month": ["finance", "gold", "metric"],
    "acme.analytics.fct_churn": ["finance", "gold"],
    "acme.analytics.marketing_funnel": ["marketing", "gold"],
    "acme.analytics.fct_arr.arr_usd": ["metric"],
    "acme.finance.subscriptions.mrr_usd": ["metric"],
}


def _merge(*tag_maps: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for tag_map in tag_maps:
        for name, tags in tag_map.items():
            merged[name] = list(dict.fromkeys([*merged.get(name, []), *tags]))
    return merged


# Lowercase tags by qualified table or column name.
TAGS: dict[str, list[str]] = _merge(
    {table: ["pii"] for table in PII_TABLES}, {column: ["pii"] for column in PII_COLUMNS}, SUBJECT_TAGS
)

CURATED_DESCRIPTIONS: dict[str, str] = {
    "acme.finance.invoices": (
        "Every invoice Stripe Billing issued, one row per invoice, in the invoice currency. For revenue use "
        "total_usd of paid invoices, or better analytics.fct_arr: invoices are cash, not recurring revenue "
        "(annual plans are invoiced once for twelve months). Void invoices were cancelled by us and never count. "
        "Questions: #finance-data or Fiona."
    ),
    "acme.analytics.fct_arr": (
        "The ARR we report to the board. One row per account and month, from the month-end MRR snapshots: "
        "arr_usd = 12 x the MRR of the paid subscriptions running on the last day of the month. Sum arr_usd "
        "over accounts for company ARR; filter segment for the SMB / Mid-Market / Enterprise split. "
        "Signed off by Finance every month-end close."
    ),
    "acme.marketing.leads": (
        "One row per person who filled a form (demo request, trial signup, webinar, ebook), deduplicated by "
        "email. Holds PII (email, name, phone): use analytics.marketing_funnel for counts. A lead converts when "
        "its company starts a paid subscription; converted_account_id links it to finance.accounts."
    ),
}


@dataclass(frozen=True)
class GlossaryTerm:
    name: str
    definition: str
    team: str | None  # None: visible to everyone
    links: tuple[str, ...] = ()  # qualified names of tables and columns
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    title: str
    body: str  # markdown
    team: str | None
    links: tuple[str, ...] = ()


GLOSSARY: tuple[GlossaryTerm, ...] = (
    GlossaryTerm(
        "ARR",
        "Annual recurring revenue: 12 x MRR on the last day of a month, in USD. Comes from "
        "analytics.fct_arr (built from finance.mrr_snapshots). Excludes tax, one-off charges, refunds and "
        "trials; annual plans count at 1/12 of their price per month. Company ARR is the sum of arr_usd over "
        "accounts for the last complete month; that is the figure in the board deck.",
        None,
        ("acme.analytics.fct_arr", "acme.analytics.fct_arr.arr_usd", "acme.finance.mrr_snapshots"),
        ("annual recurring revenue", "run rate"),
    ),
    GlossaryTerm(
        "MRR",
        "Monthly recurring revenue of a paid subscription: monthly list price (annual price / 12) plus extra "
        "seats, minus the negotiated discount, excluding tax, in USD. Trials have MRR 0. Reported MRR is "
        "always a month-end figure from finance.mrr_snapshots, never the live finance.subscriptions.mrr_usd.",
        None,
        ("acme.finance.mrr_snapshots.mrr_usd", "acme.finance.subscriptions.mrr_usd", "acme.analytics.mrr_by_month"),
        ("monthly recurring revenue",),
    ),
    GlossaryTerm(
        "Churn",
        "A paid subscription canceled for any reason other than a plan change (cancel_reason <> 'plan_change'), "
        "counted in the month of canceled_at. Trials that expire are not churn. Churned MRR is the mrr_usd of "
        "those subscriptions. Monthly churn rate = churned subscriptions / paid subscriptions running at the "
        "start of the month. One row per churned subscription in analytics.fct_churn.",
        None,
        (
            "acme.analytics.fct_churn",
            "acme.finance.subscriptions.canceled_at",
            "acme.finance.subscriptions.cancel_reason",
            "acme.analytics.mrr_by_month.churned_mrr_usd",
        ),
        ("churned subscription", "cancellation", "logo churn"),
    ),
    GlossaryTerm(
        "Net revenue retention",
        "MRR today of the accounts that were paying 12 months ago, divided by their MRR 12 months ago: includes "
        "expansion, contraction and churn, excludes new customers. Computed from analytics.fct_arr by account. "
        "Our target is above 105%.",
        "Finance",
        ("acme.analytics.fct_arr", "acme.analytics.mrr_by_month"),
        ("NRR", "net dollar retention", "NDR"),
    ),
    GlossaryTerm(
        "Expansion revenue",
        "MRR increase of accounts that already paid the previous month: extra seats and upgrades to a higher "
        "plan (a plan change closes the old subscription and opens a new one). Reported as "
        "mrr_by_month.expansion_mrr_usd; decreases are contraction_mrr_usd.",
        "Finance",
        ("acme.analytics.mrr_by_month.expansion_mrr_usd", "acme.analytics.mrr_by_month.contraction_mrr_usd"),
        ("expansion MRR", "upsell"),
    ),
    GlossaryTerm(
        "Paying customer",
        "An account with a subscription in status active or past_due (dim_customers.is_paying_customer). "
        "Trialing accounts are not customers yet; past_due ones still are until the subscription is canceled.",
        None,
        ("acme.analytics.dim_customers.is_paying_customer", "acme.finance.subscriptions.status"),
        ("customer", "logo"),
    ),
    GlossaryTerm(
        "Active user",
        "A product user with at least one event in product.events in the period, UTC. Daily, weekly and "
        "monthly active users use 1, 7 and 30-day windows ending on the day. Calls made with API tokens are "
        "not events; deactivated users are never active.",
        "Engineering",
        ("acme.product.events", "acme.analytics.product_engagement_daily", "acme.product.users.deactivated_at"),
        ("DAU", "WAU", "MAU"),
    ),
    GlossaryTerm(
        "DAU/MAU",
        "Stickiness: daily active users divided by monthly active users, averaged over the days of a month, from "
        "analytics.product_engagement_daily.dau_mau_ratio. Only the days from the 30th day of the 90-day events "
        "window have a complete MAU.",
        "Engineering",
        ("acme.analytics.product_engagement_daily.dau_mau_ratio",),
        ("stickiness",),
    ),
    GlossaryTerm(
        "CAC",
        "Paid media customer acquisition cost: ad spend of a month and channel divided by the customers that "
        "came from leads created that month in that channel (marketing_funnel.cac_usd). Excludes salaries, "
        "tools and event costs; the fully loaded CAC is computed by Finance for the board deck only.",
        "Marketing",
        ("acme.analytics.marketing_funnel.cac_usd", "acme.marketing.ad_spend.spend_usd"),
        ("customer acquisition cost",),
    ),
    GlossaryTerm(
        "LTV",
        "Customer lifetime value: average MRR per paying account x 80% gross margin / monthly logo churn rate, "
        "computed each quarter from analytics.mrr_by_month. We aim for LTV:CAC of at least 3.",
        "Finance",
        ("acme.analytics.mrr_by_month", "acme.analytics.fct_churn"),
        ("lifetime value", "CLV"),
    ),
    GlossaryTerm(
        "Trial conversion",
        "Share of 14-day trials that became a paid subscription: subscriptions with a trial_started_at whose "
        "started_at is set, by month of trial start. Trials still running are left out; sales-led Enterprise "
        "deals have no trial and are not counted.",
        None,
        ("acme.finance.subscriptions.trial_started_at", "acme.finance.subscriptions.started_at"),
        ("trial-to-paid", "conversion rate"),
    ),
    GlossaryTerm(
        "Qualified lead",
        "MQL: a lead whose HubSpot score reached 60 (marketing.leads.mql_at). SQL: an MQL that Sales accepted "
        "after a discovery call (sql_at). Disqualified leads keep their mql_at. Funnel counts are in "
        "analytics.marketing_funnel, by month of lead creation.",
        "Marketing",
        ("acme.marketing.leads.mql_at", "acme.marketing.leads.sql_at", "acme.analytics.marketing_funnel.mqls"),
        ("MQL", "SQL", "marketing qualified lead", "sales qualified lead"),
    ),
    GlossaryTerm(
        "Attribution weight",
        "Share of a lead credited to one marketing touch in the position-based (U-shaped) model: 40% to the "
        "first touch, 40% to the touch that created the lead, 20% split across the touches in between.",
        "Marketing",
        ("acme.marketing.attribution_touches.attribution_weight",),
        ("U-shaped attribution", "position-based attribution"),
    ),
)

REVENUE_DOC = """# How revenue is reported

Finance owns revenue numbers. Every figure shown to the board comes from the **gold** models of the
`acme_analytics` dbt project, refreshed daily at 07:00 UTC and frozen at month-end close.

## Sources of truth

- **ARR and MRR**: `analytics.fct_arr` (per account and month) and `analytics.mrr_by_month` (movements).
- **Churn**: `analytics.fct_churn`, one row per churned paid subscription.
- **Cash**: `finance.payments` minus `finance.refunds`; invoices are what we billed, not what we collected.

## Month-end close

1. The billing sync writes `finance.mrr_snapshots` on the 1st for the month that just ended.
2. dbt rebuilds the finance marts; the `unique` and `not_null` tests must pass.
3. Fiona checks `mrr_by_month` against Stripe's MRR report (tolerance 0.5%) and signs off in #finance-close.
4. The revenue dashboard is refreshed and the month is locked.

## Common mistakes

- Summing `finance.invoices.total`: it is in three currencies and includes tax. Use `total_usd`.
- Using `finance.subscriptions.mrr_usd` for history: it only holds the current value.
- Counting plan changes as churn: filter `cancel_reason <> 'plan_change'`, or use `fct_churn`.
"""

ATTRIBUTION_DOC = """# Marketing attribution model

We credit leads to marketing touches with a **position-based (U-shaped)** model.

## Rules

- Touches are web sessions and email clicks in the 45 days before the lead was created.
- The first touch gets 40%, the touch that created the lead gets 40%, the rest share 20%.
- A lead with one touch gives it 100%; with two touches, 50% each.
- Weights are stored per touch in `marketing.attribution_touches.attribution_weight` and sum to 1 per lead.

## Channels

Channels come from `marketing.campaigns.channel` through the `utm_campaign` of the landing URL: paid_search,
paid_social, email, webinar, content and events. Untagged visits are organic; known partners are referral.

## Caveats

- Email opens are inflated by Apple Mail Privacy Protection; we never attribute on opens, only clicks.
- `analytics.marketing_funnel` counts leads by channel of the creating touch (last touch), not by weight.
- CAC there is paid media only; see the CAC glossary term.
"""

ACCESS_DOC = """# Data access policy

Everyone at Acme can find every dataset in datadesk; what you can open depends on your Teams.

## Who sees what

| Schema | Team |
|---|---|
| finance | Finance |
| marketing | Marketing |
| product | Engineering |
| analytics | everyone |

## Personal data

- Columns and tables holding personal data are tagged **pii** (emails, names, phone numbers, addresses,
  IP addresses). They are never sent to external AI providers.
- Prefer the PII-free models in `analytics` (e.g. `dim_customers` instead of `finance.accounts`).
- `marketing.web_sessions.ip_address` is deleted after 13 months; `product.user_profiles_legacy` will be
  dropped once the v1 migration audit is closed.

## Running SQL

The assistant may run read-only SQL only when an admin has switched Run SQL on and you hold query access on
the warehouse integration. Ask in #data-help to be added to a Team or granted query access.
"""

EVENTS_DOC = """# Product analytics event guide

Product events are Segment track calls from the web, desktop and mobile apps, loaded into `product.events`.

## Naming

- Events are `object_action` in snake_case: `dashboard_viewed`, `query_run`, `report_shared`.
- New events need a pull request to the tracking plan, reviewed by Engineering.

## Retention

- `product.events` keeps 90 days; older events live in cold storage (ask Engineering).
- `product.feature_usage` keeps monthly aggregates per workspace and feature since 2026-05.

## Metrics

Active users, DAU/MAU and stickiness come from `analytics.product_engagement_daily`; see the glossary.
"""

DOCUMENTS: tuple[Document, ...] = (
    Document(
        "How revenue is reported",
        REVENUE_DOC,
        "Finance",
        (
            "acme.analytics.fct_arr",
            "acme.analytics.mrr_by_month",
            "acme.analytics.fct_churn",
            "acme.finance.mrr_snapshots",
            "acme.finance.invoices",
        ),
    ),
    Document(
        "Marketing attribution model",
        ATTRIBUTION_DOC,
        "Marketing",
        ("acme.marketing.attribution_touches", "acme.marketing.campaigns", "acme.analytics.marketing_funnel"),
    ),
    Document(
        "Data access policy",
        ACCESS_DOC,
        None,
        (
            "acme.finance.accounts",
            "acme.marketing.leads",
            "acme.marketing.web_sessions",
            "acme.product.users",
            "acme.product.user_profiles_legacy",
            "acme.analytics.dim_customers",
        ),
    ),
    Document(
        "Product analytics event guide",
        EVENTS_DOC,
        "Engineering",
        ("acme.product.events", "acme.product.feature_usage", "acme.analytics.product_engagement_daily"),
    ),
)
