"""The machine API (django-ninja): OpenAPI 3 at /api/openapi.json, docs at /api/docs.

Every answer other than success is JSON ``{"code", "field", "message"}`` (:class:`Error`).
Clients authenticate with ``Authorization: Bearer <token>`` (api.models.ApiClient); every
call is written to the access log by :class:`api.middleware.ApiAccessLogMiddleware`. Objects
are looked up through the same ``access_*`` selectors as staff screens: outside the client's
scope is 404, exactly like a page.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import StringConstraints

from beneficiaries import idnumber
from beneficiaries.models import Certification, Person
from beneficiaries.selectors import access_certifications, access_persons, person_asked_to_certify
from claims.models import SettlementRecord
from organizations.permissions import PUBLIC, ApiForbidden, api_requires

from . import services
from .models import ApiAccessLog, ApiClient
from .services import ApiError

# Text without NUL (PostgreSQL refuses it in text columns; a NUL must be a 422, never a 500).
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=200)]
Short = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", min_length=1, max_length=50)]
Code = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=20)]
Money = Annotated[Decimal, Field(ge=0, lt=Decimal("1000000000000"), max_digits=14, decimal_places=2)]
CertNo = Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9Xx]$")]


class Error(Schema):
    code: str
    field: str | None = None
    message: str


class RateLimited(Exception):
    pass


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = services.client_for_token(token)
        if client is None:
            return None
        request.api_client = client  # type: ignore[attr-defined]  # for the access log
        since = timezone.now() - timedelta(minutes=1)
        if ApiAccessLog.objects.filter(client=client, at__gte=since).count() >= client.rate_limit:
            raise RateLimited
        return client


api = NinjaAPI(
    title="医疗救助数据接口 Medical assistance API", version="1.0.0", urls_namespace="api",
    description="一站式结算、身份认定推送、决定书核验。Bearer token per registered client; errors are "
                "JSON {code, field, message}; objects outside the client's scope answer 404.",
    auth=BearerToken(),
)
ERRORS = {401: Error, 403: Error, 404: Error, 409: Error, 422: Error, 429: Error}


def _error(request, status: int, code: str, message: str, field: str | None = None):
    return api.create_response(request, {"code": code, "field": field, "message": message}, status=status)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _error(request, exc.status, exc.code, exc.message, exc.field)


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "payload")]
    return _error(request, 422, "invalid", str(first.get("msg", "invalid")), ".".join(loc) or None)


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return _error(request, 401, "unauthorized", "缺少或无效的令牌（令牌可能已被吊销）。Missing, invalid or revoked token.")


@api.exception_handler(RateLimited)
def _rate_limited(request, exc):
    return _error(request, 429, "rate_limited", "调用过于频繁，请稍后再试。Too many calls.")


@api.exception_handler(ApiForbidden)
def _forbidden(request, exc: ApiForbidden):
    from organizations.permissions import API_PERMISSIONS

    kinds = "、".join(str(ApiClient.Kind(k).label) for k in sorted(API_PERMISSIONS[exc.permission].client_kinds))
    return _error(request, 403, "wrong_client_kind", f"此接口仅供{kinds}使用。")


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "not_found", "未找到。Not found.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return _error(request, exc.status_code, "error", str(exc))


@api.exception_handler(ValidationError)
def _django_validation(request, exc: ValidationError):
    err = services._validation(exc)
    return _error(request, err.status, err.code, err.message, err.field)


def _client(request) -> ApiClient:
    """The authenticated client; its kind was checked by the operation's ``@api_requires``."""
    return request.auth




def _read_logged(request, client: ApiClient, *, what: str, person: Person | None = None) -> None:
    """An API read of personal data, in the access log (who: the client's service account)."""
    from audit.models import Action
    from audit.services import record

    record(user=client.user, action=Action.API_READ, what=f"{client.name}: {what}", person=person, request=request)


def _person(client: ApiClient, certno: str) -> Person:
    try:
        number = idnumber.parse(certno).number
    except idnumber.IdNumberError as exc:
        raise ApiError(422, exc.code or "invalid", str(exc.message), "certno") from None
    person = access_persons(client.user).filter(id_number=number).first()
    if person is None:
        raise ApiError(404, "not_found", "未找到该人员。Not found.", "certno")
    return person


def _person_or_unregistered(client: ApiClient, certno: str) -> Person | None:
    """The person in scope, or None when the number is registered NOWHERE (the settlement then
    registers them as a non-beneficiary). Registered outside the client's scope: 404 as before."""
    try:
        return _person(client, certno)
    except ApiError as exc:
        if exc.status != 404:
            raise
        number = idnumber.parse(certno).number
        if Person.objects.filter(id_number=number).exists():
            raise
        return None


# ------------------------------------------------------------------------------------------
# Eligibility and settlements (designated institutions)
# ------------------------------------------------------------------------------------------


class EligibilityOut(Schema):
    beneficiary: bool
    category: str | None
    policy: str | None


@api.get("/v1/eligibility", response={200: EligibilityOut, **ERRORS}, tags=["一站式结算"],
         summary="是否救助对象 Is the person a beneficiary on a date")
@api_requires("api.settle")
def eligibility(request, certno: CertNo, on: date):
    client = _client(request)
    person = _person(client, certno)
    result = services.eligibility(person=person, on=on)
    _read_logged(request, client, person=person, what="eligibility")
    return 200, {"beneficiary": result.beneficiary, "category": result.category, "policy": result.policy}


class SettlementIn(Schema):
    """The platform's settlement record (setlinfo) field names."""

    setl_id: Short
    mdtrt_id: Code | None = None
    psn_no: Code | None = None
    psn_name: Text | None = None
    certno: CertNo
    insutype: Code | None = None
    psn_type: Code | None = None
    setl_time: datetime | None = None
    begndate: date
    enddate: date
    med_type: Code
    fixmedins_code: Code | None = None
    fixmedins_name: Text | None = None
    medfee_sumamt: Money
    inscp_scp_amt: Money
    hifp_pay: Money = Decimal("0.00")
    cvlserv_pay: Money = Decimal("0.00")
    hifes_pay: Money = Decimal("0.00")
    hifmi_pay: Money = Decimal("0.00")
    hifob_pay: Money = Decimal("0.00")
    maf_pay: Money | None = None
    oth_pay: Money = Decimal("0.00")
    psn_part_amt: Money | None = None
    hosp_part_amt: Money | None = None


class SettlementOut(Schema):
    setl_id: str
    status: str
    assistance: str = Field(description="医疗救助")
    tilted: str = Field(description="倾斜救助")
    special: str = Field(description="专项救助")
    total_assistance: str = Field(description="救助合计（医院垫付金额）")
    granted: str = Field(description="核定救助金额（claims.money.bill_shown）：结算时等于救助合计；"
                                     "其后的更正或依申请救助封顶（京 六(三)）使两者不同时，以此为准，差额另行补发或追回")
    reserved_amount: str | None = Field(description="计入年度累计的预留金额；冲正后为空")
    policy: str | None
    beneficiary: bool = Field(description="结算日是否救助对象；未登记的人员登记为非救助对象，救助为0")
    reason_code: str | None = Field(description="救助为0的原因代码，如 not_eligible（非救助对象）；有救助时为空")
    reason: str | None = Field(description="救助为0的原因说明")


def _settlement_out(record: SettlementRecord) -> dict:
    bill = record.bill
    active = record.status == SettlementRecord.Status.ACTIVE
    return {
        "setl_id": record.setl_id, "status": record.status, "assistance": str(bill.assistance),
        "tilted": str(bill.tilted), "special": str(bill.special), "total_assistance": str(bill.total_assistance),
        "granted": str(bill.assistance_shown),
        "reserved_amount": str(record.reserved_amount) if active and record.reserved_amount is not None else None,
        "policy": str(bill.policy) if bill.policy_id else None,
        **services.settlement_reason(bill),
    }


def _record(client: ApiClient, setl_id: str) -> SettlementRecord:
    from claims.selectors import access_bills

    bills = access_bills(client.user).filter(institution=client.institution, settlement_no=setl_id)
    record = (SettlementRecord.objects.select_related("bill__policy", "bill__person").filter(bill__in=bills).first())
    if record is None:
        raise ApiError(404, "not_found", "未找到该结算。Not found.", "setl_id")
    return record


@api.post("/v1/settlements", response={200: SettlementOut, 201: SettlementOut, **ERRORS}, tags=["一站式结算"],
          summary="上传结算并预留救助金额 Post a settlement; assistance computed and reserved",
          description="A person not yet registered (certno unknown) is registered as a non-beneficiary "
                      "(psn_name required) and the settlement recorded with assistance 0, beneficiary false, "
                      "reason_code not_eligible (POLICY.md §9: 因病致贫 warnings see everyone settled).")
@api_requires("api.settle")
def settlement_post(request, payload: SettlementIn):
    client = _client(request)
    person = _person_or_unregistered(client, payload.certno)
    record, created = services.settlement_post(client=client, person=person, payload=payload.dict())
    record = SettlementRecord.objects.select_related("bill__policy").get(pk=record.pk)
    return (201 if created else 200), _settlement_out(record)


@api.get("/v1/settlements/{setl_id}", response={200: SettlementOut, **ERRORS}, tags=["一站式结算"],
         summary="查询结算 Read back a settlement")
@api_requires("api.settle")
def settlement_get(request, setl_id: Short):
    client = _client(request)
    record = _record(client, setl_id)
    _read_logged(request, client, person=record.bill.person, what=f"settlement {setl_id}")
    return 200, _settlement_out(record)


class CancelIn(Schema):
    reason: Text = ""


@api.post("/v1/settlements/{setl_id}/cancel", response={200: SettlementOut, **ERRORS}, tags=["一站式结算"],
          summary="冲正 Cancel a settlement; releases the reservation")
@api_requires("api.settle")
def settlement_cancel(request, setl_id: Short, payload: CancelIn):
    client = _client(request)
    record = services.settlement_cancel(client=client, record=_record(client, setl_id), reason=payload.reason)
    record = SettlementRecord.objects.select_related("bill__policy").get(pk=record.pk)
    return 200, _settlement_out(record)


# ------------------------------------------------------------------------------------------
# Certifications (agencies' systems)
# ------------------------------------------------------------------------------------------


class CertificationIn(Schema):
    certno: CertNo
    name: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", min_length=1, max_length=50)]
    category: Code = Field(description="类别代码或名称")
    valid_from: date
    valid_until: date | None = None
    document_ref: Annotated[str, StringConstraints(pattern=r"^[^\x00]*\S[^\x00]*$", min_length=1, max_length=100)]


class CertificationOut(Schema):
    document_ref: str
    category: str
    category_label: str
    valid_from: date
    valid_until: date | None
    revoked: bool
    revocation_reason: str


def _cert_out(cert: Certification) -> dict:
    return {"document_ref": cert.document_ref, "category": cert.category.code, "category_label": cert.category.name,
            "valid_from": cert.valid_from, "valid_until": cert.valid_until, "revoked": cert.revoked_at is not None,
            "revocation_reason": cert.revocation_reason}


def _own_certification(client: ApiClient, document_ref: str) -> Certification:
    cert = (access_certifications(client.user).filter(agency=client.agency, document_ref=document_ref.strip())
            .select_related("category").first())
    if cert is None:
        raise ApiError(404, "not_found", "未找到该认定。Not found.", "document_ref")
    return cert


@api.post("/v1/certifications", response={200: CertificationOut, 201: CertificationOut, **ERRORS},
          tags=["身份认定"], summary="推送认定（按文号幂等） Push a certification, idempotent by document_ref")
@api_requires("api.certify")
def certification_push(request, payload: CertificationIn):
    client = _client(request)
    try:
        person = _person(client, payload.certno)
    except ApiError as exc:
        if exc.status != 404:
            raise
        # the push asks the agency to certify this person: found in the district even if another
        # agency registered them (beneficiaries.selectors.person_asked_to_certify)
        person = person_asked_to_certify(client.user, payload.certno)
    if person is None:
        if Person.objects.filter(id_number=idnumber.normalise(payload.certno)).exists():
            raise ApiError(404, "not_found", "未找到该人员。Not found.", "certno")
        from beneficiaries.services import person_register

        person, _warnings = person_register(id_number=payload.certno, name=payload.name, by=client.user)
    if person.name != payload.name.strip():
        raise ApiError(422, "name_mismatch", "姓名与登记的不一致。", "name")
    if payload.valid_until is not None and payload.valid_until < payload.valid_from:
        raise ApiError(422, "until_before_from", "终止日期不能早于起始日期。", "valid_until")
    cert, created = services.certification_push(
        client=client, person=person, category_code=payload.category, valid_from=payload.valid_from,
        valid_until=payload.valid_until, document_ref=payload.document_ref)
    return (201 if created else 200), _cert_out(cert)


class CertificationList(Schema):
    count: int
    items: list[CertificationOut]


@api.get("/v1/certifications", response={200: CertificationList, **ERRORS}, tags=["身份认定"],
         summary="本机构推送的认定 Own agency's certifications")
@api_requires("api.certify")
def certification_list(request, offset: Annotated[int, Field(ge=0, le=10**9)] = 0,
                       limit: Annotated[int, Field(ge=1, le=500)] = 100):
    client = _client(request)
    qs = (access_certifications(client.user).filter(agency=client.agency).select_related("category")
          .order_by("pk"))
    page = list(qs[offset:offset + limit])
    _read_logged(request, client, what=f"certifications offset={offset} limit={limit} ({len(page)})")
    return 200, {"count": qs.count(), "items": [_cert_out(c) for c in page]}


@api.get("/v1/certifications/{document_ref}", response={200: CertificationOut, **ERRORS}, tags=["身份认定"],
         summary="读取本机构的认定 Read back one certification")
@api_requires("api.certify")
def certification_get(request, document_ref: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=100)]):
    client = _client(request)
    cert = _own_certification(client, document_ref)
    _read_logged(request, client, person=cert.person, what=f"certification {document_ref}")
    return 200, _cert_out(cert)


class RevokeIn(Schema):
    until: date
    reason: Annotated[str, StringConstraints(pattern=r"^[^\x00]*\S[^\x00]*$", min_length=1, max_length=200)]


@api.post("/v1/certifications/{document_ref}/revoke", response={200: CertificationOut, **ERRORS},
          tags=["身份认定"], summary="终止认定（幂等） End a certification, idempotent")
@api_requires("api.certify")
def certification_revoke(request, document_ref: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=100)],
                         payload: RevokeIn):
    client = _client(request)
    cert = services.certification_end(client=client, certification=_own_certification(client, document_ref),
                                      until=payload.until, reason=payload.reason)
    cert = Certification.objects.select_related("category").get(pk=cert.pk)
    return 200, _cert_out(cert)


# ------------------------------------------------------------------------------------------
# Letter verification (anyone)
# ------------------------------------------------------------------------------------------


class VerifyOut(Schema):
    valid: bool
    superseded: bool
    number: str
    issued_on: date
    amount: str | None = Field(description="不予救助决定书为空")
    office_name: str


class VerifyQuery(Schema):
    number: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", min_length=1, max_length=60)]
    code: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", min_length=1, max_length=40)]


@api.get("/v1/letters/verify", auth=None, response={200: VerifyOut, 404: Error, 422: Error, 429: Error},
         tags=["决定书核验"], summary="核验决定书（文号+核验码） Verify a letter by number and code")
@api_requires(PUBLIC)
def letter_verify(request, query: Query[VerifyQuery]):
    from reports import selectors as report_selectors
    from reports import services as report_services
    from reports.models import Letter

    letter = report_selectors.letter_by_verify_code(report_services.normalise_verify_code(query.code))
    if letter is None or letter.number != query.number.strip():
        raise ApiError(404, "not_found", "未找到该决定书。Not found.", "code")
    superseded = Letter.objects.filter(replaces_id=letter.pk).exists()
    return 200, {"valid": True, "superseded": superseded, "number": letter.number, "issued_on": letter.issued_on,
                 "amount": None if letter.is_rejection else str(letter.amount), "office_name": letter.office_name}
