"""Issue 20, list rows rendered in Python (claims.templatetags.claims_tags.bill_rows / claim_rows):
the bill and claim lists show exactly the cells the template loop showed (masked ID number,
amounts to the fen, status and visit-type labels in Chinese and English, the same links, every
value escaped), and the filter's district and institution choices are read without a
server-side cursor. The template loops these tags replaced are kept below, verbatim, as the
reference the new markup must equal byte for byte."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from beneficiaries import idnumber
from tests.factories import BillFactory, InstitutionFactory, PersonFactory

pytestmark = pytest.mark.django_db

# claims/bill_list.html and claims/claim_list.html before issue 20's row tags.
OLD_BILL_LOOP = """{% load i18n %}{% for b in bills %}
    <tr>
      <td><a href="{% url 'claims:bill' b.pk %}">{{ b.settlement_no }}</a></td>
      <td>{{ b.person.name }}</td><td class="font-monospace small">{{ b.person.masked_id_number }}</td>
      <td class="text-wrap minw-10r">{{ b.institution.name }}</td><td>{{ b.get_visit_type_display }}</td><td>{{ b.discharge_date|date:"Y-m-d" }}</td>
      <td>{% if b.claim_id %}<a href="{% url 'claims:detail' b.claim_id %}" title="{{ b.get_source_display }}">{{ b.claim.number }}</a>{% else %}{{ b.get_source_display }}{% endif %}</td>
      <td><span class="badge {{ b.badge_class }}">{{ b.get_status_display }}</span></td>
      <td class="money">{{ b.total_cost|yuan }}</td><td class="money">{{ b.burden|yuan }}</td>
      <td class="money fw-semibold">{% if b.computed_at %}{% include "claims/_assistance_shown.html" with bill=b %}{% else %}<span class="text-muted" title="{% translate '待夜间重算' %}">—</span>{% endif %}</td>
      <td class="money">{{ b.hospital_assistance_paid|yuan|default_if_none:""  }}</td>
    </tr>
  {% endfor %}"""
OLD_CLAIM_LOOP = """{% for c in claims %}
    <tr>
      <td><a href="{% url 'claims:detail' c.pk %}">{{ c.number }}</a></td>
      <td>{{ c.person.name }}</td><td class="font-monospace small">{{ c.person.masked_id_number }}</td><td>{{ c.district.name }}</td>
      <td>{{ c.applied_on|date:"Y-m-d" }}</td><td><span class="badge {{ c.badge_class }}">{{ c.get_status_display }}</span></td>
      <td class="money">{{ c.approved_amount|yuan|default_if_none:"—"  }}</td>
      <td class="small">{{ c.created_by.get_full_name|default:c.created_by.username }}</td>
      <td class="small">{% if c.reviewed_by %}{{ c.reviewed_by.get_full_name|default:c.reviewed_by.username }}{% endif %}</td>
    </tr>
  {% endfor %}"""


class Cells(HTMLParser):
    """The text of each ``<td>`` of each ``<tr>`` in ``<tbody>``, and the links' targets."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.in_body = self.in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append([])
        elif self.in_body and tag == "td":
            self.in_cell = True
            self.rows[-1].append("")
        elif self.in_body and tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        elif tag == "td":
            self.in_cell = False

    def handle_data(self, data):
        if self.in_cell:
            self.rows[-1][-1] += data


def cells(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    return parser


@pytest.fixture
def one_stop_bill(district):
    person = PersonFactory(hukou_district=district, name="张<b>三</b>")
    bill = BillFactory(person=person, institution=InstitutionFactory(district=district, name="朝阳医院"),
                       settlement_no="JS-2024-0001", discharge_date=date(2024, 5, 6), admission_date=date(2024, 5, 1),
                       total_cost=Decimal("12345.67"), policy_scope_cost=Decimal("10000.00"),
                       basic_paid=Decimal("1234.56"), critical_paid=Decimal("0.01"), other_paid=Decimal("0.00"))
    bill.status, bill.total_assistance, bill.hospital_assistance_paid = "hospital_paid", Decimal("4321.09"), Decimal("4321.09")
    bill.computed_at = timezone.now()
    bill.save(update_fields=["status", "total_assistance", "hospital_assistance_paid", "computed_at"])
    return bill


@pytest.mark.parametrize(("language", "visit", "source", "status"), [
    ("zh-hans", "住院", "一站式结算", "医院已结算"),
    ("en", "Inpatient", "One-stop settlement", "Settled by the hospital"),
])
def test_bill_list_row_shows_exactly_its_cells(client, caseworker, one_stop_bill, language, visit, source, status):
    """One row, every cell: the settlement number linking to the bill, the name escaped, the ID
    number masked (region and last four), amounts to the fen with separators, labels translated."""
    client.force_login(caseworker)
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    page = cells(client.get(reverse("claims:bills")).content.decode())
    bill = one_stop_bill
    masked = idnumber.mask(bill.person.id_number)
    assert masked[:6] == bill.person.id_number[:6] and "********" in masked
    assert page.rows == [["JS-2024-0001", "张<b>三</b>", masked, "朝阳医院", visit, "2024-05-06", source, status,
                          "12,345.67", "8,765.43", "4,321.09\n", "4,321.09"]]
    assert page.links == [reverse("claims:bill", args=[bill.pk])]


def test_bill_list_rows_equal_the_template_loop_they_replaced(district, make_claim, caseworker):
    """Every branch of a row (pending figure, grant beside a different recomputation, a claim's
    bill linking to its claim, nothing paid at the hospital, markup in a name) renders the very
    markup the old template loop did, in both languages."""
    from claims.models import Bill
    from claims.templatetags.claims_tags import bill_rows

    claim = make_claim()
    BillFactory(person=PersonFactory(hukou_district=district, name="O'Brien & <i>Co</i>"))
    granted = BillFactory(person=PersonFactory(hukou_district=district))
    Bill.objects.filter(pk=granted.pk).update(status="approved", granted_amount=Decimal("100.00"),
                                              total_assistance=Decimal("120.005"), computed_at=timezone.now())
    Bill.objects.filter(pk=claim.bills.get().pk).update(computed_at=timezone.now(), total_assistance=Decimal("7.50"))
    bills = list(Bill.objects.select_related("person", "institution", "district", "claim").order_by("pk"))
    assert len(bills) == 3 and any(b.claim_id for b in bills)
    for language in ("zh-hans", "en"):
        with translation.override(language):
            old = Template(OLD_BILL_LOOP).render(Context({"bills": bills}))
            assert str(bill_rows(bills)) == old
    assert "O&#x27;Brien &amp; &lt;i&gt;Co&lt;/i&gt;" in old and "Recomputed 120.01" in old


def test_claim_list_rows_equal_the_template_loop_they_replaced(make_claim, caseworker):
    from claims.models import Claim
    from claims.templatetags.claims_tags import claim_rows

    make_claim()
    make_claim(submit=False)
    claims = list(Claim.objects.select_related("person", "district", "created_by", "reviewed_by").order_by("pk"))
    Claim.objects.filter(pk=claims[0].pk).update(approved_amount=Decimal("1234.5"))
    claims[0].approved_amount = Decimal("1234.5")
    for language in ("zh-hans", "en"):
        with translation.override(language):
            old = Template(OLD_CLAIM_LOOP).render(Context({"claims": claims}))
            assert str(claim_rows(claims)) == old
    assert "1,234.50" in old and "—" in old


def test_claim_list_row_status_label_in_both_languages(client, caseworker, make_claim):
    claim = make_claim()
    client.force_login(caseworker)
    for language, label in (("zh-hans", "待审核"), ("en", "Awaiting review")):
        client.post(reverse("set_language"), {"language": language, "next": "/"})
        row = cells(client.get(reverse("claims:index")).content.decode()).rows[0]
        assert row[0] == claim.number and row[2] == idnumber.mask(claim.person.id_number) and row[5] == label


def test_filter_choices_are_read_without_a_server_side_cursor(client, caseworker, one_stop_bill):
    """The district and institution options come from values_list (no ModelChoiceIterator's
    ``.iterator()``, which on PostgreSQL opens a cursor per select); they read as before."""
    client.force_login(caseworker)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("claims:bills")).content.decode()
    assert not any("DECLARE" in q["sql"].upper() or "FETCH" in q["sql"].upper() for q in queries.captured_queries)
    institution = one_stop_bill.institution
    assert f'<option value="{institution.pk}">{institution.name}（{institution.code}）</option>' in html
    assert f'<option value="{one_stop_bill.district_id}">{one_stop_bill.district.name}</option>' in html
    assert '<option value="" selected>---------</option>' in html
