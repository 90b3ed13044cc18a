"""京 十(三) (POLICY.md §9): a Beijing beneficiary insured outside Beijing is assisted at the Beijing
standard after the other region's insurance has paid: the policy follows the assistance region."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from organizations import roles
from organizations.models import Region
from tests.factories import CertificationFactory, InstitutionFactory, PersonFactory, make_staff

from .test_district_helpers import referred_bill

pytestmark = pytest.mark.django_db


def test_jing_10_3_beneficiary_insured_elsewhere_follows_the_assistance_region(district):
    from claims import services
    from claims.models import Bill
    from monitoring import bulk

    ningbo = Region.objects.get(code="330200")
    person = PersonFactory(hukou_district=district, insured_region=ningbo)  # insured in Ningbo
    CertificationFactory(person=person, valid_from=date(2022, 1, 1))
    institution = InstitutionFactory(district=district)
    services.claim_create(person=person, district=district, applied_on=date(2023, 4, 1),
                          by=make_staff(roles.CASEWORKER, district=district), bills=[referred_bill(institution)],
                          payee_account="6222 **** 1234")
    bill = Bill.objects.get(person=person)
    # Beijing BJ-3 85% (Ningbo NB-70 would give 70%)
    assert (bill.policy.code, bill.assistance) == ("beijing-2023", Decimal("17000.00"))
    Bill.objects.filter(pk=bill.pk).update(assistance=Decimal("0.00"), computation_digest="x")
    bulk.recompute_chunk(lo=person.pk, hi=person.pk)
    bill.refresh_from_db()
    assert (bill.policy.code, bill.assistance) == ("beijing-2023", Decimal("17000.00"))
