"""The Neo4j access layer: one driver per process, with errors worded for the user.

Whether the server is the managed one or an external one (`NEO4J_URI`) is decided by the
settings; callers only ask for `driver()` / `session()`.
"""

from __future__ import annotations

import atexit
import threading
from contextlib import contextmanager

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

from targetkg.settings import Settings, get_settings


class Neo4jUnavailable(RuntimeError):
    """The database cannot be reached or refused us; the message says why and what to do."""


_lock = threading.Lock()
_drivers: dict[tuple, Driver] = {}


def _auth(settings: Settings) -> tuple[str, str]:
    password = settings.password()
    if password is None:
        if settings.managed:
            raise Neo4jUnavailable(
                f"no password for the managed Neo4j ({settings.password_file} does not exist): "
                "run `targetkg neo4j start` first"
            )
        raise Neo4jUnavailable("NEO4J_URI is set but NEO4J_PASSWORD is not")
    return settings.neo4j_user, password


def driver(settings: Settings | None = None, verify: bool = True) -> Driver:
    """A shared driver for the configured server; verified once (clear error, no hang)."""
    settings = settings or get_settings()
    key = (settings.bolt_uri, settings.neo4j_user, settings.password(), settings.neo4j_database)
    with _lock:
        drv = _drivers.get(key)
        if drv is None:
            try:
                drv = GraphDatabase.driver(
                    settings.bolt_uri,
                    auth=_auth(settings),
                    connection_timeout=settings.connect_timeout_s,
                    connection_acquisition_timeout=max(settings.connect_timeout_s * 2, 10.0),
                    max_transaction_retry_time=settings.connect_timeout_s,
                )
            except (ValueError, ConfigurationError) as exc:
                raise Neo4jUnavailable(f"invalid Neo4j URI {settings.bolt_uri!r}: {exc}") from exc
            if verify:
                check(drv, settings)
            _drivers[key] = drv
    return drv


def check(drv: Driver, settings: Settings) -> None:
    where = settings.bolt_uri + ("" if settings.neo4j_uri else " (managed server)")
    try:
        drv.verify_connectivity()
        drv.execute_query("RETURN 1", database_=settings.neo4j_database)
    except AuthError as exc:
        drv.close()
        hint = (
            f"the managed server's password is in {settings.password_file}"
            if settings.managed
            else "check NEO4J_USER / NEO4J_PASSWORD"
        )
        raise Neo4jUnavailable(f"Neo4j at {where} rejected user {settings.neo4j_user!r}: wrong password ({hint})") from exc
    except (ServiceUnavailable, OSError) as exc:
        drv.close()
        hint = "start it with `targetkg neo4j start`" if settings.managed else "check NEO4J_URI and that the server is up"
        raise Neo4jUnavailable(f"cannot reach Neo4j at {where}: {exc.__class__.__name__}: {exc}; {hint}") from exc


def close_all() -> None:
    with _lock:
        for drv in _drivers.values():
            drv.close()
        _drivers.clear()


# The shared drivers live for the whole process; close them at exit rather than leave it to the
# garbage collector (the driver warns about that, and may drop the last bookmarks).
atexit.register(close_all)


@contextmanager
def session(settings: Settings | None = None, **kwargs):
    settings = settings or get_settings()
    with driver(settings).session(database=settings.neo4j_database, **kwargs) as s:
        yield s
