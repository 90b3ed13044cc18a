"""Versioning (edits make new versions), confirmation, preset sync."""
import copy
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from policies.models import Policy
from policies.selectors import policy_in_force, spec_of
from policies.services import policy_confirm, policy_is_used, policy_revise, preset_sync
from tests.factories import BillFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _raise_bj3_inpatient_cap(rules, cap="200000.00"):
    rules = copy.deepcopy(rules)
    for tier in rules["tiers"]:
        if tier["code"] == "BJ-3":
            tier["buckets"]["inpatient"]["cap"] = cap
    return rules


def _bj3_inpatient_cap(policy):
    return spec_of(policy).tier_by_code["BJ-3"]._bucket_by_name["inpatient"].cap


def test_revise_creates_a_new_version_and_keeps_the_old_rules(beijing, administrator):
    old_cap = _bj3_inpatient_cap(beijing)
    new = policy_revise(policy=beijing, rules=_raise_bj3_inpatient_cap(beijing.rules),
                        effective_from=date(2024, 1, 1), note="2024年提高限额", by=administrator)
    beijing.refresh_from_db()
    assert (new.version, new.supersedes, new.is_current, new.created_by) == (2, beijing, True, administrator)
    assert not beijing.is_current
    assert beijing.effective_to == date(2023, 12, 31)
    assert _bj3_inpatient_cap(beijing) == old_cap  # past rules untouched
    assert str(_bj3_inpatient_cap(new)) == "200000.00"
    assert new.rules["effective_from"] == "2024-01-01"
    # bills are computed under the version in force on their settlement date
    assert policy_in_force(region=beijing.region, on=date(2023, 12, 31)) == beijing
    assert policy_in_force(region=beijing.region, on=date(2024, 1, 1)) == new


def test_old_bills_keep_their_policy_version(beijing, administrator):
    bill = BillFactory(person=PersonFactory(), policy=beijing)
    assert policy_is_used(beijing)
    new = policy_revise(policy=beijing, rules=_raise_bj3_inpatient_cap(beijing.rules),
                        effective_from=beijing.effective_from, note="更正", by=administrator)
    bill.refresh_from_db()
    assert bill.policy_id == beijing.pk
    # a same-day revision is a correction: it wins from then on; the old one is not closed
    beijing.refresh_from_db()
    assert beijing.effective_to is None
    assert policy_in_force(region=beijing.region, on=date(2023, 3, 10)) == new


def test_revise_rejects_invalid_rules_naming_the_field(beijing, administrator):
    rules = copy.deepcopy(beijing.rules)
    rules["tiers"][0]["visit_classes"]["inpatient"]["rate"] = "1.5"
    with pytest.raises(ValidationError) as exc:
        policy_revise(policy=beijing, rules=rules, effective_from=date(2024, 1, 1), note="x", by=administrator)
    assert exc.value.code == "invalid_rules"
    assert "tiers[0].visit_classes.inpatient.rate" in exc.value.messages[0]
    assert Policy.objects.filter(code="beijing-2023").count() == 1


def test_revise_only_the_current_version(beijing, administrator):
    policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2024, 1, 1), note="v2", by=administrator)
    beijing.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2024, 6, 1), note="v3", by=administrator)
    assert exc.value.code == "not_current"


def test_revise_cannot_start_before_the_old_version(beijing, administrator):
    with pytest.raises(ValidationError) as exc:
        policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2022, 1, 1), note="x", by=administrator)
    assert "effective_from" in exc.value.error_dict


def test_revise_needs_an_administrator(beijing, caseworker):
    with pytest.raises(PermissionDenied):
        policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2024, 1, 1), note="x", by=caseworker)


def test_confirm_template(national, administrator):
    policy_confirm(policy=national, by=administrator)
    national.refresh_from_db()
    assert national.usable and national.confirmed_by == administrator
    with pytest.raises(ValidationError) as exc:
        policy_confirm(policy=national, by=administrator)
    assert exc.value.code == "already_confirmed"


def test_confirm_refuses_a_non_template(beijing, administrator):
    with pytest.raises(ValidationError) as exc:
        policy_confirm(policy=beijing, by=administrator)
    assert exc.value.code == "not_a_template"


def test_confirm_needs_an_administrator(national, caseworker):
    with pytest.raises(PermissionDenied):
        policy_confirm(policy=national, by=caseworker)


def test_a_revised_template_must_be_confirmed_again(national, administrator):
    policy_confirm(policy=national, by=administrator)
    new = policy_revise(policy=national, rules=national.rules, effective_from=date(2024, 1, 1), note="调整",
                        by=administrator)
    assert new.needs_confirmation and new.confirmed_at is None
    assert policy_in_force(region=None, on=date(2024, 2, 1)) is None  # old one closed, new one not confirmed
    assert policy_in_force(region=None, on=date(2023, 2, 1)).pk == national.pk


def test_load_presets_is_idempotent(beijing):
    call_command("load_presets")
    call_command("load_presets")
    assert Policy.objects.filter(code="beijing-2023").count() == 1
    assert Policy.objects.get(code="beijing-2023").pk == beijing.pk


def test_preset_sync_refreshes_an_unused_v1_in_place(beijing):
    from policies.engine.presets import PRESETS

    changed = {"beijing-2023": dict(copy.deepcopy(PRESETS["beijing-2023"]), note="新说明")}
    assert preset_sync(presets=changed) == [("beijing-2023", "updated")]
    assert Policy.objects.get(pk=beijing.pk).rules["note"] == "新说明"


def test_preset_sync_versions_a_used_v1(beijing):
    from policies.engine.presets import PRESETS

    BillFactory(person=PersonFactory(), policy=beijing)
    changed = {"beijing-2023": dict(copy.deepcopy(PRESETS["beijing-2023"]), note="新说明")}
    assert preset_sync(presets=changed) == [("beijing-2023", "revised")]
    beijing.refresh_from_db()
    assert beijing.rules["note"] != "新说明" and not beijing.is_current
    assert Policy.objects.get(code="beijing-2023", is_current=True).version == 2


def test_preset_sync_keeps_administrators_revisions(beijing, administrator):
    from policies.engine.presets import PRESETS

    policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2024, 1, 1), note="v2", by=administrator)
    changed = {"beijing-2023": dict(copy.deepcopy(PRESETS["beijing-2023"]), note="新说明")}
    assert preset_sync(presets=changed) == [("beijing-2023", "kept")]


def test_demo_seed_is_idempotent(beijing):
    from decimal import Decimal

    from organizations.models import RegionStatistic
    from policies import demo

    demo.seed({"region": beijing.region})
    demo.seed({"region": beijing.region})
    rows = RegionStatistic.objects.filter(region=beijing.region)
    assert rows.count() == 3
    assert rows.get(year=2022).per_capita_disposable_income == Decimal("77415.00")
    assert rows.get(year=2024).resident_contribution == Decimal("380.00")
