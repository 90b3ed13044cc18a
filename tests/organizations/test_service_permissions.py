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
    relief: object = None  # an approved relief on application, not in a batch
    relief_batch: object = None  # a payment batch holding another approved relief


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
    w.relief, w.relief_batch = _reliefs(w, caseworker)
    return w


def _reliefs(w, caseworker):
    """Relief on application (依申请救助) paid through payment batches: one approved relief not yet
    batched, and a batch holding another (the relief-payment batch services)."""
    from applications.models import Application, ReliefPayment
    from claims.models import PaymentBatch

    def approved(number, year):
        return Application.objects.create(district=w.district, household=w.household, applicant=w.person,
                                          number=number, received_on=date(year, 2, 1), year=year, status="approved",
                                          relief=Decimal("500.00"))

    relief = approved("YS-PERM-1", 2021)
    batch = PaymentBatch.objects.create(number="ZF-PERM-1", district=w.district, created_by=caseworker,
                                        total_amount=Decimal("400.00"))
    ReliefPayment.objects.create(application=approved("YS-PERM-2", 2022), batch=batch, amount=Decimal("400.00"))
    return relief, batch


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
    _c("payment_batch_create reliefs", "claims.pay", lambda u, w: _cs().payment_batch_create(reliefs=[w.relief], by=u)),
    _c("payment_batch_mark_paid reliefs", "claims.pay", lambda u, w: _cs().payment_batch_mark_paid(
        batch=w.relief_batch, reference="R2", by=u)),
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
    _c("letter_issue_from_content", "letters.issue", lambda u, w: _rep().letter_issue_from_content(
        kind="claim_approved", district=w.district, by=u, person=w.person,
        content={"recipient_name": w.person.name, "decision": "approved", "amount": Decimal("100.00")})),
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


# --------------------------------------------------------------------------------------------
# The walk: every service that takes the acting user is refused above, or below, or says why not
# --------------------------------------------------------------------------------------------

SERVICE_MODULES = ("beneficiaries.services", "beneficiaries.imports", "claims.services", "applications.services",
                   "reports.services", "monitoring.services", "simulation.services", "policies.services",
                   "api.services", "audit.services")
ACTOR_PARAMS = ("by", "user", "reviewer", "officer")


def _policy():
    from policies.models import Policy

    return Policy.objects.filter(is_current=True, region__isnull=False).order_by("pk").first()


def _draft():
    from simulation.models import PolicyDraft

    base = _policy()
    return PolicyDraft(base=base, region_id=base.region_id, scenario="x", rules=base.rules)


def _sim():
    from simulation import services

    return services


def _pol():
    from policies import services

    return services


def _mon():
    from monitoring import services

    return services


def _api():
    from api import services

    return services


# Writes that belong to the administrator (administrator role or superuser; their own check,
# city-wide): a caseworker and a reviewer of the district are refused, nothing written.
ADMIN_ONLY = [
    ("policy_revise", lambda u, w: _pol().policy_revise(policy=_policy(), rules=_policy().rules,
                                                        effective_from=date(2030, 1, 1), note="x", by=u)),
    ("policy_confirm", lambda u, w: _pol().policy_confirm(policy=_policy(), by=u)),
    ("draft_create", lambda u, w: _sim().draft_create(base=_policy(), scenario="x", by=u)),
    ("draft_update", lambda u, w: _sim().draft_update(draft=_draft(), rules={}, scenario="x", note="", by=u)),
    ("simulation run_create", lambda u, w: _sim().run_create(draft=_draft(), period_start=date(2023, 1, 1),
                                                             period_end=date(2023, 12, 31), by=u)),
    ("monitoring run_create", lambda u, w: _mon().run_create(full=True, by=u)),
    ("run_synchronously", lambda u, w: _mon().run_synchronously(full=True, by=u)),
    ("api_client_create", lambda u, w: _api().api_client_create(name="x", institution=w.institution, by=u)),
    ("api_client_revoke", lambda u, w: _api().api_client_revoke(
        client=__import__("api.models", fromlist=["x"]).ApiClient.objects.get(name="perm-client"), by=u)),
]

# Take a user but decide nothing on their own; who calls them is checked there.
NOT_A_DECISION = {
    "beneficiaries.services.non_beneficiaries_register": "settlement importer and API register non-beneficiaries; "
                                                          "their callers (claims.import, the institution's token) check",
    "claims.services.bill_create": "inside claim_create/claim_add_bill and the settlement import, which check",
    "claims.services.corrections_sync": "called by the recalculation core and by correction_propose (checked)",
    "audit.services.record": "the access log itself: records what another guarded operation did",
    "beneficiaries.imports.log_preview": "the access-log row of a preview (the upload view checks imports.roster)",
    "beneficiaries.imports.preview_allowed": "the preview rate limit: a check, writes nothing but a cache counter",
    "beneficiaries.imports.import_file": "manage.py import_roster: an operator with shell access on the server, "
                                         "outside the product's roles (the product's path is batch_confirm)",
    "beneficiaries.services.certification_create": "guarded by _check_officer (certifications.certify, own agency) and "
                                                    "the agency's area; refused in tests/beneficiaries/test_services.py",
}


def _extra_cases() -> dict:
    """Services checked by their own app's tests with the same refusal (named here so the walk sees them)."""
    return {
        "claim_update_bill": "tests/claims (same guard as claim_update: _lock_editable → claims.edit + scope)",
        "ledger_repair": "tests/claims/test_ledger*.py",
        "correction_approve": "claims.correct, tests/claims/test_corrections*.py",
        "extra_bill_add": "applications.edit, tests/applications",
        "print_job_request": "letters.print, tests/reports/test_views.py",
        "batch_confirm": "roster batch_confirm above",
    }


def test_every_service_that_takes_the_acting_user_is_walked():
    """Grep by introspection: a public function of a services module taking ``by``/``user``/… is
    in CASES, ADMIN_ONLY, or named with the reason it decides nothing itself. A new service that
    writes for a user without a refusal test fails here."""
    import importlib
    import inspect

    walked = {c.name.split()[0] for c in CASES} | {n.split()[-1] for n, _call in ADMIN_ONLY} | set(_extra_cases())
    missing = []
    for module_name in SERVICE_MODULES:
        module = importlib.import_module(module_name)
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ != module.__name__ or name.startswith("_"):
                continue
            if not set(inspect.signature(func).parameters) & set(ACTOR_PARAMS):
                continue
            if name not in walked and f"{module_name}.{name}" not in NOT_A_DECISION:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"writing services without a service-level refusal test: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("call", [c for _n, c in ADMIN_ONLY], ids=[n for n, _c in ADMIN_ONLY])
def test_administrator_services_refuse_case_roles(call, world, district, caseworker, reviewer):
    from api import services as api_services

    api_services.api_client_create(name="perm-client", institution=world.institution)
    before = _row_counts()
    for user in (caseworker, reviewer, make_staff(roles.AUDITOR, district=district, username="perm-admin-auditor")):
        with pytest.raises(PermissionDenied):
            call(user, world)
        assert _row_counts() == before, f"wrote rows before refusing {user.username}"


@pytest.mark.django_db
def test_relief_payment_batches_refuse_the_wrong_role_and_another_district(world, district, other_district, caseworker):
    """The relief-payment batch services (payment_batch_create with reliefs, payment_batch_mark_paid
    of a batch of reliefs), called directly: refused without claims.pay and outside the district,
    nothing written; the caseworker of the district batches and pays them."""
    from applications.models import ReliefPayment
    from claims import services as claim_services

    certifier = make_staff(roles.CERTIFIER, district=district, agency_kind=AgencyKind.CIVIL_AFFAIRS,
                           username="perm-relief-certifier")
    auditor = make_staff(roles.AUDITOR, district=district, username="perm-relief-auditor")
    other = make_staff(roles.CASEWORKER, district=other_district, username="perm-relief-other")
    for user, exc in ((certifier, PermissionDenied), (auditor, PermissionDenied), (other, OutOfScope)):
        before = _row_counts()
        with pytest.raises(exc):
            claim_services.payment_batch_create(reliefs=[world.relief], by=user)
        with pytest.raises(exc):
            claim_services.payment_batch_mark_paid(batch=world.relief_batch, reference="R9", by=user)
        assert _row_counts() == before
    assert not ReliefPayment.objects.filter(application=world.relief).exists()
    assert ReliefPayment.objects.get(batch=world.relief_batch).paid_amount is None
