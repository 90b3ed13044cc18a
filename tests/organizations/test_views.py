"""Home dashboard per role, login page, health check and error pages."""
import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.views.defaults import permission_denied

from organizations import dashboard
from organizations.dashboard import Queue
from tests.factories import UserFactory


@pytest.fixture
def providers(monkeypatch):
    """A clean provider registry for the test (apps' real providers are put back afterwards)."""
    registry: list = []
    monkeypatch.setattr(dashboard, "_providers", registry)
    return registry


@pytest.mark.django_db
def test_home_shows_role_scope_and_shortcuts_for_a_caseworker(client, caseworker, providers):
    client.force_login(caseworker)
    body = client.get(reverse("home")).content.decode()
    assert "医保经办" in body
    assert "朝阳区" in body
    assert reverse("claims:index") in body  # caseworkers review claims


@pytest.mark.django_db
def test_home_for_a_certifier_has_no_claims_shortcut(client, civil_certifier, providers):
    client.force_login(civil_certifier)
    response = client.get(reverse("home"))
    assert [s.url for s in response.context["shortcuts"]].count(reverse("claims:index")) == 0
    assert reverse("beneficiaries:index") in [s.url for s in response.context["shortcuts"]]


@pytest.mark.django_db
def test_home_warns_a_user_without_staff_profile(client, providers):
    client.force_login(UserFactory(username="loner"))
    body = client.get(reverse("home")).content.decode()
    assert "尚未关联经办机构" in body
    assert "无数据权限" in body


@pytest.mark.django_db
def test_home_lists_work_queues_from_providers_per_user(client, caseworker, civil_certifier, providers):
    @dashboard.register
    def certify_queue(user):
        if user.username != "civil-certifier":
            return []
        return [Queue("待认定", 7, "/beneficiaries/", icon="person-check", hint="3 件超过 5 个工作日", tone="warning")]

    dashboard.register(certify_queue)  # registering twice is a no-op
    assert providers == [certify_queue]

    client.force_login(civil_certifier)
    response = client.get(reverse("home"))
    body = response.content.decode()
    assert "待认定" in body and "3 件超过 5 个工作日" in body
    assert response.context["open_items"] == 7

    client.force_login(caseworker)
    assert "待认定" not in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_a_failing_provider_does_not_take_the_home_page_down(client, caseworker, providers, caplog):
    @dashboard.register
    def broken(user):
        raise RuntimeError("boom")

    @dashboard.register
    def working(user):
        return [Queue("待审核费用", 2, "/claims/")]

    client.force_login(caseworker)
    with caplog.at_level(logging.ERROR, logger="organizations.dashboard"):
        response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "待审核费用" in response.content.decode()
    assert any("broken" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
@override_settings(SHOW_DEMO_LOGINS=True)
def test_login_page_lists_demo_accounts_only_when_enabled(client):
    assert "demo-jingban-2026" in client.get(reverse("login")).content.decode()
    with override_settings(SHOW_DEMO_LOGINS=False):
        assert "demo-jingban-2026" not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_a_logged_in_user_is_sent_from_login_to_home(client, caseworker):
    client.force_login(caseworker)
    response = client.get(reverse("login"))
    assert response.status_code == 302 and response["Location"] == reverse("home")


@pytest.mark.django_db
def test_healthz_is_ok_with_eager_celery(client, settings):
    settings.REDIS_URL = ""
    body = client.get(reverse("healthz")).json()
    assert body == {"status": "ok", "database": "ok", "broker": "eager", "worker": {"status": "eager"},
                    "nightly": {"status": "none"}, "outbox": {"pending": 0, "oldest_seconds": 0}}


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker_with_503(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_404_page_is_friendly_and_in_chinese(client, caseworker):
    client.force_login(caseworker)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在" in body and "不在您的数据范围内" in body
    assert reverse("home") in body


@pytest.mark.django_db
def test_403_page_explains_the_role(caseworker):
    request = RequestFactory().get("/")
    request.user = caseworker
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()


def test_500_page_renders_without_a_request_context():
    html = render_to_string("500.html")
    assert "系统暂时出现问题" in html and "已保存的数据不会丢失" in html
