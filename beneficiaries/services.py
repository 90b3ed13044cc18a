"""Writes of the beneficiaries app: registration, households, certification, ID reveal.

Every write goes through ``save()`` (so django-simple-history records who/when/what) except the
roster import, which writes in bulk together with its own history rows (``imports.py``).
"""
from __future__ import annotations

import logging
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations.models import Agency, District, Region
from organizations.permissions import require

from . import idnumber
from .models import (
    Category,
    Certification,
    Household,
    IdRevealLog,
    InsuranceType,
    Person,
    RegistrationSource,
    Relation,
)
from .selectors import access_persons, agency_of

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------
# Persons and households
# ------------------------------------------------------------------------------------------


def district_for_id_number(number: str) -> District | None:
    """户籍区县 derived from the ID number's address code, when it is a known District code."""
    return District.objects.filter(code=number[:6]).select_related("region").first()


def id_number_warnings(number: str) -> list[str]:
    """An unknown address code is a warning, never a rejection (retired codes stay valid)."""
    if District.objects.filter(code=number[:6]).exists():
        return []
    return [_("身份证号地址码%(code)s不在本系统区划代码表中（可能是已撤销的旧代码），已按有效号码接受。") % {"code": number[:6]}]


def _in_agency_area(agency: Agency, district: District) -> bool:
    if agency.district_id is not None:
        return district.pk == agency.district_id
    return district.region_id == agency.region_id


def _user_may_place(user, district: District) -> bool:
    """Whether ``user``'s scope includes ``district`` (for writes)."""
    from organizations.access import scope_for

    scope = scope_for(user)
    if scope.everything:
        return True
    if scope.nothing:
        return False
    if scope.district_id is not None:
        return district.pk == scope.district_id
    return district.region_id == scope.region_id


@transaction.atomic
def person_register(
    *,
    id_number: str,
    name: str,
    by,
    hukou_district: District | None = None,
    insurance_type: str = InsuranceType.RESIDENT,
    insured_region: Region | None = None,
    disability_grade: int | None = None,
    phone: str = "",
    address: str = "",
) -> tuple[Person, list[str]]:
    """Register a person; returns (person, warnings). 户籍区县 defaults to the ID number's code."""
    require(by, "persons.edit", scoped=False)  # the district is checked once it is known, below
    try:
        info = idnumber.parse(id_number)
    except idnumber.IdNumberError as exc:
        raise ValidationError({"id_number": ValidationError(exc.message, code=exc.code)}) from None
    if Person.objects.filter(id_number=info.number).exists():
        raise ValidationError({"id_number": ValidationError(_("该身份证号已登记。"), code="duplicate")})
    warnings = id_number_warnings(info.number)
    district = hukou_district or district_for_id_number(info.number)
    if district is None:
        raise ValidationError({"hukou_district": ValidationError(
            _("无法根据身份证号确定户籍区县，请选择。"), code="required")})
    if not _user_may_place(by, district):
        raise ValidationError({"hukou_district": ValidationError(_("该区县不在您的辖区。"), code="out_of_scope")})
    person = Person(
        id_number=info.number, name=(name or "").strip(), hukou_district=district,
        insurance_type=insurance_type, insured_region=insured_region or district.region,
        disability_grade=disability_grade, phone=phone, address=address,
    )
    person.full_clean()
    person._history_user = by
    person.save()
    return person, warnings


def non_beneficiaries_register(*, people: dict[str, tuple[str, District, str]], source: str, by=None
                               ) -> dict[str, Person]:
    """Register people first seen in settlement records as NON-beneficiaries (POLICY.md §9).

    ``people``: normalised ID number -> (name, 户籍区县 = the importing office's district,
    insurance type). Each becomes a Person with no certification, marked with ``source``
    (:class:`RegistrationSource`), head of a one-person household: early warnings are per
    household (monitoring.services.warnings_refresh), so without one a 因病致贫 burden would never
    be seen; the office adds the other members when it learns of them. The ID number is
    encrypted and hashed by its fields (organizations.fieldcrypto) as for every Person. Written
    in bulk with their history rows (a settlement file may name thousands). The caller checked
    the numbers (valid, not registered) and holds the transaction; the settlement importer and
    the API are the callers, so no role check here (their own checks apply).
    """
    from simple_history.utils import bulk_create_with_history

    if source not in (RegistrationSource.SETTLEMENT_FILE, RegistrationSource.SETTLEMENT_API):
        raise ValueError(f"not a settlement registration source: {source!r}")
    if not people:
        return {}
    user = by if getattr(by, "pk", None) else None
    reason = str(RegistrationSource(source).label)
    numbers = sorted(people)
    households = [Household(district=people[n][1]) for n in numbers]
    bulk_create_with_history(households, Household, batch_size=1000, default_user=user, default_change_reason=reason)
    persons = []
    for number, household in zip(numbers, households, strict=True):
        name, district, insurance = people[number]
        info = idnumber.parse(number)
        persons.append(Person(
            id_number=info.number, name=name, gender=info.gender, birth_date=info.birth_date,
            hukou_district=district, insured_region_id=district.region_id, insurance_type=insurance,
            household=household, relation=Relation.HEAD, registration_source=source,
        ))
    bulk_create_with_history(persons, Person, batch_size=1000, default_user=user, default_change_reason=reason)
    return {p.id_number: p for p in persons}


PERSON_EDITABLE = ("name", "hukou_district", "insurance_type", "disability_grade", "phone", "address",
                   "contribution_paid_year")


@transaction.atomic
def person_update(*, person: Person, by, **changes) -> Person:
    """Correct a person's details (the ID number never changes); history keeps the old values.

    ``contribution_paid_year`` (个人已自行缴费的最近年度) is checked by ``full_clean`` (a year from
    2000 to next year); the premium-subsidy roster reads it for the Ningbo timing rule (§5).
    """
    require(by, "persons.edit", district_id=person.hukou_district_id)
    if not access_persons(by).filter(pk=person.pk).exists():
        raise PermissionDenied(_("该人员不在您的辖区。"))
    unknown = set(changes) - set(PERSON_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    district = changes.get("hukou_district")
    if district is not None and district.pk != person.hukou_district_id and not _user_may_place(by, district):
        raise ValidationError({"hukou_district": ValidationError(_("该区县不在您的辖区。"), code="out_of_scope")})
    fields = [name for name, value in changes.items() if getattr(person, name) != value]
    if not fields:
        return person
    for name in fields:
        setattr(person, name, value := changes[name])
        if name == "name":
            person.name = (value or "").strip()
    person.full_clean()
    person._history_user = by
    person.save(update_fields=[*fields, "updated_at"])
    return person


@transaction.atomic
def household_create(*, head: Person, by, address: str = "") -> Household:
    """家庭: created around its head (户主)."""
    require(by, "households.edit", district_id=head.hukou_district_id)
    if head.household_id is not None:
        raise ValidationError({"head": ValidationError(_("该人员已属于一个家庭。"), code="has_household")})
    household = Household(district=head.hukou_district, address=address or head.address)
    household.full_clean()
    household._history_user = by
    household.save()
    head.household = household
    head.relation = Relation.HEAD
    head._history_user = by
    head.save(update_fields=["household", "relation", "updated_at"])
    return household


@transaction.atomic
def household_add_member(*, household: Household, person: Person, relation: str, by) -> Person:
    require(by, "households.edit", district_id=household.district_id)
    require(by, "households.edit", district_id=person.hukou_district_id)
    if relation not in Relation.values or relation == Relation.HEAD:
        raise ValidationError({"relation": ValidationError(_("请选择与户主的关系。"), code="invalid")})
    if person.household_id is not None and person.household_id != household.pk:
        raise ValidationError({"person": ValidationError(_("该人员已属于另一个家庭。"), code="has_household")})
    person.household = household
    person.relation = relation
    person._history_user = by
    person.save(update_fields=["household", "relation", "updated_at"])
    return person


@transaction.atomic
def household_remove_member(*, person: Person, by) -> Person:
    """Leaves the household (history keeps the membership)."""
    require(by, "households.edit", district_id=person.household.district_id if person.household_id else person.hukou_district_id)
    if person.relation == Relation.HEAD and person.household and person.household.members.exclude(pk=person.pk).exists():
        raise ValidationError({"person": ValidationError(_("户主不能在仍有其他成员时移出。"), code="head")})
    person.household = None
    person.relation = ""
    person._history_user = by
    person.save(update_fields=["household", "relation", "updated_at"])
    return person


# ------------------------------------------------------------------------------------------
# Certification (认定)
# ------------------------------------------------------------------------------------------


def check_agency_may_certify(*, agency: Agency, category: Category) -> None:
    """POLICY.md §2: staff of one agency create or revoke only their agency's categories."""
    if not category.certifiable_by(agency.kind):
        raise ValidationError({"category": ValidationError(
            _("%(agency)s无权认定或终止“%(category)s”。") % {"agency": agency.name, "category": category.name},
            code="wrong_agency")})


def check_region_maps_category(*, region_id: int, category: Category, on: date) -> None:
    """POLICY.md §9: only categories the region's policy in force maps may be certified."""
    from policies.selectors import category_refusal

    why = category_refusal(region=region_id, code=category.code, on=on)
    if why is not None:
        raise ValidationError({"category": ValidationError(why, code="category_not_in_policy")})


def overlapping(*, person_id: int, category_id: int, valid_from: date, valid_until: date | None, exclude_pk=None):
    """Certifications of the same person and category whose period overlaps [from, until]."""
    qs = Certification.objects.filter(person_id=person_id, category_id=category_id)
    qs = qs.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from))
    if valid_until is not None:
        qs = qs.filter(valid_from__lte=valid_until)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs


def _check_officer(officer, agency: Agency, person: Person) -> None:
    if officer is None:  # a roster import confirmed for the agency (imports check the user)
        return
    # the scope is the agency's area (``_in_agency_area``, a form error), the officer's own agency
    require(officer, "certifications.certify", scoped=False)
    if officer.is_superuser:
        return
    own = agency_of(officer)
    if own is None or own.pk != agency.pk:
        raise PermissionDenied(_("只能以本人所在机构的名义认定。"))


@transaction.atomic
def certification_create(
    *,
    person: Person,
    category: Category,
    agency: Agency,
    officer,
    valid_from: date,
    valid_until: date | None = None,
    document_ref: str,
) -> Certification:
    """认定: ``agency`` (the officer's own) certifies ``person`` as ``category`` from ``valid_from``.

    Refused: a category the agency kind does not own (nor co-certify), a person outside the
    agency's area, an end before the start, a period overlapping the same person and category.
    """
    _check_officer(officer, agency, person)
    check_agency_may_certify(agency=agency, category=category)
    check_region_maps_category(region_id=person.hukou_district.region_id, category=category, on=valid_from)
    if not _in_agency_area(agency, person.hukou_district):
        raise ValidationError({"person": ValidationError(_("该人员户籍不在本机构辖区。"), code="out_of_scope")})
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError({"valid_until": ValidationError(_("终止日期不能早于起始日期。"), code="until_before_from")})
    # Serialise certifications of one person so two clerks cannot both pass the overlap check.
    list(Person.objects.select_for_update().filter(pk=person.pk).order_by().values_list("pk", flat=True))
    clash = overlapping(person_id=person.pk, category_id=category.pk, valid_from=valid_from, valid_until=valid_until).first()
    if clash is not None:
        raise ValidationError({"valid_from": ValidationError(
            _("与已有认定期间重叠（%(start)s 至 %(end)s）。") % {
                "start": clash.valid_from, "end": clash.valid_until or _("今")},
            code="overlap")})
    cert = Certification(
        person=person, category=category, agency=agency, officer=officer, document_ref=(document_ref or "").strip(),
        valid_from=valid_from, valid_until=valid_until,
    )
    cert.full_clean()
    cert._history_user = officer
    cert.save()
    return cert


@transaction.atomic
def certification_revoke(*, certification: Certification, until: date, reason: str, by) -> Certification:
    """终止认定: sets ``valid_until`` (nothing deleted); history keeps the previous state."""
    cert = Certification.objects.select_for_update(of=("self",)).select_related("category", "person__hukou_district").get(pk=certification.pk)
    require(by, "certifications.certify", district_id=cert.person.hukou_district_id)
    if not by.is_superuser:
        agency = agency_of(by)
        if agency is None:
            raise PermissionDenied(_("您无权终止认定。"))
        check_agency_may_certify(agency=agency, category=cert.category)
        if not access_persons(by).filter(pk=cert.person_id).exists():
            raise PermissionDenied(_("该人员不在您的辖区。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("请填写终止原因。"), code="required")})
    if until < cert.valid_from:
        raise ValidationError({"until": ValidationError(_("终止日期不能早于起始日期%(d)s。") % {"d": cert.valid_from},
                                                        code="until_before_from")})
    if cert.valid_until is not None and until >= cert.valid_until:
        raise ValidationError({"until": ValidationError(_("该认定已于%(d)s终止。") % {"d": cert.valid_until},
                                                        code="already_ended")})
    cert.valid_until = until
    cert.revocation_reason = reason[:200]
    cert.revoked_by = by
    cert.revoked_at = timezone.now()
    cert.full_clean()
    cert._history_user = by
    cert.save(update_fields=["valid_until", "revocation_reason", "revoked_by", "revoked_at"])
    return cert


# ------------------------------------------------------------------------------------------
# PIPL: revealing a full ID number
# ------------------------------------------------------------------------------------------


def id_number_reveal(*, user, person: Person, purpose: str, note: str = "", request=None) -> str:
    """The full ID number for a permitted role in scope, for a purpose of ``audit.Purpose``;
    logged twice (IdRevealLog, and the append-only access log: who, what, whose, why, when).

    Never log the number itself: the log line names the person's pk only.
    """
    from audit.models import Action, Purpose
    from audit.services import record

    require(user, "persons.reveal", district_id=person.hukou_district_id)
    if not access_persons(user).filter(pk=person.pk).exists():
        raise PermissionDenied(_("该人员不在您的辖区。"))
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": ValidationError(_("请从列表中选择查看事由。"), code="purpose_required")})
    label = str(Purpose(purpose).label)
    IdRevealLog.objects.create(user=user, person=person, purpose=f"{label}：{note}"[:200] if note else label)
    record(user=user, action=Action.REVEAL, what=str(_("完整身份证号")), person=person, purpose=purpose, note=note,
           request=request)
    logger.info("id number revealed: person=%s user=%s", person.pk, user.pk)
    return person.id_number
