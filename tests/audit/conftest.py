import pytest


@pytest.fixture
def person(district):
    from tests.factories import PersonFactory

    return PersonFactory(hukou_district=district, name="张三")


@pytest.fixture
def other_person(other_district):
    from tests.factories import PersonFactory

    return PersonFactory(hukou_district=other_district, name="李四")
