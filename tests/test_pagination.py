"""The shared page links (templates/_pagination.html) keep the filters and move between pages."""
import pytest
from django.urls import reverse

from beneficiaries.views import PersonListView
from tests.factories import PersonFactory


@pytest.mark.django_db
def test_person_list_pages_keep_the_filters(client, caseworker, district):
    for _ in range(PersonListView.paginate_by + 1):
        PersonFactory(hukou_district=district)
    client.force_login(caseworker)
    first = client.get(reverse("beneficiaries:index"), {"district": district.pk}).content.decode()
    assert "page=2" in first and f"district={district.pk}" in first
    second = client.get(reverse("beneficiaries:index"), {"district": district.pk, "page": 2})
    assert second.status_code == 200
    assert "page=1" in second.content.decode()
