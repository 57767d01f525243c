"""TEMPORARY: replaced by tests/pg_fixtures.py at merge (delete this file and the conftest imports of it).

`pg_url`: a fresh database on the development PostgreSQL at 127.0.0.1:55432, dropped after the test; the
`pg` marker registered. The real plugin starts its own server; this one only borrows the dev server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

DEV_SERVER = "postgresql://postgres@127.0.0.1:55432"  # TEMPORARY: replaced by tests/pg_fixtures.py at merge


def pytest_configure(config: pytest.Config) -> None:  # TEMPORARY: replaced by tests/pg_fixtures.py at merge
    config.addinivalue_line("markers", "pg: needs a real PostgreSQL (the shared queue)")


@pytest.fixture
def pg_url() -> Iterator[str]:  # TEMPORARY: replaced by tests/pg_fixtures.py at merge
    import psycopg

    name = "fleet_" + uuid.uuid4().hex[:12]
    try:
        admin = psycopg.connect(f"{DEV_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"the development PostgreSQL at {DEV_SERVER} is not running: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{DEV_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{DEV_SERVER}/postgres", autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
