from __future__ import annotations

import io
from datetime import date

import pytest

from beneficiaries import idnumber
from beneficiaries.imports import RosterImport, read_roster
from beneficiaries.models import Certification, Person

from .conftest import roster_csv

pytestmark = pytest.mark.django_db


def _import(agency, data: bytes, name="r.csv", apply=True, **kw):
    rows = read_roster(io.BytesIO(data), name)
    imp = RosterImport(agency=agency, **kw)
    return imp.apply(rows) if apply else imp.plan(rows)


def test_import_creates_persons_and_certifications(civil_agency):
    n1 = idnumber.make("110105", date(1960, 5, 1), 11)
    n2 = idnumber.make("110105", date(1970, 6, 2), 12)
    plan = _import(civil_agency, roster_csv([
        (n1, "王大伟", "minimum_living", "2023-01-01", "", "京朝民〔2023〕1号"),
        (n2, "李秀英", "特困人员", "2023/02/01", "", "京朝民〔2023〕2号"),
    ]))
    assert plan.counts_line() == "created 2, unchanged 0, revoked 0, rejected 0"
    assert Person.objects.get(id_number=n1).hukou_district == civil_agency.district
    assert Certification.objects.filter(person__id_number=n2, category__code="extreme_poverty").exists()
    assert Certification.history.count() == 2
