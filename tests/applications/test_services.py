"""Each workflow step and each refusal of 依申请救助 (POLICY.md §4), asserted by error code."""
from __future__ import annotations

import sys
import types
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from applications import services
from applications.models import (
    Application,
    ApplicationTransition,
    AssessmentResult,
    Channel,
    CountedBill,
    ExtraBill,
    Status,
)
from beneficiaries.models import Certification
from organizations import roles
from tests.factories import CertificationFactory, InstitutionFactory, make_staff

from .conftest import bill, receipt
from .workflow import receive, to_gathering, to_reviewing

pytestmark = pytest.mark.django_db


def codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


@pytest.fixture
def letters(monkeypatch):
    """A stand-in for reports.services.letter_issue (outside this app) recording its calls."""
    calls = []
    module = types.ModuleType("reports.services")
    module.letter_issue = lambda **kwargs: calls.append(kwargs)
    monkeypatch.setitem(sys.modules, "reports.services", module)
    return calls


# --- 1. received -------------------------------------------------------------------------------

def test_receive_records_transition_and_number(household, patient, caseworker):
    application = receive(household=household, patient=patient, caseworker=caseworker)
    assert application.status == Status.RECEIVED
    assert application.year == 2024 and application.district == household.district
    assert application.number.startswith("京朝医申〔2024〕")
    t = application.transitions.get()
    assert (t.from_status, t.to_status, t.by) == ("", Status.RECEIVED, caseworker)


def test_six_3_one_application_per_household_per_calendar_year(household, patient, spouse, caseworker):
    """六(三) 同一自然年度内只能申请一次: the second is refused, naming the first."""
    first = receive(household=household, patient=patient, caseworker=caseworker, on=date(2024, 3, 1))
    with pytest.raises(ValidationError) as info:
        receive(household=household, patient=spouse, caseworker=caseworker, on=date(2024, 11, 2))
    assert codes(info.value) == {"already_applied_this_year"}
    assert first.number in info.value.messages[0] and "2024-03-01" in info.value.messages[0]
    # the next calendar year is a new year
    assert receive(household=household, patient=patient, caseworker=caseworker, on=date(2025, 1, 2)).pk


def test_applicant_must_be_household_member(household, caseworker, district):
    from tests.factories import PersonFactory

    stranger = PersonFactory(hukou_district=district)
    with pytest.raises(ValidationError) as info:
        receive(household=household, patient=stranger, caseworker=caseworker)
    assert codes(info.value) == {"applicant_not_member"}


def test_received_date_not_in_future(household, patient, caseworker):
    with pytest.raises(ValidationError) as info:
        receive(household=household, patient=patient, caseworker=caseworker, on=timezone.localdate() + timedelta(days=1))
    assert codes(info.value) == {"received_in_future"}


def test_community_proxy_needs_proxy_name(household, patient, caseworker):
    with pytest.raises(ValidationError) as info:
        receive(household=household, patient=patient, caseworker=caseworker, channel=Channel.COMMUNITY_PROXY)
    assert codes(info.value) == {"proxy_required"}
    application = receive(household=household, patient=patient, caseworker=caseworker,
                          channel=Channel.COMMUNITY_PROXY, proxy_name="社区书记 张红")
    assert application.channel == Channel.COMMUNITY_PROXY


def test_only_caseworker_receives_and_only_in_district(household, patient, reviewer, other_caseworker):
    with pytest.raises(PermissionDenied):
        receive(household=household, patient=patient, caseworker=reviewer)
    from django.http import Http404

    with pytest.raises(Http404):
        receive(household=household, patient=patient, caseworker=other_caseworker)


# --- 2. household economic assessment ------------------------------------------------------------

def test_send_then_certify_creates_illness_poverty_certification(household, patient, caseworker, civil_certifier):
    application = receive(household=household, patient=patient, caseworker=caseworker)
    services.application_send_to_assessment(application=application, by=caseworker)
    application.refresh_from_db()
    assert application.status == Status.ASSESSING
    assessment = services.assessment_record(
        application=application, by=civil_certifier, annual_income=Decimal("30000"), assets=Decimal("10000"),
        members_count=2, result=AssessmentResult.CERTIFIED, document_ref="京朝民〔2024〕7号")
    application.refresh_from_db()
    assert application.status == Status.GATHERING
    cert = assessment.certification
    assert cert.category.code == "illness_poverty_patient" and cert.person == patient
    assert cert.valid_from == application.received_on and cert.agency.kind == "civil_affairs"
    assert list(application.transitions.values_list("to_status", flat=True)) == [
        Status.RECEIVED, Status.ASSESSING, Status.GATHERING]


def test_certify_reuses_certification_in_force(household, patient, caseworker, civil_certifier):
    existing = CertificationFactory(person=patient, category=__import__("tests.factories", fromlist=["category"]).category(
        "illness_poverty_patient"), valid_from=date(2023, 6, 1))
    application = receive(household=household, patient=patient, caseworker=caseworker)
    application = to_gathering(application, caseworker=caseworker, certifier=civil_certifier)
    assert application.assessment.certification == existing
    assert Certification.objects.filter(person=patient).count() == 1


def test_assessment_refusal_needs_reason_and_goes_to_reviewer(household, patient, caseworker, civil_certifier, reviewer, letters):
    application = receive(household=household, patient=patient, caseworker=caseworker)
    services.application_send_to_assessment(application=application, by=caseworker)
    kwargs = dict(application=application, by=civil_certifier, annual_income=Decimal("300000"),
                  assets=Decimal("2000000"), members_count=3, result=AssessmentResult.REFUSED)
    with pytest.raises(ValidationError) as info:
        services.assessment_record(**kwargs)
    assert codes(info.value) == {"reason_required"}
    services.assessment_record(**kwargs, reason="家庭人均收入高于认定标准")
    application.refresh_from_db()
    assert application.status == Status.REVIEWING
    assert not Certification.objects.filter(person=patient).exists()
    with pytest.raises(ValidationError) as info:
        services.application_decide(application=application, by=reviewer, approve=True)
    assert codes(info.value) == {"not_certified"}
    services.application_decide(application=application, by=reviewer, approve=False)
    application.refresh_from_db()
    assert application.status == Status.REJECTED
    assert "家庭人均收入高于认定标准" in application.decision_reason


def test_assessment_only_by_civil_affairs_certifier(household, patient, caseworker, district):
    application = receive(household=household, patient=patient, caseworker=caseworker)
    services.application_send_to_assessment(application=application, by=caseworker)
    veterans = make_staff(roles.CERTIFIER, district=district, agency_kind="veterans_affairs")
    for user in (caseworker, veterans):
        with pytest.raises(PermissionDenied):
            services.assessment_record(application=application, by=user, annual_income=Decimal("1"),
                                       assets=Decimal("0"), members_count=1, result=AssessmentResult.CERTIFIED)


def test_steps_refuse_wrong_state(household, patient, caseworker, civil_certifier):
    application = receive(household=household, patient=patient, caseworker=caseworker)
    with pytest.raises(ValidationError) as info:
        services.relief_compute(application=application, by=caseworker)
    assert codes(info.value) == {"wrong_status"}
    with pytest.raises(ValidationError) as info:
        services.assessment_record(application=application, by=civil_certifier, annual_income=Decimal("1"),
                                   assets=Decimal("0"), members_count=1, result=AssessmentResult.CERTIFIED)
    assert codes(info.value) == {"wrong_status"}


# --- 3. bills ---------------------------------------------------------------------------------

def test_expenses_counted_once_when_two_members_are_patients(household, patient, spouse, hospital, caseworker, civil_certifier):
    """Both spouses are certified patients; each bill is still counted once (gathered twice too)."""
    from tests.factories import category

    CertificationFactory(person=spouse, category=category("illness_poverty_patient"), valid_from=date(2023, 1, 1))
    b1 = bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    b2 = bill(spouse, hospital, admission_date=date(2023, 5, 1), discharge_date=date(2023, 5, 9))
    application = to_gathering(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    services.bills_gather(application=application, by=caseworker)
    services.bills_gather(application=application, by=caseworker)
    assert sorted(application.counted_bills.values_list("bill_id", flat=True)) == sorted([b1.pk, b2.pk])
    services.relief_compute(application=application, by=caseworker)
    application.refresh_from_db()
    assert application.burden == Decimal("40000.00")  # 2 × (30000 − 10000), once each
    assert application.relief == Decimal("13000.00")  # 30000×30% + 10000×40%


def test_relief_already_paid_is_deducted(household, patient, hospital, caseworker, civil_certifier):
    """六(三) 扣除……各种救助后: assistance already paid on a bill (and other payments) is deducted."""
    b = bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9),
             total_cost=Decimal("60000"), policy_scope_cost=Decimal("60000"), basic_paid=Decimal("10000"),
             other_paid=Decimal("5000"))
    b.total_assistance = Decimal("15000.00")
    b.save(update_fields=["total_assistance"])
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    row = application.counted_bills.get()
    assert row.assistance_paid == Decimal("15000.00")
    assert row.burden == Decimal("30000.00") == application.burden  # 60000 − 10000 − 5000 − 15000
    assert application.relief == Decimal("9000.00")


def test_hospital_advanced_assistance_deducted_once(household, patient, hospital, caseworker, civil_certifier):
    b = bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    b.total_assistance = Decimal("4000.00")
    b.hospital_assistance_paid = Decimal("4000.00")
    b.save(update_fields=["total_assistance", "hospital_assistance_paid"])
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    assert application.burden == Decimal("16000.00")  # 30000 − 10000 − 4000 (not 8000)


def test_only_designated_institutions_count(household, patient, hospital, caseworker, civil_certifier, district):
    clinic = InstitutionFactory(district=district, designated=False, name="私立诊所")
    bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    other = bill(patient, clinic, admission_date=date(2023, 6, 1), discharge_date=date(2023, 6, 9))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    row = application.counted_bills.get(bill=other)
    assert (row.counted, row.reason) == (False, "non_designated")
    assert application.burden == Decimal("20000.00")


def test_extra_bill_with_receipt_is_counted(household, patient, spouse, caseworker, civil_certifier, settings):
    application = to_gathering(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    fields = dict(institution_name="上海瑞金医院", designated=True, settlement_no="SH-001", visit_type="inpatient",
                  admission_date=date(2023, 7, 1), discharge_date=date(2023, 7, 20), total_cost=Decimal("50000"),
                  policy_scope_cost=Decimal("45000"), basic_paid=Decimal("20000"), critical_paid=Decimal("5000"),
                  other_paid=Decimal("0"), assistance_paid=Decimal("2000"))
    extra = services.extra_bill_add(application=application, by=caseworker, person=spouse, receipt=receipt(), **fields)
    assert (settings.MEDIA_ROOT / extra.receipt.name).exists()
    services.relief_compute(application=application, by=caseworker)
    application.refresh_from_db()
    row = application.counted_bills.get(extra_bill=extra)
    assert row.counted and row.burden == Decimal("18000.00")
    assert application.burden == Decimal("18000.00") and application.relief == Decimal("5400.00")


def test_extra_bill_inconsistent_amounts_name_the_field(household, patient, caseworker, civil_certifier):
    application = to_gathering(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    fields = dict(institution_name="外院", designated=True, settlement_no="X1", visit_type="inpatient",
                  admission_date=date(2023, 7, 1), discharge_date=date(2023, 7, 2), total_cost=Decimal("100"),
                  policy_scope_cost=Decimal("200"), basic_paid=Decimal("0"), critical_paid=Decimal("0"),
                  other_paid=Decimal("0"), assistance_paid=Decimal("0"))
    with pytest.raises(ValidationError) as info:
        services.extra_bill_add(application=application, by=caseworker, person=patient, receipt=receipt(), **fields)
    assert "policy_scope_cost" in info.value.error_dict and codes(info.value) == {"invalid_amounts"}
    assert not ExtraBill.objects.exists()


def test_policy_4_a_receipt_outside_the_counted_period_is_refused_naming_the_window(
        household, patient, caseworker, civil_certifier):
    """POLICY.md §4: only bills settled in the counted period count. A receipt outside it was
    accepted and then silently left out of the relief; now it is refused, the window named."""
    application = to_gathering(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    services.bills_gather(application=application, by=caseworker)
    application.refresh_from_db()
    start, end = application.period_start, application.period_end
    fields = dict(institution_name="外院", designated=True, settlement_no="OUT-1", visit_type="inpatient",
                  admission_date=end, discharge_date=end + timedelta(days=1), total_cost=Decimal("100"),
                  policy_scope_cost=Decimal("100"), basic_paid=Decimal("0"), critical_paid=Decimal("0"),
                  other_paid=Decimal("0"), assistance_paid=Decimal("0"))
    with pytest.raises(ValidationError) as info:
        services.extra_bill_add(application=application, by=caseworker, person=patient, receipt=receipt(), **fields)
    assert codes(info.value) == {"outside_period"}
    message = info.value.error_dict["discharge_date"][0].messages[0]
    assert start.isoformat() in message and end.isoformat() in message
    assert not ExtraBill.objects.exists()
    fields.update(settlement_no="IN-1", admission_date=start, discharge_date=start)
    services.extra_bill_add(application=application, by=caseworker, person=patient, receipt=receipt(), **fields)
    assert ExtraBill.objects.count() == 1


# --- 4/5. compute and decide --------------------------------------------------------------------

def test_compute_then_approve_by_another_person_issues_letter(household, patient, hospital, caseworker,
                                                              civil_certifier, reviewer, letters,
                                                              django_capture_on_commit_callbacks):
    bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    assert application.computed_by == caseworker and application.policy.code == "beijing-2023"
    assert any(line["clause"] for line in application.computation["lines"])
    with django_capture_on_commit_callbacks(execute=True):
        services.application_decide(application=application, by=reviewer, approve=True)
    application.refresh_from_db()
    assert application.status == Status.APPROVED and application.decided_by == reviewer
    assert application.relief == Decimal("6000.00")
    assert letters == [{"kind": "application_approved", "application": application, "by": reviewer}]
    assert ApplicationTransition.objects.filter(application=application, to_status=Status.APPROVED, by=reviewer).exists()


def test_reviewer_who_computed_cannot_decide(household, patient, hospital, civil_certifier, district):
    both = make_staff(roles.CASEWORKER, district=district)
    from django.contrib.auth.models import Group

    both.groups.add(Group.objects.get(name=roles.REVIEWER))
    bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=both),
                               caseworker=both, certifier=civil_certifier)
    both = type(both).objects.get(pk=both.pk)  # fresh role cache
    with pytest.raises(ValidationError) as info:
        services.application_decide(application=application, by=both, approve=True)
    assert codes(info.value) == {"same_person"}


def test_reject_needs_reason_and_zero_relief_cannot_be_approved(household, patient, caseworker, civil_certifier, reviewer, letters):
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    assert application.relief == Decimal("0.00") and "no_counted_bills" in application.computation["reasons"]
    with pytest.raises(ValidationError) as info:
        services.application_decide(application=application, by=reviewer, approve=True)
    assert codes(info.value) == {"no_relief"}
    with pytest.raises(ValidationError) as info:
        services.application_decide(application=application, by=reviewer, approve=False, reason="  ")
    assert codes(info.value) == {"reason_required"}
    services.application_decide(application=application, by=reviewer, approve=False, reason="上年度无可计入费用")
    application.refresh_from_db()
    assert application.status == Status.REJECTED


def test_return_to_caseworker_and_recompute(household, patient, hospital, caseworker, civil_certifier, reviewer):
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    with pytest.raises(ValidationError) as info:
        services.application_return(application=application, by=reviewer, note="")
    assert codes(info.value) == {"reason_required"}
    services.application_return(application=application, by=reviewer, note="请补充外地票据")
    application.refresh_from_db()
    assert application.status == Status.GATHERING
    bill(patient, hospital, admission_date=date(2023, 9, 1), discharge_date=date(2023, 9, 9))
    services.relief_compute(application=application, by=caseworker)
    application.refresh_from_db()
    assert application.relief == Decimal("6000.00")


def test_ningbo_relief_within_annual_bucket_from_claims_ledger(db):
    """Ningbo 三(二)1: 60% within the annual 80,000 bucket; used room comes from claims' ledger."""
    from claims.models import LedgerBucket, PersonYearLedger

    from .conftest import build_case, load_case

    case = load_case("nb-retroactive-60")
    district, household, patient, bills, staff = build_case(case)
    ledger = PersonYearLedger.objects.create(person=patient, year=2024)
    LedgerBucket.objects.create(ledger=ledger, bucket="annual", cap=Decimal("80000.00"), used=Decimal("70000.00"))
    application = receive(household=household, patient=patient, caseworker=staff["caseworker"], on=date(2024, 6, 15))
    application = to_reviewing(application, caseworker=staff["caseworker"], certifier=staff["certifier"])
    assert application.relief == Decimal("10000.00")
    assert "cap_limited" in application.computation["reasons"]


def test_warning_referral_marks_warning_referred(household, patient, caseworker):
    from monitoring.models import EarlyWarning

    warning = EarlyWarning.objects.create(household=household, year=2023, kind="illness_poverty",
                                          burden=Decimal("60000"), threshold=Decimal("30000"))
    application = receive(household=household, patient=patient, caseworker=caseworker, warning=warning)
    warning.refresh_from_db()
    assert application.channel == Channel.WARNING_REFERRAL and application.warning_id == warning.pk
    assert warning.status == "referred" and warning.application_id == application.pk


def test_documents_are_files_on_disk(household, patient, caseworker, settings):
    application = receive(household=household, patient=patient, caseworker=caseworker)
    document = services.document_attach(application=application, by=caseworker, file=receipt("诊断证明.pdf"),
                                        kind="medical_record")
    on_disk = (settings.MEDIA_ROOT / document.file.name).read_bytes()  # encrypted at rest (issue 15)
    assert on_disk.startswith(b"MAEF") and b"%PDF" not in on_disk
    with document.file.open("rb") as fh:
        assert fh.read().startswith(b"%PDF")
    assert Application.objects.filter(pk=application.pk).exists()


def test_counted_bill_unique_per_application(household, patient, hospital, caseworker, civil_certifier):
    from django.db import IntegrityError, transaction

    b = bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9))
    application = to_reviewing(receive(household=household, patient=patient, caseworker=caseworker),
                               caseworker=caseworker, certifier=civil_certifier)
    row = application.counted_bills.get(bill=b)
    with pytest.raises(IntegrityError), transaction.atomic():
        CountedBill.objects.create(**{f.attname: getattr(row, f.attname) for f in CountedBill._meta.concrete_fields
                                      if f.name != "id"})


def test_ningbo_bucket_room_rechecked_at_approval(db, letters):
    """Ningbo 三(二)1 within the annual 80,000: two applications computed on the same room cannot
    both be approved; the second is refused and can be returned and recomputed."""
    from claims.models import LedgerBucket, PersonYearLedger

    from .conftest import build_case, load_case

    case = load_case("nb-retroactive-60")
    district, household, patient, bills, staff = build_case(case)
    ledger = PersonYearLedger.objects.create(person=patient, year=2024)
    LedgerBucket.objects.create(ledger=ledger, bucket="annual", cap=Decimal("80000.00"), used=Decimal("70000.00"))
    first = to_reviewing(receive(household=household, patient=patient, caseworker=staff["caseworker"], on=date(2024, 6, 15)),
                         caseworker=staff["caseworker"], certifier=staff["certifier"])
    second = to_reviewing(receive(household=household, patient=patient, caseworker=staff["caseworker"], on=date(2024, 7, 1)),
                          caseworker=staff["caseworker"], certifier=staff["certifier"])
    assert first.relief == second.relief == Decimal("10000.00")
    services.application_decide(application=first, by=staff["reviewer"], approve=True)
    with pytest.raises(ValidationError) as info:
        services.application_decide(application=second, by=staff["reviewer"], approve=True)
    assert codes(info.value) == {"bucket_room_changed"}
    services.application_return(application=second, by=staff["reviewer"], note="限额已变化")
    services.relief_compute(application=second, by=staff["caseworker"])
    second.refresh_from_db()
    assert second.relief == Decimal("0.00") and "cap_exhausted" in second.computation["reasons"]


def test_warning_not_open_refuses_and_saves_nothing(household, patient, caseworker):
    from monitoring.models import EarlyWarning

    warning = EarlyWarning.objects.create(household=household, year=2023, kind="illness_poverty", status="dismissed",
                                          burden=Decimal("60000"), threshold=Decimal("30000"))
    with pytest.raises(ValidationError) as info:
        receive(household=household, patient=patient, caseworker=caseworker, warning=warning)
    assert codes(info.value) == {"not_open"}
    assert not Application.objects.exists() and not ApplicationTransition.objects.exists()


def test_documents_only_papers_and_not_too_large(household, patient, caseworker, monkeypatch):
    from applications import models

    application = receive(household=household, patient=patient, caseworker=caseworker)
    with pytest.raises(ValidationError) as info:
        services.document_attach(application=application, by=caseworker, file=receipt("evil.html"), kind="other")
    assert "file" in info.value.error_dict and codes(info.value) == {"invalid_extension"}
    monkeypatch.setattr(services, "MAX_UPLOAD_BYTES", 4)
    with pytest.raises(ValidationError) as info:
        services.document_attach(application=application, by=caseworker, file=receipt(), kind="other")
    assert codes(info.value) == {"file_too_large"}
    assert not models.ApplicationDocument.objects.exists()


def test_compute_without_policy_in_force_is_refused(caseworker, db):
    """A region with no usable policy (the national template is unconfirmed): no silent zero."""
    from beneficiaries.models import Relation
    from tests.factories import DistrictFactory, HouseholdFactory, PersonFactory, RegionFactory

    region = RegionFactory(code="310000", name="上海市", short_name="沪")
    district = DistrictFactory(code="310101", name="黄浦区", short_name="沪黄", region=region)
    cw = make_staff(roles.CASEWORKER, district=district)
    certifier = make_staff(roles.CERTIFIER, district=district, agency_kind="civil_affairs")
    household = HouseholdFactory(district=district)
    person = PersonFactory(hukou_district=district, household=household, relation=Relation.HEAD)
    application = to_gathering(receive(household=household, patient=person, caseworker=cw),
                               caseworker=cw, certifier=certifier)
    with pytest.raises(ValidationError) as info:
        services.relief_compute(application=application, by=cw)
    assert codes(info.value) == {"no_policy"}
    application.refresh_from_db()
    assert application.status == Status.GATHERING and application.relief is None
