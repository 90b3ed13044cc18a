"""Issue 18 "a structured editor for tiers, rates, caps and clauses (forms generated from the spec,
validated by the engine, errors in Chinese naming the field), with a diff against the version in
force before saving; the JSON stays available to administrators"."""
from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from organizations import roles
from policies.editor import diff_rules, params_of
from policies.forms import PolicyStructuredForm
from policies.models import Policy

pytestmark = pytest.mark.django_db

BJ3 = 2  # Beijing's tiers: BJ-1, BJ-2, BJ-3 (the third, 第3档)
INPATIENT_CAP = f"tiers__{BJ3}__buckets__inpatient__cap"
INPATIENT_RATE = f"tiers__{BJ3}__visit_classes__inpatient__rate"


def _post_data(policy: Policy, **changes) -> dict:
    """What the editor's form posts unchanged, with ``changes`` applied."""
    form = PolicyStructuredForm(policy=policy)
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else (value.isoformat() if isinstance(value, date) else value)
    data.update({"new_effective_from": "2027-01-01", "change_note": "提高第3档住院比例"})
    data.update(changes)
    return data


def test_every_tier_rate_cap_and_deductible_is_a_field_named_in_words(beijing):
    form = PolicyStructuredForm(policy=beijing)
    assert form.fields[INPATIENT_CAP].label == "第3档 住院 封顶线"
    assert form.fields[INPATIENT_RATE].label == "第3档 住院 救助比例"
    assert form.initial[INPATIENT_CAP] == "160000.00" and form.initial[INPATIENT_RATE] == "0.85"
    assert "tiers__0__deductible__kind" in form.fields
    assert form.fields["category_tiers__minimum_living__tier"].initial is None
    assert form.initial["category_tiers__minimum_living__tier"] == "BJ-3"
    names = {p.name for p in params_of(beijing.rules)}
    for i, tier in enumerate(beijing.rules["tiers"]):
        for bucket in tier["buckets"]:
            assert f"tiers__{i}__buckets__{bucket}__cap" in names
        for visit_class in tier["visit_classes"]:
            assert f"tiers__{i}__visit_classes__{visit_class}__rate" in names
    assert "application_schemes__0__bands__0__rate" in names


def test_a_rate_changed_gives_the_engine_valid_rules_with_only_that_rate_changed(beijing):
    form = PolicyStructuredForm(_post_data(beijing, **{INPATIENT_RATE: "90%"}), policy=beijing)
    assert form.is_valid(), form.errors
    rules = form.cleaned_data["rules"]
    assert rules["tiers"][BJ3]["visit_classes"]["inpatient"]["rate"] == "0.90"
    assert diff_rules(beijing.rules, rules) == [
        {"label": "第3档 住院 救助比例", "path": "tiers[2].visit_classes.inpatient.rate", "old": "0.85（85%）",
         "new": "0.90（90%）"}]


@pytest.mark.parametrize("value", ["-5", "abc", "1e400"])
def test_an_invalid_cap_is_refused_naming_the_field_in_chinese(beijing, value):
    form = PolicyStructuredForm(_post_data(beijing, **{INPATIENT_CAP: value}), policy=beijing)
    assert not form.is_valid()
    assert form.errors[INPATIENT_CAP] == ["第3档 住院 封顶线：必须是不小于0的金额"]


def test_a_rate_above_one_is_refused_naming_the_field(beijing):
    form = PolicyStructuredForm(_post_data(beijing, **{INPATIENT_RATE: "1.5"}), policy=beijing)
    assert not form.is_valid()
    assert form.errors[INPATIENT_RATE] == ["第3档 住院 救助比例：必须是0到1之间的比例（如 0.85，或 85％）"]


def test_an_engine_error_is_put_back_on_the_field_it_names(beijing):
    """The form's own checks pass (a fixed deductible, no amount); the engine refuses, and its
    path ``tiers[2].deductible.amount`` comes back as the amount field, in Chinese."""
    form = PolicyStructuredForm(_post_data(beijing, **{f"tiers__{BJ3}__deductible__kind": "fixed"}), policy=beijing)
    assert not form.is_valid()
    assert form.errors[f"tiers__{BJ3}__deductible__amount"] == ["第3档 起付标准金额：起付标准为固定金额时必须填写金额"]


def test_bands_must_rise_the_engine_says_so_on_the_band(beijing):
    form = PolicyStructuredForm(_post_data(beijing, application_schemes__0__bands__1__upper="20000"), policy=beijing)
    assert not form.is_valid()
    assert form.errors["application_schemes__0__bands__1__upper"][0].endswith("：必须高于上一段的上限")


def test_a_category_moved_to_another_tier_is_one_diff_row(beijing):
    form = PolicyStructuredForm(_post_data(beijing, category_tiers__low_income_family__tier="BJ-2"), policy=beijing)
    assert form.is_valid(), form.errors
    rules = form.cleaned_data["rules"]
    assert rules["category_tiers"]["low_income_family"] == {"tier": "BJ-2", "clause": "京医保发〔2022〕37号 一(一)4"}
    [row] = diff_rules(beijing.rules, rules)
    assert row["label"] == "城乡低收入家庭救助人员 适用档次" and row["new"].startswith("BJ-2")


# -- the views ---------------------------------------------------------------------------------

@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def test_preview_shows_the_diff_and_saves_nothing(admin_client, beijing):
    before = list(Policy.objects.order_by("pk").values_list("pk", "version", "rules", "is_current", "effective_to"))
    response = admin_client.post(reverse("policies:edit", args=[beijing.pk]),
                                 _post_data(beijing, **{INPATIENT_CAP: "200000", "action": "preview"}))
    assert response.status_code == 200
    text = response.content.decode()
    assert "第3档 住院 封顶线" in text and "160,000.00" in text and "200,000.00" in text
    assert 'id="editor-confirm"' in text
    assert list(Policy.objects.order_by("pk").values_list("pk", "version", "rules", "is_current", "effective_to")) == before


def test_confirm_saves_a_new_version_through_policy_revise(admin_client, beijing, administrator):
    url = reverse("policies:edit", args=[beijing.pk])
    response = admin_client.post(url, _post_data(beijing, **{INPATIENT_CAP: "200000", "action": "confirm"}))
    new = Policy.objects.get(code=beijing.code, is_current=True)
    assert response.status_code == 302 and response["Location"] == reverse("policies:detail", args=[new.pk])
    assert new.version == beijing.version + 1 and new.supersedes_id == beijing.pk
    assert new.rules["tiers"][BJ3]["buckets"]["inpatient"]["cap"] == "200000.00"
    assert new.effective_from == date(2027, 1, 1) and new.document_no == beijing.document_no
    assert new.created_by == administrator and new.change_note == "提高第3档住院比例"
    beijing.refresh_from_db()
    assert beijing.effective_to == date(2026, 12, 31) and not beijing.is_current  # the service's date rule
    assert beijing.rules["tiers"][BJ3]["buckets"]["inpatient"]["cap"] == "160000.00"
    page = admin_client.get(response["Location"]).content.decode()
    assert f"v{new.version}" in page and "200,000.00" in page


def test_an_invalid_value_posted_to_confirm_saves_nothing(admin_client, beijing):
    response = admin_client.post(reverse("policies:edit", args=[beijing.pk]),
                                 _post_data(beijing, **{INPATIENT_CAP: "-1", "action": "confirm"}))
    assert response.status_code == 200
    assert "第3档 住院 封顶线：必须是不小于0的金额" in response.content.decode()
    assert Policy.objects.filter(code=beijing.code).count() == 1


def test_a_confirmation_after_someone_else_saved_is_refused(admin_client, beijing, administrator):
    from policies.services import policy_revise

    data = _post_data(beijing, **{INPATIENT_CAP: "200000", "action": "confirm"})
    policy_revise(policy=beijing, rules=beijing.rules, effective_from=beijing.effective_from, note="他人更正",
                  by=administrator)
    response = admin_client.post(reverse("policies:edit", args=[beijing.pk]), data)
    assert response.status_code == 403  # v1 is no longer the current version: nothing to edit
    assert Policy.objects.filter(code=beijing.code).count() == 2


def test_the_version_date_rule_of_the_service_holds(admin_client, beijing):
    response = admin_client.post(reverse("policies:edit", args=[beijing.pk]),
                                 _post_data(beijing, new_effective_from="2000-01-01", action="confirm"))
    assert response.status_code == 200
    assert "新版本的生效日期不能早于原版本的生效日期" in response.content.decode()
    assert Policy.objects.filter(code=beijing.code).count() == 1


def test_who_may_edit(client, beijing, district, caseworker, other_district):
    """Administrators at the level the policy is made; a caseworker, a district administrator
    (who sets 区级标准 instead) and another region's administrator may not."""
    from tests.factories import DistrictFactory, make_staff

    url = reverse("policies:edit", args=[beijing.pk])
    client.force_login(caseworker)
    assert client.get(url).status_code == 403
    assert client.post(url, _post_data(beijing, action="confirm")).status_code == 403
    district_admin = make_staff(roles.ADMINISTRATOR, district=district, username="district-admin")
    client.force_login(district_admin)
    assert client.get(url).status_code == 403
    wuxi = DistrictFactory(code="320214", name="新吴区", short_name="锡新吴",
                           region=Policy.objects.get(code="wuxi-2023").region)
    client.force_login(make_staff(roles.ADMINISTRATOR, district=wuxi, city_level=True, username="wuxi-admin"))
    assert client.get(url).status_code == 404  # another region's policy is out of scope
    assert Policy.objects.filter(code=beijing.code).count() == 1


def test_detail_page_links_the_editor_for_administrators_only(client, beijing, administrator, caseworker):
    client.force_login(administrator)
    assert reverse("policies:edit", args=[beijing.pk]) in client.get(reverse("policies:detail", args=[beijing.pk])).content.decode()
    client.force_login(caseworker)
    assert reverse("policies:edit", args=[beijing.pk]) not in client.get(reverse("policies:detail", args=[beijing.pk])).content.decode()


def test_the_json_editor_stays_available_to_administrators(client, beijing, superuser):
    client.force_login(superuser)
    text = client.get(reverse("policies:edit", args=[beijing.pk])).content.decode()
    assert "编辑JSON" in text and reverse("admin:policies_policy_change", args=[beijing.pk]) in text


@pytest.mark.parametrize("code", ["beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"])
def test_every_shipped_policy_opens_unchanged_in_the_editor(code):
    """Tilted assistance (Wuxi), special grants (Ningbo), statistic-share deductibles (national,
    Dongzhi): the form of every preset validates as it stands and changes nothing."""
    policy = Policy.objects.get(code=code, is_current=True)
    data = _post_data(policy, new_effective_from=policy.effective_from.isoformat())
    form = PolicyStructuredForm(data, policy=policy)
    assert form.is_valid(), form.errors
    assert diff_rules(policy.rules, form.cleaned_data["rules"]) == []
    assert form.cleaned_data["rules"] == {**policy.rules, "effective_from": policy.effective_from.isoformat()}


def test_a_wuxi_tilted_rate_and_a_ningbo_grant_are_fields():
    wuxi = PolicyStructuredForm(policy=Policy.objects.get(code="wuxi-2023", is_current=True))
    assert {"tilted__threshold", "tilted__rate", "tilted__cap"} <= set(wuxi.fields)
    ningbo = Policy.objects.get(code="ningbo-2019", is_current=True)
    names = set(PolicyStructuredForm(policy=ningbo).fields)
    assert any(n.startswith("special_items__") for n in names)


def test_a_control_character_in_the_document_number_is_refused_naming_the_field(beijing):
    """Issue 15's rule holds for the generated fields too (a NUL in the rules' JSON would reach PostgreSQL)."""
    form = PolicyStructuredForm(_post_data(beijing, document_no="京医保发\x00"), policy=beijing)
    assert not form.is_valid()
    assert form.errors["document_no"] == ["“文号”不能包含控制字符（如NUL）。"]


def test_clauses_a_tier_and_a_category_cite_are_fields_and_diff_rows(beijing):
    form = PolicyStructuredForm(_post_data(beijing, **{
        f"tiers__{BJ3}__clause": "京医保发〔2027〕1号 六", "category_tiers__minimum_living__clause": "京医保发〔2027〕1号 一(一)3",
        "category_tiers__marginal_family__tier": "BJ-3"}), policy=beijing)
    assert form.is_valid(), form.errors
    rules = form.cleaned_data["rules"]
    assert rules["tiers"][BJ3]["clause"] == "京医保发〔2027〕1号 六"
    assert rules["category_tiers"]["minimum_living"] == {"tier": "BJ-3", "clause": "京医保发〔2027〕1号 一(一)3"}
    # a newly mapped category with no clause typed cites its tier's clause
    assert rules["category_tiers"]["marginal_family"] == {"tier": "BJ-3", "clause": "京医保发〔2027〕1号 六"}
    labels = [row["label"] for row in diff_rules(beijing.rules, rules)]
    assert labels == ["低保边缘家庭成员 适用档次", "第3档 条款出处", "最低生活保障对象 条款出处", "低保边缘家庭成员 条款出处"]
