import os

import pytest
from django.db import connection

from organizations import roles


@pytest.fixture
def district(db):
    from tests.factories import DistrictFactory

    return DistrictFactory()


@pytest.fixture
def other_district(db):
    from tests.factories import DistrictFactory

    return DistrictFactory(code="110108", name="海淀区", short_name="京海")


@pytest.fixture
def caseworker(district):
    from tests.factories import make_staff

    return make_staff(roles.CASEWORKER, district=district, username="caseworker")


@pytest.fixture
def reviewer(district):
    from tests.factories import make_staff

    return make_staff(roles.REVIEWER, district=district, username="reviewer")


@pytest.fixture
def other_caseworker(other_district):
    from tests.factories import make_staff

    return make_staff(roles.CASEWORKER, district=other_district, username="other-caseworker")


@pytest.fixture
def civil_certifier(district):
    from tests.factories import make_staff

    return make_staff(roles.CERTIFIER, district=district, agency_kind="civil_affairs", username="civil-certifier")


@pytest.fixture
def auditor(district):
    from tests.factories import make_staff

    return make_staff(roles.AUDITOR, district=district, city_level=True, username="auditor")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL row locks (SELECT ... FOR UPDATE); SQLite serialises writers, so it proves nothing here. Runs in CI (.ci/run).",
)


@pytest.fixture(autouse=True)
def _force_login_passes_second_factor(monkeypatch):
    """``client.force_login`` skips the password; for reviewers and administrators it now also
    passes the second factor (tests/otp.py). The requirement itself stays on: tests/organizations/
    test_twofactor.py logs in without it."""
    from django.test import Client

    from tests.otp import force_login_with_second_factor

    monkeypatch.setattr(Client, "force_login", force_login_with_second_factor)
