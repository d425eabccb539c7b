"""Rows of the product schema: workspaces and users of the accounts, events, usage, support and NPS."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from datadesk.demo_data import fake
from datadesk.demo_data.fake import END
from datadesk.demo_data.rows_finance import Account, Finance, Row, Subscription

EVENTS_FROM = END - timedelta(days=90)
USAGE_FROM = datetime(2026, 5, 1)
MIGRATION = datetime(2025, 3, 3)
EVENT_NAMES = {
    "dashboard_viewed": 35,
    "query_run": 20,
    "login": 15,
    "comment_added": 8,
    "report_shared": 6,
    "export_csv": 6,
    "dashboard_created": 5,
    "alert_created": 3,
    "integration_connected": 2,
}
FEATURES = ("dashboards", "sql_editor", "alerts", "sharing", "exports", "integrations")
JOB_TITLES = (
    "Data Analyst",
    "Analytics Engineer",
    "Head of Data",
    "CFO",
    "Marketing Manager",
    "Product Manager",
    "Software Engineer",
    "VP Finance",
    "Operations Lead",
    "Growth Marketer",
)
SUBJECTS = {
    "billing": ("Invoice shows the wrong VAT number", "How do I switch to annual billing?", "Charged twice this month"),
    "bug": ("Dashboard filters reset after refresh", "CSV export is missing rows", "Chart tooltips cut off"),
    "how_to": ("How do I share a dashboard with a client?", "Can alerts go to Slack?", "Scheduling a report"),
    "feature_request": ("Dark mode please", "Support for BigQuery views", "Row-level permissions on dashboards"),
    "account_access": ("Locked out after SSO change", "Need to transfer workspace ownership", "2FA device lost"),
}
NPS_WAVES = {
    "2025-H1": datetime(2025, 3, 1),
    "2025-H2": datetime(2025, 9, 1),
    "2026-H1": datetime(2026, 3, 1),
    "2026-H2": datetime(2026, 9, 1),
}
NPS_COMMENTS = {
    "promoter": ("The SQL editor saves me hours every week.", "Love how fast dashboards load.", "Great support team."),
    "passive": ("Solid, but alerts could be more flexible.", "Good product, pricing is steep for small teams."),
    "detractor": (
        "Exports keep timing out on large tables.",
        "Too expensive for what we use.",
        "Missing SSO on our plan.",
    ),
}


@dataclass
class User:
    id: int
    workspace_id: int
    account: Account
    created_at: datetime
    ends: datetime | None  # deactivated or workspace gone
    regular: bool  # a daily user rather than an occasional one

    def active_on(self, moment: datetime) -> bool:
        """Has a login that works at `moment`."""
        return self.created_at <= moment and (self.ends is None or moment < self.ends)


@dataclass
class Product:
    users: list[User]
    rows: dict[str, list[Row]]


def generate(rng: random.Random, finance: Finance) -> Product:
    """Workspaces and users for every account, then their activity."""
    subs_of: dict[int, list[Subscription]] = {}
    for sub in finance.subscriptions:
        subs_of.setdefault(sub.account.id, []).append(sub)
    workspaces: list[Row] = []
    users: list[User] = []
    user_rows: list[Row] = []
    for account in finance.accounts:
        subs = subs_of[account.id]
        ends = _account_end(subs)
        seats = max(s.seats_at(END - timedelta(seconds=1)) for s in subs)
        headcount = (
            rng.randint(1, 3)
            if all(s.started is None for s in subs)
            else min(30, max(1, round(seats * rng.uniform(0.5, 0.9))))
        )
        count = rng.randint(1, 3) if account.segment == "Enterprise" else 1
        for number in range(count):
            workspace_id = len(workspaces) + 1
            created = account.created_at + timedelta(minutes=2 + number * rng.randint(60, 40000))
            created = min(created, END - timedelta(hours=1))
            deleted = ends + timedelta(days=30) if ends and ends + timedelta(days=30) < END else None
            name = account.company if number == 0 else f"{account.company} - {('EMEA', 'Data Team')[number - 1]}"
            region = "eu-west-1" if account.country in fake.EU or account.country == "GB" else "us-east-1"
            workspaces.append((workspace_id, account.id, name, fake.slug(name), region, created, deleted))
            share = headcount if count == 1 else max(1, headcount // count)
            _users(rng, account, workspace_id, created, ends, share, users, user_rows)
    rows = {
        "product.workspaces": workspaces,
        "product.users": user_rows,
        "product.events": _events(rng, users),
        "product.feature_usage": _feature_usage(rng, workspaces, users),
        "product.support_tickets": _tickets(rng, users),
        "product.nps_responses": _nps(rng, users),
        "product.user_profiles_legacy": _legacy_profiles(rng, user_rows),
    }
    return Product(users, rows)


def _account_end(subs: list[Subscription]) -> datetime | None:
    """When the account stopped using the product: the end of its last trial or subscription; None if running."""
    ends: list[datetime] = []
    for sub in subs:
        if sub.status in ("active", "past_due", "trialing"):
            return None
        ends.append(sub.canceled or (sub.trial_started or sub.account.created_at) + timedelta(days=14))
    return max(ends)


def _users(
    rng: random.Random,
    account: Account,
    workspace_id: int,
    created: datetime,
    ends: datetime | None,
    count: int,
    users: list[User],
    rows: list[Row],
) -> None:
    emails: set[str] = set()
    until = ends or END
    for number in range(count):
        first, last = fake.person(rng)
        address = fake.email(first, last, account.domain)
        if address in emails:
            address = address.replace("@", f"{number}@")
        emails.add(address)
        joined = created if number == 0 else created + (until - created) * rng.random() ** 2
        role = "owner" if number == 0 else fake.weighted(rng, {"member": 65, "viewer": 25, "admin": 10})
        deactivated = fake.between(rng, joined, until) if number and not ends and rng.random() < 0.06 else None
        stop = deactivated or until
        recent = max(joined, stop - timedelta(days=30))
        last_seen = fake.between(rng, recent if rng.random() < 0.85 else joined, stop)
        user = User(len(rows) + 1, workspace_id, account, joined, deactivated or ends, rng.random() < 0.15)
        users.append(user)
        rows.append((user.id, workspace_id, address, f"{first} {last}", role, joined, last_seen, deactivated))


def _events(rng: random.Random, users: list[User]) -> list[Row]:
    drafts: list[tuple[datetime, int, int, str, str, str]] = []
    for day in range(90):
        midnight = EVENTS_FROM + timedelta(days=day)
        weekend = midnight.weekday() >= 5
        version = f"4.{10 + day // 14}.{day % 3}"
        for user in users:
            chance = 0.22 if user.regular else 0.012
            if rng.random() >= chance * (0.3 if weekend else 1) or not user.active_on(midnight):
                continue
            platform = fake.weighted(rng, {"web": 75, "desktop": 18, "mobile": 7})
            for _ in range(rng.randint(1, 4)):
                moment = fake.at(midnight, rng, 6, 22)
                drafts.append((moment, user.id, user.workspace_id, fake.weighted(rng, EVENT_NAMES), platform, version))
    drafts.sort()
    return [
        (index, user, workspace, name, moment, platform, version)
        for index, (moment, user, workspace, name, platform, version) in enumerate(drafts, start=1)
    ]


def _feature_usage(rng: random.Random, workspaces: list[Row], users: list[User]) -> list[Row]:
    members: dict[int, list[User]] = {}
    for user in users:
        members.setdefault(user.workspace_id, []).append(user)
    rows: list[Row] = []
    for workspace in workspaces:
        workspace_id = int(str(workspace[0]))
        features = sorted(rng.sample(FEATURES, rng.randint(2, 5)))
        for month in fake.month_starts(USAGE_FROM):
            month_end = fake.add_months(month, 1) - timedelta(seconds=1)
            active = [u for u in members.get(workspace_id, []) if u.active_on(month_end)]
            for feature in features if active else ():
                people = rng.randint(1, len(active))
                rows.append((month.date(), workspace_id, feature, people * rng.randint(3, 40), people))
    return rows


def _tickets(rng: random.Random, users: list[User], count: int = 1400) -> list[Row]:
    drafts = []
    for _ in range(count):
        user = rng.choice(users)
        opened = fake.between(rng, user.created_at, min(user.ends or END, END))
        category = fake.weighted(
            rng, {"how_to": 35, "bug": 25, "billing": 15, "feature_request": 15, "account_access": 10}
        )
        priority = fake.weighted(rng, {"normal": 55, "low": 20, "high": 20, "urgent": 5})
        drafts.append((opened, user, category, priority))
    drafts.sort(key=lambda d: (d[0], d[1].id))
    rows: list[Row] = []
    for index, (opened, user, category, priority) in enumerate(drafts):
        hours = {"urgent": 1, "high": 4, "normal": 12, "low": 30}[priority]
        first_response: datetime | None = opened + timedelta(minutes=rng.randint(5, hours * 60))
        resolved: datetime | None = opened + timedelta(hours=rng.randint(1, 240))
        status = "solved"
        if resolved is not None and resolved >= END:
            resolved, status = None, rng.choice(("open", "pending"))
        if first_response is not None and first_response >= END:
            first_response = None
        csat = (
            int(fake.weighted(rng, {"5": 50, "4": 25, "3": 10, "2": 7, "1": 8}))
            if status == "solved" and rng.random() < 0.55
            else None
        )
        rows.append(
            (
                10001 + index,
                user.workspace_id,
                user.id,
                opened,
                first_response,
                resolved,
                priority,
                category,
                status,
                rng.choice(SUBJECTS[category]),
                csat,
            )
        )
    return rows


def _nps(rng: random.Random, users: list[User]) -> list[Row]:
    rows: list[Row] = []
    for wave, opens in NPS_WAVES.items():
        for user in users:
            if not user.active_on(opens) or rng.random() >= 0.3:
                continue
            score = rng.choices(range(11), weights=(2, 1, 1, 2, 2, 3, 4, 10, 20, 25, 30))[0]
            band = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            comment = rng.choice(NPS_COMMENTS[band]) if rng.random() < 0.35 else None
            submitted = opens + timedelta(days=rng.randint(0, 20), seconds=rng.randrange(86400))
            rows.append((len(rows) + 1, user.id, submitted, score, comment, wave))
    return rows


def _legacy_profiles(rng: random.Random, users: list[Row]) -> list[Row]:
    rows: list[Row] = []
    for user in users:
        created = user[5]
        if isinstance(created, datetime) and created < MIGRATION:
            rows.append(
                (
                    len(rows) + 1,
                    user[0],
                    user[2],
                    user[3],
                    fake.phone(rng, "US"),
                    rng.choice(JOB_TITLES),
                    MIGRATION + timedelta(minutes=len(rows)),
                )
            )
    for _ in range(40):  # v1 profiles that matched no v2 user
        first, last = fake.person(rng)
        rows.append(
            (
                len(rows) + 1,
                None,
                fake.email(first, last, "legacy.example.net"),
                f"{first} {last}",
                fake.phone(rng, "US"),
                rng.choice(JOB_TITLES),
                None,
            )
        )
    return rows
