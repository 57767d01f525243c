# TEMPORARY: replaced by tests/pg_fixtures.py at merge (then delete this file: it only borrows the dev server)
from fleet_dev_pg import pg_url, pytest_configure  # noqa: F401
