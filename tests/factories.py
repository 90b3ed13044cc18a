"""factory_boy factories shared by every test module."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from beneficiaries import idnumber
from beneficiaries.models import Category, Certification, Household, Person
from claims.models import Bill
from organizations.models import Agency, AgencyKind, District, Institution, Region, StaffProfile

_seq = itertools.count(1)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "110000"
    name = "北京市"
    short_name = "京"


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    region = factory.SubFactory(RegionFactory)
    code = "110105"
    name = "朝阳区"
    short_name = "京朝"


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    kind = AgencyKind.MEDICAL_SECURITY
    district = factory.SubFactory(DistrictFactory)
    region = factory.LazyAttribute(lambda o: o.district.region if o.district else RegionFactory())
    code = factory.LazyAttribute(lambda o: f"{o.district.code if o.district else o.region.code}-{o.kind}")
    name = factory.LazyAttribute(lambda o: f"{o.district.name if o.district else o.region.name}{AgencyKind(o.kind).label}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def make_staff(role: str, *, district: District | None = None, agency_kind: str = AgencyKind.MEDICAL_SECURITY,
               city_level: bool = False, username: str | None = None):
    """A user with a staff profile in ``district`` (or city level) holding one role group."""
    district = district or DistrictFactory()
    agency = AgencyFactory(kind=agency_kind, district=None if city_level else district, region=district.region)
    user = UserFactory(username=username or f"{role}-{next(_seq)}")
    user.groups.add(Group.objects.get(name=role))
    StaffProfile.objects.create(user=user, agency=agency, district=None if city_level else district)
    return user


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"H{n:05d}")
    name = factory.Sequence(lambda n: f"第{n}医院")
    level = "tertiary"
    district = factory.SubFactory(DistrictFactory)


def category(code: str) -> Category:
    return Category.objects.get(code=code)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    district = factory.SubFactory(DistrictFactory)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    hukou_district = factory.SubFactory(DistrictFactory)
    insured_region = factory.LazyAttribute(lambda o: o.hukou_district.region)
    id_number = factory.LazyAttribute(lambda o: idnumber.make(o.hukou_district.code, date(1970, 1, 1), next(_seq)))
    name = factory.Sequence(lambda n: f"张{'伟芳娜敏静丽强磊军洋'[n % 10]}{n}")
    gender = factory.LazyAttribute(lambda o: idnumber.parse(o.id_number).gender)
    birth_date = factory.LazyAttribute(lambda o: idnumber.parse(o.id_number).birth_date)


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    person = factory.SubFactory(PersonFactory)
    category = factory.LazyFunction(lambda: category("minimum_living"))
    agency = factory.LazyAttribute(
        lambda o: AgencyFactory(kind=o.category.agency_kind, district=o.person.hukou_district, region=o.person.hukou_district.region)
    )
    valid_from = date(2023, 1, 1)
    document_ref = "京民低〔2023〕1号"


class BillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bill

    person = factory.SubFactory(PersonFactory)
    district = factory.LazyAttribute(lambda o: o.person.hukou_district)
    institution = factory.SubFactory(InstitutionFactory, district=factory.SelfAttribute("..district"))
    settlement_no = factory.Sequence(lambda n: f"S{n:08d}")
    visit_type = "inpatient"
    admission_date = date(2023, 3, 1)
    discharge_date = date(2023, 3, 10)
    total_cost = Decimal("30000.00")
    policy_scope_cost = Decimal("30000.00")
    basic_paid = Decimal("10000.00")
    critical_paid = Decimal("0.00")
    other_paid = Decimal("0.00")


def map_category_in_policy(code: str, *, policy_code: str = "beijing-2023", tier: str = "BJ-3") -> None:
    """Let the stored policy ``policy_code`` map ``code`` to ``tier`` (certification follows the
    region's policy, POLICY.md §9): for tests about agency rights in a region that does not name it."""
    from policies.models import Policy
    from policies.selectors import forget_spec

    policy = Policy.objects.get(code=policy_code, is_current=True)
    rules = dict(policy.rules)
    rules["category_tiers"] = {**rules["category_tiers"], code: {"tier": tier, "clause": "test"}}
    policy.rules = rules
    policy.save(update_fields=["rules", "updated_at"])
    forget_spec()
