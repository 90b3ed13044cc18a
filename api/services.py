"""Writes behind the machine API (keyword-only, typed). Views in api/api.py call these only.

- clients: :func:`api_client_create` (token shown once), :func:`api_client_revoke`;
- settlements (一站式): :func:`settlement_post` computes the assistance with THE recomputation
  (claims.services.recompute_person_year) under the person-year ledger lock and freezes it as the
  amount the hospital advances: it is then *reserved* on the ledger (the bucket's ``used``
  includes it, so a second hospital posting for the same person gets only the room left).
  Idempotent by ``setl_id`` per institution. A person registered nowhere is registered as a
  non-beneficiary (POLICY.md §9) in the institution's district and the settlement recorded with
  assistance 0 (no identity: the engine's ``not_eligible``). :func:`settlement_cancel` (冲正) takes the bill off
  the ledger (status 不予救助/REJECTED, record 已冲正) and recomputes, releasing the room;
- certifications pushed by an agency's system: idempotent by the agency's document reference.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries.models import Category, Certification, Person
from claims.models import Bill, BillSource, BillStatus, SettlementRecord
from organizations import roles
from organizations.models import Agency, Institution, StaffProfile

from .models import ApiClient

TOKEN_PREFIX_LEN = 8


class ApiError(Exception):
    """An answer other than success: HTTP status, a stable code, the field it concerns."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, str(message), field


def _require_administrator(by) -> None:
    """Clients are registered and revoked by administrators (the admin); ``by=None`` only for
    management commands and migrations."""
    from django.core.exceptions import PermissionDenied

    if by is not None and not (by.is_superuser or roles.has_role(by, roles.ADMINISTRATOR)):
        raise PermissionDenied(_("只有系统管理员可以管理接口客户端。"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------------------------------------
# Clients
# ------------------------------------------------------------------------------------------


@transaction.atomic
def api_client_create(*, name: str, agency: Agency | None = None, institution: Institution | None = None,
                      rate_limit: int = 120, by=None) -> tuple[ApiClient, str]:
    """Register a client bound to ONE agency or ONE institution; returns it and its token (shown once)."""
    _require_administrator(by)
    if (agency is None) == (institution is None):
        raise ValidationError(_("接口客户端须绑定一个认定机构或一个定点医药机构。"), code="binding")
    prefix = secrets.token_hex(TOKEN_PREFIX_LEN // 2)
    while ApiClient.objects.filter(token_prefix=prefix).exists():
        prefix = secrets.token_hex(TOKEN_PREFIX_LEN // 2)
    token = f"mk_{prefix}_{secrets.token_urlsafe(32)}"
    user = get_user_model().objects.create(username=f"api-{prefix}", is_active=True, is_staff=False)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    if agency is not None:
        # Acts exactly as a certifier of its agency (organizations.access and the services' checks).
        StaffProfile.objects.create(user=user, agency=agency, district=agency.district, title=_("接口服务账号"))
        user.groups.add(Group.objects.get(name=roles.CERTIFIER))
    client = ApiClient(name=name, kind=ApiClient.Kind.AGENCY if agency else ApiClient.Kind.INSTITUTION,
                       agency=agency, institution=institution, user=user, token_prefix=prefix,
                       token_hash=_digest(token), rate_limit=rate_limit,
                       created_by=by if getattr(by, "pk", None) else None)
    client.full_clean(exclude=["user", "token_prefix", "token_hash", "created_by"])
    client.save()
    return client, token


@transaction.atomic
def api_client_revoke(*, client: ApiClient, by=None) -> ApiClient:
    """吊销: the token is refused from now on (the client row and its log stay)."""
    _require_administrator(by)
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.revoked_by = by if getattr(by, "pk", None) else None
        client.save(update_fields=["revoked_at", "revoked_by"])
        get_user_model().objects.filter(pk=client.user_id).update(is_active=False)
    return client


def client_for_token(token: str) -> ApiClient | None:
    """The ACTIVE client of a bearer token, or None (unknown, malformed or revoked)."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "mk":
        return None
    client = (ApiClient.objects.select_related("user", "agency", "institution__district")
              .filter(token_prefix=parts[1]).first())
    if client is None or not hmac.compare_digest(client.token_hash, _digest(token)):
        return None
    if client.revoked_at is not None or not client.user.is_active:
        return None
    return client


# ------------------------------------------------------------------------------------------
# Eligibility (一站式 at discharge): yes/no, category label, policy — nothing else
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    beneficiary: bool
    category: str | None
    policy: str | None


def eligibility(*, person: Person, on: date) -> Eligibility:
    from beneficiaries.selectors import identity_benefits

    certs = list(Certification.objects.filter(person=person).select_related("category"))
    rows, policy = identity_benefits(person=person, certifications=certs, on=on)
    if not rows:
        return Eligibility(False, None, str(policy) if policy is not None else None)
    best = next((r for r in rows if r.best), rows[0])
    return Eligibility(True, str(best.certification.category.name), str(policy) if policy is not None else None)


# ------------------------------------------------------------------------------------------
# Settlements (posted by a designated institution)
# ------------------------------------------------------------------------------------------


def _settlement_row(payload: dict[str, Any]) -> dict[str, Any]:
    from claims.imports import PLATFORM_TO_OURS

    return {PLATFORM_TO_OURS.get(k, k): v for k, v in payload.items() if v is not None and k != "maf_pay"}


def _same(bill: Bill, data: dict[str, Any], person: Person) -> bool:
    keys = ("visit_type", "admission_date", "discharge_date", "total_cost", "policy_scope_cost", "basic_paid",
            "critical_paid", "other_paid")
    return bill.person_id == person.pk and all(getattr(bill, k) == data[k] for k in keys)


def settlement_reason(bill: Bill) -> dict[str, Any]:
    """``beneficiary`` and, when nothing is given, why (the engine's first reason and its text)."""
    computation = bill.computation or {}
    beneficiary = bool(bill.category)
    codes = list(computation.get("reasons") or ())
    if bill.total_assistance or not codes:
        return {"beneficiary": beneficiary, "reason_code": None, "reason": None}
    lines = (computation.get("explanation") or {}).get("lines") or ()
    text = next((str(line.get("value")) for line in lines if line.get("key") == f"reason:{codes[0]}"), None)
    return {"beneficiary": beneficiary, "reason_code": str(codes[0]), "reason": text}


def _register_unregistered(*, client: ApiClient, number: str, name: str, insurance: str) -> Person:
    """Register a person first seen in this settlement as a non-beneficiary in the institution's
    district; if a concurrent post registered them first, that person."""
    from beneficiaries.models import RegistrationSource
    from beneficiaries.services import non_beneficiaries_register

    district = client.institution.district
    try:
        with transaction.atomic():
            return non_beneficiaries_register(people={number: (name, district, insurance)},
                                              source=RegistrationSource.SETTLEMENT_API, by=client.user)[number]
    except IntegrityError:
        person = Person.objects.filter(id_number=number, hukou_district=district).first()
        if person is None:
            raise ApiError(404, "not_found", "未找到该人员。Not found.", "certno") from None
        return person


def settlement_post(*, client: ApiClient, person: Person | None, payload: dict[str, Any]) -> tuple[SettlementRecord, bool]:
    """Record a settlement posted by ``client``'s institution and reserve its assistance.

    ``person`` is already in the client's scope (the caller used organizations.access), or None
    when the ID number is registered nowhere: then the person is registered here as a
    non-beneficiary (name from ``psn_name``, required) and the bill gets 0 (POLICY.md §9).
    Returns (record, created). A repeated ``setl_id`` with the same content returns the first
    record and reserves nothing again; with different content it is a conflict (409).
    """
    from claims.imports import _RowInvalid, parse_settlement
    from claims.services import lock_ledger, recompute_person_year

    institution = client.institution
    assert institution is not None  # noqa: S101 - the view only lets institution clients here
    row = _settlement_row(payload)
    if str(row.get("institution_code", institution.code)) != institution.code:
        raise ApiError(422, "wrong_institution", _("只能上传本机构的结算数据。"), "fixmedins_code")
    row["institution_code"] = institution.code
    try:
        data = parse_settlement(row, {institution.code: institution}, {person.id_number: person} if person else {},
                                allow_unregistered=person is None)
    except _RowInvalid as exc:
        from claims.imports import PLATFORM_TO_OURS

        back = {v: k for k, v in PLATFORM_TO_OURS.items()}
        raise ApiError(422, "invalid", exc.message, back.get(exc.field, exc.field)) from None
    extra = data.pop("_platform") or {}
    new_person = data.pop("_new_person")
    data.pop("_person"), data.pop("_institution")
    data["hospital_assistance_paid"] = None
    year = data["discharge_date"].year
    with transaction.atomic():
        if person is None:
            if Bill.objects.filter(institution=institution, settlement_no=data["settlement_no"]).exists():
                raise ApiError(409, "conflict", _("该结算ID已上传且内容不同。"), "setl_id")
            from claims.imports import insurance_of

            person = _register_unregistered(client=client, number=new_person[0], name=new_person[1],
                                            insurance=insurance_of(extra))
        lock_ledger(person_id=person.pk, year=year)
        existing = (Bill.objects.select_for_update(of=("self",)).select_related("platform_record")
                    .filter(institution=institution, settlement_no=data["settlement_no"]).first())
        if existing is not None:
            record = getattr(existing, "platform_record", None)
            if record is None or not _same(existing, data, person):
                raise ApiError(409, "conflict", _("该结算ID已上传且内容不同。"), "setl_id")
            return record, False
        try:
            with transaction.atomic():
                # Decided now (counted_at): a settlement posted later, even of an earlier stay,
                # never re-deals the room this hospital is told to advance (claims.recalc.decision_key).
                bill = Bill.objects.create(person=person, district_id=person.hukou_district_id, institution=institution,
                                           source=BillSource.ONE_STOP, status=BillStatus.RECORDED,
                                           created_by=client.user, counted_at=timezone.now(), **data)
        except IntegrityError:
            raise ApiError(409, "conflict", _("该结算ID已上传且内容不同。"), "setl_id") from None
        recompute_person_year(person_id=person.pk, year=year)
        bill.refresh_from_db(fields=["total_assistance", "assistance", "tilted", "special", "status"])
        # What the hospital advances now: frozen as paid (later recomputations record 补发/追回).
        Bill.objects.filter(pk=bill.pk).update(status=BillStatus.HOSPITAL_PAID,
                                                hospital_assistance_paid=bill.total_assistance)
        record = SettlementRecord.objects.create(
            bill=bill, origin=SettlementRecord.Origin.API, reserved_amount=bill.total_assistance, api_client=client,
            **({"setl_id": data["settlement_no"]} | extra))
    return record, True


def settlement_cancel(*, client: ApiClient, record: SettlementRecord, reason: str) -> SettlementRecord:
    """冲正: the settlement no longer counts; its reservation is released. Idempotent."""
    from claims.services import lock_ledger, recompute_person_year

    bill = record.bill
    with transaction.atomic():
        lock_ledger(person_id=bill.person_id, year=bill.discharge_date.year)
        record = SettlementRecord.objects.select_for_update().get(pk=record.pk)
        if record.status == SettlementRecord.Status.CANCELLED:
            return record
        if bill.claim_id is not None:
            raise ApiError(409, "not_cancellable", _("该结算单已纳入报销申请，不能冲正。"), "setl_id")
        Bill.objects.filter(pk=bill.pk).update(status=BillStatus.REJECTED, updated_at=timezone.now())
        record.status = SettlementRecord.Status.CANCELLED
        record.cancelled_at = timezone.now()
        record.cancel_reason = (reason or "")[:200]
        record.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        recompute_person_year(person_id=bill.person_id, year=bill.discharge_date.year)
    return record


# ------------------------------------------------------------------------------------------
# Certifications pushed by an agency's system
# ------------------------------------------------------------------------------------------


def _category(code: str) -> Category:
    category = Category.objects.filter(code=code).first() or Category.objects.filter(name=code).first()
    if category is None:
        raise ApiError(422, "unknown_category", _("未知类别“%(c)s”") % {"c": code[:40]}, "category")
    return category


def _validation(exc: ValidationError) -> ApiError:
    if hasattr(exc, "error_dict"):
        name, errors = next(iter(exc.error_dict.items()))
        error = errors[0]
        return ApiError(422, error.code or "invalid", error.messages[0], name)
    return ApiError(422, exc.code or "invalid", exc.messages[0], None)


def certification_push(*, client: ApiClient, person: Person, category_code: str, valid_from: date,
                       valid_until: date | None, document_ref: str) -> tuple[Certification, bool]:
    """认定 by the client's agency, idempotent by (agency, document_ref)."""
    from django.core.exceptions import PermissionDenied

    from beneficiaries.services import certification_create

    agency = client.agency
    assert agency is not None  # noqa: S101 - the view only lets agency clients here
    document_ref = document_ref.strip()
    if not document_ref:
        raise ApiError(422, "required", _("必填"), "document_ref")
    category = _category(category_code)
    with transaction.atomic():
        list(Agency.objects.select_for_update().filter(pk=agency.pk).order_by().values_list("pk", flat=True))
        existing = Certification.objects.filter(agency=agency, document_ref=document_ref).select_related("category", "person").first()
        if existing is not None:
            if (existing.person_id, existing.category_id, existing.valid_from) == (person.pk, category.pk, valid_from) \
                    and (valid_until is None or existing.valid_until == valid_until):
                return existing, False
            raise ApiError(409, "conflict", _("该文号已用于另一认定。"), "document_ref")
        try:
            cert = certification_create(person=person, category=category, agency=agency, officer=client.user,
                                        valid_from=valid_from, valid_until=valid_until, document_ref=document_ref)
        except ValidationError as exc:
            raise _validation(exc) from None
        except PermissionDenied as exc:
            raise ApiError(403, "forbidden", str(exc) or _("无权认定。"), None) from None
    return cert, True


def certification_end(*, client: ApiClient, certification: Certification, until: date, reason: str) -> Certification:
    """终止认定 by the client's agency; ending it again on the same day is a no-op (idempotent)."""
    from django.core.exceptions import PermissionDenied

    from beneficiaries.services import certification_revoke

    if certification.valid_until is not None and certification.valid_until == until and certification.revoked_at:
        return certification
    try:
        return certification_revoke(certification=certification, until=until, reason=reason, by=client.user)
    except ValidationError as exc:
        raise _validation(exc) from None
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc) or _("无权终止认定。"), None) from None


ZERO = Decimal("0.00")
