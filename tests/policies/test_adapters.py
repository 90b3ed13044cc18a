"""Model → engine conversion."""
from datetime import date
from decimal import Decimal

import pytest

from beneficiaries.models import Certification, Person
from policies.adapters import bill_in, person_in
from policies.engine.types import BillIn, CertificationIn, Flags, PersonIn
from tests.factories import BillFactory, CertificationFactory, InstitutionFactory, PersonFactory, category

pytestmark = pytest.mark.django_db


def test_person_in_has_every_certification_including_ended_ones():
    person = PersonFactory(disability_grade=2)
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2022, 1, 1),
                         valid_until=date(2022, 12, 31))
    CertificationFactory(person=person, category=category("extreme_poverty"), valid_from=date(2023, 1, 1))
    result = person_in(person)
    assert result == PersonIn(
        certifications=(CertificationIn("minimum_living", date(2022, 1, 1), date(2022, 12, 31)),
                        CertificationIn("extreme_poverty", date(2023, 1, 1), None)),
        disability_grade=2,
    )


def test_person_in_uses_prefetched_certifications(django_assert_num_queries):
    person = PersonFactory()
    CertificationFactory(person=person)
    loaded = Person.objects.prefetch_related("certifications__category").get(pk=person.pk)
    with django_assert_num_queries(0):
        assert person_in(loaded).certifications[0].category == "minimum_living"
    certs = list(Certification.objects.select_related("category").filter(person=person))
    with django_assert_num_queries(0):
        assert len(person_in(person, certifications=certs).certifications) == 1


def test_bill_in_carries_amounts_dates_and_flags():
    institution = InstitutionFactory(designated=False)
    bill = BillFactory(institution=institution, visit_type="outpatient_special", admission_date=date(2023, 2, 1),
                       discharge_date=date(2023, 2, 10), total_cost=Decimal("100000.00"),
                       policy_scope_cost=Decimal("90000.00"), basic_paid=Decimal("60000.00"),
                       critical_paid=Decimal("10000.00"), other_paid=Decimal("5.00"), referral_compliant=False,
                       in_province=False, major_disease=True, rare_disease=True, good_samaritan_injury=True,
                       hospital_assistance_paid=Decimal("100.00"))
    assert bill_in(bill) == BillIn(
        id=str(bill.pk), visit_type="outpatient_special", start=date(2023, 2, 1), end=date(2023, 2, 10),
        total_cost=Decimal("100000.00"), policy_scope_cost=Decimal("90000.00"), basic_paid=Decimal("60000.00"),
        critical_paid=Decimal("10000.00"), other_paid=Decimal("5.00"),
        flags=Flags(designated=False, referral_compliant=False, in_province=False, major_disease=True,
                    rare_disease=True, good_samaritan_injury=True),
    )


def test_adapted_bill_computes_like_the_scenario(beijing):
    """京医保发〔2022〕37号 六(二)3: the same figures as cases/bj-t3-inpatient.json through the adapters."""
    from policies.engine import assess_bills
    from policies.selectors import spec_of

    person = PersonFactory()
    CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2023, 1, 1))
    bill = BillFactory(person=person, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 10),
                       total_cost=Decimal("100000.00"), policy_scope_cost=Decimal("90000.00"),
                       basic_paid=Decimal("60000.00"), critical_paid=Decimal("10000.00"))
    [result] = assess_bills(spec_of(beijing), person_in(person), [bill_in(bill)])
    assert (result.assistance, result.tier) == (Decimal("17000.00"), "BJ-3")
