"""Deterministic fake values for the demo warehouse: names, companies, contacts and dates (all fictional)."""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

START = datetime(2024, 11, 1)
END = datetime(2026, 11, 1)  # fixed "now" of the demo: data stops the day before, answers are reproducible
DAYS = (END - START).days

FIRST_NAMES = (
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Arjun",
    "Beatriz",
    "Ben",
    "Camille",
    "Carlos",
    "Chen",
    "Chloe",
    "Daniel",
    "Diego",
    "Elena",
    "Emil",
    "Emma",
    "Farah",
    "Felix",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Isaac",
    "Jade",
    "James",
    "Jonas",
    "Julia",
    "Kenji",
    "Lara",
    "Leo",
    "Lina",
    "Lucas",
    "Maya",
    "Mei",
    "Mohammed",
    "Nadia",
    "Noah",
    "Nora",
    "Olivia",
    "Omar",
    "Pablo",
    "Priya",
    "Rafael",
    "Rosa",
    "Sam",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Valentina",
    "Victor",
    "Yara",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Abara",
    "Almeida",
    "Andersen",
    "Bauer",
    "Becker",
    "Bianchi",
    "Brennan",
    "Castro",
    "Chowdhury",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hansen",
    "Ito",
    "Jansen",
    "Kaur",
    "Kim",
    "Kowalski",
    "Larsen",
    "Laurent",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Park",
    "Patel",
    "Petrov",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Sorensen",
    "Tanaka",
    "Turner",
    "Van Dijk",
    "Walsh",
    "Weber",
    "Wong",
    "Yilmaz",
    "Zimmermann",
)
COMPANY_WORDS = (
    "Alder",
    "Amber",
    "Apex",
    "Arbor",
    "Atlas",
    "Aurora",
    "Basalt",
    "Beacon",
    "Birch",
    "Blue Heron",
    "Bright",
    "Cedar",
    "Cinder",
    "Cobalt",
    "Compass",
    "Copper",
    "Crescent",
    "Delta",
    "Driftwood",
    "Ember",
    "Evergreen",
    "Falcon",
    "Fjord",
    "Foxglove",
    "Granite",
    "Harbor",
    "Helix",
    "Horizon",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lantern",
    "Larch",
    "Lumen",
    "Maple",
    "Meridian",
    "Moss",
    "Northwind",
    "Oakridge",
    "Onyx",
    "Orchid",
    "Pebble",
    "Pinnacle",
    "Quartz",
    "Redwood",
    "Ridge",
    "Saffron",
    "Sage",
    "Sierra",
    "Silverline",
    "Sparrow",
    "Summit",
    "Tidal",
    "Topaz",
    "Vega",
    "Willow",
    "Zephyr",
)
COMPANY_NOUNS = (
    "Analytics",
    "Bank",
    "Bio",
    "Brands",
    "Capital",
    "Cloud",
    "Commerce",
    "Dynamics",
    "Energy",
    "Foods",
    "Freight",
    "Games",
    "Health",
    "Insurance",
    "Labs",
    "Logistics",
    "Media",
    "Mobility",
    "Networks",
    "Outdoor",
    "Pharma",
    "Retail",
    "Robotics",
    "Security",
    "Software",
    "Studios",
    "Systems",
    "Telecom",
    "Travel",
    "Ventures",
)
INDUSTRY_OF = {
    "Bank": "Financial Services",
    "Capital": "Financial Services",
    "Insurance": "Financial Services",
    "Bio": "Healthcare",
    "Health": "Healthcare",
    "Pharma": "Healthcare",
    "Brands": "Retail",
    "Retail": "Retail",
    "Commerce": "Retail",
    "Foods": "Retail",
    "Outdoor": "Retail",
    "Freight": "Logistics",
    "Logistics": "Logistics",
    "Mobility": "Logistics",
    "Travel": "Travel",
    "Energy": "Energy",
    "Games": "Media",
    "Media": "Media",
    "Studios": "Media",
    "Telecom": "Telecommunications",
    "Networks": "Telecommunications",
}
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "NL", "AU", "ES", "SE", "IE", "BR", "JP", "IN")
COUNTRY_WEIGHTS = (38, 14, 10, 7, 6, 5, 5, 3, 3, 3, 2, 2, 2)
EU = frozenset({"DE", "FR", "NL", "ES", "SE", "IE"})
CITIES = {
    "US": ("Austin, TX 78701", "Denver, CO 80202", "Seattle, WA 98101", "Boston, MA 02110", "Chicago, IL 60601"),
    "GB": ("London EC1A 1BB", "Manchester M1 1AE", "Leeds LS1 4AP", "Bristol BS1 4DJ"),
    "DE": ("10115 Berlin", "80331 Muenchen", "20095 Hamburg"),
    "FR": ("75002 Paris", "69002 Lyon"),
    "CA": ("Toronto, ON M5H 2N2", "Vancouver, BC V6B 1A1"),
    "NL": ("1012 AB Amsterdam", "3011 AD Rotterdam"),
    "AU": ("Sydney NSW 2000", "Melbourne VIC 3000"),
    "ES": ("28013 Madrid", "08002 Barcelona"),
    "SE": ("111 52 Stockholm",),
    "IE": ("Dublin D02 X285",),
    "BR": ("Sao Paulo, SP 01310-100",),
    "JP": ("Tokyo 100-0005",),
    "IN": ("Bengaluru 560001",),
}
STREETS = ("Market St", "Harbour Road", "Linden Allee", "Rue de la Paix", "King Street", "Dock Lane", "Canal Way")
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737 documentation ranges


def slug(text: str) -> str:
    """Lowercase words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def company_names(rng: random.Random, count: int) -> list[str]:
    """count distinct fictional company names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_NOUNS)}"
        if name in seen:
            name = f"{name} {rng.choice(('Group', 'Inc', 'GmbH', 'Ltd', 'Co'))}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def company_domain(rng: random.Random, company: str) -> str:
    """A subdomain of a reserved example domain, e.g. northwind-logistics.example.com."""
    return f"{slug(company)}.{rng.choice(RESERVED_DOMAINS)}"


def person(rng: random.Random) -> tuple[str, str]:
    """(first name, last name)."""
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def email(first: str, last: str, domain: str) -> str:
    """first.last@domain, ASCII and lowercase."""
    return f"{slug(first)}.{slug(last).replace('-', '')}@{domain}"


def phone(rng: random.Random, country: str) -> str:
    """A number from a range reserved for fiction where the country has one."""
    if country == "GB":
        return f"+44 20 7946 0{rng.randrange(1000):03d}"
    if country == "AU":
        return f"+61 491 570 {rng.randrange(6, 160):03d}"
    return f"+1 555-01{rng.randrange(100):02d}"


def address(rng: random.Random, country: str) -> str:
    """A street address in a real city of the country, on a generic street."""
    return f"{rng.randrange(1, 400)} {rng.choice(STREETS)}, {rng.choice(CITIES[country])}"


def ip_address(rng: random.Random) -> str:
    """An IPv4 address from the documentation ranges, or an IPv6 one from 2001:db8::/32."""
    if rng.random() < 0.15:
        return f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
    return f"{rng.choice(TEST_NETS)}.{rng.randrange(1, 255)}"


def token(rng: random.Random, length: int) -> str:
    """Random base-62 text, like processor ids."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "".join(rng.choices(alphabet, k=length))


def at(day: date | datetime, rng: random.Random, start_hour: int = 7, end_hour: int = 20) -> datetime:
    """A random second of the working day of `day`."""
    base = datetime.combine(day.date() if isinstance(day, datetime) else day, time())
    return base + timedelta(seconds=rng.randrange(start_hour * 3600, end_hour * 3600))


def between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A random second in [low, high), or low when the range is empty."""
    span = int((high - low).total_seconds())
    return low + timedelta(seconds=rng.randrange(span)) if span > 0 else low


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` later, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def month_starts(first: datetime = START, last: datetime = END) -> list[datetime]:
    """First days of the months from first's month up to, not including, last's month."""
    months = []
    current = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while current < last.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
        months.append(current)
        current = add_months(current, 1)
    return months


def weighted(rng: random.Random, choices: Mapping[str, float]) -> str:
    """One key, drawn with the values as weights."""
    return rng.choices(list(choices), weights=list(choices.values()))[0]
