"""claims.money: the one definition of burden / suggested / granted / paid, and every consumer
that reads it (relief on application, early warnings, the fund report, the Wuxi ratio).

Each test is named after the clause it holds; each fails on the code before claims.money
(the consumers subtracted a rejected, returned or pending claim's unpaid suggestion)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from claims import money
from claims.models import BillStatus
from tests.applications.conftest import bill
from tests.applications.workflow import receive, to_reviewing
from tests.factories import BillFactory, HouseholdFactory, PersonFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def household(district):
    return HouseholdFactory(district=district)


@pytest.fixture
def patient(household, district):
    return PersonFactory(hukou_district=district, household=household, relation="head")


@pytest.fixture
def hospital(district):
    from tests.factories import InstitutionFactory

    return InstitutionFactory(district=district, designated=True)


def _bill_with(person, institution, *, status, suggestion, month=4, burden="20000.00"):
    """A 2023 bill of ``burden`` whose engine figure is ``suggestion`` (kept on the row)."""
    b = bill(person, institution, admission_date=date(2023, month, 1), discharge_date=date(2023, month, 9),
             total_cost=D(burden) + D("10000.00"), policy_scope_cost=D(burden) + D("10000.00"),
             basic_paid=D("10000.00"), status=status)
    b.total_assistance = D(suggestion)
    b.save(update_fields=["total_assistance"])
    return b


# ----------------------------------------------------------------------------------------------
# The definitions
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "granted", "paid", "suggested"), [
    (BillStatus.RECORDED, "100.00", None, None),
    (BillStatus.HOSPITAL_PAID, "100.00", "90.00", None),
    (BillStatus.APPROVED, "100.00", None, None),
    (BillStatus.PAID, "100.00", "80.00", None),
    (BillStatus.DRAFT, "0.00", None, "100.00"),
    (BillStatus.SUBMITTED, "0.00", None, "100.00"),
    (BillStatus.RETURNED, "0.00", None, "100.00"),
    (BillStatus.REJECTED, "0.00", None, None),
])
def test_money_status_table(status, granted, paid, suggested):
    """docs/money.md: the status table, row by row."""
    b = BillFactory.build(status=status, total_assistance=D("100.00"), hospital_assistance_paid=D("90.00"),
                          paid_amount=D("80.00"), policy_scope_cost=D("1000.00"), basic_paid=D("200.00"))
    assert money.bill_granted(b) == D(granted)
    assert money.bill_paid(b) == (None if paid is None else D(paid))
    assert money.bill_suggested(b) == (None if suggested is None else D(suggested))
    assert money.bill_burden(b) == D("800.00")
    expected_left = D("800.00") - max(D(granted), D(paid or "0"))
    assert money.bill_left_after_granted(b) == expected_left


def test_money_sql_expressions_equal_python_definitions(district):
    """The SQL forms (reports, warnings) and the Python forms (pages, letters) agree on every status."""
    from django.db.models import F

    person = PersonFactory(hukou_district=district)
    for status in BillStatus.values:
        BillFactory(person=person, status=status, total_assistance=D("1234.56"), hospital_assistance_paid=D("2000.00"),
                    paid_amount=D("1000.00"))
    from claims.models import Bill

    rows = Bill.objects.filter(person=person).annotate(
        g=money.granted_expr(), left=money.left_after_granted_expr(), b=money.burden_expr(), ta=F("total_assistance"))
    for row in rows:
        assert row.g == money.bill_granted(row), row.status
        assert row.left == money.bill_left_after_granted(row), row.status
        assert row.b == money.bill_burden(row)


# ----------------------------------------------------------------------------------------------
# POLICY.md §9 "Relief on application counts what was granted": Beijing 六(三)
# ----------------------------------------------------------------------------------------------


def test_policy_9_beijing_6_3_relief_counts_rejected_returned_pending_bills_whole(
        household, patient, hospital, caseworker, civil_certifier):
    """A household with 70,000 burden: one granted bill (20,000 burden, 3,000 granted), a rejected,
    a returned and a pending claim's bills (each with an unpaid suggestion). Only the 3,000 granted is
    'relief already paid': the counted burden is 67,000 (the old code subtracted every suggestion)."""
    _bill_with(patient, hospital, status=BillStatus.APPROVED, suggestion="3000.00", month=2)
    _bill_with(patient, hospital, status=BillStatus.REJECTED, suggestion="8500.00", month=3, burden="10000.00")
    _bill_with(patient, hospital, status=BillStatus.RETURNED, suggestion="8500.00", month=4, burden="10000.00")
    _bill_with(patient, hospital, status=BillStatus.SUBMITTED, suggestion="25500.00", month=5, burden="30000.00")
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    assert application.burden == D("67000.00")
    # 30,000 × 30% + 20,000 × 40% + 17,000 × 50%
    assert application.relief == D("25500.00")
    rows = {row.bill.status: row for row in application.counted_bills.select_related("bill")}
    assert rows[BillStatus.REJECTED].assistance_paid == D("0.00")
    assert rows[BillStatus.SUBMITTED].burden == D("30000.00")
    assert rows[BillStatus.APPROVED].assistance_paid == D("3000.00")


# ----------------------------------------------------------------------------------------------
# POLICY.md §6/§9 early warnings: burden after what was granted
# ----------------------------------------------------------------------------------------------


def test_policy_9_warning_burden_counts_rejected_and_pending_claims_whole(district):
    from monitoring.services import household_burdens

    household = HouseholdFactory(district=district)
    person = PersonFactory(hukou_district=district, household=household)
    BillFactory(person=person, status=BillStatus.REJECTED, total_assistance=D("17000.00"))  # burden 20,000
    BillFactory(person=person, status=BillStatus.SUBMITTED, total_assistance=D("17000.00"))  # burden 20,000
    BillFactory(person=person, status=BillStatus.RECORDED, total_assistance=D("5000.00"))  # 20,000 − 5,000
    assert household_burdens(household_ids=[household.pk]) == {(household.pk, 2023): D("55000.00")}


# ----------------------------------------------------------------------------------------------
# The fund report: granted claims + approved relief on application
# ----------------------------------------------------------------------------------------------


def test_fund_report_sums_granted_bills_and_approved_relief_only(caseworker, district, household, patient):
    from applications.models import Application, Status
    from reports import reporting

    def one(status, amount):
        return BillFactory(person=patient, district=district, status=status, total_assistance=D(amount),
                           admission_date=date(2024, 3, 1), discharge_date=date(2024, 3, 5),
                           computation={"category": "minimum_living", "visit_class": "inpatient"})

    one(BillStatus.HOSPITAL_PAID, "1000.00")
    one(BillStatus.APPROVED, "2000.00")
    one(BillStatus.PAID, "3000.00")
    one(BillStatus.REJECTED, "4000.00")
    one(BillStatus.RETURNED, "5000.00")
    one(BillStatus.SUBMITTED, "6000.00")
    one(BillStatus.DRAFT, "7000.00")
    decided = datetime(2024, 3, 20, 2, 0, tzinfo=UTC)
    common = {"household": household, "applicant": patient, "district": district, "received_on": date(2024, 3, 1),
              "year": 2024, "created_by": caseworker}
    Application.objects.create(number="A1", status=Status.APPROVED, relief=D("13000.00"), decided_at=decided, **common)
    Application.objects.create(number="A2", status=Status.REJECTED, relief=D("9000.00"), decided_at=decided, **common)
    Application.objects.create(number="A3", status=Status.REVIEWING, relief=D("8000.00"), **common)
    table = reporting.fund_expenditure(caseworker, {"year": 2024, "month": 3, "district": None})
    assert table.totals["ytd_amount"] == D("19000.00")  # 1,000 + 2,000 + 3,000 + 13,000 relief
    assert table.totals["month_amount"] == D("19000.00")
    relief_rows = [r for r in table.rows if r["visit_class"] == "依申请救助"]
    assert [r["ytd_amount"] for r in relief_rows] == [D("13000.00")]


def test_demo_chaoyang_2024_fund_report_equals_granted_figures(db):
    """Done-when of issue 12: the demo's 朝阳 2024 fund report = Σ granted on bills + Σ approved relief
    decided in 2024, person by person equal to the ledgers' totals."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from applications.models import Application
    from claims.models import Bill, PersonYearLedger
    from organizations.models import District
    from reports import reporting

    call_command("seed_demo", verbosity=0)
    chaoyang = District.objects.get(name="朝阳区")
    admin = get_user_model().objects.filter(is_superuser=True).first()
    if admin is None:
        admin = get_user_model().objects.create_superuser("money-admin", password="x")  # noqa: S106
    table = reporting.fund_expenditure(admin, {"year": 2024, "month": None, "district": chaoyang})
    bills = list(Bill.objects.filter(district=chaoyang, discharge_date__year=2024))
    granted = sum((money.bill_granted(b) for b in bills), D("0.00"))
    relief = money.relief_granted(Application.objects.filter(district=chaoyang, decided_at__year=2024))
    assert table.totals["ytd_amount"] == granted + relief
    assert any(b.status in money.PENDING_STATUSES and b.total_assistance > 0 for b in bills), "demo has suggestions"
    # the letters in force: each granted claim's approval letter says its grant
    from claims.models import Claim
    from reports.models import Letter

    for letter in Letter.objects.filter(kind="claim_approved", replaced_by__isnull=True, claim__isnull=False):
        claim = Claim.objects.get(pk=letter.claim_id)
        assert letter.amount == claim.approved_amount == sum((money.bill_granted(b) for b in claim.bills.all()),
                                                             D("0.00")), claim.pk
    # the ledgers: every person's 2024 ledger total = the granted figures of their counted bills
    for ledger in PersonYearLedger.objects.filter(year=2024, person__bills__district=chaoyang).distinct():
        mine = Bill.objects.filter(person=ledger.person, discharge_date__year=2024)
        assert ledger.total_assistance == sum((money.bill_granted(b) for b in mine), D("0.00")), ledger.person_id


# ----------------------------------------------------------------------------------------------
# Wuxi (七), POLICY.md §9: self-pay ÷ 政策范围内住院总费用, every institution in the county
# ----------------------------------------------------------------------------------------------


def test_wuxi_7_ratio_denominator_is_policy_scope_inpatient_cost_and_township_centres_count(caseworker, district):
    from organizations.models import InstitutionLevel, Region
    from reports import reporting
    from tests.factories import CertificationFactory, InstitutionFactory

    district.region = Region.objects.get(code="320200")  # a Wuxi office: the 10% target of (七) applies
    district.save(update_fields=["region"])

    township = InstitutionFactory(name="镇卫生院", district=district, level=InstitutionLevel.PRIMARY)
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person, valid_from=date(2024, 1, 1))
    # total 10,000, scope 8,000; basic 5,000 + critical 1,000 + assistance 1,400 → self-pay 2,600.
    # 2,600 / 8,000 = 32.5% (the old code: 2,600 / 10,000 = 26%, and a township centre never flagged)
    BillFactory(person=person, district=district, institution=township, status=BillStatus.RECORDED,
                admission_date=date(2024, 2, 1), discharge_date=date(2024, 2, 5), total_cost=D("10000.00"),
                policy_scope_cost=D("8000.00"), basic_paid=D("5000.00"), critical_paid=D("1000.00"),
                total_assistance=D("1400.00"))
    # a rejected claim's suggestion is not assistance the patient had
    BillFactory(person=person, district=district, institution=township, status=BillStatus.REJECTED,
                admission_date=date(2024, 3, 1), discharge_date=date(2024, 3, 5), total_cost=D("10000.00"),
                policy_scope_cost=D("8000.00"), basic_paid=D("5000.00"), critical_paid=D("1000.00"),
                total_assistance=D("1400.00"))
    table = reporting.out_of_pocket(caseworker, {"date_from": date(2024, 1, 1), "date_to": date(2024, 12, 31),
                                                 "district": None})
    [row] = table.rows
    assert row["scope"] == D("16000.00")
    assert row["self_pay"] == D("6600.00")  # 2,600 + 4,000
    assert row["ratio"] == D("6600.00") / D("16000.00")
    assert row["flag"] is True


def test_issue_12_hospital_statements_read_the_advanced_bills_from_the_one_definition(district):
    """The hospital's monthly statement reconciles one-stop bills the hospital advanced, and only
    those: ``claims.money.bills_advanced_by_hospital``, not a status filter of its own."""
    from claims import money
    from claims.models import Bill, BillSource

    person = PersonFactory(hukou_district=district)
    advanced = BillFactory(person=person, status=BillStatus.HOSPITAL_PAID, source=BillSource.ONE_STOP,
                           hospital_assistance_paid=D("100.00"))
    BillFactory(person=person, status=BillStatus.RECORDED, source=BillSource.ONE_STOP)
    BillFactory(person=person, status=BillStatus.PAID)  # a paid claim's bill: paid by the fund, not advanced
    assert list(money.bills_advanced_by_hospital(Bill.objects.all())) == [advanced]
