"""Issue 18, finding records: search by name, ID number (full or last 4) and number on the claim
and bill lists, totals, sortable columns, numbered pages, a fixed number of queries per page,
and the bill-list cursor as one row comparison."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from claims.views import PAGE_SIZE
from tests.conftest import requires_postgres
from tests.factories import BillFactory, CertificationFactory, InstitutionFactory, PersonFactory

from .conftest import bill_data

pytestmark = pytest.mark.django_db


def bulk_claims(n: int, *, person, district, by, statuses=("draft", "submitted", "approved"),
                days=(date(2023, 4, 1), date(2023, 4, 2))):
    """``n`` claims written straight to the table (the list only reads them): few distinct
    statuses and dates, so the sort field ties and the id must break the ties."""
    from claims.models import Claim

    return Claim.objects.bulk_create(
        Claim(person=person, district=district, created_by=by, status=statuses[i % len(statuses)],
              applied_on=days[i % len(days)]) for i in range(n))


def walk(client, url: str, query: str, rows: str) -> tuple[list, list]:
    """Follow the ``next`` links from ``url?query`` to the end: (row ids in the order seen, responses)."""
    seen, pages = [], []
    while True:
        response = client.get(url + "?" + query)
        assert response.status_code == 200
        pages.append(response)
        seen += [row.pk for row in response.context[rows]]
        if not response.context["next_query"]:
            return seen, pages
        query = response.context["next_query"]


def search_via_box(client, url: str, q: str):
    """What the search box does: POST q (and the list URL) to search_go, follow the redirect."""
    response = client.post(reverse("search_go"), {"q": q, "next": url})
    assert response.status_code == 302
    return response, client.get(response["Location"])


@pytest.fixture
def two_claims(make_claim, institution, district):
    other = PersonFactory(hukou_district=district, name="李秀英")
    CertificationFactory(person=other, valid_from=date(2022, 1, 1))
    first = make_claim()
    second = make_claim(target=other, bills=[bill_data(institution)])
    return first, second


class TestClaimListSearch:
    def test_by_name(self, client, caseworker, two_claims):
        first, second = two_claims
        client.force_login(caseworker)
        page = client.get(reverse("claims:index"), {"q": "李秀"})
        assert list(page.context["claims"]) == [second]

    def test_by_last_four_of_the_id_number(self, client, caseworker, two_claims):
        first, second = two_claims
        client.force_login(caseworker)
        page = client.get(reverse("claims:index"), {"q": second.person.id_number[-4:]})
        assert second in page.context["claims"] and first not in page.context["claims"]

    def test_by_full_id_number_never_in_the_url(self, client, caseworker, two_claims):
        first, second = two_claims
        client.force_login(caseworker)
        redirect, page = search_via_box(client, reverse("claims:index"), first.person.id_number)
        assert first.person.id_number not in redirect["Location"] and "qid=" in redirect["Location"]
        assert list(page.context["claims"]) == [first]
        # the box shows the number masked
        assert first.person.masked_id_number in page.content.decode()

    def test_by_claim_number(self, client, caseworker, two_claims):
        first, second = two_claims
        client.force_login(caseworker)
        _redirect, page = search_via_box(client, reverse("claims:index"), second.number)
        assert list(page.context["claims"]) == [second]

    def test_other_districts_claims_are_not_found(self, client, other_caseworker, two_claims):
        first, _second = two_claims
        client.force_login(other_caseworker)
        _redirect, page = search_via_box(client, reverse("claims:index"), first.person.id_number)
        assert list(page.context["claims"]) == []


class TestClaimListPagesAndSorting:
    def test_total_and_keyset_pages(self, client, caseworker, make_claim, institution):
        for _ in range(PAGE_SIZE + 3):
            make_claim(bills=[bill_data(institution)], submit=False)
        client.force_login(caseworker)
        first = client.get(reverse("claims:index"))
        body = first.content.decode()
        assert f"共 {PAGE_SIZE + 3} 条" in body and "第 1 / 2 页" in body
        assert first.context["next_query"].startswith("after=") and "page=" not in body
        second = client.get(reverse("claims:index") + "?" + first.context["next_query"])
        assert len(second.context["claims"]) == 3 and "第 2 / 2 页" in second.content.decode()

    def test_joined_column_sorts_keep_numbered_pages(self, client, caseworker, district, person):
        bulk_claims(PAGE_SIZE + 3, person=person, district=district, by=caseworker)
        client.force_login(caseworker)
        body = client.get(reverse("claims:index"), {"sort": "name"}).content.decode()
        assert "page=2" in body and "sort=name" in body
        assert len(client.get(reverse("claims:index"), {"sort": "name", "page": 2}).context["claims"]) == 3

    def test_sort_by_amount_and_back(self, client, caseworker, make_claim, institution, reviewer):
        from claims import services

        claims = [make_claim(bills=[bill_data(institution, burden=b)]) for b in ("1000.00", "30000.00", "9000.00")]
        for claim in claims:
            services.claim_approve(claim=claim, reviewer=reviewer)
        client.force_login(caseworker)
        up = client.get(reverse("claims:index"), {"sort": "amount"}).context["claims"]
        amounts = [c.approved_amount for c in up]
        assert amounts == sorted(amounts)
        down = client.get(reverse("claims:index"), {"sort": "-amount"}).context["claims"]
        assert [c.approved_amount for c in down] == sorted(amounts, reverse=True)
        # the header links to the other direction, keeping the filters
        body = client.get(reverse("claims:index"), {"sort": "amount", "status": "approved"}).content.decode()
        assert "sort=-amount" in body and "status=approved" in body

    def test_unknown_sort_key_falls_back(self, client, caseworker, make_claim):
        make_claim()
        client.force_login(caseworker)
        assert client.get(reverse("claims:index"), {"sort": "person__id_number"}).status_code == 200

    def test_query_count_does_not_grow_with_the_rows(self, client, caseworker, make_claim, institution):
        client.force_login(caseworker)
        make_claim()
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("claims:index"), {"q": "张"})
        for _ in range(12):
            make_claim(bills=[bill_data(institution)])
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("claims:index"), {"q": "张"})
        assert len(many) == len(few)


class TestBillList:
    def test_search_by_settlement_number_and_name(self, client, caseworker, district):
        institution = InstitutionFactory(district=district)
        wanted = BillFactory(person=PersonFactory(hukou_district=district, name="王建国"), institution=institution,
                             settlement_no="JS-777")
        BillFactory(person=PersonFactory(hukou_district=district), institution=institution)
        client.force_login(caseworker)
        assert list(client.get(reverse("claims:bills"), {"q": "JS-777"}).context["bills"]) == [wanted]
        assert list(client.get(reverse("claims:bills"), {"q": "王建"}).context["bills"]) == [wanted]

    def test_pages_walk_every_row_once_with_ties_on_the_date(self, client, caseworker, district):
        """Many bills on one discharge date: the (date, id) cursor neither skips nor repeats,
        forwards and backwards; the total and page number are shown."""
        institution = InstitutionFactory(district=district)
        day = date(2024, 5, 1)
        bills = [BillFactory(person=PersonFactory(hukou_district=district), institution=institution,
                             discharge_date=day - timedelta(days=i % 3), admission_date=day - timedelta(days=5))
                 for i in range(PAGE_SIZE * 2 + 7)]
        client.force_login(caseworker)
        seen, query, pages = [], "", []
        while True:
            response = client.get(reverse("claims:bills") + "?" + query)
            pages.append(response)
            seen += [b.pk for b in response.context["bills"]]
            if not response.context["next_query"]:
                break
            query = response.context["next_query"]
        assert sorted(seen) == sorted(b.pk for b in bills) and len(seen) == len(set(seen))
        assert pages[-1].context["page_number"] == 3 and pages[0].context["total"] == len(bills)
        assert f"共 {len(bills)} 条" in pages[0].content.decode() and "第 3 / 3 页" in pages[-1].content.decode()
        back = client.get(reverse("claims:bills") + "?" + pages[-1].context["prev_query"])
        assert [b.pk for b in back.context["bills"]] == [b.pk for b in pages[1].context["bills"]]
        assert back.context["page_number"] == 2

    def test_oldest_first(self, client, caseworker, district):
        institution = InstitutionFactory(district=district)
        for i in range(5):
            BillFactory(person=PersonFactory(hukou_district=district), institution=institution,
                        discharge_date=date(2024, 1, 1 + i), admission_date=date(2024, 1, 1))
        client.force_login(caseworker)
        days = [b.discharge_date for b in client.get(reverse("claims:bills"), {"sort": "discharge_date"}).context["bills"]]
        assert days == sorted(days)

    def test_query_count_is_fixed(self, client, caseworker, district, django_assert_num_queries):
        institution = InstitutionFactory(district=district)
        client.force_login(caseworker)
        for _i in range(3):
            BillFactory(person=PersonFactory(hukou_district=district), institution=institution)
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("claims:bills"), {"q": "张"})
        for _i in range(PAGE_SIZE):
            BillFactory(person=PersonFactory(hukou_district=district), institution=institution)
        with django_assert_num_queries(len(few)):
            client.get(reverse("claims:bills"), {"q": "张"})

    @requires_postgres
    def test_cursor_is_one_row_comparison_on_postgresql(self, client, caseworker, district):
        """The old ``date < d OR (date = d AND id < pk)`` is not an index bound; a row comparison is."""
        institution = InstitutionFactory(district=district)
        BillFactory(person=PersonFactory(hukou_district=district), institution=institution)
        client.force_login(caseworker)
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("claims:bills"), {"after": "2024-05-01_10"})
        page_sql = [q["sql"] for q in ctx.captured_queries if "LIMIT 51" in q["sql"]]
        assert page_sql and '("claims_bill"."discharge_date", "claims_bill"."id") <' in page_sql[0]


def test_money_amount_in_search_results_formatted(client, caseworker, make_claim, reviewer):
    from claims import services

    claim = make_claim()
    services.claim_approve(claim=claim, reviewer=reviewer)
    claim.refresh_from_db()
    client.force_login(caseworker)
    body = client.get(reverse("claims:index"), {"q": claim.person.name}).content.decode()
    assert f"{claim.approved_amount:,.2f}" in body and claim.approved_amount > Decimal("1000")


class TestIssue20ClaimListKeyset:
    """Issue 20: the claim list pages by a (field, id) cursor (``?after=``), not OFFSET, in its
    default order and by date or status; the number of queries does not depend on the rows or
    the depth; a bad cursor is page 1; scope holds on every page."""

    @pytest.mark.parametrize(("sort", "key"), [
        ("", lambda c: -c.pk),
        ("-number", lambda c: -c.pk),
        ("number", lambda c: c.pk),
        ("applied_on", lambda c: (c.applied_on, c.pk)),
        ("-applied_on", lambda c: (-c.applied_on.toordinal(), -c.pk)),
        ("status", lambda c: (c.status, c.pk)),
    ])
    def test_walking_the_pages_by_after_visits_every_row_once_in_order(self, client, caseworker, district, person,
                                                                        sort, key):
        claims = bulk_claims(PAGE_SIZE * 2 + 7, person=person, district=district, by=caseworker)
        client.force_login(caseworker)
        seen, pages = walk(client, reverse("claims:index"), f"sort={sort}" if sort else "", "claims")
        assert seen == [c.pk for c in sorted(claims, key=key)]  # no skip, no repeat, ties broken by id
        assert [p.context["page_number"] for p in pages] == [1, 2, 3]
        assert "第 3 / 3 页" in pages[-1].content.decode()
        back = client.get(reverse("claims:index") + "?" + pages[-1].context["prev_query"])
        assert [c.pk for c in back.context["claims"]] == [c.pk for c in pages[1].context["claims"]]
        assert back.context["page_number"] == 2

    def test_status_desc_is_walked_in_order(self, client, caseworker, district, person):
        claims = bulk_claims(PAGE_SIZE + 9, person=person, district=district, by=caseworker)
        client.force_login(caseworker)
        seen, _pages = walk(client, reverse("claims:index"), "sort=-status", "claims")
        assert seen == [c.pk for c in sorted(claims, key=lambda c: (c.status, c.pk), reverse=True)]

    def test_query_count_is_fixed_whatever_the_rows_and_the_depth(self, client, caseworker, district, person,
                                                                  django_assert_num_queries):
        client.force_login(caseworker)
        bulk_claims(1, person=person, district=district, by=caseworker)
        url = reverse("claims:index")
        sorts = ("", "applied_on", "-status")
        one_row = {}
        for sort in sorts:
            client.get(url, {"sort": sort})  # warm
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, {"sort": sort})
            one_row[sort] = len(ctx)
        bulk_claims(PAGE_SIZE * 3, person=person, district=district, by=caseworker)
        for sort in sorts:
            first = client.get(url, {"sort": sort})
            deep = walk(client, url, f"sort={sort}", "claims")[1][-1]
            assert deep.context["page_number"] == 4
            for query in (f"sort={sort}", first.context["next_query"], deep.context["prev_query"]):
                with django_assert_num_queries(one_row[sort]):
                    client.get(url + "?" + query)

    @pytest.mark.parametrize("cursor", ["abc", "12_", "_", "2023-13-40_5", "2023-04-01_x", "2023-04-01_99999999999999999999999",
                                        "99999999999999999999999", "5\x00", "%00", "2023-04-01_5_6", "-1"])
    @pytest.mark.parametrize("sort", ["", "applied_on", "status"])
    def test_a_tampered_cursor_is_page_1_not_an_error(self, client, caseworker, district, person, cursor, sort):
        bulk_claims(PAGE_SIZE + 2, person=person, district=district, by=caseworker)
        client.force_login(caseworker)
        first = client.get(reverse("claims:index"), {"sort": sort})
        for name in ("after", "before"):
            response = client.get(reverse("claims:index"), {"sort": sort, name: cursor, "p": "x"})
            assert response.status_code == 200
            if cursor in ("abc", "12_", "_", "2023-13-40_5", "2023-04-01_x", "5\x00", "%00", "99999999999999999999999"):
                assert [c.pk for c in response.context["claims"]] == [c.pk for c in first.context["claims"]]

    def test_another_districts_user_sees_no_row_on_any_page(self, client, caseworker, other_caseworker, district,
                                                            person):
        bulk_claims(PAGE_SIZE + 2, person=person, district=district, by=caseworker)
        client.force_login(caseworker)
        next_query = client.get(reverse("claims:index")).context["next_query"]
        client.force_login(other_caseworker)
        for query in ("", next_query, next_query.replace("after=", "before=")):
            response = client.get(reverse("claims:index") + "?" + query)
            assert list(response.context["claims"]) == [] and person.name not in response.content.decode()

    @requires_postgres
    def test_a_deep_page_is_one_row_comparison_without_offset(self, client, caseworker, district, person):
        bulk_claims(PAGE_SIZE + 2, person=person, district=district, by=caseworker)
        client.force_login(caseworker)
        for sort, where in (("", '"claims_claim"."id" <'),
                            ("applied_on", '("claims_claim"."applied_on", "claims_claim"."id") >')):
            next_query = client.get(reverse("claims:index"), {"sort": sort}).context["next_query"]
            with CaptureQueriesContext(connection) as ctx:
                client.get(reverse("claims:index") + "?" + next_query)
            page_sql = [q["sql"] for q in ctx.captured_queries if f"LIMIT {PAGE_SIZE + 1}" in q["sql"]]
            assert page_sql and where in page_sql[0] and "OFFSET" not in page_sql[0]
