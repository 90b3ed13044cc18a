"""Relief on application in every region (POLICY.md §9): national 五(八), Wuxi 五(十), Dongzhi as
national. An application started in each runs to an approval letter with the right figure; a
region without a scheme says so on the intake screen before anything is entered."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from applications import services
from applications.models import AssessmentResult, Status
from beneficiaries.models import Category, Certification, Relation
from organizations import roles
from policies.models import Policy
from tests.factories import (
    AgencyFactory,
    BillFactory,
    DistrictFactory,
    HouseholdFactory,
    InstitutionFactory,
    PersonFactory,
    RegionFactory,
    make_staff,
)

pytestmark = pytest.mark.django_db

REGIONS = {
    "wuxi-2023": ("320200", "无锡市", "锡", "320206", "惠山区", "锡惠"),
    "national-2021": ("999900", "某统筹地区", "某", "999901", "某区", "某区"),
    "dongzhi-2022": ("341721", "东至县", "东至", "341721", "东至县", "东至"),
}


def _region_setup(code: str):
    r_code, r_name, r_short, d_code, d_name, d_short = REGIONS[code]
    region = RegionFactory(code=r_code, name=r_name, short_name=r_short)
    district = DistrictFactory(code=d_code, name=d_name, short_name=d_short, region=region)
    policy = Policy.objects.get(code=code, is_current=True)
    if code == "national-2021":  # the framework applies to a region without a policy of its own
        pass
    if policy.needs_confirmation:
        policy.confirmed_at = timezone.now()
        policy.save(update_fields=["confirmed_at"])
    return region, district


def _stats(region):
    from organizations.models import RegionStatistic

    RegionStatistic.objects.create(region=region, year=2023, per_capita_disposable_income=Decimal("50000.00"))


@pytest.mark.parametrize("code, category, since, expected", [
    # WX-70 (支出型困难家庭): 20000 × 70% = 14000
    ("wuxi-2023", "expenditure_hardship_patient", None, "14000.00"),
    # national NT-2 (低保边缘): 10% × 50000 = 5000 deductible; 15000 × 65% = 9750
    ("national-2021", "marginal_family", date(2024, 1, 1), "9750.00"),
    # Dongzhi DZ-3 (因病致贫): 25% × 50000 = 12500; 7500 × 60% = 4500
    ("dongzhi-2022", "illness_poverty_patient", None, "4500.00"),
])
def test_guoban_5_8_application_in_region_runs_to_approval_letter_with_the_right_figure(
        code, category, since, expected, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    region, district = _region_setup(code)
    _stats(region)
    household = HouseholdFactory(district=district)
    patient = PersonFactory(hukou_district=district, household=household, relation=Relation.HEAD)
    if since is not None:  # already certified by civil affairs before applying
        cat = Category.objects.get(code=category)
        Certification.objects.create(person=patient, category=cat, valid_from=since,
                                     agency=AgencyFactory(kind=cat.agency_kind, district=district, region=region))
    hospital = InstitutionFactory(district=district, designated=True)
    BillFactory(person=patient, district=district, institution=hospital, admission_date=date(2024, 2, 1),
                discharge_date=date(2024, 2, 10), total_cost=Decimal("30000.00"), policy_scope_cost=Decimal("30000.00"),
                basic_paid=Decimal("10000.00"), critical_paid=Decimal("0.00"), other_paid=Decimal("0.00"))
    caseworker = make_staff(roles.CASEWORKER, district=district)
    certifier = make_staff(roles.CERTIFIER, district=district, agency_kind="civil_affairs")
    reviewer = make_staff(roles.REVIEWER, district=district)
    application = services.application_create(household=household, applicant=patient, received_on=date(2024, 3, 1),
                                              by=caseworker)
    services.application_send_to_assessment(application=application, by=caseworker)
    services.assessment_record(application=application, by=certifier, annual_income=Decimal("30000.00"),
                               assets=Decimal("10000.00"), members_count=1, result=AssessmentResult.CERTIFIED,
                               document_ref="民认〔2024〕1号", category=category, valid_from=date(2024, 1, 1))
    application.refresh_from_db()
    assert application.assessment.certification.category.code == category
    services.relief_compute(application=application, by=caseworker)
    application.refresh_from_db()
    assert application.relief == Decimal(expected), application.computation
    with django_capture_on_commit_callbacks(execute=True):
        services.application_decide(application=application, by=reviewer, approve=True, payment_route="银行代发")
    application.refresh_from_db()
    assert application.status == Status.APPROVED
    letter = application.letters.get()
    assert letter.amount == Decimal(expected)


def test_wuxi_5_10_assessment_refuses_a_category_outside_the_scheme():
    region, district = _region_setup("wuxi-2023")
    household = HouseholdFactory(district=district)
    patient = PersonFactory(hukou_district=district, household=household, relation=Relation.HEAD)
    caseworker = make_staff(roles.CASEWORKER, district=district)
    certifier = make_staff(roles.CERTIFIER, district=district, agency_kind="civil_affairs")
    application = services.application_create(household=household, applicant=patient, received_on=date(2024, 3, 1),
                                              by=caseworker)
    services.application_send_to_assessment(application=application, by=caseworker)
    with pytest.raises(ValidationError) as info:
        services.assessment_record(application=application, by=certifier, annual_income=Decimal("1"),
                                   assets=Decimal("1"), members_count=1, result=AssessmentResult.CERTIFIED,
                                   category="illness_poverty_patient")
    assert "category" in info.value.error_dict


def _without_schemes(code: str):
    policy = Policy.objects.get(code=code, is_current=True)
    rules = dict(policy.rules)
    rules["application_schemes"] = []
    policy.rules = rules
    policy.save(update_fields=["rules", "updated_at"])


def test_region_without_scheme_intake_screen_says_so_before_anything_is_entered(client):
    region, district = _region_setup("wuxi-2023")
    _without_schemes("wuxi-2023")
    caseworker = make_staff(roles.CASEWORKER, district=district)
    client.force_login(caseworker)
    page = client.get(reverse("applications:create")).content.decode()
    assert 'id="no-scheme"' in page and "未设依申请救助" in page
    assert 'name="patient_id_number"' not in page
    household = HouseholdFactory(district=district)
    patient = PersonFactory(hukou_district=district, household=household, relation=Relation.HEAD)
    with pytest.raises(ValidationError) as info:
        services.application_create(household=household, applicant=patient, received_on=date(2024, 3, 1),
                                    by=caseworker)
    assert info.value.code == "no_scheme"


def test_intake_screen_describes_the_region_scheme(client):
    _region, district = _region_setup("wuxi-2023")
    client.force_login(make_staff(roles.CASEWORKER, district=district))
    page = client.get(reverse("applications:create")).content.decode()
    assert "支出型困难家庭" in page and 'name="patient_id_number"' in page
