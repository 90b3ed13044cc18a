"""Issue 15, item "roster import": messages never name a person outside the user's scope, previews
are capped (rows and bytes) and rate-limited per user, and each is in the access log as a bulk
lookup."""
from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AccessLog, Action
from beneficiaries import idnumber
from beneficiaries.imports import RosterFileError, RosterImport, read_roster
from beneficiaries.models import ImportBatch

from .conftest import roster_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()


def _plan(agency, data):
    return RosterImport(agency=agency).plan(read_roster(io.BytesIO(data), "r.csv"))


def test_roster_import_never_names_a_person_of_another_district(civil_agency, other_person, categories):
    """Was: 姓名与已登记的“何海波”不一致 for a Haidian person shown to a Chaoyang certifier."""
    plan = _plan(civil_agency, roster_csv([(other_person.id_number, "别人", "minimum_living", "2023-01-01", "", "")]))
    assert [e.code for e in plan.errors] == ["out_of_scope"]
    assert all(other_person.name not in e.message for e in plan.errors)


def test_roster_import_name_mismatch_says_only_that_the_name_differs(civil_agency, person, categories):
    plan = _plan(civil_agency, roster_csv([(person.id_number, "别人", "minimum_living", "2023-01-01", "", "")]))
    assert [e.code for e in plan.errors] == ["name_mismatch"]
    assert person.name not in plan.errors[0].message and plan.errors[0].message == "姓名与该身份证号的登记人员不一致"


def test_roster_import_refuses_more_rows_than_the_cap_with_a_clear_message(settings):
    settings.ROSTER_IMPORT_MAX_ROWS = 3
    rows = [(idnumber.make("110105", date(1960, 1, 1), i), "甲", "minimum_living", "2023-01-01", "", "") for i in range(4)]
    with pytest.raises(RosterFileError, match="名单超过3行"):
        read_roster(io.BytesIO(roster_csv(rows)), "r.csv")
    assert len(read_roster(io.BytesIO(roster_csv(rows[:3])), "r.csv")) == 3


def test_roster_import_refuses_a_file_over_the_byte_cap(client, civil_certifier, settings):
    settings.ROSTER_IMPORT_MAX_BYTES = 1000
    client.force_login(civil_certifier)
    response = client.post(reverse("beneficiaries:import_list"),
                           {"file": SimpleUploadedFile("r.csv", b"id_number,name\n" + b"x" * 2000)})
    assert response.status_code == 200 and "文件过大" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_roster_import_previews_are_rate_limited_per_user_and_logged_as_bulk_lookups(
        client, civil_certifier, other_civil_certifier, settings, categories):
    settings.ROSTER_PREVIEWS_PER_MINUTE = 2
    data = roster_csv([(idnumber.make("110105", date(1960, 1, 1), 5), "甲", "minimum_living", "2023-01-01", "", "")])
    client.force_login(civil_certifier)
    for _i in range(2):
        assert client.post(reverse("beneficiaries:import_list"), {"file": SimpleUploadedFile("r.csv", data)}).status_code == 302
    refused = client.post(reverse("beneficiaries:import_list"), {"file": SimpleUploadedFile("r.csv", data)})
    assert refused.status_code == 200 and "预览过于频繁" in refused.content.decode()
    assert ImportBatch.objects.count() == 2
    logs = AccessLog.objects.filter(action=Action.BULK_LOOKUP)
    assert logs.count() == 2 and {log.user for log in logs} == {civil_certifier}
    assert all(log.subjects.startswith("ImportBatch #") and "r.csv" in log.what for log in logs)
    # another user is counted separately
    client.force_login(other_civil_certifier)
    assert client.post(reverse("beneficiaries:import_list"), {"file": SimpleUploadedFile("r.csv", data)}).status_code == 302
