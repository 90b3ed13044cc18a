import pytest

from beneficiaries import demo, idnumber
from beneficiaries.models import Certification, Household, Person

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent_and_realistic():
    from organizations import demo as org_demo

    ctx = org_demo.build()
    demo.seed(ctx)
    counts = (Person.objects.count(), Household.objects.count(), Certification.objects.count())
    demo.seed(ctx)
    assert (Person.objects.count(), Household.objects.count(), Certification.objects.count()) == counts
    assert counts[0] == 40 and counts[1] == 8 and counts[2] >= 30
    for person in Person.objects.all():
        idnumber.parse(person.id_number)
    multi = ctx["person"]["multi_identity"]
    assert multi.certifications.values("agency__kind").distinct().count() == 3
    patient = ctx["person"]["illness_poverty_patient"]
    assert patient.certifications.filter(category__code="illness_poverty_patient").exists()
    assert patient.household.members.count() == 3
    assert Certification.objects.filter(valid_until__isnull=False).exists()
