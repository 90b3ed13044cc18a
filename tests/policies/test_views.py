"""Caseworker screens: login, scope (404 outside), template banner, readable rules, no N+1."""
import pytest
from django.urls import reverse

from policies.models import Policy

pytestmark = pytest.mark.django_db

BANNER = "此为国家框架模板，须经管理员确认后方可使用"


def test_list_requires_login(client):
    response = client.get(reverse("policies:index"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_detail_requires_login(client, beijing):
    response = client.get(reverse("policies:detail", args=[beijing.pk]))
    assert response.status_code == 302


def test_list_shows_region_policies_and_the_template_banner(client, caseworker, beijing):
    client.force_login(caseworker)
    response = client.get(reverse("policies:index"))
    text = response.content.decode()
    assert response.status_code == 200
    assert "京医保发〔2022〕37号" in text
    assert BANNER in text
    assert "无锡" not in text  # another region's policy is not listed


def test_banner_disappears_once_confirmed(client, caseworker, national, administrator):
    from policies.services import policy_confirm

    policy_confirm(policy=national, by=administrator)
    client.force_login(caseworker)
    assert BANNER not in client.get(reverse("policies:index")).content.decode()


def test_detail_renders_rules_with_clauses(client, caseworker, beijing):
    client.force_login(caseworker)
    text = client.get(reverse("policies:detail", args=[beijing.pk])).content.decode()
    for expected in ("BJ-3", "85%", "160,000.00", "8,000.00", "京医保发〔2022〕37号 一(一)3", "30%", "40%", "50%",
                     "150,000.00", "每户每自然年度限申请一次"):
        assert expected in text


def test_detail_of_the_national_template_shows_the_banner(client, caseworker, national):
    client.force_login(caseworker)
    text = client.get(reverse("policies:detail", args=[national.pk])).content.decode()
    assert BANNER in text and "起付标准" in text


def test_detail_of_another_regions_policy_is_404(client, caseworker):
    client.force_login(caseworker)
    wuxi = Policy.objects.get(code="wuxi-2023")
    assert client.get(reverse("policies:detail", args=[wuxi.pk])).status_code == 404


def test_user_without_profile_sees_no_policy(client, beijing):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    # no role: refused before the scope (403, organizations/permissions.py); no profile: 404
    assert client.get(reverse("policies:detail", args=[beijing.pk])).status_code in (403, 404)
    assert "京医保发" not in client.get(reverse("policies:index")).content.decode()


@pytest.mark.parametrize("code", ["beijing-2023", "wuxi-2023", "ningbo-2019", "national-2021", "dongzhi-2022"])
def test_every_preset_detail_renders(client, superuser, code):
    client.force_login(superuser)
    policy = Policy.objects.get(code=code)
    response = client.get(reverse("policies:detail", args=[policy.pk]))
    assert response.status_code == 200
    assert policy.document_no in response.content.decode()


def test_list_has_no_n_plus_1(client, superuser, administrator, django_assert_max_num_queries):
    from datetime import date

    from policies.services import policy_revise

    for policy in Policy.objects.filter(is_current=True):
        policy_revise(policy=policy, rules=policy.rules, effective_from=max(policy.effective_from, date(2024, 1, 1)),
                      note="v2", by=administrator)
    client.force_login(superuser)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("policies:index") + "?all=1")
    assert response.content.decode().count("policies/") >= 10


def test_detail_of_broken_rules_says_where_instead_of_500(client, superuser, beijing):
    rules = dict(beijing.rules)
    rules.pop("tiers")
    Policy.objects.filter(pk=beijing.pk).update(rules=rules)
    client.force_login(superuser)
    response = client.get(reverse("policies:detail", args=[beijing.pk]))
    assert response.status_code == 200 and "tiers" in response.content.decode()


def test_a_scheduled_version_does_not_hide_the_one_in_force(client, caseworker, beijing, administrator):
    """Issue 18: saving a future Beijing version hid the version in force from /policies/."""
    from datetime import timedelta

    from django.utils import timezone

    from policies.services import policy_revise

    future = policy_revise(policy=beijing, rules=beijing.rules, effective_from=timezone.localdate() + timedelta(days=30),
                           note="明年", by=administrator)
    client.force_login(caseworker)
    response = client.get(reverse("policies:index"))
    row = next(r for r in response.context["rows"] if r["code"] == beijing.code)
    assert row["in_force"].pk == beijing.pk and [p.pk for p in row["scheduled"]] == [future.pk]
    body = response.content.decode()
    assert reverse("policies:detail", args=[beijing.pk]) in body and reverse("policies:detail", args=[future.pk]) in body
