"""Rows of the finance schema: accounts, plans, subscriptions simulated month by month, invoices and payments."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from datadesk.demo_data import fake
from datadesk.demo_data.fake import END, START

Row = tuple[object, ...]


@dataclass(frozen=True)
class Plan:
    id: int
    code: str
    name: str
    months: int  # billing interval
    price_usd: float  # per interval
    seats_included: int
    extra_seat_usd: float  # per month
    active: bool
    launched: date

    def mrr(self, seats: int, discount: float) -> float:
        """Monthly recurring revenue in USD for `seats` seats after `discount` percent."""
        monthly = self.price_usd / self.months + max(0, seats - self.seats_included) * self.extra_seat_usd
        return round(monthly * (1 - discount / 100), 2)


PLANS = (
    Plan(1, "starter_monthly", "Starter", 1, 49, 3, 15, True, date(2022, 3, 1)),
    Plan(2, "starter_annual", "Starter", 12, 490, 3, 15, True, date(2022, 3, 1)),
    Plan(3, "growth_monthly", "Growth", 1, 399, 10, 35, True, date(2023, 6, 1)),
    Plan(4, "growth_annual", "Growth", 12, 3990, 10, 35, True, date(2023, 6, 1)),
    Plan(5, "enterprise_annual", "Enterprise", 12, 30000, 50, 45, True, date(2023, 6, 1)),
    Plan(6, "pro_monthly_legacy", "Pro", 1, 199, 5, 25, False, date(2021, 1, 15)),
)
PLAN = {plan.code: plan for plan in PLANS}
UPGRADE = {
    "starter_monthly": "growth_monthly",
    "starter_annual": "growth_annual",
    "pro_monthly_legacy": "growth_monthly",
    "growth_monthly": "growth_annual",
    "growth_annual": "enterprise_annual",
}
MONTHLY_CHURN = {"Starter": 0.04, "Pro": 0.03, "Growth": 0.018, "Enterprise": 0.01}
RENEWAL_CHURN = {"Starter": 0.25, "Growth": 0.15, "Enterprise": 0.08}
CANCEL_REASONS = {
    "too_expensive": 30,
    "not_using": 25,
    "missing_features": 20,
    "switched_competitor": 15,
    "company_closed": 10,
}
BASE_RATE = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}  # price lists in EUR and GBP were set at these rates
TAX_RATE = {"GB": 0.20, "DE": 0.19, "FR": 0.20, "NL": 0.21, "ES": 0.21, "SE": 0.25, "IE": 0.23, "AU": 0.10, "CA": 0.05}
LEGACY_CUTOFF = datetime(2025, 2, 1)  # Pro closed to new customers


def usd_per_unit(currency: str, month: date) -> float:
    """The finance team's monthly rate: drifts around the price-list rate."""
    index = (month.year - 2024) * 12 + month.month
    return round(BASE_RATE[currency] * (1 + 0.03 * math.sin(index / 3)), 6) if currency != "USD" else 1.0


@dataclass
class Account:
    id: int
    company: str
    domain: str
    segment: str
    country: str
    currency: str
    created_at: datetime


@dataclass
class Subscription:
    id: int
    account: Account
    plan: Plan
    discount: float
    seats: list[tuple[datetime, int]]  # (effective from, seats), ascending
    trial_started: datetime | None = None
    started: datetime | None = None
    canceled: datetime | None = None
    reason: str | None = None
    status: str = "active"
    invoices: list[Invoice] = field(default_factory=list)

    def seats_at(self, moment: datetime) -> int:
        """Seats in effect at `moment`."""
        current = self.seats[0][1]
        for since, seats in self.seats:
            if since <= moment:
                current = seats
        return current

    def runs_at(self, moment: datetime) -> bool:
        """Paid and running at `moment`."""
        return self.started is not None and self.started <= moment and (self.canceled is None or moment < self.canceled)


@dataclass
class Invoice:
    subscription: Subscription
    period_start: datetime
    seats: int
    status: str = "paid"
    id: int = 0
    issued: datetime = START
    total: float = 0.0


@dataclass
class Finance:
    accounts: list[Account]
    subscriptions: list[Subscription]
    rows: dict[str, list[Row]]


def generate(rng: random.Random, count: int = 540) -> Finance:
    """Accounts, their subscription histories and everything billed from them."""
    accounts = _accounts(rng, count)
    subscriptions: list[Subscription] = []
    for account in accounts:
        _subscribe(rng, account, subscriptions)
    invoices = _invoices(rng, subscriptions)
    invoice_rows: list[Row] = []
    line_rows: list[Row] = []
    for invoice in invoices:
        _bill(invoice, invoice_rows, line_rows)
    payments, refunds = _payments(rng, invoices)
    rows: dict[str, list[Row]] = {
        "finance.plans": [
            (
                p.id,
                p.code,
                p.name,
                "month" if p.months == 1 else "year",
                p.price_usd,
                p.seats_included,
                p.extra_seat_usd,
                p.active,
                p.launched,
            )
            for p in PLANS
        ],
        "finance.accounts": [_account_row(rng, a) for a in accounts],
        "finance.subscriptions": [_subscription_row(s) for s in subscriptions],
        "finance.invoices": invoice_rows,
        "finance.invoice_lines": line_rows,
        "finance.payments": payments,
        "finance.refunds": refunds,
        "finance.mrr_snapshots": _snapshots(subscriptions),
    }
    return Finance(accounts, subscriptions, rows)


def _accounts(rng: random.Random, count: int) -> list[Account]:
    accounts = []
    for index, company in enumerate(fake.company_names(rng, count), start=1):
        country = rng.choices(fake.COUNTRIES, weights=fake.COUNTRY_WEIGHTS)[0]
        currency = "GBP" if country == "GB" else "EUR" if country in fake.EU else "USD"
        created = START + timedelta(days=fake.DAYS * rng.random() ** 0.8)  # more signups as the company grows
        segment = fake.weighted(rng, {"SMB": 64, "Mid-Market": 28, "Enterprise": 8})
        accounts.append(
            Account(
                index,
                company,
                fake.company_domain(rng, company),
                segment,
                country,
                currency,
                fake.at(min(created, END - timedelta(days=1)), rng),
            )
        )
    accounts.sort(key=lambda a: a.created_at)
    for index, account in enumerate(accounts, start=1):
        account.id = index
    return accounts


def _account_row(rng: random.Random, a: Account) -> Row:
    first, last = fake.person(rng)
    low, high = {"SMB": (5, 99), "Mid-Market": (100, 999), "Enterprise": (1000, 20000)}[a.segment]
    industry = next((fake.INDUSTRY_OF[w] for w in a.company.split() if w in fake.INDUSTRY_OF), "Technology")
    contact = fake.email(first, last, a.domain) if rng.random() < 0.6 else f"billing@{a.domain}"
    return (
        a.id,
        a.company,
        a.domain,
        None if a.segment == "SMB" and rng.random() < 0.3 else industry,
        a.segment,
        rng.randint(low, high),
        a.country,
        a.currency,
        contact,
        f"{first} {last}",
        fake.phone(rng, a.country),
        fake.address(rng, a.country),
        a.created_at,
    )


def _subscribe(rng: random.Random, account: Account, subscriptions: list[Subscription]) -> None:
    plan, seats, discount = _first_plan(rng, account)
    sub = Subscription(len(subscriptions) + 1, account, plan, discount, [(account.created_at, seats)])
    subscriptions.append(sub)
    if account.segment == "Enterprise":
        sub.started = account.created_at
    else:
        sub.trial_started = account.created_at
        trial_end = account.created_at + timedelta(days=14)
        converts = rng.random() < (0.6 if account.segment == "Mid-Market" else 0.42)
        if trial_end >= END:
            sub.status = "trialing"
            return
        if not converts:
            sub.status = "expired"
            return
        sub.started = account.created_at + timedelta(days=rng.randint(3, 14), hours=rng.randint(0, 12))
    _run(rng, sub, subscriptions)


def _first_plan(rng: random.Random, account: Account) -> tuple[Plan, int, float]:
    if account.segment == "Enterprise":
        plan = PLAN[fake.weighted(rng, {"enterprise_annual": 85, "growth_annual": 15})]
        return plan, plan.seats_included + rng.randint(0, 100), float(rng.choice((10, 15, 20, 25)))
    if account.created_at < LEGACY_CUTOFF and rng.random() < 0.35:
        plan = PLAN["pro_monthly_legacy"]
    elif account.segment == "Mid-Market":
        plan = PLAN[
            fake.weighted(
                rng, {"growth_monthly": 45, "growth_annual": 35, "starter_monthly": 10, "enterprise_annual": 10}
            )
        ]
    else:
        plan = PLAN[
            fake.weighted(rng, {"starter_monthly": 60, "starter_annual": 15, "growth_monthly": 22, "growth_annual": 3})
        ]
    extra = rng.randint(0, 15 if account.segment == "Mid-Market" else 3)
    discount = float(rng.choice((0, 0, 0, 5, 10))) if plan.months == 12 else 0.0
    return plan, plan.seats_included + extra, discount


def _run(rng: random.Random, sub: Subscription, subscriptions: list[Subscription]) -> None:
    """Walk the billing periods of a paid subscription: renew, change seats, change plan or cancel."""
    assert sub.started is not None
    period = 1
    while (boundary := fake.add_months(sub.started, sub.plan.months * period)) < END:
        annual = sub.plan.months == 12
        draw = rng.random()
        churn = RENEWAL_CHURN[sub.plan.name] if annual else MONTHLY_CHURN[sub.plan.name]
        upgrade = (0.10 if annual else 0.04 if sub.plan.name == "Pro" else 0.02) if sub.plan.code in UPGRADE else 0
        if draw < churn:
            sub.canceled = boundary - timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 23))
            sub.reason = fake.weighted(rng, CANCEL_REASONS)
            break
        if draw < churn + upgrade:
            sub.canceled, sub.reason = boundary, "plan_change"
            plan = PLAN[UPGRADE[sub.plan.code]]
            seats = max(sub.seats_at(boundary), plan.seats_included)
            new = Subscription(
                len(subscriptions) + 1, sub.account, plan, sub.discount, [(boundary, seats)], started=boundary
            )
            subscriptions.append(new)
            _run(rng, new, subscriptions)
            break
        seats = sub.seats_at(boundary)
        change = rng.random()
        if change < (0.4 if annual else 0.05):
            sub.seats.append((boundary, seats + rng.randint(1, {"Enterprise": 20, "Growth": 5}.get(sub.plan.name, 2))))
        elif change > 0.985 and seats > sub.plan.seats_included:
            sub.seats.append((boundary, seats - 1))
        period += 1
    sub.status = "canceled" if sub.canceled else "active"


def _subscription_row(s: Subscription) -> Row:
    until = min(s.canceled or END, END) - timedelta(seconds=1)
    seats = s.seats_at(until)
    mrr = s.plan.mrr(seats, s.discount) if s.started else 0.0
    trial_end = s.trial_started + timedelta(days=14) if s.trial_started else None
    return (
        s.id,
        s.account.id,
        s.plan.id,
        s.status,
        seats,
        s.discount,
        mrr,
        s.trial_started,
        trial_end,
        s.started,
        s.canceled,
        s.reason,
    )


def _invoices(rng: random.Random, subscriptions: list[Subscription]) -> list[Invoice]:
    invoices = []
    for sub in subscriptions:
        if sub.started is None:
            continue
        period = 0
        while (start := fake.add_months(sub.started, sub.plan.months * period)) < min(sub.canceled or END, END):
            age = (END - start).days
            draw = rng.random()
            if age < 15:
                status = "open" if draw < 0.4 else "paid"
            else:
                status = (
                    "void" if draw < 0.01 else "uncollectible" if draw < 0.025 else "open" if draw < 0.035 else "paid"
                )
            invoice = Invoice(sub, start, sub.seats_at(start), status)
            sub.invoices.append(invoice)
            invoices.append(invoice)
            period += 1
        last = sub.invoices[-1]
        if sub.status == "active" and last.status == "open" and (END - last.period_start).days > 14:
            sub.status = "past_due"
    invoices.sort(key=lambda i: (i.period_start, i.subscription.id))
    for index, invoice in enumerate(invoices, start=1):
        invoice.id = index
    return invoices


def _bill(invoice: Invoice, invoices: list[Row], lines: list[Row]) -> None:
    sub, plan = invoice.subscription, invoice.subscription.plan
    currency, country = sub.account.currency, sub.account.country
    price = round(plan.price_usd / BASE_RATE[currency])
    seat_price = round(plan.extra_seat_usd * plan.months / BASE_RATE[currency], 2)
    extra = max(0, invoice.seats - plan.seats_included)
    items = [("plan", f"Acme {plan.name} ({'annual' if plan.months == 12 else 'monthly'})", 1, float(price))]
    if extra:
        items.append(("extra_seats", f"Additional seats x {extra}", extra, seat_price))
    gross = sum(quantity * unit for _, _, quantity, unit in items)
    if sub.discount:
        items.append(("discount", f"Negotiated discount {sub.discount:g}%", 1, -round(gross * sub.discount / 100, 2)))
    for line_type, description, quantity, unit in items:
        lines.append((len(lines) + 1, invoice.id, line_type, description, quantity, unit, round(quantity * unit, 2)))
    subtotal = round(sum(quantity * unit for _, _, quantity, unit in items), 2)
    tax = round(subtotal * TAX_RATE.get(country, 0.0), 2)
    total = round(subtotal + tax, 2)
    issued = invoice.period_start + timedelta(minutes=7)
    due = issued.date() + timedelta(days=30 if plan.name == "Enterprise" else 14)
    period_end = fake.add_months(invoice.period_start, plan.months).date() - timedelta(days=1)
    rate = usd_per_unit(currency, issued.date())
    invoices.append(
        (
            invoice.id,
            f"INV-{issued.year}-{invoice.id:06d}",
            sub.account.id,
            sub.id,
            issued,
            due,
            invoice.period_start.date(),
            period_end,
            invoice.status,
            currency,
            subtotal,
            tax,
            total,
            round(total * rate, 2),
        )
    )
    invoice.issued, invoice.total = issued, total


def _method(account: Account) -> str:
    """Fixed per account: Enterprise pays by wire, many EUR customers by SEPA debit, some US ones by ACH."""
    if account.segment == "Enterprise":
        return "wire"
    if account.currency == "EUR" and account.id % 2:
        return "sepa_debit"
    return "ach" if account.currency == "USD" and account.id % 7 == 0 else "card"


def _payments(rng: random.Random, invoices: list[Invoice]) -> tuple[list[Row], list[Row]]:
    """Charges for each invoice (failed attempts first), then refunds of some succeeded ones."""
    payments: list[Row] = []
    refunds: list[Row] = []
    for invoice in invoices:
        account, method = invoice.subscription.account, _method(invoice.subscription.account)
        if invoice.status == "void" or (method == "wire" and invoice.status != "paid"):
            continue
        failures = {"uncollectible": 3, "open": int(rng.random() < 0.5)}.get(invoice.status, 0)
        if invoice.status == "paid" and method != "wire":
            failures = int(rng.random() < 0.07) + int(rng.random() < 0.015)
        moment = invoice.issued + timedelta(minutes=rng.randint(1, 50))
        if method == "wire":
            moment += timedelta(days=rng.randint(5, 35))
        for _ in range(failures):
            if moment >= END:
                break
            code = (
                rng.choice(("card_declined", "insufficient_funds", "expired_card"))
                if method == "card"
                else "insufficient_funds"
            )
            payments.append(_payment(rng, payments, invoice, moment, method, "failed", code))
            moment += timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 6))
        if invoice.status != "paid":
            continue
        if moment >= END:
            moment = fake.between(rng, invoice.issued, END)
        payments.append(_payment(rng, payments, invoice, moment, method, "succeeded", None))
        refunded = moment + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 8))
        if rng.random() < 0.025 and refunded < END:
            amount = invoice.total if rng.random() < 0.6 else round(invoice.total * rng.uniform(0.1, 0.5), 2)
            reason = fake.weighted(rng, {"requested_by_customer": 60, "service_issue": 25, "duplicate": 15})
            refunds.append((len(refunds) + 1, len(payments), refunded, amount, account.currency, reason))
    return payments, refunds


def _payment(
    rng: random.Random,
    payments: list[Row],
    invoice: Invoice,
    moment: datetime,
    method: str,
    status: str,
    code: str | None,
) -> Row:
    account = invoice.subscription.account
    prefix = "ch_" if method == "card" else "py_"
    return (
        len(payments) + 1,
        invoice.id,
        account.id,
        moment,
        invoice.total,
        account.currency,
        method,
        status,
        code,
        prefix + fake.token(rng, 24),
    )


def _snapshots(subscriptions: list[Subscription]) -> list[Row]:
    rows: list[Row] = []
    for month in fake.month_starts():
        month_end = fake.add_months(month, 1) - timedelta(seconds=1)
        for sub in subscriptions:
            if sub.runs_at(month_end):
                seats = sub.seats_at(month_end)
                mrr = sub.plan.mrr(seats, sub.discount)
                rows.append((month.date(), sub.id, sub.account.id, sub.plan.id, seats, mrr))
    return rows
