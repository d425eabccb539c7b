"""Rows of the marketing schema: campaigns, spend, leads with their touches and sessions, and email."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from datadesk.demo_data import fake
from datadesk.demo_data.fake import END, START
from datadesk.demo_data.rows_finance import Finance, Row
from datadesk.demo_data.rows_product import Product

QUARTERS = [(2024, 4), (2025, 1), (2025, 2), (2025, 3), (2025, 4), (2026, 1), (2026, 2), (2026, 3), (2026, 4)]
SOCIAL_THEMES = ("Finance Teams", "Data Leaders", "RevOps", "Product Analytics")
WEBINARS = ("Modern Data Stack 101", "Board-ready SaaS Metrics", "Self-serve Analytics", "Governed AI for Data")
EVENTS = ("SaaStr Europa", "Data Council", "Big Data London", "Coalesce")
LEAD_CHANNELS = {
    "paid_search": 25,
    "organic": 17,
    "paid_social": 15,
    "webinar": 12,
    "content": 12,
    "email": 8,
    "events": 6,
    "referral": 5,
}
UTM = {
    "paid_search": ("google", "cpc"),
    "paid_social": ("linkedin", "paid_social"),
    "email": ("hubspot", "email"),
    "webinar": ("hubspot", "webinar"),
    "content": ("hubspot", "content"),
    "events": ("event", "offline"),
}
LANDING = {
    "paid_search": ("/", "/pricing", "/product"),
    "paid_social": ("/solutions/finance", "/product"),
    "email": ("/blog", "/webinars"),
    "webinar": ("/webinars",),
    "content": ("/resources/ebook",),
    "events": ("/events",),
    "organic": ("/", "/blog", "/docs", "/pricing"),
    "referral": ("/", "/partners"),
}
REFERRERS = ("www.google.com", "www.bing.com", "news.ycombinator.com", "www.linkedin.com", None)
TITLES = (
    "Data Analyst",
    "Head of Data",
    "CFO",
    "VP Finance",
    "Analytics Engineer",
    "Marketing Ops Manager",
    "CTO",
    "Founder",
    "BI Developer",
    "Controller",
)


@dataclass
class Campaign:
    id: int
    name: str
    channel: str
    utm: str
    start: date
    end: date | None
    budget: float
    platform: str | None = None

    def runs(self, moment: datetime) -> bool:
        """Running on the day of `moment`."""
        return self.start <= moment.date() and (self.end is None or moment.date() <= self.end)


@dataclass
class Lead:
    id: int
    email: str
    created_at: datetime
    channel: str
    campaign: Campaign | None
    country: str
    anonymous_id: str


def generate(rng: random.Random, finance: Finance, product: Product) -> dict[str, list[Row]]:
    """Campaigns first, then leads (some of them became the finance accounts), their sessions and emails."""
    campaigns = _campaigns(rng)
    leads, lead_rows = _leads(rng, finance, campaigns)
    sessions, touches = _journeys(rng, leads, campaigns, product)
    sends, events = _emails(rng, leads, campaigns)
    return {
        "marketing.campaigns": [(c.id, c.name, c.channel, c.utm, c.start, c.end, c.budget) for c in campaigns],
        "marketing.ad_spend": _ad_spend(rng, campaigns),
        "marketing.leads": lead_rows,
        "marketing.web_sessions": sessions,
        "marketing.email_sends": sends,
        "marketing.email_events": events,
        "marketing.attribution_touches": touches,
    }


def _campaigns(rng: random.Random) -> list[Campaign]:
    campaigns: list[Campaign] = []

    def add(name: str, channel: str, utm: str, start: date, end: date, budget: float, platform: str = "") -> None:
        running = end is None or end >= END.date()
        campaigns.append(
            Campaign(
                len(campaigns) + 1,
                name,
                channel,
                utm,
                max(start, START.date()),
                None if running else end,
                round(budget, -2),
                platform or None,
            )
        )

    for number, (year, quarter) in enumerate(QUARTERS):
        first = date(year, 3 * quarter - 2, 1)
        last = fake.add_months(datetime.combine(first, datetime.min.time()), 3).date() - timedelta(days=1)
        tag, label = f"{year}q{quarter}", f"{year}-Q{quarter}"
        add(
            f"{label} Paid Search - Brand",
            "paid_search",
            f"{tag}_search_brand",
            first,
            last,
            rng.uniform(15000, 25000),
            "google_ads",
        )
        add(
            f"{label} Paid Search - Generic",
            "paid_search",
            f"{tag}_search_generic",
            first,
            last,
            rng.uniform(20000, 40000),
            "google_ads",
        )
        theme = SOCIAL_THEMES[number % len(SOCIAL_THEMES)]
        add(
            f"{label} LinkedIn - {theme}",
            "paid_social",
            f"{tag}_linkedin_{fake.slug(theme).replace('-', '_')}",
            first,
            last,
            rng.uniform(15000, 30000),
            "linkedin_ads",
        )
        if number % 2:
            add(
                f"{label} Meta - Retargeting",
                "paid_social",
                f"{tag}_meta_retargeting",
                first,
                last,
                rng.uniform(5000, 10000),
                "meta_ads",
            )
        add(f"{label} Newsletter", "email", f"{tag}_newsletter", first, last, 2000)
        add(f"{label} Nurture - Trial to Paid", "email", f"{tag}_nurture_trial", first, last, 1500)
        webinar_day = first + timedelta(days=40 + rng.randint(0, 10))
        add(
            f"Webinar: {WEBINARS[number % len(WEBINARS)]} ({webinar_day:%Y-%m})",
            "webinar",
            f"{tag}_webinar",
            webinar_day - timedelta(days=21),
            webinar_day,
            rng.uniform(3000, 6000),
        )
        if number % 2 == 0:
            add(
                f"Ebook: The {year} SaaS Metrics Handbook ({label})",
                "content",
                f"{tag}_ebook_metrics",
                first,
                last,
                rng.uniform(4000, 8000),
            )
            event_day = first + timedelta(days=55)
            add(
                f"Event: {EVENTS[number // 2 % len(EVENTS)]} {year}",
                "events",
                f"{tag}_event",
                event_day,
                event_day + timedelta(days=2),
                rng.uniform(20000, 45000),
            )
    return campaigns


def _ad_spend(rng: random.Random, campaigns: list[Campaign]) -> list[Row]:
    rows: list[Row] = []
    cost_per_click = {"google_ads": (3.0, 8.0), "linkedin_ads": (8.0, 15.0), "meta_ads": (1.0, 3.0)}
    for campaign in campaigns:
        if campaign.platform is None:
            continue
        last = min(campaign.end or END.date(), END.date() - timedelta(days=1))
        days = (last - campaign.start).days + 1
        for offset in range(days):
            spend = round(campaign.budget / max(days, 60) * rng.uniform(0.7, 1.3), 2)
            clicks = max(1, int(spend / rng.uniform(*cost_per_click[campaign.platform])))
            impressions = int(clicks / rng.uniform(0.01, 0.05))
            rows.append(
                (campaign.start + timedelta(days=offset), campaign.id, campaign.platform, impressions, clicks, spend)
            )
    return rows


def _running(rng: random.Random, campaigns: list[Campaign], channel: str, moment: datetime) -> Campaign | None:
    candidates = [c for c in campaigns if c.channel == channel and c.runs(moment)]
    return rng.choice(candidates) if candidates else None


def _leads(rng: random.Random, finance: Finance, campaigns: list[Campaign]) -> tuple[list[Lead], list[Row]]:
    drafts: list[tuple[datetime, str, str, str, int | None, datetime | None]] = []
    first_paid: dict[int, datetime] = {}
    for sub in finance.subscriptions:
        if sub.started is not None and sub.account.id not in first_paid:
            first_paid[sub.account.id] = sub.started
    for account in finance.accounts:  # the leads that became customers
        if account.id in first_paid and rng.random() < 0.8:
            created = account.created_at - timedelta(days=rng.randint(5, 60), hours=rng.randint(0, 23))
            created = created if created > START else fake.between(rng, START, account.created_at)
            drafts.append(
                (created, account.company, account.domain, account.country, account.id, first_paid[account.id])
            )
    prospects = {name: fake.company_domain(rng, name) for name in fake.company_names(rng, 500)}
    names = list(prospects)
    for _ in range(1700):
        company = rng.choice(names)
        created = START + timedelta(days=fake.DAYS * rng.random() ** 0.85, seconds=rng.randrange(86400))
        country = rng.choices(fake.COUNTRIES, weights=fake.COUNTRY_WEIGHTS)[0]
        drafts.append((min(created, END - timedelta(hours=1)), company, prospects[company], country, None, None))
    drafts.sort(key=lambda d: (d[0], d[1]))
    leads: list[Lead] = []
    rows: list[Row] = []
    emails: set[str] = set()
    for created, company, domain, country, account_id, converted in drafts:
        first, last = fake.person(rng)
        address = fake.email(first, last, domain)
        while address in emails:
            address = address.replace("@", f"{rng.randint(2, 9)}@", 1)
        emails.add(address)
        channel = fake.weighted(rng, LEAD_CHANNELS)
        campaign = _running(rng, campaigns, channel, created) if channel in UTM else None
        if channel in UTM and campaign is None:
            channel = "organic"
        status = "converted" if converted else fake.weighted(rng, {"disqualified": 40, "new": 25, "mql": 25, "sql": 10})
        mql = (
            created + timedelta(days=rng.randint(0, 10), hours=rng.randint(1, 20))
            if status in ("converted", "mql", "sql") or (status == "disqualified" and rng.random() < 0.3)
            else None
        )
        sql = mql + timedelta(days=rng.randint(1, 14)) if mql and status in ("converted", "sql") else None
        if converted:
            mql, sql = min(mql or created, converted), min(sql or converted, converted)
        mql, sql = (mql if mql and mql < END else None), (sql if sql and sql < END else None)
        lead = Lead(len(leads) + 1, address, created, channel, campaign, country, fake.token(rng, 12))
        leads.append(lead)
        rows.append(
            (
                lead.id,
                address,
                f"{first} {last}",
                fake.phone(rng, country) if rng.random() < 0.4 else None,
                company,
                rng.choice(TITLES),
                country,
                channel,
                campaign.id if campaign else None,
                created,
                status,
                mql,
                sql,
                converted,
                account_id,
            )
        )
    return leads, rows


def _journeys(
    rng: random.Random, leads: list[Lead], campaigns: list[Campaign], product: Product
) -> tuple[list[Row], list[Row]]:
    """Touches before each lead's creation (each a web session), plus anonymous and logged-in traffic."""
    sessions: list[Row] = []
    touches: list[Row] = []
    for lead in leads:
        count = int(fake.weighted(rng, {"1": 35, "2": 25, "3": 20, "4": 20}))
        moments = sorted(_before(rng, lead.created_at) for _ in range(count - 1))
        weights = (
            [1.0]
            if count == 1
            else [0.5, 0.5]
            if count == 2
            else [0.4] + [round(0.2 / (count - 2), 4)] * (count - 2) + [0.4]
        )
        weights[-1] = round(1 - sum(weights[:-1]), 4)
        for position, moment in enumerate([*moments, lead.created_at]):
            final = position == count - 1
            channel = lead.channel if final else fake.weighted(rng, LEAD_CHANNELS)
            campaign = lead.campaign if final else _running(rng, campaigns, channel, moment)
            if not final and channel in UTM and campaign is None:
                channel = "organic"
            session_id = _session(rng, sessions, moment, channel, campaign, lead, None)
            kind = "lead_creation" if final else "first" if position == 0 else "middle"
            touches.append(
                (
                    len(touches) + 1,
                    lead.id,
                    campaign.id if campaign else None,
                    session_id,
                    moment,
                    channel,
                    kind,
                    weights[position],
                )
            )
    for _ in range(3000):
        moment = START + timedelta(days=fake.DAYS * rng.random() ** 0.85, seconds=rng.randrange(86400))
        moment = min(moment, END - timedelta(minutes=5))
        user = rng.choice(product.users) if rng.random() < 0.25 else None
        if user is not None and user.active_on(moment):
            _session(rng, sessions, moment, "organic", None, None, user.id)
            continue
        channel = fake.weighted(rng, LEAD_CHANNELS)
        campaign = _running(rng, campaigns, channel, moment) if channel in UTM else None
        _session(rng, sessions, moment, channel if campaign or channel not in UTM else "organic", campaign, None, None)
    sessions.sort(key=lambda s: (str(s[4]), str(s[0])))
    return sessions, touches


def _before(rng: random.Random, moment: datetime) -> datetime:
    """A moment up to 45 days before `moment`, not before the data starts."""
    earlier = moment - timedelta(days=rng.uniform(1, 45))
    return earlier if earlier > START else fake.between(rng, START, moment)


def _session(
    rng: random.Random,
    sessions: list[Row],
    moment: datetime,
    channel: str,
    campaign: Campaign | None,
    lead: Lead | None,
    user_id: int | None,
) -> str:
    session_id = fake.token(rng, 20)
    source, medium = UTM[campaign.channel] if campaign else (None, None)
    if campaign and campaign.platform:
        source = campaign.platform.removesuffix("_ads")
    page = "/app/login" if user_id else rng.choice(LANDING.get(channel, ("/",)))
    pageviews = rng.randint(1, 9)
    sessions.append(
        (
            session_id,
            lead.anonymous_id if lead else fake.token(rng, 12),
            user_id,
            lead.id if lead else None,
            moment,
            pageviews * rng.randint(15, 120),
            pageviews,
            page,
            rng.choice(REFERRERS) if channel in ("organic", "referral") else None,
            source,
            medium,
            campaign.utm if campaign else None,
            fake.weighted(rng, {"desktop": 70, "mobile": 25, "tablet": 5}),
            lead.country if lead else rng.choices(fake.COUNTRIES, weights=fake.COUNTRY_WEIGHTS)[0],
            fake.ip_address(rng),
        )
    )
    return session_id


def _emails(rng: random.Random, leads: list[Lead], campaigns: list[Campaign]) -> tuple[list[Row], list[Row]]:
    sends: list[Row] = []
    events: list[Row] = []
    for campaign in campaigns:
        if campaign.channel not in ("email", "webinar"):
            continue
        day = campaign.start + timedelta(days=rng.randint(1, 3))
        sent = datetime.combine(day, datetime.min.time()) + timedelta(hours=9)
        if sent >= END:
            continue
        audience = [lead for lead in leads if lead.created_at < sent]
        template = {
            "email": "newsletter_v3" if "Newsletter" in campaign.name else "nurture_trial_v2",
            "webinar": "webinar_invite_v4",
        }[campaign.channel]
        subjects = (
            (f"{campaign.name}: what's new at Acme", f"Inside Acme: {campaign.name}")
            if campaign.channel == "email"
            else (f"You're invited: {campaign.name.removeprefix('Webinar: ')}", "Save your seat: live webinar")
        )
        for lead in rng.sample(audience, min(len(audience), 160)):
            send_id = len(sends) + 1
            moment = sent + timedelta(seconds=rng.randrange(1800))
            sends.append((send_id, campaign.id, lead.id, moment, template, rng.choice(subjects)))
            _email_events(rng, events, send_id, moment, campaign)
    return sends, events


def _email_events(rng: random.Random, events: list[Row], send_id: int, sent: datetime, campaign: Campaign) -> None:
    def add(kind: str, after: timedelta, link: str | None = None) -> None:
        if sent + after < END:
            events.append((len(events) + 1, send_id, kind, sent + after, link))

    if rng.random() < 0.03:
        add("bounce", timedelta(seconds=rng.randint(5, 120)))
        return
    add("delivered", timedelta(seconds=rng.randint(2, 60)))
    if rng.random() < 0.45:
        opened = timedelta(minutes=rng.randint(10, 2880))
        add("open", opened)
        if rng.random() < 0.3:
            add(
                "click",
                opened + timedelta(seconds=rng.randint(5, 300)),
                f"https://acme.example.com{rng.choice(LANDING[campaign.channel])}?utm_campaign={campaign.utm}",
            )
    if rng.random() < 0.01:
        add("unsubscribe", timedelta(hours=rng.randint(1, 72)))
