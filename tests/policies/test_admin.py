"""Django admin: edits save a new version; rules are validated naming the field; templates confirmed."""
import copy
import html
import json

import pytest
from django.urls import reverse

from policies.models import Policy

pytestmark = pytest.mark.django_db


def _post(client, policy, rules, effective_from="2024-01-01", note="提高限额"):
    return client.post(reverse("admin:policies_policy_change", args=[policy.pk]), {
        "rules": json.dumps(rules, ensure_ascii=False),
        "new_effective_from": effective_from,
        "change_note": note,
        "_save": "保存",
    })


def test_change_form_shows_pretty_json_and_readable_rules(client, superuser, beijing):
    client.force_login(superuser)
    text = html.unescape(client.get(reverse("admin:policies_policy_change", args=[beijing.pk])).content.decode())
    assert '\n  "code": "beijing-2023"' in text  # indented, Chinese unescaped
    assert "京医保发〔2022〕37号" in text and "BJ-3" in text


def test_saving_an_edit_creates_a_new_version(client, superuser, beijing):
    client.force_login(superuser)
    rules = copy.deepcopy(beijing.rules)
    rules["tiers"][2]["buckets"]["inpatient"]["cap"] = "200000.00"
    response = _post(client, beijing, rules)
    new = Policy.objects.get(code="beijing-2023", is_current=True)
    assert response.status_code == 302 and response["Location"].endswith(f"/{new.pk}/change/")
    beijing.refresh_from_db()
    assert new.version == 2 and new.supersedes == beijing and new.change_note == "提高限额"
    assert beijing.rules["tiers"][2]["buckets"]["inpatient"]["cap"] == "160000.00"
    assert str(beijing.effective_to) == "2023-12-31"


def test_invalid_rules_are_refused_naming_the_field(client, superuser, beijing):
    client.force_login(superuser)
    rules = copy.deepcopy(beijing.rules)
    rules["tiers"][0]["visit_classes"]["inpatient"]["rate"] = "abc"
    response = _post(client, beijing, rules)
    assert response.status_code == 200
    assert "tiers[0].visit_classes.inpatient.rate" in response.content.decode()
    assert Policy.objects.filter(code="beijing-2023").count() == 1


def test_broken_json_is_refused_and_kept_for_correction(client, superuser, beijing):
    client.force_login(superuser)
    response = client.post(reverse("admin:policies_policy_change", args=[beijing.pk]), {
        "rules": '{"code": "beijing-2023",', "new_effective_from": "2024-01-01", "change_note": "x"})
    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert "不是有效的 JSON" in text and '{"code": "beijing-2023",' in text


def test_confirm_template_action(client, superuser, national):
    client.force_login(superuser)
    response = client.post(reverse("admin:policies_policy_changelist"), {
        "action": "confirm_templates", "_selected_action": [national.pk]})
    assert response.status_code == 302
    national.refresh_from_db()
    assert national.confirmed_at is not None and national.confirmed_by == superuser


def test_policies_cannot_be_deleted(client, superuser, beijing):
    client.force_login(superuser)
    assert client.get(reverse("admin:policies_policy_delete", args=[beijing.pk])).status_code in (302, 403)


def test_superseded_versions_are_read_only(client, superuser, beijing, administrator):
    from datetime import date

    from policies.services import policy_revise

    policy_revise(policy=beijing, rules=beijing.rules, effective_from=date(2024, 1, 1), note="v2", by=administrator)
    client.force_login(superuser)
    text = client.get(reverse("admin:policies_policy_change", args=[beijing.pk])).content.decode()
    assert 'name="rules"' not in text


def test_changelist_renders(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("admin:policies_policy_changelist") + "?usable=pending")
    assert response.status_code == 200 and "national-2021" in response.content.decode()


def test_adding_a_region_policy_in_admin(client, superuser):
    from organizations.models import Region
    from policies.selectors import policy_in_force

    region = Region.objects.create(code="330100", name="杭州市", short_name="杭")
    rules = copy.deepcopy(Policy.objects.get(code="wuxi-2023").rules)
    rules.update(code="hangzhou-2024", region="hangzhou", document_no="杭医保〔2024〕1号", title="杭州测试政策",
                 effective_from="2024-01-01")
    client.force_login(superuser)
    response = client.post(reverse("admin:policies_policy_add"), {
        "code": "hangzhou-2024", "region": region.pk, "rules": json.dumps(rules, ensure_ascii=False),
        "change_note": "新增", "_save": "保存"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    policy = Policy.objects.get(code="hangzhou-2024")
    assert (policy.version, policy.document_no, str(policy.effective_from)) == (1, "杭医保〔2024〕1号", "2024-01-01")
    assert policy_in_force(region=region, on=policy.effective_from) == policy


def test_adding_refuses_a_code_that_exists(client, superuser, beijing):
    client.force_login(superuser)
    response = client.post(reverse("admin:policies_policy_add"), {
        "code": "beijing-2023", "region": beijing.region.pk, "rules": json.dumps(beijing.rules, ensure_ascii=False),
        "change_note": "重复"})
    assert response.status_code == 200
    assert Policy.objects.filter(code="beijing-2023").count() == 1
