"""Screens: scope (404 for another district), query counts, dismiss, runs for city level only."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from monitoring import services
from monitoring.models import EarlyWarning, RecalcRun, WarningStatus
from organizations import roles
from tests.factories import BillFactory, HouseholdFactory, PersonFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def warned(world):
    run = services.run_synchronously(full=True)
    assert run.status == "succeeded"
    return EarlyWarning.objects.get()


@pytest.fixture
def other_civil(other_district):
    return make_staff(roles.CERTIFIER, district=other_district, agency_kind="civil_affairs", username="other-civil")


def test_warning_queue_lists_open_warnings(client, civil_certifier, warned):
    client.force_login(civil_certifier)
    response = client.get(reverse("monitoring:index"))
    assert response.status_code == 200
    assert list(response.context["warnings"]) == [warned]
    assert "38,707.50" in response.content.decode()


def test_warning_queue_no_n_plus_one(client, civil_certifier, world, district, django_assert_max_num_queries):
    for _ in range(15):
        household = HouseholdFactory(district=district)
        person = PersonFactory(hukou_district=district, household=household, relation="head")
        BillFactory(person=person, admission_date=date(2023, 2, 1), discharge_date=date(2023, 2, 2),
                    total_cost=Decimal("90000.00"), policy_scope_cost=Decimal("90000.00"), basic_paid=Decimal("10000.00"))
    services.run_synchronously(full=True)
    assert EarlyWarning.objects.count() == 16
    client.force_login(civil_certifier)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("monitoring:index"))
    assert len(response.context["warnings"]) == 16


def test_other_district_gets_404_on_a_warning_and_sees_none(client, other_civil, warned):
    client.force_login(other_civil)
    assert client.get(reverse("monitoring:warning_detail", args=[warned.pk])).status_code == 404
    assert client.post(reverse("monitoring:warning_dismiss", args=[warned.pk]), {"note": "x"}).status_code == 404
    assert list(client.get(reverse("monitoring:index")).context["warnings"]) == []


def test_dismiss_from_the_detail_page(client, civil_certifier, warned):
    client.force_login(civil_certifier)
    url = reverse("monitoring:warning_dismiss", args=[warned.pk])
    response = client.post(url, {"note": ""})
    assert response.status_code == 400 and "note" in response.context["form"].errors
    response = client.post(url, {"note": "经核实家庭收入较高"})
    assert response.status_code == 302
    warned.refresh_from_db()
    assert warned.status == WarningStatus.DISMISSED and warned.handled_by == civil_certifier


def test_medical_security_caseworker_reads_but_cannot_dismiss(client, caseworker, warned):
    client.force_login(caseworker)
    response = client.get(reverse("monitoring:warning_detail", args=[warned.pk]))
    assert response.status_code == 200 and response.context["can_handle"] is False
    assert client.post(reverse("monitoring:warning_dismiss", args=[warned.pk]), {"note": "x"}).status_code == 403


def test_runs_are_city_level(client, caseworker, auditor, warned):
    run = RecalcRun.objects.get()
    client.force_login(caseworker)  # district staff
    assert client.get(reverse("monitoring:run_list")).status_code == 404
    assert client.get(reverse("monitoring:run_detail", args=[run.pk])).status_code == 404
    assert client.get(reverse("monitoring:run_progress", args=[run.pk])).status_code == 404
    client.force_login(auditor)
    assert client.get(reverse("monitoring:run_list")).status_code == 200
    response = client.get(reverse("monitoring:run_detail", args=[run.pk]))
    assert response.status_code == 200 and response.context["run"] == run
    assert client.get(reverse("monitoring:run_progress", args=[run.pk])).json()["status"] == "succeeded"


def test_run_list_no_n_plus_one(client, auditor, world, django_assert_max_num_queries):
    for _ in range(5):
        services.run_synchronously(full=True)
    client.force_login(auditor)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("monitoring:run_list"))
    assert len(response.context["runs"]) == 5


def test_only_administrators_start_a_run(client, auditor, world, django_capture_on_commit_callbacks):
    client.force_login(auditor)
    assert client.post(reverse("monitoring:run_start"), {"full": "on"}).status_code == 403
    admin = make_staff(roles.ADMINISTRATOR, city_level=True, username="city-admin")
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("monitoring:run_start"), {"full": "on"})
    run = RecalcRun.objects.get()
    assert response.status_code == 302 and run.triggered_by == admin
    run.refresh_from_db()
    assert run.status == "succeeded" and run.bills_changed == 3  # eager Celery in tests: the chain ran


def test_dashboard_queues(client, civil_certifier, auditor, warned):
    from organizations.dashboard import work_queues

    titles = {q.title: q.count for q in work_queues(civil_certifier)}
    assert titles.get("待处理预警") == 1
    assert any(q.url.endswith(f"/runs/{RecalcRun.objects.get().pk}/") for q in work_queues(auditor))
