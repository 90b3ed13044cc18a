"""policy_in_force (by settlement date, confirmation gate), spec_of, region_stats, access_policies."""
from datetime import date
from decimal import Decimal

import pytest

from organizations.models import Region, RegionStatistic
from policies.models import Policy
from policies.selectors import access_policies, policy_in_force, region_stats, spec_of
from policies.services import policy_confirm

pytestmark = pytest.mark.django_db


def test_presets_installed_by_migration_with_their_regions():
    rows = {p.code: p for p in Policy.objects.filter(version=1)}
    assert set(rows) >= {"beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"}
    assert (rows["beijing-2023"].region.code, rows["beijing-2023"].region.short_name) == ("110000", "京")
    assert (rows["wuxi-2023"].region.code, rows["wuxi-2023"].region.short_name) == ("320200", "锡")
    assert (rows["ningbo-2019"].region.code, rows["ningbo-2019"].region.short_name) == ("330200", "甬")
    assert (rows["dongzhi-2022"].region.code, rows["dongzhi-2022"].region.short_name) == ("341721", "东至")
    assert rows["national-2021"].region is None
    assert rows["national-2021"].needs_confirmation and rows["national-2021"].confirmed_at is None
    assert rows["beijing-2023"].document_no == "京医保发〔2022〕37号"
    for policy in rows.values():
        assert spec_of(policy).code == policy.code  # every stored preset validates


def test_policy_in_force_is_chosen_by_settlement_date(beijing):
    region = beijing.region
    assert policy_in_force(region=region, on=date(2023, 1, 1)) == beijing
    assert policy_in_force(region=region.pk, on=date(2024, 6, 30)) == beijing
    assert policy_in_force(region=region, on=date(2022, 12, 31)) is None  # before 2023-01-01, national not confirmed


def test_national_template_unusable_until_confirmed(national, administrator):
    """国办发〔2021〕42号: a template; a region without its own policy gets nothing until confirmed."""
    region = Region.objects.create(code="999901", name="测试市", short_name="测")
    assert policy_in_force(region=region, on=date(2023, 5, 1)) is None
    assert policy_in_force(region=None, on=date(2023, 5, 1)) is None
    policy_confirm(policy=national, by=administrator)
    assert policy_in_force(region=region, on=date(2023, 5, 1)) == national
    assert policy_in_force(region=None, on=date(2023, 5, 1)) == national


def test_a_region_policy_wins_over_a_confirmed_national_one(beijing, national, administrator):
    policy_confirm(policy=national, by=administrator)
    assert policy_in_force(region=beijing.region, on=date(2023, 5, 1)) == beijing
    # before Beijing's own policy starts, the confirmed national framework applies
    assert policy_in_force(region=beijing.region, on=date(2022, 5, 1)) == national


def test_spec_of_is_cached_per_row_and_sees_in_place_edits(beijing):
    first = spec_of(beijing)
    assert spec_of(Policy.objects.get(pk=beijing.pk)) is first
    rules = dict(beijing.rules, title="改过的标题")
    beijing.rules = rules
    beijing.save()  # updated_at moves: the cache key changes
    assert spec_of(Policy.objects.get(pk=beijing.pk)).title == "改过的标题"


def test_region_stats_reads_recorded_values_only(beijing):
    RegionStatistic.objects.create(region=beijing.region, year=2022, per_capita_disposable_income=Decimal("77415.00"))
    RegionStatistic.objects.create(region=beijing.region, year=2024, resident_contribution=Decimal("380.00"))
    stats = region_stats(beijing.region)
    assert stats == {2022: {"per_capita_disposable_income": Decimal("77415.00")},
                     2024: {"resident_contribution": Decimal("380.00")}}
    assert region_stats(None) == {}


def test_access_policies_region_staff_see_their_region_and_national(caseworker, beijing):
    codes = set(access_policies(caseworker).values_list("code", flat=True))
    assert {"beijing-2023", "national-2021"} <= codes
    assert "wuxi-2023" not in codes and "ningbo-2019" not in codes and "dongzhi-2022" not in codes


def test_access_policies_district_staff_see_the_whole_region(other_caseworker):
    assert access_policies(other_caseworker).filter(code="beijing-2023").exists()


def test_access_policies_user_without_profile_sees_none(db):
    from tests.factories import UserFactory

    assert not access_policies(UserFactory()).exists()


def test_access_policies_superuser_sees_all(superuser):
    assert access_policies(superuser).count() == Policy.objects.count()
