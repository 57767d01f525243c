"""The pg tier's own fixtures: a real server, a database per test, a crash restart, and a relay that partitions
a client from the server."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from pgkit import PgServer
from tcprelay import TcpRelay

pytestmark = pytest.mark.pg

seen: list[str] = []  # the databases the two tests below were given, in order


def _current_database(url: str) -> str:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_database(), 1").fetchone()
    assert row is not None and row[1] == 1
    return str(row[0])


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_its_own_empty_database(pg_url: str, turn: int) -> None:
    name = _current_database(pg_url)
    assert pg_url.endswith(f"/{name}")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE marker (turn int)")  # the other turn must not see it
    seen.append(name)
    if turn == 2:
        assert len(seen) == 2 and seen[0] != seen[1]


def test_the_database_is_dropped_after_its_test(pg_server: PgServer) -> None:
    assert len(seen) == 2, "runs after the two turns above"
    with psycopg.connect(pg_server.url(), connect_timeout=5) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert not names & set(seen)


def test_restart_drops_connections_and_comes_back(pg_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (7)")  # committed: it must survive the crash
        pid = conn.info.backend_pid
        pg_server.restart()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with psycopg.connect(pg_url, connect_timeout=5) as conn:
        assert conn.info.backend_pid != pid
        assert conn.execute("SELECT v FROM t").fetchall() == [(7,)]
    assert "database system is ready to accept connections" in pg_server.log_tail()


def _query_in_thread(conn: psycopg.Connection) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(conn.execute("SELECT 42").fetchone())
        except psycopg.Error as exc:
            out.append(exc)

    t = threading.Thread(target=run, name="pg-query")
    t.start()
    return t, out


def test_a_frozen_relay_partitions_client_and_server(pg_server: PgServer, pg_url: str) -> None:
    with TcpRelay(pg_server.host, pg_server.port) as relay:
        url = pg_url.replace(f":{pg_server.port}/", f":{relay.port}/")
        assert url != pg_url
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        try:
            assert conn.execute("SELECT inet_server_port()").fetchone() == (pg_server.port,)
            relay.freeze()
            t, out = _query_in_thread(conn)
            t.join(timeout=1.5)
            assert t.is_alive() and out == [], "a query through a frozen relay must hang"
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(url, connect_timeout=2).close()
            assert 1.5 < time.monotonic() - started < 10, "a new connection must wait out its connect_timeout"
            relay.thaw()
            t.join(timeout=5)
            assert out == [(42,)], "the held query goes through after thaw"
            assert _current_database(url) == _current_database(pg_url)
        finally:
            relay.cut()  # unblocks a query still held if an assertion above failed
            conn.close()


def test_cut_resets_the_relayed_connections(pg_server: PgServer, pg_url: str) -> None:
    with TcpRelay(pg_server.host, pg_server.port) as relay:
        url = pg_url.replace(f":{pg_server.port}/", f":{relay.port}/")
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            relay.cut()
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
        assert _current_database(url)  # a new connection through the same relay works


def test_btree_gist_is_available(pg_url: str) -> None:
    """The queue's exclusion constraints need it (Debian's postgresql package ships it with contrib)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION btree_gist")
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'btree_gist'").fetchone()
