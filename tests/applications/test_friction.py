"""Issue 18 on relief applications: computing and sending to review are two steps, the decision
opens with nothing chosen and asks first, dates before the policy era are refused (year 1 used
to be accepted and then every gather failed), and a household that already applied this year is
not offered 转为申请."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from applications.models import Status
from applications.selectors import open_warnings

from .conftest import bill
from .workflow import receive, to_gathering

pytestmark = pytest.mark.django_db


@pytest.fixture
def gathering(household, patient, hospital, caseworker, civil_certifier):
    bill(patient, hospital, admission_date=date(2023, 4, 1), discharge_date=date(2023, 4, 9), settlement_no="ZY-F-1")
    return to_gathering(receive(household=household, patient=patient, caseworker=caseworker),
                        caseworker=caseworker, certifier=civil_certifier)


def test_compute_shows_the_figure_before_sending_to_review(client, gathering, caseworker):
    client.force_login(caseworker)
    page = client.post(reverse("applications:compute", args=[gathering.pk]))
    assert page.status_code == 200 and "提交审核" in page.content.decode()
    gathering.refresh_from_db()
    assert gathering.status == Status.GATHERING and gathering.relief is None
    client.post(reverse("applications:compute", args=[gathering.pk]), {"confirmed": "1"})
    gathering.refresh_from_db()
    assert gathering.status == Status.REVIEWING and gathering.relief is not None
    assert f"{gathering.relief:,.2f}" in page.content.decode()


def test_decision_opens_with_nothing_chosen_and_asks_first(client, gathering, caseworker, civil_certifier, reviewer):
    from applications import services

    services.relief_compute(application=gathering, by=caseworker)
    client.force_login(reviewer)
    body = client.get(reverse("applications:detail", args=[gathering.pk])).content.decode()
    form = body[body.index('name="decision"') - 300: body.index("不予救助理由")]
    assert "checked" not in form
    page = client.post(reverse("applications:decide", args=[gathering.pk]),
                       {"decision": "approve", "payment_route": "银行账户"})
    assert "确认批准" in page.content.decode()
    gathering.refresh_from_db()
    assert gathering.status == Status.REVIEWING


@pytest.mark.parametrize("day", [date(1, 1, 1), date(2002, 12, 31)])
def test_received_before_the_policy_era_is_refused(household, patient, caseworker, day):
    with pytest.raises(ValidationError) as err:
        receive(household=household, patient=patient, caseworker=caseworker, on=day)
    assert err.value.error_dict["received_on"][0].code == "before_era"


def test_form_refuses_year_9999(client, caseworker, patient):
    client.force_login(caseworker)
    response = client.post(reverse("applications:create"), {"patient_id_number": patient.id_number,
                                                             "received_on": "9999-01-01", "channel": "window"})
    assert "received_on" in response.context["form"].errors


def test_warning_of_a_household_that_applied_this_year_is_not_offered(household, patient, caseworker):
    from monitoring.models import EarlyWarning

    warning = EarlyWarning.objects.create(household=household, year=timezone.localdate().year - 1, kind="illness_poverty",
                                          burden=Decimal("50000.00"), threshold=Decimal("10000.00"))
    assert warning in open_warnings(caseworker)
    receive(household=household, patient=patient, caseworker=caseworker, on=timezone.localdate())
    assert warning not in open_warnings(caseworker)
