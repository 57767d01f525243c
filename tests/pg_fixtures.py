"""Fixtures for the pg-tier tests, whatever package they test: one real PostgreSQL server for the session, a
fresh database for each test.

A pg test skips (with what to install) when the server binaries are missing; the root conftest turns such a
skip into a failure when CI=true. A test that uses the server is marked pg even if it forgot the marker.
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator

import pytest
from pgkit import PgServer, find_bindir, make_root, server_user

_serial = itertools.count(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pg)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found: apt-get install postgresql")
    user = server_user()
    if user is None:
        pytest.skip("initdb refuses root and there is no postgres user: apt-get install postgresql (makes one)")
    root = make_root(user)
    server = PgServer(bindir, user, root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own on the session's server, named after the test (63 bytes at most), dropped after."""
    name = f"t{next(_serial)}_{re.sub(r'[^a-z0-9]+', '_', request.node.name.lower())}"[:63]
    pg_server.create_database(name)
    yield pg_server.url(name)
    pg_server.drop_database(name)
