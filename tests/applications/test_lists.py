"""Issue 20: the application list pages by a (received_on, id) cursor (``?after=``), not OFFSET,
in its default order (and by number); the number of queries does not depend on the rows or the
depth; a bad cursor is page 1; scope holds on every page."""
from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.models import Application, Status
from applications.views import IndexView
from tests.conftest import requires_postgres
from tests.factories import HouseholdFactory, PersonFactory

pytestmark = pytest.mark.django_db

SIZE = IndexView.paginate_by
URL = "applications:index"


def bulk_applications(n: int, *, district, start: int = 0) -> list[Application]:
    """``n`` open applications written straight to the table (the list only reads them), on
    three dates, so the date ties and the id must break the ties."""
    household = HouseholdFactory(district=district)
    applicant = PersonFactory(hukou_district=district, household=household)
    days = (date(2024, 3, 2), date(2024, 3, 1), date(2024, 3, 3))
    statuses = (Status.RECEIVED, Status.ASSESSING, Status.GATHERING, Status.REVIEWING)
    return Application.objects.bulk_create(
        Application(number=f"YS-T-{start + i:05d}", household=household, applicant=applicant, district=district,
                    received_on=days[i % 3], year=2024, status=statuses[i % 4]) for i in range(n))


def walk(client, query: str) -> tuple[list, list]:
    seen, pages = [], []
    while True:
        response = client.get(reverse(URL) + "?" + query)
        assert response.status_code == 200
        pages.append(response)
        seen += [a.pk for a in response.context["applications"]]
        if not response.context["next_query"]:
            return seen, pages
        query = response.context["next_query"]


@pytest.mark.parametrize(("sort", "key", "newest_first"), [
    ("", lambda a: (a.received_on, a.pk), False),
    ("-received_on", lambda a: (a.received_on, a.pk), True),
    ("number", lambda a: (a.number, a.pk), False),
])
def test_walking_the_pages_by_after_visits_every_row_once_in_order(client, caseworker, district, sort, key, newest_first):
    rows = bulk_applications(SIZE * 2 + 7, district=district)
    client.force_login(caseworker)
    seen, pages = walk(client, f"sort={sort}" if sort else "")
    assert seen == [a.pk for a in sorted(rows, key=key, reverse=newest_first)]  # no skip, no repeat, ties broken by id
    assert [p.context["page_number"] for p in pages] == [1, 2, 3]
    body = pages[-1].content.decode()
    assert "第 3 / 3 页" in body and f"共 {len(rows)} 条" in body
    back = client.get(reverse(URL) + "?" + pages[-1].context["prev_query"])
    assert [a.pk for a in back.context["applications"]] == [a.pk for a in pages[1].context["applications"]]


def test_the_cursor_keeps_the_queue(client, caseworker, district):
    rows = bulk_applications(SIZE * 4 + 4, district=district)
    client.force_login(caseworker)
    seen, pages = walk(client, "queue=to_send")  # received only: a quarter of the rows
    assert "queue=to_send" in pages[0].context["next_query"]
    assert seen == [a.pk for a in sorted(rows, key=lambda a: (a.received_on, a.pk)) if a.status == Status.RECEIVED]


def test_query_count_is_fixed_whatever_the_rows_and_the_depth(client, caseworker, district, django_assert_num_queries):
    client.force_login(caseworker)
    bulk_applications(1, district=district)
    client.get(reverse(URL))  # warm
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse(URL))
    one_row = len(ctx)  # now: every request resets the connection's query log
    bulk_applications(SIZE * 4, district=district, start=1)
    _seen, pages = walk(client, "")
    assert len(pages) == 5
    for query in ("", pages[0].context["next_query"], pages[-2].context["next_query"], pages[-1].context["prev_query"]):
        with django_assert_num_queries(one_row):
            client.get(reverse(URL) + "?" + query)


@pytest.mark.parametrize("cursor", ["abc", "_", "2024-02-30_4", "2024-03-01_x", "2024-03-01_99999999999999999999999",
                                    "2024-03-01\x00_4", "%00"])
def test_a_tampered_cursor_is_page_1_not_an_error(client, caseworker, district, cursor):
    bulk_applications(SIZE + 2, district=district)
    client.force_login(caseworker)
    first = [a.pk for a in client.get(reverse(URL)).context["applications"]]
    for name in ("after", "before"):
        response = client.get(reverse(URL), {name: cursor, "p": "-3"})
        assert response.status_code == 200
        assert [a.pk for a in response.context["applications"]] == first


def test_another_districts_user_sees_no_row_on_any_page(client, caseworker, other_caseworker, district):
    bulk_applications(SIZE + 2, district=district)
    client.force_login(caseworker)
    next_query = client.get(reverse(URL)).context["next_query"]
    client.force_login(other_caseworker)
    for query in ("", next_query, next_query.replace("after=", "before=")):
        response = client.get(reverse(URL) + "?" + query)
        assert list(response.context["applications"]) == [] and "YS-T-" not in response.content.decode()


def test_name_sort_keeps_numbered_pages(client, caseworker, district):
    bulk_applications(SIZE + 2, district=district)
    client.force_login(caseworker)
    response = client.get(reverse(URL), {"sort": "name"})
    assert response.context["page_obj"].paginator.num_pages == 2 and "page=2" in response.content.decode()


@requires_postgres
def test_a_deep_page_is_one_row_comparison_without_offset(client, caseworker, district):
    bulk_applications(SIZE + 2, district=district)
    client.force_login(caseworker)
    next_query = client.get(reverse(URL)).context["next_query"]
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse(URL) + "?" + next_query)
    page_sql = [q["sql"] for q in ctx.captured_queries if f"LIMIT {SIZE + 1}" in q["sql"]]
    assert page_sql and '("applications_application"."received_on", "applications_application"."id") >' in page_sql[0]
    assert "OFFSET" not in page_sql[0]
