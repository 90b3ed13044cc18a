import pytest

from organizations import roles
from policies.models import Policy
from policies.selectors import forget_spec


@pytest.fixture(autouse=True)
def _fresh_spec_cache():
    forget_spec()
    yield
    forget_spec()


@pytest.fixture
def beijing(db) -> Policy:
    return Policy.objects.get(code="beijing-2023", is_current=True)


@pytest.fixture
def national(db) -> Policy:
    return Policy.objects.get(code="national-2021", is_current=True)


@pytest.fixture
def administrator(district):
    from tests.factories import make_staff

    return make_staff(roles.ADMINISTRATOR, district=district, city_level=True, username="policy-admin")


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.cn", "correct-horse-battery")
