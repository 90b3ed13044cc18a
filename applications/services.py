"""Writes of the applications app: the 依申请救助 workflow, one keyword-only service per step.

received (medical-security caseworker) → assessing (civil affairs: 家庭经济状况核对) →
gathering (caseworker: bills of the counted period, extra bills with receipts, compute) →
reviewing (a reviewer who did not compute: approve or reject) → approved / rejected + letter.

Each step locks the application row, checks the state it expects on the locked row, the user's
role and district scope, and records an :class:`ApplicationTransition`. Refusals are
``ValidationError`` with a ``code`` (tests assert codes, not wording).
"""
from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Category, Certification, Household, Person
from claims import money
from claims.models import Bill
from organizations.access import scope_for
from organizations.dates import check_date
from organizations.models import Agency, AgencyKind
from organizations.permissions import require

from . import selectors
from .models import (
    MAX_UPLOAD_BYTES,
    Application,
    ApplicationDocument,
    ApplicationTransition,
    AssessmentResult,
    Channel,
    CountedBill,
    ExtraBill,
    HouseholdAssessment,
    Status,
)

logger = logging.getLogger(__name__)

ILLNESS_POVERTY = "illness_poverty_patient"
ZERO = Decimal("0.00")


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def _require(user, name: str, application: Application) -> None:
    """The permission (organizations/permissions.py) and the application's district in scope."""
    require(user, name, district_id=application.district_id, region_id=application.district.region_id)


def _lock(application: Application) -> Application:
    """Re-read the application FOR UPDATE (caller is inside transaction.atomic)."""
    return Application.objects.select_for_update().select_related("district__region", "household", "applicant").get(pk=application.pk)


def _expect(application: Application, *statuses: str) -> None:
    if application.status not in statuses:
        raise ValidationError(
            _("申请当前状态为“%(status)s”，不能办理此环节。") % {"status": application.get_status_display()},
            code="wrong_status",
        )


def _move(application: Application, *, to: str, by, note: str = "", fields: tuple[str, ...] = ()) -> None:
    before = application.status
    application.status = to
    application.save(update_fields=["status", *fields])
    ApplicationTransition.objects.create(application=application, from_status=before, to_status=to, by=by, note=note)


def _scheme(policy, category: str | None = None):
    """(spec, scheme): the policy's on-application scheme (依申请救助) for ``category``, else the
    one naming illness-poverty patients, else its first; scheme None when the region has none."""
    from policies.selectors import spec_of

    spec = spec_of(policy)
    for wanted in (category, ILLNESS_POVERTY):
        for scheme in spec.application_schemes:
            if wanted is not None and wanted in scheme.categories:
                return spec, scheme
    return spec, (spec.application_schemes[0] if spec.application_schemes else None)


def scheme_categories(policy) -> tuple[str, ...]:
    """The categories a region certifies on application (its preset's schemes, POLICY.md §9)."""
    if policy is None:
        return ()
    spec, _scheme_found = _scheme(policy)
    out: list[str] = []
    for scheme in spec.application_schemes:
        out.extend(c for c in scheme.categories if c not in out)
    return tuple(out)


def intake_scheme(district, on: date):
    """(policy, scheme) the intake screen describes; scheme None: the region has no on-application
    scheme, which the screen says before anything is entered."""
    policy = _policy_for(district, on)
    if policy is None:
        return None, None
    return policy, _scheme(policy)[1]


def _application_category(application: Application) -> str | None:
    assessment = getattr(application, "assessment", None)
    certification = getattr(assessment, "certification", None) if assessment is not None else None
    return certification.category.code if certification is not None else None


def _policy_for(application_or_district, on: date):
    from policies.selectors import policy_in_force

    district = getattr(application_or_district, "district", application_or_district)
    return policy_in_force(region=district.region_id, on=on)


@dataclass(frozen=True)
class _MonthsBack:
    months: int
    window: str = "months_before"


def counted_period(scheme, on: date, held_since: date | None = None) -> tuple[date, date]:
    """The settlement dates that count (POLICY.md §4), inclusive: the previous calendar year
    (Beijing 六(三)), or the ``months`` *before* the application date (Ningbo 三(二)1
    "申请前12个月内", POLICY.md §9): after the same day ``months`` earlier, up to the day before
    the application. A bill settled on or after the application date is assessed per bill only
    (its stay is covered by the certification the assessment grants), never also by the relief.
    ``since_certification`` (national 五(八), Wuxi, Dongzhi): from ``held_since`` (the certification)
    up to the application, at most ``months`` back."""
    if scheme is None or scheme.window == "previous_calendar_year":
        return date(on.year - 1, 1, 1), date(on.year - 1, 12, 31)
    if scheme.window == "since_certification":
        # from the certification (held_since) up to the application, at most ``months`` back
        first = held_since or on
        if scheme.months:
            floor = counted_period(_MonthsBack(scheme.months), on)[0]
            first = max(first, floor)
        return min(first, on), on
    index = on.year * 12 + on.month - 1 - (scheme.months or 12)
    year, month = divmod(index, 12)
    first_of_month = date(year, month + 1, 1)
    last_day = calendar.monthrange(year, month + 1)[1]
    return first_of_month.replace(day=min(on.day, last_day)) + timedelta(days=1), on - timedelta(days=1)


# ------------------------------------------------------------------------------------------
# 1. received
# ------------------------------------------------------------------------------------------


def application_create(
    *,
    household: Household,
    applicant: Person,
    received_on: date,
    by,
    channel: str = Channel.WINDOW,
    contact_name: str = "",
    contact_phone: str = "",
    proxy_name: str = "",
    note: str = "",
    warning: Any = None,
) -> Application:
    """Receive an application (受理). One per household per calendar year where the policy says so."""
    require(by, "applications.edit", district_id=household.district_id, region_id=household.district.region_id)
    if applicant.household_id != household.pk:
        raise ValidationError({"applicant": ValidationError(_("申请人不是该家庭的成员。"), code="applicant_not_member")})
    if received_on > timezone.localdate():
        raise ValidationError({"received_on": ValidationError(_("受理日期不能晚于今天。"), code="received_in_future")})
    try:  # year 1 used to be accepted, and every "gather" of it then failed (issue 18)
        check_date(received_on, label=str(Application._meta.get_field("received_on").verbose_name))
    except ValidationError as exc:
        raise ValidationError({"received_on": exc}) from None
    if channel == Channel.COMMUNITY_PROXY and not proxy_name:
        raise ValidationError({"proxy_name": ValidationError(_("社区委托代办须填写代办人。"), code="proxy_required")})
    if warning is not None:
        channel = Channel.WARNING_REFERRAL
        if getattr(warning, "household_id", household.pk) != household.pk:
            raise ValidationError(_("预警所属家庭与申请家庭不一致。"), code="warning_household_mismatch")
    with transaction.atomic():
        # Serialise applications of one household so the once-a-year rule holds under concurrency.
        Household.objects.select_for_update().filter(pk=household.pk).first()
        once_per_year = True
        policy = _policy_for(household.district, received_on)
        if policy is not None:
            _spec, scheme = _scheme(policy)
            if scheme is None:
                raise ValidationError(
                    _("%(region)s的救助政策（%(doc)s）未设依申请救助，不能受理。")
                    % {"region": household.district.region.name, "doc": policy.document_no}, code="no_scheme")
            once_per_year = scheme.once_per_year
        if once_per_year:
            first = selectors.applications_of_household_year(household=household, year=received_on.year).first()
            if first is not None:
                raise ValidationError(
                    _("该家庭本自然年度已提出申请（%(number)s，受理日期 %(date)s），同一自然年度内只能申请一次。")
                    % {"number": first.number, "date": first.received_on.isoformat()},
                    code="already_applied_this_year",
                )
        application = Application(
            household=household, applicant=applicant, district=household.district, received_on=received_on,
            year=received_on.year, channel=channel, contact_name=contact_name, contact_phone=contact_phone,
            proxy_name=proxy_name, note=note, warning_id=getattr(warning, "pk", None), created_by=by,
            status=Status.RECEIVED,
        )
        application.full_clean(exclude=["number"])
        application.save()
        application.number = _("%(short)s医申〔%(year)s〕%(seq)06d号") % {
            "short": household.district.short_name, "year": received_on.year, "seq": application.pk,
        }
        application.save(update_fields=["number"])
        ApplicationTransition.objects.create(application=application, from_status="", to_status=Status.RECEIVED, by=by,
                                             note=application.get_channel_display())
        if warning is not None:
            _refer_warning(warning=warning, application=application, by=by)
    return application


def _refer_warning(*, warning, application: Application, by) -> None:
    try:
        from monitoring.services import warning_refer  # type: ignore[attr-defined]
    except ImportError:
        logger.info("monitoring.services.warning_refer not available; warning %s not marked referred", warning.pk)
        return
    warning_refer(warning=warning, application=application, by=by)


def document_attach(*, application: Application, by, file: UploadedFile, kind: str, description: str = "") -> ApplicationDocument:
    """Attach a paper; the file goes to MEDIA_ROOT, the row keeps its path. Closed applications too
    (late papers are evidence), but only staff of the district may attach."""
    _require(by, "applications.document", application)
    _check_size(file, "file")
    document = ApplicationDocument(application=application, kind=kind, file=file, description=description, uploaded_by=by)
    document.full_clean()
    document.save()
    return document


def _check_size(file: UploadedFile, field_name: str) -> None:
    if file is not None and getattr(file, "size", 0) > MAX_UPLOAD_BYTES:
        raise ValidationError({field_name: ValidationError(
            _("文件不能超过 %(mb)s MB。") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}, code="file_too_large")})


# ------------------------------------------------------------------------------------------
# 2. household economic assessment (civil affairs)
# ------------------------------------------------------------------------------------------


def application_send_to_assessment(*, application: Application, by, note: str = "") -> Application:
    _require(by, "applications.edit", application)
    with transaction.atomic():
        application = _lock(application)
        _expect(application, Status.RECEIVED)
        _move(application, to=Status.ASSESSING, by=by, note=note or _("转民政部门开展家庭经济状况核对"))
    return application


def _civil_affairs_agency(by, application: Application) -> Agency:
    scope = scope_for(by)
    if scope.agency_id is not None and scope.agency_kind == AgencyKind.CIVIL_AFFAIRS:
        return Agency.objects.get(pk=scope.agency_id)
    if by.is_superuser:
        agency = (Agency.objects.filter(kind=AgencyKind.CIVIL_AFFAIRS, district=application.district).first()
                  or Agency.objects.filter(kind=AgencyKind.CIVIL_AFFAIRS, region=application.district.region,
                                           district__isnull=True).first())
        if agency is not None:
            return agency
    raise PermissionDenied(_("只有民政部门的认定人员可以开展家庭经济状况核对。"))


def _certify(*, person: Person, on: date, agency: Agency, by, document_ref: str, category_code: str = ILLNESS_POVERTY,
             valid_from: date | None = None) -> Certification:
    """The patient's certification of ``category_code`` covering ``on``: the one in force, or a new
    one from ``valid_from`` (default ``on``; through beneficiaries' service when it exists)."""
    existing = (
        Certification.objects.filter(person=person, category__code=category_code, valid_from__lte=on)
        .exclude(valid_until__lt=on)
        .order_by("-valid_from")
        .first()
    )
    if existing is not None:
        return existing
    category = Category.objects.get(code=category_code)
    on = valid_from or on
    try:
        from beneficiaries.services import certification_create  # type: ignore[attr-defined]
    except ImportError:
        certification_create = None
    if certification_create is not None:
        import inspect

        params = inspect.signature(certification_create).parameters
        kwargs: dict[str, Any] = {"person": person, "category": category, "valid_from": on}
        for name, value in (("agency", agency), ("document_ref", document_ref), ("by", by), ("officer", by),
                            ("valid_until", None)):
            if name in params:
                kwargs[name] = value
        return certification_create(**kwargs)
    certification = Certification(person=person, category=category, agency=agency, officer=by,
                                  document_ref=document_ref, valid_from=on)
    certification.full_clean()
    certification.save()
    return certification


def assessment_record(
    *,
    application: Application,
    by,
    annual_income: Decimal,
    assets: Decimal,
    members_count: int,
    result: str,
    reason: str = "",
    document_ref: str = "",
    category: str | None = None,
    valid_from: date | None = None,
) -> HouseholdAssessment:
    """家庭经济状况核对: certify the patient ``illness_poverty_patient`` or refuse with a reason.

    Certified → the caseworker gathers bills; refused → straight to the reviewer, who can only
    reject (the letter carries the reason)."""
    _require(by, "applications.assess", application)
    if result == AssessmentResult.REFUSED and not reason.strip():
        raise ValidationError({"reason": ValidationError(_("不予认定须填写理由。"), code="reason_required")})
    with transaction.atomic():
        application = _lock(application)
        _expect(application, Status.ASSESSING)
        agency = _civil_affairs_agency(by, application)
        allowed = scheme_categories(_policy_for(application, application.received_on))
        category = category or (ILLNESS_POVERTY if ILLNESS_POVERTY in allowed or not allowed else allowed[0])
        if allowed and category not in allowed:
            raise ValidationError({"category": ValidationError(
                _("本地区依申请救助只认定：%(allowed)s。") % {"allowed": "、".join(_category_names(allowed))},
                code="category_not_in_scheme")})
        if valid_from is not None and valid_from > application.received_on:
            raise ValidationError({"valid_from": ValidationError(_("认定起始日期不能晚于受理日期。"),
                                                                 code="valid_from_after_received")})
        assessment = HouseholdAssessment(
            application=application, annual_income=annual_income, assets=assets, members_count=members_count,
            result=result, reason=reason.strip(), document_ref=document_ref, assessed_by=by,
        )
        assessment.full_clean()
        if result == AssessmentResult.CERTIFIED:
            assessment.certification = _certify(person=application.applicant, on=application.received_on, agency=agency,
                                                by=by, document_ref=document_ref, category_code=category,
                                                valid_from=valid_from)
        assessment.save()
        if result == AssessmentResult.CERTIFIED:
            _move(application, to=Status.GATHERING, by=by,
                  note=_("认定为%(category)s") % {"category": _category_names((category,))[0]})
        else:
            _move(application, to=Status.REVIEWING, by=by, note=_("不予认定：%(reason)s") % {"reason": assessment.reason})
    return assessment


# ------------------------------------------------------------------------------------------
# 3. bills of the counted period
# ------------------------------------------------------------------------------------------


def _category_names(codes) -> list[str]:
    names = dict(Category.objects.filter(code__in=codes).values_list("code", "name"))
    return [names.get(code, code) for code in codes]


def _already_paid(bill: Bill) -> Decimal:
    """Relief already had on a bill (六(三) "各种救助"): what was *granted* on it
    (``claims.money``): a rejected, returned or pending claim's bill had nothing (POLICY.md §9)."""
    return money.bill_relief_already(bill)


def bills_gather(*, application: Application, by) -> list[CountedBill]:
    """Snapshot the bills of the counted period: the patient's and co-resident members' bills from
    claims, plus extra bills with receipts. A bill appears once (unique per application and bill)."""
    _require(by, "applications.edit", application)
    with transaction.atomic():
        application = _lock(application)
        _expect(application, Status.GATHERING)
        return _gather(application)


def _gather(application: Application) -> list[CountedBill]:
    rows = _collect(application)
    application.counted_bills.all().delete()  # a snapshot, rebuilt on every gathering
    return CountedBill.objects.bulk_create(rows, batch_size=1000)


def _scheme_and_period(application: Application):
    """The relief scheme the application is assessed under and its counted period (inclusive)."""
    policy = _policy_for(application, application.received_on)
    category = _application_category(application)
    scheme = _scheme(policy, category)[1] if policy is not None else None
    assessment = getattr(application, "assessment", None)
    certification = getattr(assessment, "certification", None) if assessment is not None else None
    start, end = counted_period(scheme, application.received_on,
                                certification.valid_from if certification is not None else None)
    return scheme, start, end


def _collect(application: Application) -> list[CountedBill]:
    """The unsaved snapshot rows of the counted period (sets the application's period)."""
    scheme, start, end = _scheme_and_period(application)
    application.period_start, application.period_end = start, end
    application.save(update_fields=["period_start", "period_end"])
    patient_only = scheme is not None and scheme.members == "patient"
    rows: dict[tuple[str, int], CountedBill] = {}
    bills = selectors.household_bills(household=application.household, start=start, end=end)
    if patient_only:
        bills = bills.filter(person=application.applicant)
    for bill in bills:
        paid = _already_paid(bill)
        burden = money.bill_left_after_granted(bill)
        rows.setdefault(("bill", bill.pk), CountedBill(
            application=application, person=bill.person, bill=bill, settlement_no=bill.settlement_no,
            institution_name=bill.institution.name, designated=bill.institution.designated, visit_type=bill.visit_type,
            admission_date=bill.admission_date, discharge_date=bill.discharge_date,
            policy_scope_cost=bill.policy_scope_cost, basic_paid=bill.basic_paid, critical_paid=bill.critical_paid,
            other_paid=bill.other_paid, assistance_paid=paid, burden=burden,
            counted=bill.institution.designated, reason="" if bill.institution.designated else "non_designated",
        ))
    extras = application.extra_bills.select_related("person").filter(discharge_date__gte=start, discharge_date__lte=end)
    if patient_only:
        extras = extras.filter(person=application.applicant)
    for extra in extras:
        rows.setdefault(("extra", extra.pk), CountedBill(
            application=application, person=extra.person, extra_bill=extra, settlement_no=extra.settlement_no,
            institution_name=extra.institution_name, designated=extra.designated, visit_type=extra.visit_type,
            admission_date=extra.admission_date, discharge_date=extra.discharge_date,
            policy_scope_cost=extra.policy_scope_cost, basic_paid=extra.basic_paid, critical_paid=extra.critical_paid,
            other_paid=extra.other_paid, assistance_paid=extra.assistance_paid, burden=extra.burden,
            counted=extra.designated, reason="" if extra.designated else "non_designated",
        ))
    return list(rows.values())


def extra_bill_add(*, application: Application, by, person: Person, receipt: UploadedFile, **fields: Any) -> ExtraBill:
    """A bill paid elsewhere, entered from its receipt. Amounts must be consistent (named field)."""
    _require(by, "applications.edit", application)
    if person.household_id != application.household_id:
        raise ValidationError({"person": ValidationError(_("就医人不是该家庭的成员。"), code="person_not_member")})
    _check_size(receipt, "receipt")
    extra = ExtraBill(application=application, person=person, receipt=receipt, added_by=by, **fields)
    check_amounts(extra)
    check_in_period(application, extra)
    with transaction.atomic():
        locked = _lock(application)
        _expect(locked, Status.GATHERING)
        extra.full_clean()
        extra.save()
    return extra


def check_in_period(application: Application, extra: ExtraBill) -> None:
    """A receipt counts only when its stay was settled in the application's counted period
    (POLICY.md §4, §9): one outside it is refused with the window named, never silently ignored."""
    if extra.discharge_date is None:
        return
    _scheme, start, end = _scheme_and_period(application)
    if not start <= extra.discharge_date <= end:
        raise ValidationError({"discharge_date": ValidationError(
            _("出院（结算）日期 %(day)s 不在本次申请的计算期间 %(start)s 至 %(end)s 内，该票据不计入。")
            % {"day": extra.discharge_date.isoformat(), "start": start.isoformat(), "end": end.isoformat()},
            code="outside_period")})


def check_amounts(extra: ExtraBill) -> None:
    """Consistency of a receipt's amounts, each error on the field it concerns (POLICY.md §1)."""
    errors: dict[str, ValidationError] = {}
    for name in ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid", "assistance_paid"):
        value = getattr(extra, name)
        if value is not None and value < 0:
            errors[name] = ValidationError(_("金额不能为负数。"), code="invalid_amounts")
    if not errors:
        if extra.policy_scope_cost > extra.total_cost:
            errors["policy_scope_cost"] = ValidationError(_("政策范围内费用不能大于医疗总费用。"), code="invalid_amounts")
        elif extra.basic_paid + extra.critical_paid > extra.policy_scope_cost:
            errors["basic_paid"] = ValidationError(_("基本医保与大病保险支付之和不能大于政策范围内费用。"), code="invalid_amounts")
    if extra.admission_date and extra.discharge_date and extra.discharge_date < extra.admission_date:
        errors["discharge_date"] = ValidationError(_("出院日期不能早于入院日期。"), code="invalid_dates")
    if errors:
        raise ValidationError(errors)


# ------------------------------------------------------------------------------------------
# 4. computation through the engine
# ------------------------------------------------------------------------------------------


@dataclass
class Computation:
    relief: Decimal
    burden: Decimal
    reasons: list[str]
    lines: list[dict[str, str]]
    clauses: list[str]
    counted: dict[str, tuple[bool, str]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def relief_compute(*, application: Application, by) -> Application:
    """Gather the bills again and compute the relief with the policy in force on the application
    date; the application goes to the reviewer with its explanation."""
    _require(by, "applications.edit", application)
    with transaction.atomic():
        application = _lock(application)
        _expect(application, Status.GATHERING)
        policy = _policy_for(application, application.received_on)
        if policy is None:
            raise ValidationError(_("受理日期没有生效的救助政策，无法计算。"), code="no_policy")
        rows = _collect(application)
        result = _assess(application=application, policy=policy, rows=rows)
        for row in rows:
            key = _row_key(row)
            if key in result.counted:
                row.counted, row.reason = result.counted[key]
        application.counted_bills.all().delete()  # the snapshot is rebuilt with the engine's verdicts
        CountedBill.objects.bulk_create(rows, batch_size=1000)
        application.policy = policy
        application.relief = result.relief
        application.burden = result.burden
        application.computation = {
            "relief": str(result.relief), "burden": str(result.burden), "reasons": result.reasons,
            "lines": result.lines, "clauses": result.clauses, "engine": result.raw,
            "period": [application.period_start.isoformat(), application.period_end.isoformat()],
        }
        application.computed_at = timezone.now()
        application.computed_by = by
        _move(application, to=Status.REVIEWING, by=by,
              note=_("计算救助金额 %(relief)s 元") % {"relief": result.relief},
              fields=("policy", "relief", "burden", "computation", "computed_at", "computed_by"))
    return application


def _row_key(row: CountedBill) -> str:
    return f"b{row.bill_id}" if row.bill_id else f"x{row.extra_bill_id}"


def _assess(*, application: Application, policy, rows: list[CountedBill]) -> Computation:
    """Run :func:`policies.engine.assess_application` on the gathered rows (the only engine call).

    ``other_paid`` given to the engine includes the relief already paid on each bill, so the
    burden it counts is what is really left (六(三) "扣除……和各种救助后")."""
    from policies.adapters import person_in
    from policies.engine import ApplicationIn, BillIn, Flags, HouseholdMemberIn, assess_application
    from policies.selectors import region_stats

    spec, scheme = _scheme(policy, _application_category(application))
    members = selectors.household_members(application.household)
    by_person: dict[int, list[CountedBill]] = {}
    for row in rows:
        by_person.setdefault(row.person_id, []).append(row)
    year = application.received_on.year
    bucket_used, bucket_note = ZERO, ""
    if scheme is not None and scheme.bucket is not None:
        bucket_used, bucket_note = selectors.annual_bucket_used(person=application.applicant, year=year,
                                                                bucket=scheme.bucket.name, exclude=application)
    previous = selectors.applications_of_household_year(household=application.household, year=year).exclude(
        pk=application.pk).exists()
    household_in = []
    for member in members:
        bills = tuple(
            BillIn(
                id=_row_key(row), visit_type=row.visit_type, start=row.admission_date, end=row.discharge_date,
                total_cost=_total_cost(row), policy_scope_cost=row.policy_scope_cost,
                basic_paid=row.basic_paid, critical_paid=row.critical_paid,
                other_paid=row.other_paid + row.assistance_paid,
                flags=Flags(designated=row.designated,
                            referral_compliant=row.bill.referral_compliant if row.bill_id else True,
                            in_province=row.bill.in_province if row.bill_id else True,
                            major_disease=row.bill.major_disease if row.bill_id else False,
                            rare_disease=row.bill.rare_disease if row.bill_id else False),
            )
            for row in by_person.get(member.pk, [])
        )
        role = "patient" if member.pk == application.applicant_id else "member"
        household_in.append(HouseholdMemberIn(role=role, person=person_in(member), bills=bills))
    app_in = ApplicationIn(date=application.received_on, previous_application_same_year=previous,
                           annual_bucket_used=bucket_used)
    # the statistics of the applicant's region (a region under the national framework has its own)
    result = assess_application(spec, app_in, household_in, region_stats(application.district.region_id))
    by_key = {_row_key(row): row for row in rows}
    lines = []
    for line in result.lines:
        item = line.to_dict()
        row = by_key.get(item["key"].partition(":")[2]) if item["key"].startswith("bill:") else None
        if row is not None:  # name the bill, so the line can be read aloud to the applicant
            item["label"] = f"{item['label']}（{row.person.name} {row.settlement_no}）"
        lines.append(item)
    if bucket_note:
        lines.append({"key": "note", "label": _("说明"), "value": bucket_note, "clause": ""})
    counted_ids = set(result.counted_bill_ids)
    counted: dict[str, tuple[bool, str]] = {}
    for row in rows:
        key = _row_key(row)
        if key in counted_ids:
            counted[key] = (True, "")
        elif not row.designated:
            counted[key] = (False, "non_designated")
        elif scheme is not None and scheme.visit_classes is not None:
            counted[key] = (False, "visit_not_covered")
        else:
            counted[key] = (False, "not_counted")
    raw = result.to_dict()
    raw.get("explanation", {}).pop("lines", None)  # kept once, as "lines" above
    return Computation(
        relief=result.relief, burden=result.burden, reasons=list(result.reasons), lines=lines,
        clauses=list(result.clauses), counted=counted, raw=raw,
    )


def _total_cost(row: CountedBill) -> Decimal:
    if row.bill_id:
        return row.bill.total_cost
    return row.extra_bill.total_cost


# ------------------------------------------------------------------------------------------
# 5. decision
# ------------------------------------------------------------------------------------------


def application_return(*, application: Application, by, note: str) -> Application:
    """The reviewer sends a computed application back to the caseworker (e.g. a receipt is missing)."""
    _require(by, "applications.decide", application)
    if not note.strip():
        raise ValidationError({"note": ValidationError(_("退回须说明理由。"), code="reason_required")})
    with transaction.atomic():
        application = _lock(application)
        _expect(application, Status.REVIEWING)
        if not _certified(application):
            raise ValidationError(_("家庭经济状况核对未通过，只能作出不予救助决定。"), code="not_certified")
        _move(application, to=Status.GATHERING, by=by, note=note.strip())
    return application


def _certified(application: Application) -> bool:
    assessment = HouseholdAssessment.objects.filter(application=application).first()
    return assessment is not None and assessment.result == AssessmentResult.CERTIFIED


def application_decide(*, application: Application, by, approve: bool, reason: str = "", payment_route: str = "") -> Application:
    """Approve or reject (审核决定). The reviewer is not the person who computed; the decision
    letter is issued after commit."""
    _require(by, "applications.decide", application)
    with transaction.atomic():
        application = _lock(application)
        _expect(application, Status.REVIEWING)
        if application.computed_by_id is not None and application.computed_by_id == by.pk:
            raise ValidationError(_("计算救助金额的人员不能审核同一申请。"), code="same_person")
        if approve:
            if not _certified(application):
                raise ValidationError(_("家庭经济状况核对未通过，不能批准。"), code="not_certified")
            if application.relief is None:
                raise ValidationError(_("尚未计算救助金额。"), code="not_computed")
            if application.relief <= 0:
                raise ValidationError(_("计算的救助金额为零，应作出不予救助决定。"), code="no_relief")
            _check_bucket_room(application)
            application.payment_route = payment_route or _("社会化发放至申请人银行账户")
            application.decision_reason = ""
            to = Status.APPROVED
        else:
            reason = reason.strip()
            if not reason:
                assessment = HouseholdAssessment.objects.filter(application=application).first()
                if assessment is not None and assessment.result == AssessmentResult.REFUSED:
                    reason = _("家庭经济状况核对不予认定：%(reason)s") % {"reason": assessment.reason}
            if not reason:
                raise ValidationError({"reason": ValidationError(_("不予救助须填写理由。"), code="reason_required")})
            application.decision_reason = reason
            application.payment_route = ""
            to = Status.REJECTED
        application.decided_by = by
        application.decided_at = timezone.now()
        _move(application, to=to, by=by, note=application.decision_reason,
              fields=("decided_by", "decided_at", "decision_reason", "payment_route"))
        pk, user_pk = application.pk, by.pk
        transaction.on_commit(lambda: _issue_letter(application_pk=pk, approved=approve, by_pk=user_pk))
    return application


def _check_bucket_room(application: Application) -> None:
    """For relief drawn on an annual bucket (Ningbo 三(二)1, 80,000): under the person-year ledger
    lock, the room must still hold the computed relief (another approval, or bills, may have used
    it); then the relief is recorded on the ledger as a draw (``claims.services.ledger_draw_record``),
    so later bills of that year get only the room that is left and the cap holds for both."""
    bucket = ((application.computation or {}).get("engine") or {}).get("explanation", {}).get("bucket")
    if not bucket or bucket.get("cap") is None:
        return
    from claims.models import LedgerDraw
    from claims.services import ledger_draw_record, lock_ledger

    ledger = lock_ledger(person_id=application.applicant_id, year=application.year)
    used, _note = selectors.annual_bucket_used(person=application.applicant, year=application.year,
                                               bucket=bucket["name"], exclude=application)
    room = max(ZERO, Decimal(bucket["cap"]) - used)
    if application.relief > room:
        raise ValidationError(
            _("年度救助限额剩余 %(room)s 元，已少于计算的救助金额 %(relief)s 元，请退回重新计算。")
            % {"room": room, "relief": application.relief},
            code="bucket_room_changed",
        )
    ledger_draw_record(ledger=ledger, bucket=bucket["name"], cap=Decimal(bucket["cap"]), amount=application.relief,
                       clause=bucket.get("clause") or "", source=LedgerDraw.Source.APPLICATION,
                       source_ref=application.pk)


LETTER_KINDS = {True: "application_approved", False: "application_rejected"}


def _issue_letter(*, application_pk: int, approved: bool, by_pk: int) -> None:
    """After commit: ask reports for the numbered letter, if that service exists."""
    try:
        from reports.services import letter_issue  # type: ignore[attr-defined]
    except ImportError:
        logger.info("reports.services.letter_issue not available; no letter for application %s", application_pk)
        return
    from django.contrib.auth import get_user_model

    application = Application.objects.get(pk=application_pk)
    by = get_user_model().objects.get(pk=by_pk)
    try:
        letter_issue(kind=LETTER_KINDS[approved], application=application, by=by)
    except Exception:  # the decision stands; the letter can be reissued from reports
        logger.exception("letter for application %s failed", application_pk)
