"""pytest plugin (pytest.ini ``-p tests.serialized_rollback``): transactional tests keep the
reference data that migrations load.

A transactional test (``django_db(transaction=True)``, ``transactional_db``, ``live_server``)
ends with a flush that empties every table, including the rows data migrations installed: role
groups, beneficiary categories, policy presets, the nightly beat entry. The next transactional
test then fails with ``DoesNotExist`` on PostgreSQL (CI), depending only on test order. With
``serialized_rollback`` Django restores that data at the start of each such test, so every
transactional test sees the database as migrations left it.
"""
from __future__ import annotations

import pytest


def _transactional(item: pytest.Item) -> tuple[bool, dict]:
    from pytest_django.fixtures import validate_django_db

    marker = item.get_closest_marker("django_db")
    kwargs: dict = {}
    transactional = False
    if marker is not None:
        transaction, reset_sequences, databases, serialized_rollback, available_apps = validate_django_db(marker)
        if serialized_rollback:
            return False, {}  # already asks for it
        transactional = transaction or reset_sequences
        kwargs = {"reset_sequences": reset_sequences}
        if databases is not None:
            kwargs["databases"] = databases
        if available_apps is not None:
            kwargs["available_apps"] = available_apps
    fixtures = getattr(item, "fixturenames", ())
    transactional = transactional or "transactional_db" in fixtures or "live_server" in fixtures
    return transactional, kwargs


def _drives_a_browser(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return item.get_closest_marker("browser") is not None or "page" in fixtures or "browser" in fixtures


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        transactional, kwargs = _transactional(item)
        if transactional:
            # prepend, so it is the closest django_db marker pytest-django reads
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True, **kwargs), append=False)
    # Browser tests last: once Playwright's sync API runs (a session-long event loop and
    # greenlets), Django sees a fresh connection object without the serialized reference data,
    # so transactional tests after them could not restore it. pytest-django's sort (db tests,
    # then transactional, then the rest) is stable, so they stay last among transactional tests.
    items[:] = [i for i in items if not _drives_a_browser(i)] + [i for i in items if _drives_a_browser(i)]


# The reference data serialized when the test database was created. A connection object made
# later has no ``_test_serialized_contents``, and Django then silently restores nothing: Playwright's
# greenlets give a browser test a fresh connection object while its fixtures are set up (``page``
# before ``live_server``), so a browser test after any flush found no policies, regions or
# categories. Once seen, the contents are put on the connection class, so every connection object
# of the (one) test database has them.
def _remember() -> None:
    try:
        from django.db import DEFAULT_DB_ALIAS, connections
    except Exception:  # noqa: BLE001 - Django not configured (e.g. --help)
        return
    conn = connections[DEFAULT_DB_ALIAS]
    contents = conn.__dict__.get("_test_serialized_contents")
    if contents is not None and "_test_serialized_contents" not in type(conn).__dict__:
        type(conn)._test_serialized_contents = contents


@pytest.fixture(scope="session", autouse=True)
def _serialized_contents_on_every_connection(django_db_setup) -> None:
    """Right after the test database is created (before any test's own fixtures, so before
    Playwright starts), put its serialized contents on the connection class."""
    _remember()
