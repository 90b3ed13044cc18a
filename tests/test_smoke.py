import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] in ("ok", "eager")


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
