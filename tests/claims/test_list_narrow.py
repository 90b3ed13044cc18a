"""Issue 20: the bill and claim lists read only what a row shows (claims.selectors.bills_for_list /
claims_for_list): fewer joins (planning the page query with every column of 5–7 tables cost
6–9 ms per request), the same rows, the same markup, no query while the rows are rendered (a
deferred column read by a row would be one query per row), the same scope, and a number of
queries per page that is pinned whatever the data size."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from claims.selectors import access_bills, access_claims, bills_for_list, claims_for_list
from claims.views import PAGE_SIZE
from tests.factories import BillFactory, InstitutionFactory, PersonFactory

pytestmark = pytest.mark.django_db


def page_sql(ctx, table: str) -> str:
    found = [q["sql"] for q in ctx.captured_queries if f'FROM "{table}"' in q["sql"] and f"LIMIT {PAGE_SIZE + 1}" in q["sql"]]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def every_branch(district, make_claim):
    """A claim's bill, a pending bill with markup in the name, a grant beside a different recomputation."""
    from claims.models import Bill

    claim = make_claim()
    BillFactory(person=PersonFactory(hukou_district=district, name="O'Brien & <i>Co</i>"))
    granted = BillFactory(person=PersonFactory(hukou_district=district))
    Bill.objects.filter(pk=granted.pk).update(status="approved", granted_amount=Decimal("100.00"),
                                              total_assistance=Decimal("120.005"), computed_at=timezone.now(),
                                              hospital_assistance_paid=Decimal("3.00"))
    Bill.objects.filter(pk=claim.bills.get().pk).update(computed_at=timezone.now(), total_assistance=Decimal("7.50"))
    return claim


def test_narrow_bill_rows_render_the_same_markup_without_a_query(every_branch, caseworker):
    from claims.templatetags.claims_tags import bill_rows

    full = list(access_bills(caseworker).order_by("pk"))
    narrow = list(bills_for_list(caseworker).order_by("pk"))
    assert [b.pk for b in narrow] == [b.pk for b in full] and len(full) == 3
    for language in ("zh-hans", "en"):
        with translation.override(language):
            with CaptureQueriesContext(connection) as ctx:
                html = str(bill_rows(narrow))
            assert len(ctx) == 0, [q["sql"] for q in ctx.captured_queries]
            assert html == str(bill_rows(full))


def test_narrow_claim_rows_render_the_same_markup_without_a_query(make_claim, caseworker, reviewer):
    from claims.models import Claim
    from claims.templatetags.claims_tags import claim_rows

    reviewed = make_claim()
    Claim.objects.filter(pk=reviewed.pk).update(reviewed_by=reviewer, approved_amount=Decimal("1234.5"))
    make_claim(submit=False)
    full = list(access_claims(caseworker).order_by("pk"))
    narrow = list(claims_for_list(caseworker).order_by("pk"))
    assert [c.pk for c in narrow] == [c.pk for c in full] and len(full) == 2
    for language in ("zh-hans", "en"):
        with translation.override(language):
            with CaptureQueriesContext(connection) as ctx:
                html = str(claim_rows(narrow))
            assert len(ctx) == 0, [q["sql"] for q in ctx.captured_queries]
            assert html == str(claim_rows(full))


def test_the_bill_page_query_joins_only_what_a_row_shows(client, caseworker, every_branch):
    """Fails on the old code: the page query joined the district and read the bill's every column."""
    client.force_login(caseworker)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("claims:bills")).status_code == 200
    sql = page_sql(ctx, "claims_bill")
    assert '"organizations_district"' not in sql
    assert '"claims_bill"."computation"' not in sql and '"claims_bill"."diagnosis_name"' not in sql
    assert sql.count(" JOIN ") == 3  # person, institution, claim


def test_the_claim_page_query_joins_only_what_a_row_shows(client, caseworker, make_claim):
    """Fails on the old code: the page query joined 6 tables (payment batch, submitter) and read the notes."""
    make_claim()
    client.force_login(caseworker)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("claims:index")).status_code == 200
    sql = page_sql(ctx, "claims_claim")
    assert '"claims_paymentbatch"' not in sql and '"claims_claim"."note"' not in sql
    assert sql.count(" JOIN ") == 4  # person, district, created_by, reviewed_by


def test_narrow_lists_keep_the_scope(every_branch, other_caseworker, caseworker):
    assert bills_for_list(caseworker).count() == 3 and claims_for_list(caseworker).count() == 1
    assert not bills_for_list(other_caseworker).exists() and not claims_for_list(other_caseworker).exists()


# The queries of a list page, pinned: the session, the user, the user's groups, the staff profile
# (scope), [city level: the region's districts], the filter's category, district and institution
# choices, the page, the capped total, and the base template's two (profile, agency).
@pytest.mark.parametrize(("who", "url", "queries"), [
    ("caseworker", "claims:bills", 11), ("auditor", "claims:bills", 12),
    ("caseworker", "claims:index", 11), ("auditor", "claims:index", 12),
])
def test_list_query_count_is_pinned_at_two_data_sizes(client, request, district, person, make_claim, who, url, queries,
                                                      django_assert_num_queries):
    from tests.claims.test_lists import bulk_claims

    user = request.getfixturevalue(who)
    make_claim()
    client.force_login(user)
    client.get(reverse(url))  # warm
    with django_assert_num_queries(queries):
        assert client.get(reverse(url)).status_code == 200
    institution = InstitutionFactory(district=district)
    for _i in range(PAGE_SIZE + 5):
        BillFactory(person=PersonFactory(hukou_district=district), institution=institution)
    bulk_claims(PAGE_SIZE + 5, person=person, district=district, by=request.getfixturevalue("caseworker"))
    with django_assert_num_queries(queries):
        response = client.get(reverse(url))
    assert len(response.context["bills" if url == "claims:bills" else "claims"]) == PAGE_SIZE
    with django_assert_num_queries(queries):
        client.get(reverse(url) + "?" + response.context["next_query"])
