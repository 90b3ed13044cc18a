"""Issue 15, "one way to say who may do what": every service that writes refuses a user without
the role or outside the scope, whoever calls it — called here directly, not through a view.

For each writing service: a user of the right district without the permission (the auditor, or
a role that does not hold it), a user holding the permission in **another district**, and, for the
decisions on cases, the administrator (superuser with the administrator role: separation of
duties) are refused with ``PermissionDenied`` (out-of-scope is ``OutOfScope``, a PermissionDenied
that views answer as 404), and nothing is written.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from organizations import roles
from organizations.models import AgencyKind
from organizations.permissions import PERMISSIONS, OutOfScope, has_perm, require
from tests.factories import (
    CertificationFactory,
    HouseholdFactory,
    InstitutionFactory,
    PersonFactory,
    UserFactory,
    make_staff,
)

PDF = b"%PDF-1.4\n%stub\n"


def _bill_data(institution, n: int) -> dict:
    return {
        "institution": institution, "settlement_no": f"SP{n:06d}", "visit_type": "inpatient",
        "admission_date": date(2023, 3, 1), "discharge_date": date(2023, 3, 10),
        "diagnosis_code": "C34.9", "diagnosis_name": "肺恶性肿瘤",
        "total_cost": Decimal("31000.00"), "policy_scope_cost": Decimal("30000.00"), "basic_paid": Decimal("10000.00"),
        "critical_paid": Decimal("0.00"), "other_paid": Decimal("0.00"),
    }


@dataclass
class World:
    district: object
    other_district: object
    person: object
    household: object
    draft: object
    submitted: object
    approved: object
    certification: object
    agency: object
    institution: object
    loner: object = None
    adjustment: object = None
    warning: object = None


@pytest.fixture
def world(district, other_district, caseworker, reviewer):
    from claims import services as claim_services
    from claims.models import Claim, ClaimStatus

    institution = InstitutionFactory(district=district, designated=True)
    household = HouseholdFactory(district=district)
    person = PersonFactory(hukou_district=district, household=household, relation="head")
    cert = CertificationFactory(person=person, valid_from=date(2022, 1, 1))
    draft = claim_services.claim_create(person=person, district=district, applied_on=date(2023, 4, 1), by=caseworker,
                                        bills=[_bill_data(institution, 1)])
    submitted = claim_services.claim_create(person=person, district=district, applied_on=date(2023, 4, 1),
                                            by=caseworker, bills=[_bill_data(institution, 2)])
    claim_services.claim_submit(claim=submitted, by=caseworker)
    approved = claim_services.claim_create(person=person, district=district, applied_on=date(2023, 4, 1),
                                           by=caseworker, bills=[_bill_data(institution, 3)])
    Claim.objects.filter(pk=approved.pk).update(status=ClaimStatus.APPROVED, approved_amount=Decimal("100.00"))
    approved.refresh_from_db()
    for claim in (draft, submitted):
        claim.refresh_from_db()
    w = World(district, other_district, person, household, draft, submitted, approved, cert, cert.agency, institution)
    w.loner = PersonFactory(hukou_district=district)
    w.adjustment = _adjustment(w)
    from monitoring.models import EarlyWarning, WarningKind

    w.warning = EarlyWarning.objects.create(household=household, year=2023, kind=WarningKind.values[0],
                                            burden=Decimal("90000.00"), threshold=Decimal("50000.00"), person=person)
    return w


def _letter(w):
    from reports.models import Letter

    return Letter(district=w.district, kind="claim_approved", claim=w.approved, person=w.person)


def _application(w):
    from applications.models import Application

    return Application(district=w.district, household=w.household, applicant=w.person, number="YS-PERM",
                       received_on=date(2024, 2, 1), year=2024, status="reviewing")


def _warning(w):
    from monitoring.models import EarlyWarning

    return EarlyWarning(household=w.household, year=2023)


def _adjustment(w):
    from claims.models import Bill, PaymentAdjustment

    bill = Bill.objects.filter(claim=w.approved).first()
    return PaymentAdjustment.objects.create(bill=bill, kind="supplementary", amount=Decimal("10.00"),
                                            paid_amount=Decimal("0.00"), computed_amount=Decimal("10.00"))


def _import_batch(w):
    from beneficiaries.models import ImportBatch

    return ImportBatch(agency=w.agency, file_name="roster.csv", sha256="0" * 64, status="previewed")


def _claims_services():
    from claims import services

    return services


@dataclass(frozen=True)
class Case:
    name: str
    permission: str
    call: Callable  # (user, world) -> None
    agency_kind: str = AgencyKind.MEDICAL_SECURITY


def _c(name, permission, call, agency_kind=AgencyKind.MEDICAL_SECURITY):
    return Case(name, permission, call, agency_kind)


def _cs():
    return _claims_services()


def _apps():
    from applications import services

    return services


def _ben():
    from beneficiaries import services

    return services


def _rep():
    from reports import services

    return services


CASES = [
    # claims
    _c("claim_create", "claims.edit", lambda u, w: _cs().claim_create(
        person=w.person, district=w.district, applied_on=date(2023, 4, 1), by=u, bills=[])),
    _c("claim_add_bill", "claims.edit", lambda u, w: _cs().claim_add_bill(claim=w.draft, data=_bill_data(w.institution, 9), by=u)),
    _c("claim_update", "claims.edit", lambda u, w: _cs().claim_update(claim=w.draft, by=u, applied_on=date(2023, 4, 2))),
    _c("claim_remove_bill", "claims.edit", lambda u, w: _cs().claim_remove_bill(claim=w.draft, bill=w.draft.bills.first(), by=u)),
    _c("claim_submit", "claims.submit", lambda u, w: _cs().claim_submit(claim=w.draft, by=u)),
    _c("claim_withdraw", "claims.submit", lambda u, w: _cs().claim_withdraw(claim=w.submitted, by=u, reason="录错")),
    _c("claim_approve", "claims.approve", lambda u, w: _cs().claim_approve(claim=w.submitted, reviewer=u)),
    _c("claim_reject", "claims.approve", lambda u, w: _cs().claim_reject(claim=w.submitted, reviewer=u, reason="documents")),
    _c("claim_return", "claims.approve", lambda u, w: _cs().claim_return(claim=w.submitted, reviewer=u, note="补正")),
    _c("claim_attach", "claims.attach", lambda u, w: _cs().claim_attach(
        claim=w.draft, file=SimpleUploadedFile("a.pdf", PDF), kind="discharge_summary", by=u)),
    _c("correction_propose", "claims.propose_correction", lambda u, w: _cs().correction_propose(claim=w.approved, by=u, reason="更正")),
    _c("payment_batch_create", "claims.pay", lambda u, w: _cs().payment_batch_create(claims=[w.approved], by=u)),
    _c("payment_batch_mark_paid", "claims.pay", lambda u, w: _cs().payment_batch_mark_paid(
        batch=__import__("claims.models", fromlist=["PaymentBatch"]).PaymentBatch(district=w.district), reference="R1", by=u)),
    _c("adjustment_resolve", "claims.resolve", lambda u, w: _cs().adjustment_resolve(adjustment=w.adjustment, by=u, note="已补发")),
    # applications
    _c("application_create", "applications.edit", lambda u, w: _apps().application_create(
        household=w.household, applicant=w.person, received_on=date(2024, 3, 1), by=u)),
    _c("application_send_to_assessment", "applications.edit", lambda u, w: _apps().application_send_to_assessment(application=_application(w), by=u)),
    _c("assessment_record", "applications.assess", lambda u, w: _apps().assessment_record(
        application=_application(w), by=u, annual_income=Decimal("1"), assets=Decimal("1"), members_count=1,
        result="certified", document_ref="x"), AgencyKind.CIVIL_AFFAIRS),
    _c("bills_gather", "applications.edit", lambda u, w: _apps().bills_gather(application=_application(w), by=u)),
    _c("relief_compute", "applications.edit", lambda u, w: _apps().relief_compute(application=_application(w), by=u)),
    _c("application_decide", "applications.decide", lambda u, w: _apps().application_decide(application=_application(w), by=u, approve=True)),
    _c("application_return", "applications.decide", lambda u, w: _apps().application_return(application=_application(w), by=u, note="补正")),
    _c("document_attach", "applications.document", lambda u, w: _apps().document_attach(
        application=_application(w), by=u, file=SimpleUploadedFile("d.pdf", PDF), kind="other")),
    # letters
    _c("letter_issue", "letters.issue", lambda u, w: _rep().letter_issue(kind="claim_approved", claim=w.approved, by=u)),
    _c("letter_correct", "letters.correct", lambda u, w: _rep().letter_correct(letter=_letter(w), reason="笔误", by=u)),
    _c("letter_record_delivery", "letters.deliver", lambda u, w: _rep().letter_record_delivery(
        letter=_letter(w), delivered_on=date(2024, 1, 2), method="in_person", by=u)),
    # monitoring
    _c("warning_refer", "warnings.refer", lambda u, w: __import__("monitoring.services", fromlist=["x"]).warning_refer(
        warning=w.warning, application=w.approved, by=u)),
    _c("warning_dismiss", "warnings.dismiss", lambda u, w: __import__("monitoring.services", fromlist=["x"]).warning_dismiss(
        warning=_warning(w), by=u, note="已核实"), AgencyKind.CIVIL_AFFAIRS),
    # persons, households, certifications, imports
    _c("person_register", "persons.edit", lambda u, w: _ben().person_register(
        id_number="11010519491231002X", name="测试", by=u, hukou_district=w.district)),
    _c("person_update", "persons.edit", lambda u, w: _ben().person_update(person=w.person, by=u, phone="13800000000")),
    _c("household_create", "households.edit", lambda u, w: _ben().household_create(
        head=w.loner, by=u)),
    _c("household_add_member", "households.edit", lambda u, w: _ben().household_add_member(
        household=w.household, person=w.loner, relation="spouse", by=u)),
    _c("household_remove_member", "households.edit", lambda u, w: _ben().household_remove_member(person=w.person, by=u)),
    _c("certification_revoke", "certifications.certify", lambda u, w: _ben().certification_revoke(
        certification=w.certification, until=date(2024, 1, 1), reason="核查", by=u), AgencyKind.CIVIL_AFFAIRS),
    _c("id_number_reveal", "persons.reveal", lambda u, w: _ben().id_number_reveal(user=u, person=w.person, purpose="identity_check")),
    _c("roster batch_confirm", "imports.roster", lambda u, w: __import__("beneficiaries.imports", fromlist=["x"]).batch_confirm(
        batch=_import_batch(w), by=u), AgencyKind.CIVIL_AFFAIRS),
]

IDS = [c.name for c in CASES]
WRITE_APPS = ("beneficiaries", "claims", "applications", "reports", "monitoring", "audit")


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count()
            for label in WRITE_APPS for m in apps.get_app_config(label).get_models()}


def _holder(case: Case) -> str:
    return next(r for r in sorted(PERMISSIONS[case.permission].roles) if r != roles.ADMINISTRATOR)


def _refused(case: Case, user, world, exc=PermissionDenied):
    before = _row_counts()
    with pytest.raises(exc):
        case.call(user, world)
    assert _row_counts() == before, f"{case.name} wrote rows before refusing {user.username}"


def test_every_writing_permission_is_in_the_cases():
    """A new writing permission without a service-level case fails here."""
    writing = {n for n in PERMISSIONS if not n.endswith(".view") and n not in (
        "persons.export_subsidy", "letters.print", "claims.import", "runs.start", "simulation.run", "audit.log",
        "claims.correct", "policies.edit")}
    assert writing <= {c.permission for c in CASES}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_service_refuses_a_user_without_the_role(case, world, district):
    """The district's auditor (read-only) and a role that does not hold the permission."""
    _refused(case, make_staff(roles.AUDITOR, district=district, username="perm-auditor"), world)
    lacking = next((r for r in (roles.CERTIFIER, roles.CASEWORKER, roles.REVIEWER) if r not in PERMISSIONS[case.permission].roles), None)
    if lacking is not None:
        _refused(case, make_staff(lacking, district=district, agency_kind=case.agency_kind, username="perm-lacking"), world)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_service_refuses_a_holder_of_another_district(case, world, other_district):
    user = make_staff(_holder(case), district=other_district, agency_kind=case.agency_kind, username="perm-other")
    assert has_perm(user, case.permission)
    # registering a person in a district outside the scope is a form error on 户籍区县 (tested in
    # tests/beneficiaries/test_services.py); every other write is a PermissionDenied (404 in a view)
    _refused(case, user, world, exc=(PermissionDenied, ValidationError) if case.name == "person_register" else OutOfScope)


DECISIONS = [c for c in CASES if PERMISSIONS[c.permission].decides]


@pytest.mark.django_db
@pytest.mark.parametrize("case", DECISIONS, ids=[c.name for c in DECISIONS])
def test_administrators_do_not_decide_cases(case, world, district):
    """Separation of duties: the superuser, and an administrator who also holds the deciding role."""
    root = UserFactory(username="perm-root", is_superuser=True, is_staff=True)
    _refused(case, root, world)
    both = make_staff(_holder(case), district=district, agency_kind=case.agency_kind, username="perm-admin-and-role")
    both.groups.add(Group.objects.get(name=roles.ADMINISTRATOR))
    _refused(case, both, world)


@pytest.mark.django_db
def test_out_of_scope_is_a_permission_denied_and_a_404(other_district, district):
    """Callers of services catch PermissionDenied; views answer 404 so nothing leaks."""
    from django.http import Http404

    user = make_staff(roles.CASEWORKER, district=other_district, username="perm-scope")
    with pytest.raises(OutOfScope) as info:
        require(user, "claims.edit", district_id=district.pk)
    assert isinstance(info.value, PermissionDenied) and isinstance(info.value, Http404)
    require(user, "claims.edit", district_id=other_district.pk)  # own district: allowed
