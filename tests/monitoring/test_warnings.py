"""Early warnings (预警监测, POLICY.md §6)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from monitoring import services
from monitoring.models import EarlyWarning, WarningStatus
from tests.factories import AgencyFactory, BillFactory, CertificationFactory, HouseholdFactory, PersonFactory, category

pytestmark = pytest.mark.django_db


def run():
    result = services.run_synchronously(full=True)
    assert result.status == "succeeded", result.errors
    return result


def test_policy_6_illness_poverty_for_a_non_beneficiary_household_above_half_income(world):
    """Bob's household: burden 50,000 after insurance > 50% × 77,415 (2022) = 38,707.50."""
    result = run()
    warning = EarlyWarning.objects.get()
    assert warning.household == world["households"][1]
    assert (warning.kind, warning.year, warning.status) == ("illness_poverty", 2023, "open")
    assert warning.burden == Decimal("50000.00") and warning.threshold == Decimal("38707.50")
    assert result.warnings_created == 1


def test_policy_9_guoban_5_7_threshold_applies_to_the_individual_burden(world, district):
    """国办 五(七) 个人年度医疗费用负担 (POLICY.md §9): two members below the threshold each
    (20,000 < 38,707.50) but above it together raise no warning; a member above it does, with the
    household total shown beside the individual burden. (Alice's 低保 household holds a category.)"""
    household = HouseholdFactory(district=district)
    for _ in range(2):
        member = PersonFactory(hukou_district=district, household=household)
        BillFactory(person=member, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 2),
                    total_cost=Decimal("30000.00"), policy_scope_cost=Decimal("30000.00"), basic_paid=Decimal("10000.00"))
    heavy_household = HouseholdFactory(district=district)
    heavy = PersonFactory(hukou_district=district, household=heavy_household)
    light = PersonFactory(hukou_district=district, household=heavy_household)
    BillFactory(person=heavy, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 2),
                total_cost=Decimal("50000.00"), policy_scope_cost=Decimal("50000.00"), basic_paid=Decimal("10000.00"))
    BillFactory(person=light, admission_date=date(2023, 3, 1), discharge_date=date(2023, 3, 2),
                total_cost=Decimal("5000.00"), policy_scope_cost=Decimal("5000.00"), basic_paid=Decimal("0.00"))
    run()
    assert not EarlyWarning.objects.filter(household=household).exists()
    warning = EarlyWarning.objects.get(household=heavy_household)
    assert (warning.kind, warning.person, warning.burden, warning.household_burden) == (
        "illness_poverty", heavy, Decimal("40000.00"), Decimal("45000.00"))
    assert not EarlyWarning.objects.filter(household=world["households"][0]).exists()


def test_policy_9_watched_categories_come_from_the_policy_wuxi_5_9(world):
    """Wuxi 五(九) watches 低保边缘 and 支出型困难家庭 members: a 支出型困难家庭 household above 25% is
    warned 因病返贫 and stays open the next night (its category is watched, not 'certified')."""
    from organizations.models import Region, RegionStatistic
    from tests.factories import DistrictFactory

    wuxi = Region.objects.get(code="320200")
    RegionStatistic.objects.create(region=wuxi, year=2022, per_capita_disposable_income=Decimal("60000.00"))
    district = DistrictFactory(code="320206", name="惠山区", short_name="锡惠", region=wuxi)
    household = HouseholdFactory(district=district)
    person = PersonFactory(hukou_district=district, household=household)
    CertificationFactory(person=person, category=category("expenditure_hardship_patient"), valid_from=date(2022, 1, 1),
                         agency=AgencyFactory(kind="civil_affairs", district=district, region=wuxi))
    BillFactory(person=person, district=district, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 2),
                total_cost=Decimal("110000.00"), policy_scope_cost=Decimal("110000.00"), basic_paid=Decimal("10000.00"))
    run()
    warning = EarlyWarning.objects.get(household=household)
    # 100000 burden − WX-70 70000 − tilted 60% × (30000 − 6000) = 15600 > 25% × 60000
    assert (warning.kind, warning.burden, warning.threshold) == ("return_to_poverty", Decimal("15600.00"),
                                                                 Decimal("15000.00"))
    assert "五(九)" in warning.clause
    run()
    warning.refresh_from_db()
    assert warning.status == WarningStatus.OPEN


def test_policy_6_return_to_poverty_for_a_marginal_household_above_a_quarter(world, district):
    household = HouseholdFactory(district=district)
    person = PersonFactory(hukou_district=district, household=household)
    CertificationFactory(person=person, category=category("marginal_family"), valid_from=date(2022, 1, 1))
    BillFactory(person=person, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 2),
                total_cost=Decimal("30000.00"), policy_scope_cost=Decimal("30000.00"), basic_paid=Decimal("5000.00"))
    run()
    warning = EarlyWarning.objects.get(household=household)
    assert warning.kind == "return_to_poverty" and warning.threshold == Decimal("19353.75")


def test_policy_6_created_once(world):
    run()
    run()
    assert EarlyWarning.objects.count() == 1


def test_policy_6_dismissed_warning_is_never_recreated_for_the_same_year(world, civil_certifier):
    run()
    warning = EarlyWarning.objects.get()
    services.warning_dismiss(warning=warning, by=civil_certifier, note="家庭有其他收入来源，经核实不属于因病致贫")
    BillFactory(person=world["bob"], admission_date=date(2023, 8, 1), discharge_date=date(2023, 8, 2))
    run()
    assert EarlyWarning.objects.count() == 1
    assert EarlyWarning.objects.get().status == WarningStatus.DISMISSED
    # a new year is a new warning
    BillFactory(person=world["bob"], admission_date=date(2024, 3, 1), discharge_date=date(2024, 3, 2),
                total_cost=Decimal("90000.00"), policy_scope_cost=Decimal("90000.00"), basic_paid=Decimal("10000.00"))
    run()
    assert EarlyWarning.objects.filter(year=2024, status="open").count() == 1


def test_policy_6_certified_household_closes_the_warning(world):
    run()
    agency = AgencyFactory(kind="civil_affairs", district=world["bob"].hukou_district,
                           region=world["bob"].hukou_district.region)
    CertificationFactory(person=world["bob"], category=category("illness_poverty_patient"),
                         valid_from=date(2023, 10, 1), agency=agency)
    result = services.run_synchronously()
    warning = EarlyWarning.objects.get()
    assert warning.status == WarningStatus.CERTIFIED
    assert result.warnings_closed == 1


def test_dismiss_needs_a_reason_and_an_open_warning(world, civil_certifier):
    run()
    warning = EarlyWarning.objects.get()
    with pytest.raises(ValidationError) as info:
        services.warning_dismiss(warning=warning, by=civil_certifier, note="  ")
    assert info.value.error_dict["note"][0].code == "note_required"
    services.warning_dismiss(warning=warning, by=civil_certifier, note="已核实")
    with pytest.raises(ValidationError) as info:
        services.warning_dismiss(warning=warning, by=civil_certifier, note="again")
    assert info.value.code == "not_open"


def test_refer_links_the_application(world, civil_certifier):
    run()
    warning = EarlyWarning.objects.get()

    class Application:
        pk = 4711

    services.warning_refer(warning=warning, application=Application(), by=civil_certifier)
    warning.refresh_from_db()
    assert warning.status == WarningStatus.REFERRED and warning.application_id == 4711
    assert warning.handled_by == civil_certifier



def test_policy_6_a_missing_statistic_is_logged_once_per_region_year_not_once_per_household(world, beijing, caplog):
    """A region whose 2022 income is not recorded gets no 2023 warnings (never read as zero); the
    nightly log says so once, with the number of households skipped, instead of one line per
    household (74,566 lines a night at 1,000,000 bills, a third of the finalizer's time)."""
    import logging

    from organizations.models import RegionStatistic

    BillFactory(person=world["carol"], admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9),
                total_cost=Decimal("60000.00"), policy_scope_cost=Decimal("60000.00"), basic_paid=Decimal("10000.00"))
    RegionStatistic.objects.filter(region=beijing, year=2022).delete()
    with caplog.at_level(logging.WARNING, logger="monitoring.services"):
        services.warnings_refresh(only_year=2023)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("no warning for")]
    assert not EarlyWarning.objects.filter(year=2023).exists()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"no warning for 2 households of region {beijing.pk} in 2023")
