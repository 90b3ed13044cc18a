"""Settlement import (一站式结算数据导入): CSV (UTF-8, header) or XLSX with EXACTLY these columns.

One code path for the web (upload → preview → confirm, as a Celery task with progress) and
``manage.py import_settlements``. Every row is validated (POLICY.md §1 amounts, a valid ID
number, a known institution, dates, booleans) and either created, found unchanged (same
institution and settlement number with the same content: idempotent), or rejected with
``row N: field: message`` (N = line in the file, header = 1). A row whose settlement number
exists with DIFFERENT content is rejected, never silently overwritten.

A row for a valid ID number nobody registered yet is KEPT (POLICY.md §9, 国办 五(七)): the person
is registered as a non-beneficiary in the importing office's district
(beneficiaries.services.non_beneficiaries_register: no certification, one-person household,
``registration_source`` = settlement file) and the bill is recorded; with no identity the engine
gives it 0, and the nightly 因病致贫 warning sees its burden. The report counts such rows
(``unregistered``) and names each in ``notes`` (a note, not an error).

The touched person-years are recomputed with the new bills by THE core in one call, and each new
bill is written once with its figures (PostgreSQL: ``claims.services.bills_create_computed``;
elsewhere, or if the database refuses that insert, the bills are inserted and then recomputed);
an unchanged row of a computed bill recomputes nothing (issue 20). The engine's figure is then
compared with ``assistance_paid``: differences become open payment
adjustments (the "differences to review" screen). A dry run does all of that inside a
transaction that is rolled back, so its counts (differences included) are the real ones.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from beneficiaries import idnumber
from beneficiaries.models import Person
from organizations import tabular, textinput
from organizations.models import Institution

from . import money
from .models import Bill, BillSource, BillStatus, PaymentAdjustment, SettlementRecord, VisitType

COLUMNS = (
    "settlement_no", "institution_code", "id_number", "visit_type", "admission_date", "discharge_date",
    "diagnosis_code", "total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid",
    "assistance_paid", "referral_compliant", "in_province",
)
# The national platform's settlement record (结算信息 setlinfo), exactly as it exports it.
PLATFORM_COLUMNS = (
    "setl_id", "mdtrt_id", "psn_no", "psn_name", "certno", "insutype", "psn_type", "setl_time", "begndate",
    "enddate", "med_type", "fixmedins_code", "fixmedins_name", "medfee_sumamt", "inscp_scp_amt", "hifp_pay",
    "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "psn_part_amt", "hosp_part_amt",
)
# Platform fields that ARE one of ours (the rest are kept on the bill's SettlementRecord).
PLATFORM_TO_OURS = {
    "setl_id": "settlement_no", "fixmedins_code": "institution_code", "certno": "id_number",
    "begndate": "admission_date", "enddate": "discharge_date", "medfee_sumamt": "total_cost",
    "inscp_scp_amt": "policy_scope_cost", "hifp_pay": "basic_paid", "hifmi_pay": "critical_paid",
    "maf_pay": "assistance_paid",
}
# 其他支付 from the platform: 公务员医疗补助 + 企业补充 + 职工大额 + 其他.
PLATFORM_OTHER_FUNDS = ("cvlserv_pay", "hifes_pay", "hifob_pay", "oth_pay")
PLATFORM_EXTRA_MONEY = (*PLATFORM_OTHER_FUNDS, "psn_part_amt", "hosp_part_amt")
CHINESE_HEADERS = {
    "结算单号": "settlement_no", "结算ID": "settlement_no", "结算id": "settlement_no",
    "定点医药机构编码": "institution_code", "机构编码": "institution_code",
    "身份证号": "id_number", "身份证号码": "id_number", "证件号码": "id_number", "公民身份号码": "id_number",
    "就诊类型": "visit_type", "入院日期": "admission_date", "入院/就诊日期": "admission_date", "开始日期": "admission_date",
    "出院日期": "discharge_date", "出院/结算日期": "discharge_date", "结束日期": "discharge_date",
    "诊断编码": "diagnosis_code", "医疗总费用": "total_cost", "医疗费总额": "total_cost",
    "政策范围内费用": "policy_scope_cost", "符合政策范围金额": "policy_scope_cost",
    "基本医保支付": "basic_paid", "基本医疗保险统筹基金支出": "basic_paid", "统筹基金支出": "basic_paid",
    "大病保险支付": "critical_paid", "大病补充医疗保险基金支出": "critical_paid", "其他支付": "other_paid",
    "医疗救助已支付": "assistance_paid", "医疗救助基金支出": "assistance_paid", "医院已结算救助金额": "assistance_paid",
    "按规定转诊": "referral_compliant", "省内就医": "in_province",
    "就诊ID": "mdtrt_id", "就诊id": "mdtrt_id", "人员编号": "psn_no", "姓名": "psn_name", "人员姓名": "psn_name",
    "险种类型": "insutype", "人员类别": "psn_type", "结算时间": "setl_time", "医疗类别": "med_type",
    "定点医药机构名称": "fixmedins_name", "机构名称": "fixmedins_name",
    "公务员医疗补助资金支出": "cvlserv_pay", "企业补充医疗保险基金支出": "hifes_pay",
    "职工大额医疗费用补助基金支出": "hifob_pay", "其他支出": "oth_pay", "其他基金支付": "oth_pay",
    "个人负担总金额": "psn_part_amt", "医院负担金额": "hosp_part_amt",
}
HEADER_ALIASES = {
    **{c: c for c in COLUMNS},
    **{c: PLATFORM_TO_OURS.get(c, c) for c in PLATFORM_COLUMNS},
    **{c.upper(): PLATFORM_TO_OURS.get(c, c) for c in PLATFORM_COLUMNS},
    **CHINESE_HEADERS,
    # optional ICD-10 diagnosis (the 按病种 report): the platform's 病种/诊断编码 field and its headers
    "dise_codg": "diagnosis_code", "DISE_CODG": "diagnosis_code", "病种编码": "diagnosis_code",
    "主要诊断编码": "diagnosis_code", "疾病诊断编码": "diagnosis_code",
}
REQUIRED = ("settlement_no", "institution_code", "id_number", "total_cost", "policy_scope_cost", "admission_date")
MONEY_COLUMNS = ("total_cost", "policy_scope_cost", "basic_paid", "critical_paid", "other_paid")
# POLICY.md §1 amounts are DecimalField(max_digits=14, decimal_places=2): below 10^12 yuan.
MONEY_LIMIT = Decimal("1000000000000")
TRUE = {"1", "true", "t", "yes", "y", "是", "√"}
FALSE = {"0", "false", "f", "no", "n", "否", ""}
VISIT_LABELS = {str(label): value for value, label in VisitType.choices}
# 医疗类别 med_type (national code table) → our visit type. Local codes: settings.SETTLEMENT_LOCAL_MED_TYPES
# ({"9901": "inpatient", ...}) adds to or overrides these.
MED_TYPES = {
    "11": VisitType.OUTPATIENT,            # 普通门诊
    "12": VisitType.OUTPATIENT,            # 门诊挂号
    "13": VisitType.OUTPATIENT,            # 急诊
    "14": VisitType.OUTPATIENT_SPECIAL,    # 门诊慢特病
    "21": VisitType.INPATIENT,             # 普通住院
    "22": VisitType.INPATIENT,             # 外伤住院
    "23": VisitType.INPATIENT,             # 转外诊治住院
    "24": VisitType.INPATIENT,             # 急诊转住院
    "51": VisitType.MATERNITY,             # 生育门诊
    "52": VisitType.MATERNITY,             # 生育住院
}
# 险种类型 insutype (national code table).
INSUTYPES = {
    "310": "职工基本医疗保险", "320": "公务员医疗补助", "330": "大额医疗费用补助", "340": "离休人员医疗保障",
    "350": "一至六级残疾军人医疗补助", "360": "老红军医疗保障", "370": "企业补充医疗保险",
    "380": "新型农村合作医疗", "390": "城乡居民基本医疗保险", "391": "城镇居民基本医疗保险",
    "392": "城乡居民大病医疗保险", "399": "其他特殊人员医疗保障", "410": "长期照护保险", "510": "生育保险",
}
COMPARED = ("visit_type", "admission_date", "discharge_date", "diagnosis_code", *MONEY_COLUMNS,
            "hospital_assistance_paid", "referral_compliant", "in_province")
CENT = Decimal("0.01")
# Person-years per call of the recalculation core (a file's are one call up to this many).
RECOMPUTE_CHUNK = 20_000


def med_types() -> dict[str, str]:
    from django.conf import settings

    return {**MED_TYPES, **{str(k): str(v) for k, v in getattr(settings, "SETTLEMENT_LOCAL_MED_TYPES", {}).items()}}


class SettlementFileError(ValueError):
    """The file as a whole cannot be read (format, header)."""


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def as_text(self) -> str:
        return f"row {self.line}: {self.field}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


RowNote = RowError  # same shape (line, field, message); a note does not reject the row


@dataclass
class Difference:
    line: int
    settlement_no: str
    bill_id: int
    computed: Decimal
    paid: Decimal

    def as_text(self) -> str:
        return f"difference row {self.line}: {self.settlement_no}: engine {self.computed}, paid {self.paid}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "settlement_no": self.settlement_no, "bill_id": self.bill_id,
                "computed": str(self.computed), "paid": str(self.paid), "difference": str(self.computed - self.paid)}


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    # rows for people not yet registered (kept: registered as non-beneficiaries), and one note each
    unregistered: int = 0
    persons_registered: int = 0
    notes: list[RowNote] = field(default_factory=list)
    dry_run: bool = False
    # False when rows were rejected and the caller did not confirm applying the good ones:
    # then nothing was written (counts say what WOULD have been created).
    applied: bool = True

    def counts_line(self) -> str:
        return (f"created {self.created}, unchanged {self.unchanged}, rejected {self.rejected}, "
                f"differences {len(self.differences)}")


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------


def read_rows(data: bytes, file_name: str) -> list[tuple[int, dict[str, Any]]]:
    """``[(line, {column: cell})]`` for the data rows, columns under OUR names.

    The header may use our column names, the platform's setlinfo field names or Chinese
    headers (:data:`HEADER_ALIASES`), in any order; the file may be UTF-8 (± BOM), GB18030 or
    XLSX (organizations.tabular). ``row["_headers"]`` maps our names back to the file's.
    """
    try:
        lines = tabular.file_lines(data, file_name)
        expected = _("%(ours)s；或国家医保信息平台结算信息字段 %(platform)s") % {
            "ours": ",".join(COLUMNS), "platform": ",".join(PLATFORM_COLUMNS)}
        rows = list(tabular.rows_of(lines, HEADER_ALIASES, REQUIRED, expected=expected))
    except tabular.TabularFileError as exc:
        raise SettlementFileError(str(exc)) from None
    if rows:
        keys = set(rows[0][1])
        if "visit_type" not in keys and "med_type" not in keys:
            raise SettlementFileError(_("表头缺少列：visit_type 或 med_type（就诊类型/医疗类别）"))
        if "discharge_date" not in keys and "setl_time" not in keys:
            raise SettlementFileError(_("表头缺少列：discharge_date 或 enddate（出院/结算日期）"))
    return rows


def header_names(data: bytes, file_name: str) -> dict[str, str]:
    """Our column name → the header text the file used (for naming fields in row errors)."""
    try:
        for _line, cells in tabular.file_lines(data, file_name):
            if any(tabular.cell_text(c) for c in cells):
                names: dict[str, str] = {}
                for cell in cells:
                    key = tabular.header_key(cell)
                    ours = HEADER_ALIASES.get(key) or HEADER_ALIASES.get(key.lower())
                    if ours:
                        names.setdefault(ours, key)
                return names
    except tabular.TabularFileError:
        return {}
    return {}


# ------------------------------------------------------------------------------------------
# Parsing one row
# ------------------------------------------------------------------------------------------


class _RowInvalid(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message


def _text(value: Any) -> str:
    return tabular.cell_text(value)


def _money(row: dict[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    raw = row.get(name)
    text = _text(raw)
    if text == "":
        if required:
            raise _RowInvalid(name, _("必填"))
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise _RowInvalid(name, _("不是有效金额：%(v)s") % {"v": text[:40]}) from None
    if not value.is_finite():
        raise _RowInvalid(name, _("不是有效金额：%(v)s") % {"v": text[:40]})
    if value != value.quantize(CENT):
        raise _RowInvalid(name, _("金额最多两位小数：%(v)s") % {"v": text[:40]})
    if value < 0:
        raise _RowInvalid(name, _("金额不能为负数"))
    if value >= MONEY_LIMIT:
        raise _RowInvalid(name, _("金额超出上限（须小于 1,000,000,000,000 元）：%(v)s") % {"v": text[:40]})
    return value.quantize(CENT)


def _day(row: dict[str, Any], name: str) -> date:
    raw = row.get(name)
    try:
        value = tabular.parse_date(raw)
    except (ValueError, OverflowError):
        value = None
        bad = True
    else:
        bad = False
    if value is None and not bad:
        raise _RowInvalid(name, _("必填"))
    if value is None:
        raise _RowInvalid(name, _("日期格式应为 2023-01-31、2023/1/31 或 20230131：%(v)s") % {"v": _text(raw)[:40]})
    return value


def _moment(row: dict[str, Any], name: str) -> datetime | None:
    """setl_time: a date with an optional time, as local time."""
    raw = row.get(name)
    text = _text(raw)
    if not text:
        return None
    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(text.replace("/", "-")) if ("-" in text or "/" in text) and len(text) > 10 \
                else datetime.combine(tabular.parse_date(raw) or date.min, datetime.min.time())
        except (ValueError, OverflowError, TypeError):
            raise _RowInvalid(name, _("时间格式应为 2023-01-31 10:30:00：%(v)s") % {"v": text[:40]}) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _flag(row: dict[str, Any], name: str) -> bool:
    raw = row.get(name)
    if isinstance(raw, bool):
        return raw
    text = _text(raw).lower()
    if text in TRUE:
        return True
    if text in FALSE and text:
        return False
    raise _RowInvalid(name, _("应为 1/0、是/否 或 true/false：%(v)s") % {"v": text[:40]})


def _visit_type(row: dict[str, Any], codes: dict[str, str]) -> str:
    visit_raw = _text(row.get("visit_type"))
    if visit_raw:
        visit = visit_raw if visit_raw in VisitType.values else VISIT_LABELS.get(visit_raw)
        if visit is None:
            raise _RowInvalid("visit_type", _("应为 %(v)s 之一") % {"v": ", ".join(VisitType.values)})
        return visit
    med = _text(row.get("med_type"))
    if not med:
        raise _RowInvalid("med_type", _("必填"))
    visit = codes.get(med)
    if visit is None or visit not in VisitType.values:
        raise _RowInvalid("med_type", _("未配置的医疗类别代码：%(v)s（可在 SETTLEMENT_LOCAL_MED_TYPES 中配置本地代码）") % {"v": med[:20]})
    return visit


def parse_settlement(row: dict[str, Any], institutions: dict[str, Institution], persons: dict[str, Person],
                     codes: dict[str, str] | None = None, *, allow_unregistered: bool = False) -> dict[str, Any]:
    """One row (our column names) → Bill field values, plus ``_person``, ``_institution`` and
    ``_platform`` (the SettlementRecord fields, or None for a file in our own columns).
    Raises :class:`_RowInvalid` naming the first bad field; shared by the file import and the API.

    ``allow_unregistered``: a valid ID number not in ``persons`` is not an error; ``_person`` is
    then None and ``_new_person`` = (number, name from the row) for the caller to register as a
    non-beneficiary (POLICY.md §9). The name is then required: it is all the office will know."""
    for name, value in row.items():
        if textinput.has_control_characters(value):
            raise _RowInvalid(name, _("“%(field)s”含有控制字符（如NUL）") % {"field": name})
    codes = codes if codes is not None else med_types()
    settlement_no = _text(row.get("settlement_no"))
    if not settlement_no:
        raise _RowInvalid("settlement_no", _("必填"))
    if len(settlement_no) > 50:
        raise _RowInvalid("settlement_no", _("最多50个字符"))
    code = _text(row.get("institution_code"))
    institution = institutions.get(code)
    if institution is None:
        raise _RowInvalid("institution_code", _("未知的定点医药机构编码：%(v)s") % {"v": code[:40]})
    raw_id = _text(row.get("id_number"))
    try:
        number = idnumber.parse(raw_id).number
    except idnumber.IdNumberError as exc:
        raise _RowInvalid("id_number", str(exc.message)) from None
    person = persons.get(number)
    name = _text(row.get("psn_name"))
    new_person = None
    if person is None:
        if not allow_unregistered:
            raise _RowInvalid("id_number", _("该身份证号未登记为救助对象（%(v)s）") % {"v": idnumber.mask(number)})
        if not name:
            raise _RowInvalid("psn_name", _("该身份证号尚未登记，须填写姓名以登记为非救助对象"))
        if len(name) > 50:
            raise _RowInvalid("psn_name", _("最多%(n)s个字符") % {"n": 50})
        new_person = (number, name)
    elif name and name != person.name:
        raise _RowInvalid("psn_name", _("姓名与登记的不一致"))
    visit = _visit_type(row, codes)
    setl_time = _moment(row, "setl_time") if "setl_time" in row else None
    if _text(row.get("discharge_date")) or setl_time is None:
        discharge = _day(row, "discharge_date")
    else:
        discharge = timezone.localtime(setl_time).date()
    data: dict[str, Any] = {
        "settlement_no": settlement_no,
        "visit_type": visit,
        "admission_date": _day(row, "admission_date"),
        "discharge_date": discharge,
        "diagnosis_code": _text(row.get("diagnosis_code"))[:20],
    }
    platform = any(k in row for k in ("med_type", "insutype", "mdtrt_id", "psn_no", *PLATFORM_EXTRA_MONEY))
    extra: dict[str, Any] = {}
    if platform:
        for money in PLATFORM_EXTRA_MONEY:
            extra[money] = _money(row, money, required=False)
        for key in PLATFORM_OTHER_FUNDS:
            extra[key] = extra[key] or Decimal("0.00")
    for money in MONEY_COLUMNS:
        value = _money(row, money, required=money in ("total_cost", "policy_scope_cost"))
        if value is None and money == "other_paid" and platform:
            value = sum((extra[k] for k in PLATFORM_OTHER_FUNDS), Decimal("0.00"))
            if value >= MONEY_LIMIT:
                raise _RowInvalid("oth_pay", _("金额超出上限（须小于 1,000,000,000,000 元）：%(v)s") % {"v": value})
        data[money] = value if value is not None else Decimal("0.00")
    data["hospital_assistance_paid"] = _money(row, "assistance_paid", required=False)
    data["referral_compliant"] = _flag(row, "referral_compliant") if _text(row.get("referral_compliant")) else True
    data["in_province"] = _flag(row, "in_province") if _text(row.get("in_province")) else institution.in_province
    if platform:
        insutype = _text(row.get("insutype"))
        if insutype and insutype not in INSUTYPES:
            raise _RowInvalid("insutype", _("未知的险种类型代码：%(v)s") % {"v": insutype[:20]})
        for key, limit in (("mdtrt_id", 50), ("psn_no", 50), ("psn_type", 10), ("med_type", 10),
                           ("fixmedins_name", 200)):
            value = _text(row.get(key))
            if len(value) > limit:
                raise _RowInvalid(key, _("最多%(n)s个字符") % {"n": limit})
            extra[key] = value
        extra.update(insutype=insutype, setl_time=setl_time, setl_id=settlement_no)
    from .services import bill_validate

    try:
        bill_validate(data)
    except ValidationError as exc:
        field_name, errors = next(iter(exc.error_dict.items()))
        column = "assistance_paid" if field_name == "hospital_assistance_paid" else field_name
        raise _RowInvalid(column, errors[0].messages[0]) from None
    data["_person"] = person
    data["_new_person"] = new_person
    data["_institution"] = institution
    data["_platform"] = extra or None
    return data


_parse = parse_settlement


# ------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------


def insurance_of(extra: dict[str, Any] | None) -> str:
    """参保类型 of a person first seen in a settlement: from the platform's 险种类型 when it says so."""
    from beneficiaries.models import InsuranceType

    insutype = (extra or {}).get("insutype") or ""
    return InsuranceType.EMPLOYEE if insutype == "310" else InsuranceType.RESIDENT


def new_person_district(number: str, institution: Institution, district_ids: set[int] | None,
                        districts: dict[str, Any]) -> Any:
    """户籍区县 of a person first seen in a settlement: the importing office's district (a district
    office's upload); for a city-level upload or the command, the ID number's district if known,
    else the institution's. ``districts``: {"by_pk": {...}, "by_code": {...}} (read once)."""
    by_pk, by_code = districts["by_pk"], districts["by_code"]
    if district_ids is not None and len(district_ids) == 1:
        only = by_pk.get(next(iter(district_ids)))
        if only is not None:
            return only
    for candidate in (by_code.get(number[:6]), by_pk.get(institution.district_id)):
        if candidate is not None and (district_ids is None or candidate.pk in district_ids):
            return candidate
    raise _RowInvalid("id_number", _("该人员不属于本区县经办范围"))


def _register_unregistered(to_register: dict[str, tuple[str, Any, str]], persons: dict[str, Person],
                           district_ids: set[int] | None, by) -> dict[str, Person]:
    """Register the chunk's new people as non-beneficiaries and add them to ``persons``; returns
    those registered here. If a concurrent import or API post registered some first (the unique
    keyed hash refuses ours), theirs are used — when in this office's districts — and the rest
    registered: the file goes on instead of failing."""
    from beneficiaries.models import RegistrationSource
    from beneficiaries.services import non_beneficiaries_register

    try:
        with transaction.atomic():
            registered = non_beneficiaries_register(people=to_register, source=RegistrationSource.SETTLEMENT_FILE,
                                                    by=by)
    except IntegrityError:
        for found in Person.objects.filter(id_number__in=list(to_register)):
            if district_ids is None or found.hukou_district_id in district_ids:
                persons[found.id_number] = found
        found_numbers = {p.id_number for p in Person.objects.filter(id_number__in=list(to_register))}
        rest = {n: v for n, v in to_register.items() if n not in found_numbers}
        registered = non_beneficiaries_register(people=rest, source=RegistrationSource.SETTLEMENT_FILE, by=by)
    persons.update(registered)
    return registered


def unregistered_note(number: str) -> str:
    return _("尚未登记的人员（%(v)s）：登记为非救助对象，本条结算救助金额为0") % {"v": idnumber.mask(number)}


class ImportCancelled(Exception):
    """Raised from a progress callback when the user cancelled: the import's transaction rolls back."""


def _create_bills(new: list[Bill], lines: list[int], report: ImportReport, field_of) -> list[tuple[Bill, int]]:
    """bulk_create ``new``; if the database refuses the chunk, fall back to one row per savepoint
    so the refused row becomes a row error and the others go on (one bad row never kills a file)."""
    try:
        with transaction.atomic():
            created = Bill.objects.bulk_create(new, batch_size=1000)
        return list(zip(created, lines, strict=True))
    except DatabaseError:
        pass
    kept: list[tuple[Bill, int]] = []
    for bill, line in zip(new, lines, strict=True):
        try:
            with transaction.atomic():
                bill.save(force_insert=True)
            kept.append((bill, line))
        except DatabaseError as exc:
            bill.pk = None
            report.errors.append(RowError(line, field_of("settlement_no"),
                                          _("数据库拒绝此行（%(err)s）") % {"err": type(exc).__name__}))
    return kept


# The columns an existing bill is compared on (an unchanged row) and what deciding that needs.
EXISTING_FIELDS = ("id", "person", "institution", "settlement_no", "computed_at", *COMPARED)


def _existing_bills(parsed: list[tuple[int, dict[str, Any]]]) -> dict[tuple[int, str], Bill]:
    """The bills already imported under the chunk's (institution, settlement number) pairs: ONE
    query (each institution's numbers on the unique index), only the compared columns (not the
    explanation JSON)."""
    by_inst: dict[int, list[str]] = {}
    for _line, item in parsed:
        by_inst.setdefault(item["_institution"].pk, []).append(item["settlement_no"])
    if not by_inst:
        return {}
    condition = Q()
    for inst_id, nos in by_inst.items():
        condition |= Q(institution_id=inst_id, settlement_no__in=nos)
    return {(bill.institution_id, bill.settlement_no): bill
            for bill in Bill.objects.filter(condition).order_by().only(*EXISTING_FIELDS)}


def _write_bills(new: list[Bill], lines: list[int], touched: set[tuple[int, int]], report: ImportReport,
                 field_of) -> list[tuple[Bill, int]]:
    """Write the file's new bills and recompute their person-years (and ``touched``) through the
    core, in ONE call (claims.services; issue 20).

    PostgreSQL: the figures are computed before the insert and each bill is inserted once with
    them (``claims.services.bills_create_computed``: no INSERT-then-UPDATE). If the database
    refuses that insert, or elsewhere (SQLite), the bills are inserted first (one bad row becomes
    a row error, :func:`_create_bills`) and then recomputed. The figures are the same either way.
    """
    from django.db import connection

    from .services import PolicyCache, bills_create_computed, recompute_person_years

    cache = PolicyCache()
    if new and connection.vendor == "postgresql":
        pairs = touched | {(bill.person_id, bill.discharge_date.year) for bill in new}
        if bills_create_computed(bills=new, person_years=pairs, cache=cache) is not None:
            return list(zip(new, lines, strict=True))
    created = _create_bills(new, lines, report, field_of)
    pairs = touched | {(bill.person_id, bill.discharge_date.year) for bill, _line in created}
    if pairs:
        recompute_person_years(person_years=pairs, cache=cache, chunk=RECOMPUTE_CHUNK)
    return created


def import_settlements(*, data: bytes, file_name: str, by=None, dry_run: bool = False,
                       district_ids: set[int] | None = None, apply_good_rows: bool = False,
                       progress: Callable[[int, int], None] | None = None, chunk: int = 2000,
                       import_job=None) -> ImportReport:
    """Validate and (unless ``dry_run``) apply a settlement file; see the module docstring.

    ``district_ids``: the uploader's districts (None = no restriction); a person registered
    elsewhere is a rejected row. ``progress(done, total)`` is called after every chunk (it may
    raise :class:`ImportCancelled`). When rows are rejected nothing is written unless
    ``apply_good_rows`` (the user confirmed applying the good rows): the report then says
    ``applied=False`` with the counts the good rows would have had.
    ``by``: the uploader, who must hold ``claims.import``; None only for the management command.
    """
    if by is not None:
        from organizations.permissions import require

        require(by, "claims.import", scoped=False)  # rows outside ``district_ids`` are rejected
    rows = read_rows(data, file_name)
    names = header_names(data, file_name)

    def field_of(name: str) -> str:
        return names.get(name, name)

    report = ImportReport(total=len(rows), dry_run=dry_run)
    institutions = {i.code: i for i in Institution.objects.all()}
    codes = med_types()
    numbers = set()
    for _line, row in rows:
        try:
            numbers.add(idnumber.normalise(_text(row.get("id_number"))))
        except Exception:  # noqa: BLE001, S112 - reported per row in _parse
            continue
    persons: dict[str, Person] = {}
    number_list = sorted(numbers)
    for start in range(0, len(number_list), 5000):
        for p in Person.objects.filter(id_number__in=number_list[start:start + 5000]):
            persons[p.id_number] = p

    from organizations.models import District

    all_districts = list(District.objects.all())
    districts = {"by_pk": {d.pk: d for d in all_districts}, "by_code": {d.code: d for d in all_districts}}
    touched: set[tuple[int, int]] = set()
    line_of: dict[int, int] = {}  # bill id -> file line (for the differences list)
    new_numbers: set[str] = set()  # people this file registered (as non-beneficiaries)
    new_names: dict[str, str] = {}  # number -> the name the first row gave
    all_new: list[Bill] = []  # the file's new bills, written at the end (once, with their figures)
    all_lines: list[int] = []
    all_platform: dict[int, dict[str, Any]] = {}
    with transaction.atomic():
        seen: set[tuple[int, str]] = set()
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            parsed: list[tuple[int, dict[str, Any]]] = []
            for line, row in part:
                try:
                    item = parse_settlement(row, institutions, persons, codes, allow_unregistered=True)
                    if item["_person"] is None:
                        number, name = item["_new_person"]
                        item["_district"] = new_person_district(number, item["_institution"], district_ids, districts)
                        if new_names.get(number, name) != name:
                            raise _RowInvalid("psn_name", _("姓名与本文件前面行的“%(n)s”不一致") % {"n": new_names[number]})
                    elif district_ids is not None and item["_person"].hukou_district_id not in district_ids:
                        raise _RowInvalid("id_number", _("该人员不属于本区县经办范围"))
                    key = (item["_institution"].pk, item["settlement_no"])
                    if key in seen:
                        raise _RowInvalid("settlement_no", _("文件中重复的结算单号"))
                    seen.add(key)
                    if item["_person"] is None:
                        new_names.setdefault(*item["_new_person"])
                    parsed.append((line, item))
                except _RowInvalid as exc:
                    report.errors.append(RowError(line, field_of(exc.field), exc.message))
            existing = _existing_bills(parsed)
            new: list[Bill] = []
            new_lines: list[int] = []
            platform_of: dict[int, dict[str, Any]] = {}
            accepted: list[tuple[int, dict[str, Any], Person | None, str, Institution, dict[str, Any] | None]] = []
            to_register: dict[str, tuple[str, Any, str]] = {}
            for line, item in parsed:
                person, institution = item.pop("_person"), item.pop("_institution")
                new_person, district = item.pop("_new_person"), item.pop("_district", None)
                extra = item.pop("_platform")
                found = existing.get((institution.pk, item["settlement_no"]))
                if found is not None:
                    if person is not None and found.person_id == person.pk \
                            and all(getattr(found, k) == item[k] for k in COMPARED):
                        report.unchanged += 1
                        line_of[found.pk] = line
                        # issue 20: an unchanged row whose bill is computed recomputes nothing (its
                        # figures, ledger and adjustment already are what its content gives; what
                        # changes around it — certifications, policies — is the nightly run's)
                        if found.hospital_assistance_paid is not None and found.computed_at is None:
                            touched.add((person.pk, found.discharge_date.year))
                    else:
                        report.errors.append(RowError(line, field_of("settlement_no"),
                                                      _("该机构的结算单号已导入且内容不同，请核实后手工更正")))
                    continue
                number = person.id_number if person is not None else new_person[0]
                if person is None and number not in persons:
                    to_register.setdefault(number, (new_person[1], district, insurance_of(extra)))
                accepted.append((line, item, person, number, institution, extra))
            # not yet registered (POLICY.md §9): registered now as non-beneficiaries, the rows kept
            if to_register:
                registered = _register_unregistered(to_register, persons, district_ids, by)
                new_numbers.update(registered)
                report.persons_registered += len(registered)
            for line, item, person, number, institution, extra in accepted:
                if person is None and number not in persons:  # registered meanwhile outside this office
                    report.errors.append(RowError(line, field_of("id_number"), _("该人员不属于本区县经办范围")))
                    continue
                if person is None or number in new_numbers:
                    person = persons[number]
                    report.unregistered += 1
                    report.notes.append(RowNote(line, field_of("id_number"), unregistered_note(number)))
                new.append(Bill(
                    person=person, district_id=person.hukou_district_id, institution=institution,
                    source=BillSource.ONE_STOP, created_by=by if getattr(by, "pk", None) else None,
                    status=BillStatus.HOSPITAL_PAID if item["hospital_assistance_paid"] is not None else BillStatus.RECORDED,
                    **item,
                ))
                new_lines.append(line)
                if extra:
                    platform_of[line] = extra
            all_new += new
            all_lines += new_lines
            all_platform.update(platform_of)
            if progress is not None:
                progress(min(start + chunk, len(rows)), len(rows) * 2)

        created = _write_bills(all_new, all_lines, touched, report, field_of)
        if progress is not None:  # the second half of the bar: bills written and recomputed (and a cancel checked)
            progress(len(rows) * 2, len(rows) * 2)
        records = []
        for bill, line in created:
            line_of[bill.pk] = line
            if line in all_platform:
                records.append(SettlementRecord(bill=bill, origin=SettlementRecord.Origin.FILE, **all_platform[line]))
        SettlementRecord.objects.bulk_create(records, batch_size=1000)
        report.created = len(created)
        report.rejected = len(report.errors)
        report.errors.sort(key=lambda e: e.line)
        report.notes.sort(key=lambda e: e.line)
        if line_of:
            ids = list(line_of)
            for start in range(0, len(ids), 5000):
                for bill_id, no, computed, paid in (
                    money.bills_recomputed(Bill.objects.filter(pk__in=ids[start:start + 5000],
                                                               hospital_assistance_paid__isnull=False))
                    .annotate(money_granted=money.granted_expr())
                    .values_list("pk", "settlement_no", "money_granted", "hospital_assistance_paid")
                ):
                    if computed != paid:
                        report.differences.append(Difference(line_of[bill_id], no, bill_id, computed, paid))
            report.differences.sort(key=lambda d: d.line)
        if report.rejected and not apply_good_rows and not dry_run:
            report.applied = False
        if dry_run or not report.applied:
            transaction.set_rollback(True)
    if report.applied and not dry_run and report.created:
        # issue 20: a file that adds a large share of the bills leaves the planner's statistics
        # current (ANALYZE; organizations.dbstats decides by share), after the commit
        from organizations.dbstats import refresh_statistics

        refresh_statistics({Bill: report.created})
    if progress is not None:
        progress(len(rows) * 2, len(rows) * 2)
    return report


def open_differences_count(bill_ids: list[int]) -> int:
    return PaymentAdjustment.objects.filter(bill_id__in=bill_ids, status=PaymentAdjustment.Status.OPEN).count()


def stamp() -> datetime:
    return timezone.now()
