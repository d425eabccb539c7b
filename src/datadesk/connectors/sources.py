"""Which integration configs may be used as sources: files only inside the operator's sources folders,
servers only on the allowed hosts, and never datadesk's own store, key file or home folder.

Paths are judged the way the connectors and the SQL runner open them: the URL's database as SQLAlchemy
decodes it, `~` expanded, symlinks followed. What a connector would open relative to the server's working
folder (relative paths, `file:` URIs, `md:` and the like) is refused rather than guessed at.
"""

from __future__ import annotations

import fnmatch
import getpass
import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from datadesk.errors import Invalid
from datadesk.settings import Settings

FILE_REFUSED = (
    "SQLite, DuckDB and dbt files must be inside a folder listed in DATADESK_SOURCES_DIR, and never be the "
    "catalog store, its key file or anything else in DATADESK_HOME outside its sources folder."
)
RELATIVE_REFUSED = "SQLite, DuckDB and dbt paths must be absolute paths inside a folder listed in DATADESK_SOURCES_DIR."
STORE_REFUSED = (
    "The catalog store's own database (DATADESK_DATABASE_URL) can never be a source; "
    "point the integration at another database."
)
HOST_REFUSED = "This database host is not allowed as a source: hosts must match DATADESK_SOURCES_HOSTS."
TARGET_REFUSED = (
    "Give the host, port and database in the URL itself (no connection service or connection string), "
    "so it can be checked against DATADESK_SOURCES_HOSTS and the catalog store."
)

URL_BACKENDS = {
    "postgres": ("postgresql", "postgres"),
    "mysql": ("mysql", "mariadb"),
    "sqlite": ("sqlite",),
    "duckdb": ("duckdb",),
}
URL_EXAMPLES = {
    "postgres": "postgresql://user:password@host:5432/database",
    "mysql": "mysql+pymysql://user:password@host:3306/database",
    "sqlite": "sqlite:////path/to/file.db",
    "duckdb": "duckdb:////path/to/file.duckdb",
}
FAMILIES = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
DBT_PATHS = ("manifest_path", "catalog_path", "run_results_path")
STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
# libpq reads these from a service file or splits them from a connection string: the target cannot be judged.
PG_OPAQUE_KEYS = ("service", "servicefile")
_HOST_PORT = re.compile(r"([^:\[\]]+):(\d+)")


class SourceNotAllowed(Invalid):
    """The config reaches something the operator has not allowed as a source."""

    status = 400
    code = "source_not_allowed"


def check_source(settings: Settings, type: str, config: Mapping[str, str]) -> None:
    """Refuse (400 source_not_allowed) a config that may not be read as a source under these settings."""
    if type == "dbt":
        for key in DBT_PATHS:
            if config.get(key):
                check_file(settings, config[key])
        return
    url = _parse(type, config.get("url", ""))
    if type in ("sqlite", "duckdb"):
        if not url.database or url.database == ":memory:":
            raise Invalid(f"A {type} integration needs a file URL ({URL_EXAMPLES[type]}).", code="invalid_config")
        check_file(settings, url.database)
    else:
        _check_server(settings, url, FAMILIES[url.get_backend_name()])


def check_file(settings: Settings, raw: str) -> None:
    """Refuse a path unless it resolves inside a sources folder and is none of datadesk's own files."""
    if "\x00" in raw:
        raise SourceNotAllowed(FILE_REFUSED)
    if raw.startswith("~") and raw != "~" and not raw.startswith("~/"):
        # ~user is expanded by Python but not by every engine, which would open a relative path instead.
        raise SourceNotAllowed(RELATIVE_REFUSED)
    expanded = os.path.expanduser(raw)
    if not os.path.isabs(expanded):
        raise SourceNotAllowed(RELATIVE_REFUSED)
    # Both readings of "..": the kernel's (after symlinks) and the textual one some libraries apply first.
    readings = {os.path.realpath(expanded), os.path.realpath(os.path.normpath(expanded))}
    if not all(_file_allowed(settings, Path(reading)) for reading in readings):
        raise SourceNotAllowed(FILE_REFUSED)


def _file_allowed(settings: Settings, path: Path) -> bool:
    if any(_same_file(path, own) for own in _own_files(settings)):
        return False
    home = Path(os.path.realpath(settings.home))
    if _within(path, home) and not _within(path, home / "sources"):
        return False
    return any(_within(path, folder) for folder in settings.sources_dirs)


def _own_files(settings: Settings) -> list[Path]:
    """The key file and the SQLite store with its companion files."""
    files = [Path(os.path.realpath(settings.key_file))]
    store = _store_file(settings.database_url)
    if store is not None:
        files += [Path(os.path.realpath(f"{store}{suffix}")) for suffix in STORE_SUFFIXES]
    return files


def _store_file(database_url: str) -> str | None:
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        database = unquote(urlsplit(database).path)
    return os.path.expanduser(database)


def _same_file(path: Path, own: Path) -> bool:
    """The same path, or the same file reached another way (a hard link, a bind mount, case folding)."""
    if path == own:
        return True
    try:
        return os.path.samestat(path.stat(), own.stat())
    except OSError:
        return False


def _within(path: Path, folder: Path) -> bool:
    """Whether path is folder or lies under it, by name or by the identity of an existing ancestor."""
    if path == folder or folder in path.parents:
        return True
    try:
        target = folder.stat()
    except OSError:
        return False
    for ancestor in (path, *path.parents):
        try:
            if os.path.samestat(ancestor.stat(), target):
                return True
        except OSError:
            continue
    return False


def _parse(type: str, raw: str) -> URL:
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise Invalid("The config url is not a valid URL.", code="invalid_config") from None
    if url.get_backend_name() not in URL_BACKENDS.get(type, ()):
        raise Invalid(f"A {type} integration needs a URL like {URL_EXAMPLES[type]}.", code="invalid_config")
    return url


# --- servers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """Every host, port and database a URL may connect to (over-approximated where the driver is loose)."""

    hosts: frozenset[str]
    ports: frozenset[int]
    databases: frozenset[str]


def _check_server(settings: Settings, url: URL, family: str) -> None:
    target = _target(url, family)
    patterns = settings.sources_host_patterns
    if patterns:
        for host in target.hosts:
            name = host or "localhost"
            if not any(fnmatch.fnmatchcase(name.lower(), pattern) for pattern in patterns):
                raise SourceNotAllowed(HOST_REFUSED)
    store = _store_target(settings.database_url, family)
    if store is None or not target.ports & store.ports:
        return
    # One MySQL connection reads every database on its server; PostgreSQL's stay within one database.
    if family == "postgresql" and not target.databases & store.databases:
        return
    if _host_keys(target.hosts) & _host_keys(store.hosts):
        raise SourceNotAllowed(STORE_REFUSED)


def _store_target(database_url: str, family: str) -> _Target | None:
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if FAMILIES.get(url.get_backend_name()) != family:
        return None
    return _target(url, family, strict=False)


def _target(url: URL, family: str, *, strict: bool = True) -> _Target:
    if family == "mysql":
        sockets = {""} if _values(url, "unix_socket") else set()
        return _Target(
            frozenset({_bare(url.host or "localhost"), *sockets}),
            frozenset({url.port or DEFAULT_PORTS["mysql"]}),
            frozenset(),
        )
    if strict and any(_values(url, key) for key in PG_OPAQUE_KEYS):
        raise SourceNotAllowed(TARGET_REFUSED)
    hosts: set[str] = set()
    ports: set[int] = set()
    for value in [url.host or "", *_values(url, "host"), *_values(url, "hostaddr")]:
        for part in value.split(","):
            part = part.strip()
            hosts.add(_bare(part))
            if found := _HOST_PORT.fullmatch(part):  # SQLAlchemy's multi-host form host:port
                hosts.add(found.group(1))
                ports.add(int(found.group(2)))
    hosts.discard("")
    if not hosts:
        hosts = {_bare(h.strip()) for h in os.environ.get("PGHOST", "").split(",")}
    explicit = [url.port] if url.port else []
    explicit += [int(p) for v in _values(url, "port") for p in v.split(",") if p.strip().isdigit()]
    if not explicit:
        explicit = [int(os.environ.get("PGPORT", "") or DEFAULT_PORTS["postgresql"])]
    ports.update(explicit)
    databases = {d for d in [url.database or "", *_values(url, "dbname")] if d}
    if strict and any("=" in d or "://" in d for d in databases):
        raise SourceNotAllowed(TARGET_REFUSED)
    if not databases:
        user = url.username or next(iter(_values(url, "user")), "") or os.environ.get("PGUSER") or getpass.getuser()
        databases = {os.environ.get("PGDATABASE") or user}
    return _Target(frozenset(hosts), frozenset(ports), frozenset(databases))


def _values(url: URL, key: str) -> list[str]:
    value = url.query.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _host_keys(hosts: Iterable[str]) -> set[str]:
    """What each host reaches: "local" for this machine (sockets, loopback, its own addresses), else addresses."""
    keys: set[str] = set()
    for host in hosts:
        if not host or host.startswith(("/", "@")) or host.lower() == "localhost":
            keys.add("local")
            continue
        keys.add(host.lower())
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError):
            continue
        keys.update(_address_key(address) for address in addresses)
    return keys


def _address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified or _is_own_address(ip):
        return "local"
    return str(ip)


def _is_own_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address belongs to this machine: only then can a socket be bound to it."""
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True
