"""Acme Analytics' raw warehouse as data: schemas, tables (columns, keys, comments) and views."""

from __future__ import annotations

from dataclasses import dataclass

CATALOG = "acme"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""
    is_pk: bool = False


@dataclass(frozen=True)
class ForeignKey:
    """DuckDB only allows keys within one schema; cross-schema references are documented in comments."""

    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    comment: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()

    @property
    def qualified(self) -> str:
        """schema.name"""
        return f"{self.schema}.{self.name}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Names of the primary key columns, in order."""
        return tuple(c.name for c in self.columns if c.is_pk)


@dataclass(frozen=True)
class View:
    schema: str
    name: str
    comment: str
    sql: str


def fk(column: str, table: str, ref_column: str | None = None) -> ForeignKey:
    """A single-column foreign key (the referenced column defaults to the same name)."""
    return ForeignKey((column,), table, (ref_column or column,))


C = Column
ID = "INTEGER"
TS = "TIMESTAMP"
MONEY = "DECIMAL(12,2)"
TEXT = "VARCHAR"

FINANCE = (
    Table(
        "finance",
        "plans",
        "Price plans offered to customers, one row per tier and billing interval. Maintained "
        "by RevOps in the billing system; synced nightly.",
        (
            C("plan_id", ID, "Surrogate key of the price plan.", True),
            C("plan_code", TEXT, "Stable code used by the billing system, e.g. growth_annual."),
            C("plan_name", TEXT, "Customer-facing tier: Starter, Growth or Enterprise. Pro is a legacy tier."),
            C("billing_interval", TEXT, "month or year. Annual plans are invoiced up front for twelve months."),
            C("list_price_usd", MONEY, "List price per billing interval in USD, before discounts and tax."),
            C("seats_included", ID, "Seats included in the list price."),
            C("extra_seat_price_usd", MONEY, "Monthly price per seat above seats_included."),
            C("is_active", "BOOLEAN", "False for plans closed to new customers; existing subscriptions keep them."),
            C("launched_on", "DATE", "Date the plan became available for sale."),
        ),
    ),
    Table(
        "finance",
        "accounts",
        "One row per customer company (billing account), trialing or paying. Source of "
        "truth for who we bill; synced from Stripe Billing every hour.",
        (
            C("account_id", ID, "Surrogate key of the billing account.", True),
            C("company_name", TEXT, "Legal company name as entered at checkout or on the order form."),
            C(
                "domain",
                TEXT,
                "Primary email domain of the company; used to match leads and product users to accounts.",
            ),
            C("industry", TEXT, "Industry picked by Sales, free of a fixed taxonomy; may be null for self-serve."),
            C(
                "segment",
                TEXT,
                "Sales segment from employee count: SMB (<100), Mid-Market (100-999), Enterprise (1000+).",
            ),
            C("employee_count", ID, "Employee count from enrichment at signup."),
            C("country_code", TEXT, "ISO 3166-1 alpha-2 country of the billing address."),
            C("billing_currency", TEXT, "ISO 4217 currency invoices are issued in: USD, EUR or GBP."),
            C("billing_email", TEXT, "Where invoices are sent; often a named person. PII."),
            C("billing_contact_name", TEXT, "Full name of the billing contact. PII."),
            C("billing_phone", TEXT, "Phone number of the billing contact. PII."),
            C("billing_address", TEXT, "Street address printed on invoices. PII."),
            C("created_at", TS, "When the account was created (self-serve signup or signed order form), UTC."),
        ),
    ),
    Table(
        "finance",
        "subscriptions",
        "One row per subscription of an account to a plan. A plan change closes the "
        "subscription (cancel_reason = plan_change) and opens a new one.",
        (
            C("subscription_id", ID, "Surrogate key of the subscription.", True),
            C("account_id", ID, "Account that owns the subscription."),
            C("plan_id", ID, "Plan subscribed to."),
            C(
                "status",
                TEXT,
                "trialing, active, past_due, canceled (a paid subscription that ended) or expired "
                "(a trial that ended without converting).",
            ),
            C("seats", ID, "Seats currently purchased."),
            C("discount_pct", "DECIMAL(5,2)", "Negotiated discount off list price, in percent (0-30)."),
            C(
                "mrr_usd",
                MONEY,
                "Monthly recurring revenue in USD: annual plans divided by 12, after discount, excluding "
                "tax. 0 while trialing; keeps its last value once canceled.",
            ),
            C("trial_started_at", TS, "Start of the free trial; null for sales-led contracts and plan changes."),
            C("trial_ends_at", TS, "End of the free trial (14 days after it started)."),
            C("started_at", TS, "When the paid subscription started; null for trials that never converted."),
            C("canceled_at", TS, "When the paid subscription ended; null while it runs."),
            C(
                "cancel_reason",
                TEXT,
                "Picked at cancellation: too_expensive, missing_features, switched_competitor, "
                "company_closed, not_using, or plan_change (moved to another plan, not churn).",
            ),
        ),
        (fk("account_id", "accounts"), fk("plan_id", "plans")),
    ),
    Table(
        "finance",
        "invoices",
        "Invoices issued by Stripe Billing, one row per invoice. Amounts are in the "
        "invoice currency; use total_usd for reporting.",
        (
            C("invoice_id", ID, "Surrogate key of the invoice.", True),
            C("invoice_number", TEXT, "Number printed on the invoice, e.g. INV-2025-004211. Unique."),
            C("account_id", ID, "Billed account."),
            C("subscription_id", ID, "Subscription the invoice bills."),
            C("issued_at", TS, "When the invoice was finalized and sent, UTC."),
            C("due_on", "DATE", "Payment due date: 14 days after issue for card customers, 30 for invoiced ones."),
            C("period_start", "DATE", "First day of the service period billed."),
            C("period_end", "DATE", "Last day of the service period billed."),
            C("status", TEXT, "open (awaiting payment), paid, void (cancelled by us) or uncollectible (written off)."),
            C("currency", TEXT, "ISO 4217 currency of the amounts below."),
            C("subtotal", MONEY, "Sum of invoice lines before tax, invoice currency."),
            C("tax", MONEY, "VAT or sales tax, invoice currency."),
            C("total", MONEY, "subtotal + tax, invoice currency."),
            C(
                "total_usd",
                MONEY,
                "total converted to USD at the month's finance rate. Use this for revenue reporting.",
            ),
        ),
        (fk("account_id", "accounts"), fk("subscription_id", "subscriptions")),
    ),
    Table(
        "finance",
        "invoice_lines",
        "Line items of invoices: the plan, extra seats and discounts.",
        (
            C("invoice_line_id", ID, "Surrogate key of the line.", True),
            C("invoice_id", ID, "Invoice the line belongs to."),
            C("line_type", TEXT, "plan, extra_seats or discount (negative amount)."),
            C("description", TEXT, "Text printed on the invoice."),
            C("quantity", ID, "Units billed: 1 for the plan, number of seats for extra_seats."),
            C("unit_amount", MONEY, "Price per unit, invoice currency."),
            C("amount", MONEY, "quantity * unit_amount, invoice currency, before tax."),
        ),
        (fk("invoice_id", "invoices"),),
    ),
    Table(
        "finance",
        "payments",
        "Payment attempts against invoices, including failed card charges. One paid "
        "invoice has exactly one succeeded payment.",
        (
            C("payment_id", ID, "Surrogate key of the payment attempt.", True),
            C("invoice_id", ID, "Invoice being paid."),
            C("account_id", ID, "Paying account (denormalized from the invoice)."),
            C("attempted_at", TS, "When the charge was attempted or the transfer received, UTC."),
            C("amount", MONEY, "Amount charged, invoice currency."),
            C("currency", TEXT, "ISO 4217 currency of amount."),
            C("method", TEXT, "card, sepa_debit, ach or wire."),
            C("status", TEXT, "succeeded or failed."),
            C("failure_code", TEXT, "Processor decline code for failed attempts, e.g. card_declined."),
            C("processor_charge_id", TEXT, "Stripe charge id (ch_...), for reconciliation."),
        ),
        (fk("invoice_id", "invoices"), fk("account_id", "accounts")),
    ),
    Table(
        "finance",
        "refunds",
        "Refunds issued on succeeded payments, full or partial.",
        (
            C("refund_id", ID, "Surrogate key of the refund.", True),
            C("payment_id", ID, "Refunded payment."),
            C("refunded_at", TS, "When the refund was issued, UTC."),
            C("amount", MONEY, "Refunded amount, payment currency; at most the payment amount."),
            C("currency", TEXT, "ISO 4217 currency of amount."),
            C("reason", TEXT, "duplicate, requested_by_customer or service_issue."),
        ),
        (fk("payment_id", "payments"),),
    ),
    Table(
        "finance",
        "mrr_snapshots",
        "Month-end snapshot of every paid subscription running at the end of the "
        "month, written by the billing sync on the 1st. Basis of MRR and ARR reporting.",
        (
            C("snapshot_month", "DATE", "First day of the month the snapshot describes (taken at its last day).", True),
            C("subscription_id", ID, "Subscription running at month end.", True),
            C("account_id", ID, "Account of the subscription."),
            C("plan_id", ID, "Plan at month end."),
            C("seats", ID, "Seats at month end."),
            C("mrr_usd", MONEY, "MRR of the subscription at month end, USD."),
        ),
        (fk("subscription_id", "subscriptions"), fk("account_id", "accounts"), fk("plan_id", "plans")),
    ),
)

MARKETING = (
    Table(
        "marketing",
        "campaigns",
        "Marketing campaigns across channels, one row per campaign. Maintained by Marketing Ops in HubSpot.",
        (
            C("campaign_id", ID, "Surrogate key of the campaign.", True),
            C("campaign_name", TEXT, "Name as shown in HubSpot, e.g. 2025-Q3 Paid Search - Brand."),
            C("channel", TEXT, "paid_search, paid_social, email, webinar, content or events."),
            C(
                "utm_campaign",
                TEXT,
                "utm_campaign value used in the campaign's links; joins web_sessions.utm_campaign.",
            ),
            C("start_date", "DATE", "First day the campaign ran."),
            C("end_date", "DATE", "Last day the campaign ran; null while it runs."),
            C("budget_usd", MONEY, "Approved budget for the whole campaign, USD."),
        ),
    ),
    Table(
        "marketing",
        "ad_spend",
        "Daily spend per paid campaign and ad platform, loaded from the Google Ads and LinkedIn Ads APIs by Fivetran.",
        (
            C("spend_date", "DATE", "Day of the spend, in the ad account's time zone.", True),
            C("campaign_id", ID, "Campaign the spend belongs to.", True),
            C("platform", TEXT, "google_ads, linkedin_ads or meta_ads."),
            C("impressions", "BIGINT", "Ad impressions served that day."),
            C("clicks", ID, "Ad clicks that day."),
            C("spend_usd", MONEY, "Spend that day in USD, as billed by the platform."),
        ),
        (fk("campaign_id", "campaigns"),),
    ),
    Table(
        "marketing",
        "leads",
        "People who raised their hand: demo requests, content downloads, event signups. "
        "One row per person (deduplicated by email). Contains PII.",
        (
            C("lead_id", ID, "Surrogate key of the lead.", True),
            C("email", TEXT, "Work email given in the form. PII."),
            C("full_name", TEXT, "First and last name. PII."),
            C("phone", TEXT, "Phone number, when given. PII."),
            C("company_name", TEXT, "Company as typed in the form (not normalized)."),
            C("job_title", TEXT, "Job title as typed in the form."),
            C("country_code", TEXT, "ISO 3166-1 alpha-2 country from IP geolocation or the form."),
            C("lead_source", TEXT, "paid_search, paid_social, email, webinar, content, events, organic or referral."),
            C("campaign_id", ID, "Campaign credited with creating the lead (last touch); null for organic."),
            C("created_at", TS, "When the lead was created, UTC."),
            C("status", TEXT, "new, mql, sql, converted or disqualified."),
            C("mql_at", TS, "When the lead became a marketing qualified lead (score >= 60)."),
            C("sql_at", TS, "When Sales accepted the lead (sales qualified lead)."),
            C("converted_at", TS, "When the lead's company started a paid subscription."),
            C("converted_account_id", ID, "finance.accounts.account_id of the customer the lead became."),
        ),
        (fk("campaign_id", "campaigns"),),
    ),
    Table(
        "marketing",
        "web_sessions",
        "Sessions on acme.example.com and the docs site from Segment page events, "
        "sessionized with a 30-minute inactivity window.",
        (
            C("session_id", TEXT, "Session key (hash of anonymous_id and start time).", True),
            C("anonymous_id", TEXT, "Segment anonymous id of the browser."),
            C("user_id", ID, "product.users.user_id once the visitor is logged in; null otherwise."),
            C("lead_id", ID, "Lead identified in the session (form fill or email click); null otherwise."),
            C("started_at", TS, "First page view of the session, UTC."),
            C("duration_seconds", ID, "Seconds between the first and last event of the session."),
            C("pageviews", ID, "Pages viewed in the session."),
            C("landing_page", TEXT, "Path of the first page viewed, e.g. /pricing."),
            C("referrer_domain", TEXT, "Domain of the referrer; null for direct traffic."),
            C("utm_source", TEXT, "utm_source of the landing URL."),
            C("utm_medium", TEXT, "utm_medium of the landing URL, e.g. cpc, email, social."),
            C("utm_campaign", TEXT, "utm_campaign of the landing URL; see campaigns.utm_campaign."),
            C("device_type", TEXT, "desktop, mobile or tablet."),
            C("country_code", TEXT, "ISO 3166-1 alpha-2 country from IP geolocation."),
            C("ip_address", TEXT, "Visitor IP address, kept 13 months for fraud analysis. PII."),
        ),
    ),
    Table(
        "marketing",
        "email_sends",
        "Marketing emails sent to leads, one row per recipient and send.",
        (
            C("send_id", ID, "Surrogate key of the send.", True),
            C("campaign_id", ID, "Email campaign."),
            C("lead_id", ID, "Recipient lead."),
            C("sent_at", TS, "When the email was handed to the ESP, UTC."),
            C("template_name", TEXT, "HubSpot template used."),
            C("subject_line", TEXT, "Subject line of the variant received."),
        ),
        (fk("campaign_id", "campaigns"), fk("lead_id", "leads")),
    ),
    Table(
        "marketing",
        "email_events",
        "Engagement events on marketing emails from HubSpot webhooks.",
        (
            C("email_event_id", ID, "Surrogate key of the event.", True),
            C("send_id", ID, "Email the event is about."),
            C("event_type", TEXT, "delivered, open, click, bounce or unsubscribe. Opens are inflated by Apple MPP."),
            C("occurred_at", TS, "When the event happened, UTC."),
            C("link_url", TEXT, "Clicked URL for click events; null otherwise."),
        ),
        (fk("send_id", "email_sends"),),
    ),
    Table(
        "marketing",
        "attribution_touches",
        "Marketing touches before a lead was created, with their weight in "
        "the position-based (U-shaped) attribution model. Weights of one lead sum to 1.",
        (
            C("touch_id", ID, "Surrogate key of the touch.", True),
            C("lead_id", ID, "Lead the touch is attributed to."),
            C("campaign_id", ID, "Campaign of the touch; null for organic and direct touches."),
            C("session_id", TEXT, "web_sessions.session_id of the touch, when it was a site visit."),
            C("touched_at", TS, "When the touch happened, UTC."),
            C("channel", TEXT, "Channel of the touch, as campaigns.channel plus organic and direct."),
            C("touch_position", TEXT, "first, middle or lead_creation."),
            C(
                "attribution_weight",
                "DECIMAL(6,4)",
                "Share of the lead credited to this touch: 40% first, 40% "
                "lead_creation, 20% split across middle touches.",
            ),
        ),
        (fk("lead_id", "leads"), fk("campaign_id", "campaigns")),
    ),
)

PRODUCT = (
    Table(
        "product",
        "workspaces",
        "Workspaces in the Acme app. Each belongs to one billing account; large customers may have several.",
        (
            C("workspace_id", ID, "Surrogate key of the workspace.", True),
            C("account_id", ID, "finance.accounts.account_id paying for the workspace."),
            C("workspace_name", TEXT, "Display name chosen by the customer."),
            C("slug", TEXT, "URL slug, unique: <slug>.acme.example.com."),
            C("region", TEXT, "Hosting region: us-east-1 or eu-west-1 (EU data residency)."),
            C("created_at", TS, "When the workspace was created, UTC."),
            C("deleted_at", TS, "When the workspace was deleted (30 days after the subscription ended); null if live."),
        ),
    ),
    Table(
        "product",
        "users",
        "People with a login to a workspace. Contains PII.",
        (
            C("user_id", ID, "Surrogate key of the user.", True),
            C("workspace_id", ID, "Workspace the user belongs to."),
            C("email", TEXT, "Login email. PII."),
            C("full_name", TEXT, "Display name. PII."),
            C("role", TEXT, "owner, admin, member or viewer in the workspace."),
            C("created_at", TS, "When the user accepted the invitation or signed up, UTC."),
            C("last_seen_at", TS, "Last authenticated request, UTC."),
            C("deactivated_at", TS, "When an admin removed the user; null while active."),
        ),
        (fk("workspace_id", "workspaces"),),
    ),
    Table(
        "product",
        "events",
        "Product analytics events from the web, desktop and mobile apps (Segment track "
        "calls). Only the last 90 days are kept here; older events are in cold storage.",
        (
            C("event_id", "BIGINT", "Surrogate key of the event.", True),
            C("user_id", ID, "User who triggered the event."),
            C("workspace_id", ID, "Workspace the event happened in."),
            C("event_name", TEXT, "Tracked action, snake_case, e.g. dashboard_viewed, query_run."),
            C("occurred_at", TS, "Client timestamp corrected for clock skew, UTC."),
            C("platform", TEXT, "web, desktop or mobile."),
            C("app_version", TEXT, "Semantic version of the client."),
        ),
        (fk("user_id", "users"), fk("workspace_id", "workspaces")),
    ),
    Table(
        "product",
        "feature_usage",
        "Monthly usage of each feature per workspace, aggregated from events before they expire.",
        (
            C("usage_month", "DATE", "First day of the month.", True),
            C("workspace_id", ID, "Workspace.", True),
            C("feature", TEXT, "dashboards, sql_editor, alerts, sharing, exports or integrations.", True),
            C("usage_count", ID, "Number of feature events in the month."),
            C("active_users", ID, "Distinct users who used the feature in the month."),
        ),
        (fk("workspace_id", "workspaces"),),
    ),
    Table(
        "product",
        "support_tickets",
        "Support tickets from Zendesk, one row per ticket.",
        (
            C("ticket_id", ID, "Zendesk ticket id.", True),
            C("workspace_id", ID, "Workspace of the requester."),
            C("requester_user_id", ID, "User who opened the ticket."),
            C("created_at", TS, "When the ticket was opened, UTC."),
            C("first_response_at", TS, "First public reply by an agent; the SLA clock stops here."),
            C("resolved_at", TS, "When the ticket was solved; null while open."),
            C("priority", TEXT, "low, normal, high or urgent."),
            C("category", TEXT, "billing, bug, how_to, feature_request or account_access."),
            C("status", TEXT, "open, pending or solved."),
            C("subject", TEXT, "Ticket subject as written by the requester."),
            C("csat_score", ID, "Satisfaction rating 1-5 after resolution; null if not answered."),
        ),
        (fk("workspace_id", "workspaces"), fk("requester_user_id", "users", "user_id")),
    ),
    Table(
        "product",
        "nps_responses",
        "Answers to the in-app NPS survey, shown to each user at most twice a year.",
        (
            C("response_id", ID, "Surrogate key of the answer.", True),
            C("user_id", ID, "User who answered."),
            C("submitted_at", TS, "When the answer was submitted, UTC."),
            C("score", ID, "0-10. Promoters 9-10, passives 7-8, detractors 0-6."),
            C("comment", TEXT, "Optional free-text answer; may mention people or companies."),
            C("survey_wave", TEXT, "Survey wave, e.g. 2026-H1."),
        ),
        (fk("user_id", "users"),),
    ),
    Table(
        "product",
        "user_profiles_legacy",
        "DEPRECATED: profile table of the v1 app, frozen at the 2025-03 "
        "migration. Use product.users. Scheduled for deletion.",
        (
            C("profile_id", ID, "Key of the v1 profile.", True),
            C("user_id", ID, "product.users.user_id of the migrated user, when matched."),
            C("email", TEXT, "Email at migration time. PII."),
            C("full_name", TEXT, "Name at migration time. PII."),
            C("phone", TEXT, "Phone from the v1 profile form. PII."),
            C("job_title", TEXT),
            C("migrated_at", TS, "When the profile was copied to product.users."),
        ),
    ),
)

TABLES: tuple[Table, ...] = FINANCE + MARKETING + PRODUCT

VIEWS: tuple[View, ...] = (
    View(
        "finance",
        "v_active_subscriptions",
        "Paid subscriptions running now, with plan and account.",
        """
SELECT s.subscription_id, s.account_id, a.company_name, a.segment, p.plan_name, p.billing_interval,
       s.seats, s.mrr_usd, s.started_at
FROM finance.subscriptions s
JOIN finance.accounts a USING (account_id)
JOIN finance.plans p USING (plan_id)
WHERE s.status IN ('active', 'past_due')""",
    ),
    View(
        "finance",
        "v_open_invoices",
        "Invoices awaiting payment with days past due; used by collections.",
        """
SELECT i.invoice_id, i.invoice_number, i.account_id, a.company_name, i.issued_at, i.due_on,
       i.currency, i.total, i.total_usd, greatest(DATE '2026-11-01' - i.due_on, 0) AS days_past_due
FROM finance.invoices i
JOIN finance.accounts a USING (account_id)
WHERE i.status = 'open'""",
    ),
    View(
        "marketing",
        "v_campaign_performance",
        "Spend, sessions and leads per campaign over its lifetime.",
        """
WITH spend AS (
    SELECT campaign_id, sum(spend_usd) AS spend_usd, sum(clicks) AS clicks FROM marketing.ad_spend GROUP BY 1
), sessions AS (
    SELECT utm_campaign, count(*) AS sessions FROM marketing.web_sessions GROUP BY 1
), leads AS (
    SELECT campaign_id, count(*) AS leads, count(converted_at) AS customers FROM marketing.leads GROUP BY 1
)
SELECT c.campaign_id, c.campaign_name, c.channel, c.budget_usd, coalesce(spend.spend_usd, 0) AS spend_usd,
       coalesce(spend.clicks, 0) AS clicks, coalesce(sessions.sessions, 0) AS sessions,
       coalesce(leads.leads, 0) AS leads, coalesce(leads.customers, 0) AS customers
FROM marketing.campaigns c
LEFT JOIN spend USING (campaign_id)
LEFT JOIN sessions ON sessions.utm_campaign = c.utm_campaign
LEFT JOIN leads USING (campaign_id)""",
    ),
    View(
        "product",
        "v_daily_active_users",
        "Distinct users with at least one event per day (last 90 days).",
        """
SELECT occurred_at::DATE AS activity_date, count(DISTINCT user_id) AS active_users,
       count(DISTINCT workspace_id) AS active_workspaces, count(*) AS events
FROM product.events
GROUP BY 1""",
    ),
)

SCHEMAS: dict[str, str] = {
    "finance": "Billing data from Stripe Billing: accounts, plans, subscriptions, invoices, payments.",
    "marketing": "Campaigns, ad spend, leads, web sessions and email engagement.",
    "product": "Workspaces, users, product events, usage, support and NPS.",
    "analytics": "Models built by the acme_analytics dbt project; the layer dashboards read.",
}
