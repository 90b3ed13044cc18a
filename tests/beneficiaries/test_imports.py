from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest

from beneficiaries import idnumber
from beneficiaries.imports import RosterFileError, RosterImport, error_file_rows, escape_formula, read_roster
from beneficiaries.models import Certification, Person
from tests.conftest import requires_postgres
from tests.factories import CertificationFactory, PersonFactory, category

from .conftest import roster_csv

pytestmark = pytest.mark.django_db


def _rows(data: bytes, name="r.csv"):
    return read_roster(io.BytesIO(data), name)


def _import(agency, data: bytes, name="r.csv", apply=True, **kw):
    imp = RosterImport(agency=agency, **kw)
    return imp.apply(_rows(data, name)) if apply else imp.plan(_rows(data, name))


def _num(seq, born=date(1960, 5, 1), region="110105"):
    return idnumber.make(region, born, seq)


def test_import_creates_persons_and_certifications_with_history(civil_agency):
    n1, n2 = _num(11), _num(12, date(1970, 6, 2))
    plan = _import(civil_agency, roster_csv([
        (n1, "王大伟", "minimum_living", "2023-01-01", "", "京朝民〔2023〕1号"),
        (n2, "李秀英", "特困人员", "2023/02/01", "", "京朝民〔2023〕2号"),
    ]))
    assert plan.counts_line() == "created 2, unchanged 0, revoked 0, rejected 0"
    person = Person.objects.get(id_number=n1)
    assert person.hukou_district == civil_agency.district and person.name == "王大伟"
    assert person.history.count() == 1
    cert = Certification.objects.get(person__id_number=n2)
    assert cert.category.code == "extreme_poverty" and cert.valid_from == date(2023, 2, 1)
    assert cert.agency == civil_agency
    assert cert.history.get().history_change_reason.startswith("名单导入")


@pytest.mark.parametrize("row, field, code", [
    (("110105196005011234", "甲", "minimum_living", "2023-01-01", "", ""), "id_number", None),
    ((None, "甲", "minimum_living", "2023-01-01", "", ""), "id_number", "length"),
    (("SEQ", "甲", "no_such_category", "2023-01-01", "", ""), "category", "unknown_category"),
    (("SEQ", "甲", "entitled_group", "2023-01-01", "", ""), "category", "wrong_agency"),
    (("SEQ", "", "minimum_living", "2023-01-01", "", ""), "name", "required"),
    (("SEQ", "甲", "minimum_living", "2023-13-01", "", ""), "valid_from", "invalid_date"),
    (("SEQ", "甲", "minimum_living", "", "", ""), "valid_from", "required"),
    (("SEQ", "甲", "minimum_living", "2023-05-01", "2023-04-01", ""), "valid_until", "until_before_from"),
])
def test_bad_rows_are_rejected_with_field_and_never_applied(civil_agency, row, field, code):
    row = tuple(_num(99) if v == "SEQ" else v for v in row)
    if row[0] == "110105196005011234" and idnumber.check_char(row[0][:17]) == "4":
        row = ("110105196005011235",) + row[1:]
    plan = _import(civil_agency, roster_csv([row, (_num(7), "好人", "minimum_living", "2023-01-01", "", "")]))
    assert plan.rejected == 1 and plan.created == 1
    error = plan.errors[0]
    assert (error.line, error.field) == (2, field)
    if code:
        assert error.code == code
    assert Certification.objects.count() == 1  # the good row only


def test_overlap_with_existing_certification_is_rejected(civil_agency, person):
    CertificationFactory(person=person, category=category("minimum_living"), agency=civil_agency,
                         valid_from=date(2022, 1, 1))
    plan = _import(civil_agency, roster_csv([(person.id_number, person.name, "minimum_living", "2023-01-01", "", "")]))
    assert plan.errors[0].code == "overlap" and plan.errors[0].field == "valid_from"
    assert Certification.objects.count() == 1


def test_overlap_within_the_file_is_rejected(civil_agency):
    n = _num(5)
    plan = _import(civil_agency, roster_csv([
        (n, "甲", "minimum_living", "2023-01-01", "2023-12-31", ""),
        (n, "甲", "minimum_living", "2023-06-01", "", ""),
        (n, "甲", "minimum_living", "2024-01-01", "", ""),
    ]))
    assert plan.counts_line() == "created 2, unchanged 0, revoked 0, rejected 1"
    assert plan.errors[0].line == 3 and plan.errors[0].code == "overlap"


def test_name_mismatch_with_registered_person_is_rejected(civil_agency, person):
    plan = _import(civil_agency, roster_csv([(person.id_number, "别人", "minimum_living", "2023-01-01", "", "")]))
    assert plan.errors[0].field == "name" and plan.errors[0].code == "name_mismatch"


def test_person_of_another_district_is_rejected(civil_agency, other_person):
    plan = _import(civil_agency, roster_csv([(other_person.id_number, other_person.name, "minimum_living", "2023-01-01", "", "")]))
    assert plan.errors[0].code == "out_of_scope"
    new = idnumber.make("110108", date(1971, 1, 1), 3)  # not 1970: PersonFactory numbers could collide
    plan = _import(civil_agency, roster_csv([(new, "甲", "minimum_living", "2023-01-01", "", "")]))
    assert plan.errors[0].code == "out_of_scope"
    assert not Person.objects.filter(id_number=new).exists()


def test_unknown_region_code_is_a_warning_and_uses_agency_district(civil_agency):
    n = idnumber.make("110199", date(1970, 1, 1), 3)
    plan = _import(civil_agency, roster_csv([(n, "甲", "minimum_living", "2023-01-01", "", "")]))
    assert plan.created == 1 and plan.rejected == 0 and "110199" in plan.warnings[0]
    assert Person.objects.get(id_number=n).hukou_district == civil_agency.district


def test_reimporting_the_same_file_changes_nothing(civil_agency):
    data = roster_csv([(_num(i), f"人{i}", "minimum_living", "2023-01-01", "", "文号") for i in range(1, 6)]
                      + [(_num(50), "人50", "extreme_poverty", "2022-01-01", "2022-12-31", "")])
    first = _import(civil_agency, data, roster_date=date(2023, 6, 30), revoke_missing=True)
    assert first.created == 6
    history = Certification.history.count() + Person.history.count()
    second = _import(civil_agency, data, roster_date=date(2023, 6, 30), revoke_missing=True)
    assert second.counts_line() == "created 0, unchanged 6, revoked 0, rejected 0"
    assert Certification.history.count() + Person.history.count() == history


def test_revoke_missing_ends_omitted_persons_on_roster_date(civil_agency, district):
    kept, dropped, typo, other_cat = (PersonFactory(hukou_district=district) for _ in range(4))
    for p in (kept, dropped, typo):
        CertificationFactory(person=p, category=category("minimum_living"), agency=civil_agency, valid_from=date(2022, 1, 1))
    CertificationFactory(person=other_cat, category=category("extreme_poverty"), agency=civil_agency, valid_from=date(2022, 1, 1))
    data = roster_csv([
        (kept.id_number, kept.name, "minimum_living", "2022-01-01", "", ""),
        (typo.id_number, typo.name, "minimum_living", "2022-01-0X", "", ""),  # rejected, but still "in the file"
    ])
    plan = _import(civil_agency, data, roster_date=date(2024, 3, 31), revoke_missing=True)
    assert plan.counts_line() == "created 0, unchanged 1, revoked 1, rejected 1"
    dropped_cert = dropped.certifications.get()
    assert dropped_cert.valid_until == date(2024, 3, 31) and "名单" in dropped_cert.revocation_reason
    assert typo.certifications.get().valid_until is None
    assert other_cat.certifications.get().valid_until is None  # category not in the roster
    assert dropped_cert.history.first().history_type == "~"
    again = _import(civil_agency, data, roster_date=date(2024, 3, 31), revoke_missing=True)
    assert again.revoked == 0


def test_row_with_end_date_ends_open_certification(civil_agency, person):
    CertificationFactory(person=person, category=category("minimum_living"), agency=civil_agency, valid_from=date(2022, 1, 1))
    plan = _import(civil_agency, roster_csv([(person.id_number, person.name, "minimum_living", "2022-01-01", "2023-12-31", "")]))
    assert plan.counts_line() == "created 0, unchanged 0, revoked 1, rejected 0"
    assert person.certifications.get().valid_until == date(2023, 12, 31)


def test_plan_writes_nothing(civil_agency):
    _import(civil_agency, roster_csv([(_num(1), "甲", "minimum_living", "2023-01-01", "", "")]), apply=False)
    assert not Person.objects.exists() and not Certification.objects.exists()


def test_xlsx_with_chinese_headers_and_chinese_category_names(civil_agency):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["身份证号", "姓名", "类别", "起始日期", "终止日期", "文号"])
    sheet.append([_num(1), "甲", "最低生活保障对象", date(2023, 1, 1), None, "京朝民〔2023〕1号"])
    sheet.append([None, None, None, None, None, None])
    sheet.append([_num(2), "乙", "minimum_living", "2023-02-01", date(2023, 12, 31), None])
    sheet.append(["123", "丙", "minimum_living", "2023-02-01", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    plan = _import(civil_agency, buffer.getvalue(), name="名单.xlsx")
    assert plan.counts_line() == "created 2, unchanged 0, revoked 0, rejected 1"
    assert plan.errors[0].line == 5  # blank line 3 skipped, numbering kept
    assert Certification.objects.get(person__name="乙").valid_until == date(2023, 12, 31)


def test_gb18030_csv_and_line_numbers_with_blank_lines(civil_agency):
    text = "身份证号,姓名,类别,起始日期,终止日期,文号\n\n" + f"{_num(1)},甲,低保边缘家庭成员,2023-01-01,,\n\nbad,乙,orphan,2023-01-01,,\n"
    plan = _import(civil_agency, text.encode("gb18030"))
    assert plan.created == 1 and plan.errors[0].line == 5


def test_missing_header_column_is_a_file_error(civil_agency):
    with pytest.raises(RosterFileError):
        _rows(b"id_number,name\n1,2\n")
    with pytest.raises(RosterFileError):
        _rows(b"whatever", name="r.pdf")


def test_error_file_is_formula_escaped_and_masked(civil_agency):
    n = _num(8)
    plan = _import(civil_agency, roster_csv([(n, "=HYPERLINK(1)", "+cmd", "2023-01-01", "", "@x")]))
    rows = list(error_file_rows([e.to_json() for e in plan.errors]))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    text = out.getvalue()
    assert "'=HYPERLINK" in text and "'+cmd" in text and "'@x" in text
    assert n not in text and idnumber.mask(n) in text


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("-2", "'-2"), ("+x", "'+x"), ("@a", "'@a"), ("ok", "ok")])
def test_escape_formula(value, expected):
    assert escape_formula(value) == expected


def test_policy_2_wrong_agency_rows_never_apply(veterans_certifier):
    from tests.factories import map_category_in_policy

    map_category_in_policy("entitled_group")  # Beijing names no 优抚对象 category (POLICY.md §9)
    agency = veterans_certifier.staff_profile.agency
    plan = _import(agency, roster_csv([(_num(1), "甲", "minimum_living", "2023-01-01", "", ""),
                                       (_num(2), "乙", "entitled_group", "2023-01-01", "", "")]))
    assert plan.counts_line() == "created 1, unchanged 0, revoked 0, rejected 1"
    assert plan.errors[0].code == "wrong_agency"
    assert list(Certification.objects.values_list("category__code", flat=True)) == ["entitled_group"]


class TestOnePipeline:
    """Issue 16: the roster import reads files through the same reader as the settlement import."""

    def test_excel_serial_and_compact_dates(self):
        from beneficiaries.imports import parse_date

        assert str(parse_date("45000")) == "2023-03-15" and str(parse_date(45000)) == "2023-03-15"
        assert str(parse_date("20230131")) == "2023-01-31" and str(parse_date(20230131)) == "2023-01-31"
        assert str(parse_date("2023/1/31")) == "2023-01-31"

    def test_nul_byte_is_a_row_error(self):
        from beneficiaries.imports import RawRow, RosterImport
        from tests.factories import AgencyFactory

        agency = AgencyFactory(kind="civil_affairs")
        rows = [RawRow(2, {"id_number": "110105197001010000", "name": "张\x00三", "category": "minimum_living",
                           "valid_from": "2023-01-01"})]
        plan = RosterImport(agency=agency).plan(rows)
        assert [(e.line, e.field, e.code) for e in plan.errors] == [(2, "name", "nul_byte")]


@requires_postgres
def test_issue_20_a_roster_import_that_adds_many_people_analyses_people_and_certifications(civil_agency):
    """Statistics kept current after a bulk write: the first roster of a city adds most of its
    people and certifications at once; the planner must not go on believing the tables empty."""
    from django.db import connection

    from organizations.dbstats import estimated_rows

    PersonFactory()
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{Person._meta.db_table}"')
        cursor.execute(f'ANALYZE "{Certification._meta.db_table}"')
    assert estimated_rows(Person._meta.db_table) == 1
    plan = _import(civil_agency, roster_csv([(_num(100 + i), f"名{i}", "minimum_living", "2023-01-01", "", "")
                                             for i in range(30)]))
    assert plan.created == 30
    assert estimated_rows(Person._meta.db_table) == Person.objects.count() == 31
    assert estimated_rows(Certification._meta.db_table) == Certification.objects.count() == 30
