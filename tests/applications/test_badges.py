"""Issue 20: the application list's work-queue badges are counted up to ``BADGE_CAP`` per status
in ONE query (``organizations.listing.capped_counts``), ``999+`` beyond, instead of a GROUP BY
over every application in scope; exact below the cap; scoped like the list; city level is
``district_id IN (…)`` (no join on the region); the number of queries is pinned whatever the rows."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications import views
from applications.models import Application, Status
from organizations.listing import capped_counts
from tests.applications.test_lists import bulk_applications

pytestmark = pytest.mark.django_db


def badges(response) -> dict[str, tuple[int, bool]]:
    return {code: (count, capped) for code, _label, count, capped in response.context["queues"]}


def test_badges_are_exact_below_the_cap(client, caseworker, district):
    bulk_applications(9, district=district)  # received, assessing, gathering, reviewing, …: 3/2/2/2
    Application.objects.filter(number="YS-T-00008").update(status=Status.REJECTED)
    client.force_login(caseworker)
    got = badges(client.get(reverse("applications:index")))
    assert got == {"open": (8, False), "to_send": (2, False), "to_assess": (2, False), "to_gather": (2, False),
                   "to_decide": (2, False), "closed": (1, False)}


def test_beyond_the_cap_a_badge_says_more_than(client, caseworker, district, monkeypatch):
    """Fails on the old code (no cap: exact counts of every row, the tuples had no ``capped``)."""
    monkeypatch.setattr(views, "BADGE_CAP", 3)
    bulk_applications(12, district=district)  # 3 of each open status
    client.force_login(caseworker)
    response = client.get(reverse("applications:index"))
    got = badges(response)
    assert got["to_send"] == (3, False)  # exactly the cap: not capped
    assert got["open"] == (3, True) and got["closed"] == (0, False)
    body = response.content.decode()
    assert 'title="超过 3 条">3+</span>' in body


def test_badges_count_only_the_scope(client, caseworker, other_caseworker, auditor, district):
    bulk_applications(5, district=district)
    client.force_login(other_caseworker)
    assert {count for count, _capped in badges(client.get(reverse("applications:index"))).values()} == {0}
    client.force_login(auditor)  # city level: the region's districts
    assert badges(client.get(reverse("applications:index")))["open"] == (5, False)


def test_badges_are_one_query_without_a_join_on_the_region(client, auditor, district):
    """Fails on the old code: a GROUP BY status over the scope joined organizations_district."""
    bulk_applications(5, district=district)
    client.force_login(auditor)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("applications:index"))
    counting = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert len(counting) == 2  # the capped total of the list, the badges
    assert all("GROUP BY" not in sql and '"organizations_district"' not in sql for sql in counting)


@pytest.mark.parametrize(("who", "queries"), [("caseworker", 10), ("auditor", 11)])
def test_query_count_is_pinned_at_two_data_sizes(client, request, district, who, queries, django_assert_num_queries):
    """session, user, groups, staff profile, [city level: the region's districts, twice], the page,
    the capped total, the badges, the base template's profile and agency; the caseworker's page
    also reads the open warnings it may turn into applications."""
    user = request.getfixturevalue(who)
    bulk_applications(1, district=district)
    client.force_login(user)
    client.get(reverse("applications:index"))  # warm
    with django_assert_num_queries(queries):
        client.get(reverse("applications:index"))
    bulk_applications(views.IndexView.paginate_by * 3, district=district, start=1)
    with django_assert_num_queries(queries):
        response = client.get(reverse("applications:index"))
    with django_assert_num_queries(queries):
        client.get(reverse("applications:index") + "?" + response.context["next_query"])


def test_capped_counts_of_an_empty_scope_send_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert capped_counts({"a": Application.objects.none(), "b": Application.objects.none()}) == {"a": 0, "b": 0}
