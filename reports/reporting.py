"""The office's reports: each is a filter form plus a function from (user, filters) to a table.

A report never builds its own querysets from model managers: every row set starts from an
``access_*`` selector in :mod:`reports.selectors`, so a district user only ever counts their
district. One :class:`ReportTable` feeds the HTML page (with a Chart.js chart), the CSV/XLSX
export and the printed PDF (with the same chart drawn as SVG).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import aggregate, selectors

# relief on application: 因病致贫重病患者 (POLICY.md §4), rows of their own in the fund report
from .aggregate import RELIEF_CATEGORY, RELIEF_VISIT_CLASS  # noqa: F401

ZERO = Decimal("0.00")
MONEY_FIELD = DecimalField(max_digits=16, decimal_places=2)
COMPACT_SLACK = 2000  # delta rows beyond 2 per line before the fund report folds its year (aggregate.compact)
OOP_LIMIT = Decimal("0.10")  # Wuxi (七): personal self-pay within 10% of 政策范围内住院总费用
# Wuxi (七) "县域内定点医疗机构": county hospitals and township health centres (一级/基层).
COUNTY_AREA_LEVELS = frozenset({"county", "primary"})


@dataclass
class Column:
    key: str
    label: str
    kind: str = "text"  # text | money | int | percent | flag


@dataclass
class ReportTable:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    chart: dict[str, Any] | None = None  # {"type", "labels", "datasets": [{"label", "data"}], "unit"}
    filters_text: str = ""
    notes: list[str] = field(default_factory=list)
    period: str = ""  # 统计期, printed in the header of screen, XLSX and PDF
    unit: str = "元"  # 计量单位 of the money columns (in_unit)
    empty_message: str = ""


# ------------------------------------------------------------------------------------------
# Filter forms
# ------------------------------------------------------------------------------------------


def _year_choices() -> list[tuple[int, int]]:
    this = timezone.localdate().year
    return [(y, y) for y in range(this, this - 8, -1)]


UNITS = {"yuan": (Decimal("1"), gettext_lazy("元")), "wan": (Decimal("10000"), gettext_lazy("万元"))}


class ScopedForm(forms.Form):
    district = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("区县"), empty_label=gettext_lazy("全部（本人权限范围）"))
    unit = forms.ChoiceField(label=gettext_lazy("计量单位"), required=False, choices=[(k, v[1]) for k, v in UNITS.items()])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["district"].queryset = selectors.districts_in_scope(user)


class YearMonthForm(ScopedForm):
    year = forms.TypedChoiceField(label=gettext_lazy("年度"), coerce=int, choices=_year_choices)
    month = forms.TypedChoiceField(
        label=gettext_lazy("月份"), coerce=int, required=False, empty_value=None,
        choices=[("", gettext_lazy("全年"))] + [(m, f"{m}") for m in range(1, 13)],
    )


class PeriodForm(ScopedForm):
    date_from = forms.DateField(label=gettext_lazy("起始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("截止日期"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", forms.ValidationError(_("截止日期不能早于起始日期。"), code="period_reversed"))
        return data


class YearForm(ScopedForm):
    year = forms.TypedChoiceField(label=gettext_lazy("年度"), coerce=int, choices=_year_choices)


def _default_period() -> dict[str, Any]:
    today = timezone.localdate()
    return {"date_from": date(today.year, 1, 1), "date_to": today}


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    return (value or ZERO).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _district_filter(qs, data: dict[str, Any], path: str):
    district = data.get("district")
    return qs.filter(**{f"{path}_id": district.pk}) if district else qs


def _district_text(data: dict[str, Any]) -> str:
    district = data.get("district")
    return str(district) if district else _("权限范围内全部区县")


def _category_names() -> dict[str, str]:
    from beneficiaries.models import Category

    return dict(Category.objects.values_list("code", "name"))


# ------------------------------------------------------------------------------------------
# (1) Monthly fund expenditure
# ------------------------------------------------------------------------------------------


def _people_scope(user, data: dict[str, Any]) -> tuple[Any, str | None, int | None]:
    """Which units of the people level (``reports.aggregate.GRAINS``) the fund report reads for
    this user and filter: (district ids of the lines — a list, a lazy queryset, or None for all;
    the 合计's unit kind; its unit id, None for none). One unit always: a region's or everyone's
    people are not the sum of its districts' (a person can have bills handled in two districts in
    one year)."""
    from organizations.access import scope_for

    scope = scope_for(user)
    district = data.get("district")
    if scope.nothing:
        return [], "district", None
    if district is not None:  # the form offers only districts in scope
        return [district.pk], "district", district.pk
    if scope.everything:
        return None, "all", 0
    if scope.district_id is not None:
        return [scope.district_id], "district", scope.district_id
    if scope.region_id is not None:
        from organizations.models import District

        return District.objects.filter(region_id=scope.region_id).values("pk"), "region", scope.region_id
    return [], None, None


def fund_expenditure(user, data: dict[str, Any]) -> ReportTable:
    """医疗救助基金支出月报: district × category × visit class, month and year to date, with
    救助人次 (bills; one per granted application) and 救助人数 (distinct people), amount and 次均.

    Amount = what was *granted* (``claims.money``): bills of one-stop settlement and of approved
    or paid claims (never a rejected, returned or pending claim's suggestion), by discharge month,
    plus the relief on application granted (approved applications), by decision month, as rows of
    their own (就诊类别 “依申请救助”). Category and visit class are the ones the engine chose
    (``computation["category"]``/``["visit_class"]``), falling back to the bill's visit type when
    the engine recorded no class. 人数 of the 合计 row counts each person once (not the rows' sum).
    """
    from claims.models import VisitType
    from organizations.models import District

    year = data["year"]
    month = data.get("month")
    last_month = month or 12
    # The pre-aggregate (reports.aggregate, kept current by the transactions that change money):
    # amounts, bills and each month's people from the district level (a few rows per district
    # line and month); distinct people over the months and in the 合计 from the person level.
    months = _district_filter(selectors.access_report_fund_months(user), data, "district").filter(
        year=year, month__lte=last_month, bills__gt=0)
    lines = _district_filter(selectors.access_report_fund_districts(user), data, "district").filter(
        year=year, month__lte=last_month)
    # grouped by district id (no join before the aggregate); names from one small query
    key_fields = ("district_id", "category", "visit_class", "visit_type")
    names = dict(District.objects.values_list("pk", "name"))
    grouped, delta_rows = [], 0
    for g in lines.values(*key_fields, "month").annotate(
            fen=Sum("amount_fen"), n=Sum("bills"), persons=Sum("people"), rows=Count("id")).order_by():
        delta_rows += g["rows"]
        if g["n"] > 0:
            grouped.append({
                "district__name": names.get(g["district_id"], ""), "r_category": g["category"],
                "r_visit_class": g["visit_class"], "visit_type": g["visit_type"], "r_month": g["month"],
                "amount": _from_fen(g["fen"]), "bills": g["n"], "persons": g["persons"]})
    if delta_rows > 2 * len(grouped) + COMPACT_SLACK:  # many writes since the last fold: fold the year
        from .aggregate import compact

        compact(year=year)
    # 救助人数 from the people level (reports.aggregate: per grain, the people whose first granted
    # month is each month): a few rows per line and month, no distinct count per request
    unit_ids, total_grain, total_unit = _people_scope(user, data)
    persons_ytd = {(names.get(unit, ""), *line): n for (unit, *line), n in aggregate.people_counts(
        grain="line_first", year=year, unit_ids=unit_ids, months=(1, last_month), by_line=True).items()}
    persons_month = {(g["district__name"], g["r_category"], g["r_visit_class"], g["visit_type"]): g["persons"]
                     for g in grouped if g["r_month"] == last_month}
    if total_grain is not None:
        ytd, month_people = aggregate.people_totals(unit=total_grain, year=year, unit_id=total_unit,
                                                    last_month=last_month) if total_unit is not None else (0, 0)
        everyone = {"ytd": ytd, "month": month_people}
    else:  # a scope the people level has no grain for: count over the person level
        everyone = months.aggregate(ytd=Count("person_id", distinct=True),
                                    month=Count("person_id", distinct=True, filter=Q(month=last_month)))
    categories = _category_names()
    visit_labels: dict[str, Any] = {**dict(VisitType.choices), RELIEF_VISIT_CLASS: _("依申请救助")}
    rows_by_key: dict[tuple, dict[str, Any]] = {}
    monthly: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * 12)
    for g in grouped:
        category = g["r_category"] or ""
        visit = g["r_visit_class"] or g["visit_type"] or ""
        key = (g["district__name"], category, visit)
        row = rows_by_key.setdefault(key, {
            "district": g["district__name"],
            "category": categories.get(category, category or _("（未识别）")),
            "visit_class": str(visit_labels.get(visit, visit)),
            "relief": visit == RELIEF_VISIT_CLASS,
            "month_amount": ZERO, "ytd_amount": ZERO, "month_bills": 0, "ytd_bills": 0,
            "month_persons": 0, "ytd_persons": 0,
        })
        source = (g["district__name"], g["r_category"], g["r_visit_class"], g["visit_type"])
        if "seen" not in row:
            row["seen"] = set()
        if source not in row["seen"]:  # one engine class may come from several (class, visit type) pairs
            row["seen"].add(source)
            row["ytd_persons"] += persons_ytd.get(source, 0)
            row["month_persons"] += persons_month.get(source, 0)
        row["ytd_amount"] += g["amount"]
        row["ytd_bills"] += g["bills"]
        if g["r_month"] == last_month:
            row["month_amount"] += g["amount"]
            row["month_bills"] += g["bills"]
        monthly[row["category"]][g["r_month"] - 1] += g["amount"]
    # relief on application after the per-bill rows of its district
    rows = sorted(rows_by_key.values(), key=lambda r: (r["district"], r["relief"], r["category"], r["visit_class"]))
    for r in rows:
        r.pop("seen", None)
        r["month_avg"] = _average(r["month_amount"], r["month_bills"])
        r["ytd_avg"] = _average(r["ytd_amount"], r["ytd_bills"])
    totals = {
        "district": _("合计"),
        "month_amount": sum((r["month_amount"] for r in rows), ZERO),
        "ytd_amount": sum((r["ytd_amount"] for r in rows), ZERO),
        "month_bills": sum(r["month_bills"] for r in rows),
        "ytd_bills": sum(r["ytd_bills"] for r in rows),
        "month_persons": everyone["month"], "ytd_persons": everyone["ytd"],
    }
    totals["month_avg"] = _average(totals["month_amount"], totals["month_bills"])
    totals["ytd_avg"] = _average(totals["ytd_amount"], totals["ytd_bills"])
    months = list(range(1, last_month + 1))
    chart = {
        "type": "bar", "stacked": True, "unit": _("元"),
        "labels": [_("%(m)s月") % {"m": m} for m in months],
        "datasets": [{"label": cat, "data": [float(v) for v in values[:last_month]]} for cat, values in sorted(monthly.items())],
    }
    return ReportTable(
        title=_("医疗救助基金支出月报"),
        columns=[
            Column("district", _("区县")), Column("category", _("救助对象类别")), Column("visit_class", _("就诊类别")),
            Column("month_bills", _("本月救助人次"), "int"), Column("month_persons", _("本月救助人数"), "int"),
            Column("month_amount", _("本月救助金额"), "money"), Column("month_avg", _("本月次均"), "money"),
            Column("ytd_bills", _("累计救助人次"), "int"), Column("ytd_persons", _("累计救助人数"), "int"),
            Column("ytd_amount", _("累计救助金额"), "money"), Column("ytd_avg", _("累计次均"), "money"),
        ],
        rows=rows, totals=totals, chart=chart,
        period=_("%(y)s年%(m)s月（累计：%(y)s年1月至%(m)s月）") % {"y": year, "m": last_month},
        filters_text=_("%(y)s年，截至%(m)s月；%(d)s；按出院（结算）日期统计，依申请救助按决定日期") % {
            "y": year, "m": last_month, "d": _district_text(data)},
        notes=[_("救助人次：结算单笔数（依申请救助每笔决定计一次）；救助人数：不重复的人数，末行总数中每人只计一次；次均 = 救助金额 ÷ 救助人次。")],
        empty_message=_("所选期间没有救助支出。"),
    )


def _from_fen(fen: int | None) -> Decimal:
    return (Decimal(fen or 0) / 100).quantize(Decimal("0.01"))


def _average(amount: Decimal, count: int) -> Decimal | None:
    return (amount / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if count else None


# ------------------------------------------------------------------------------------------
# (2) Beneficiaries by category and certifying agency
# ------------------------------------------------------------------------------------------


def beneficiaries_by_category(user, data: dict[str, Any]) -> ReportTable:
    """救助对象统计: per category and certifying agency, in force at the end of the period,
    newly certified in the period (valid_from inside it) and ended in the period (valid_until
    inside it: revocations and expiries)."""
    start, end = data["date_from"], data["date_to"]
    certs = _district_filter(selectors.access_report_certifications(user), data, "person__hukou_district")
    active_q = Q(valid_from__lte=end) & (Q(valid_until__isnull=True) | Q(valid_until__gte=end))
    grouped = (
        certs.values("category__name", "category__sort_order", "agency__name")
        .annotate(
            active=Count("person", filter=active_q, distinct=True),
            new=Count("id", filter=Q(valid_from__range=(start, end))),
            ended=Count("id", filter=Q(valid_until__range=(start, end))),
            revoked=Count("id", filter=Q(valid_until__range=(start, end), revoked_at__isnull=False)),
        )
        .filter(Q(active__gt=0) | Q(new__gt=0) | Q(ended__gt=0))
        .order_by("category__sort_order", "category__name", "agency__name")
    )
    rows = [
        {"category": g["category__name"], "agency": g["agency__name"], "active": g["active"], "new": g["new"],
         "ended": g["ended"], "revoked": g["revoked"]}
        for g in grouped
    ]
    totals = {"category": _("合计"), **{k: sum(r[k] for r in rows) for k in ("active", "new", "ended", "revoked")}}
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: {"active": 0, "new": 0, "ended": 0})
    for r in rows:
        for k in ("active", "new", "ended"):
            by_cat[r["category"]][k] += r[k]
    labels = list(by_cat)
    chart = {
        "type": "bar", "horizontal": True, "unit": _("人"), "labels": labels,
        "datasets": [
            {"label": _("期末在册"), "data": [by_cat[c]["active"] for c in labels]},
            {"label": _("本期新增"), "data": [by_cat[c]["new"] for c in labels]},
            {"label": _("本期终止"), "data": [by_cat[c]["ended"] for c in labels]},
        ],
    }
    return ReportTable(
        title=_("救助对象分类统计"),
        columns=[
            Column("category", _("救助对象类别")), Column("agency", _("认定机构")), Column("active", _("期末在册（人）"), "int"),
            Column("new", _("本期新增"), "int"), Column("ended", _("本期终止"), "int"), Column("revoked", _("其中：撤销"), "int"),
        ],
        rows=rows, totals=totals, chart=chart,
        filters_text=_("%(a)s至%(b)s；%(d)s") % {"a": start.isoformat(), "b": end.isoformat(), "d": _district_text(data)},
        notes=[_("“本期终止”含到期和撤销；一人多个身份时在每个类别各计一次。")],
        empty_message=_("所选期间没有认定记录。"),
    )


# ------------------------------------------------------------------------------------------
# (3) Premium subsidy totals
# ------------------------------------------------------------------------------------------


def premium_subsidy_totals(user, data: dict[str, Any]) -> ReportTable:
    """资助参保汇总: per category, people and subsidy amount for a year (the beneficiaries app's
    roster, evaluated by the engine; highest share wins for several identities)."""
    year = data["year"]
    regions = selectors.regions_in_scope(user)
    rows_by_cat: dict[tuple[str, str], dict[str, Any]] = {}
    notes: list[str] = []
    try:
        from beneficiaries.selectors import premium_subsidy_roster
    except ImportError:  # pragma: no cover - the beneficiaries app provides it
        premium_subsidy_roster = None
    if premium_subsidy_roster is None:
        return ReportTable(title=_("资助参保汇总"), columns=[], rows=[], empty_message=_("资助参保名单功能尚未提供。"))
    district = data.get("district")
    missing_contribution = False
    for region in regions:
        for r in premium_subsidy_roster(user=user, region=region, year=year):
            if district and r.district != district.name:
                continue
            key = (r.category_name, r.kind)
            row = rows_by_cat.setdefault(key, {
                "category": r.category_name,
                "kind": _("全额资助") if r.kind == "full" else _("定额/比例资助"),
                "share": r.share, "people": 0, "insured": 0, "amount": ZERO, "clause": r.clause, "ids": [],
            })
            row["people"] += 1
            row["ids"].append(r.person_id)
            if r.amount is None:
                missing_contribution = True
            else:
                row["amount"] += r.amount
    if missing_contribution:
        notes.append(_("部分统筹地区未录入%(y)s年居民医保个人缴费标准，相关金额按0计，请在地区统计数据中补录。") % {"y": year})
    rows = sorted(rows_by_cat.values(), key=lambda r: (-r["amount"], r["category"]))
    uninsured = _uninsured_ids([i for r in rows for i in r["ids"]])
    for r in rows:
        r["share"] = f"{(r['share'] * 100).quantize(Decimal('1'))}%"
        r["insured"] = sum(1 for i in r.pop("ids") if i not in uninsured)
        r["rate"] = _rate(r["insured"], r["people"])
    totals = {"category": _("合计"), "people": sum(r["people"] for r in rows), "amount": sum((r["amount"] for r in rows), ZERO),
              "insured": sum(r["insured"] for r in rows)}
    totals["rate"] = _rate(totals["insured"], totals["people"])
    chart = {
        "type": "doughnut", "unit": _("元"), "labels": [r["category"] for r in rows],
        "datasets": [{"label": _("资助金额"), "data": [float(r["amount"]) for r in rows]}],
    }
    return ReportTable(
        title=_("资助参保汇总"),
        columns=[
            Column("category", _("救助对象类别")), Column("kind", _("资助方式")), Column("share", _("资助比例")),
            Column("people", _("应资助人数"), "int"), Column("insured", _("已参保人数"), "int"),
            Column("rate", _("资助参保率"), "percent"), Column("amount", _("资助金额"), "money"), Column("clause", _("政策依据")),
        ],
        rows=rows, totals=totals, chart=chart, notes=notes,
        filters_text=_("%(y)s年；%(d)s") % {"y": year, "d": _district_text(data)},
        period=_("%(y)s年度") % {"y": year},
        empty_message=_("该年度没有资助参保对象，或适用政策未配置资助参保规则（如北京市资助标准由市医保局会同财政局另行确定，需在政策中配置）。"),
    )


def _uninsured_ids(person_ids: list[int]) -> set[int]:
    from beneficiaries.models import InsuranceType, Person

    out: set[int] = set()
    for start in range(0, len(person_ids), 5000):
        chunk = person_ids[start:start + 5000]
        out |= set(Person.objects.filter(pk__in=chunk, insurance_type=InsuranceType.NONE).values_list("pk", flat=True))
    return out


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if whole else None


def uninsured_beneficiaries(user, data: dict[str, Any]) -> ReportTable:
    """未参保核查: beneficiaries due a premium subsidy this year who are not insured (参保类型
    “未参保”), for the insurance agency to enrol (Ningbo's target: 资助参保率 100%)."""
    from beneficiaries.models import InsuranceType, Person
    from beneficiaries.selectors import premium_subsidy_roster

    year = data["year"]
    district = data.get("district")
    roster = [r for region in selectors.regions_in_scope(user) for r in premium_subsidy_roster(user=user, region=region, year=year)
              if not district or r.district == district.name]
    uninsured = _uninsured_ids([r.person_id for r in roster])
    hukou = dict(Person.objects.filter(pk__in=uninsured, insurance_type=InsuranceType.NONE).values_list("pk", "hukou_district__name"))
    rows = [{"name": r.name, "masked_id": r.masked_id_number, "district": hukou.get(r.person_id, r.district),
             "category": r.category_name, "kind": _("全额资助") if r.kind == "full" else _("定额/比例资助"),
             "amount": r.amount} for r in roster if r.person_id in uninsured]
    rows.sort(key=lambda r: (r["district"], r["category"], r["name"]))
    return ReportTable(
        title=_("未参保救助对象核查名单"),
        columns=[Column("name", _("姓名")), Column("masked_id", _("公民身份号码")), Column("district", _("户籍区县")),
                 Column("category", _("救助对象类别")), Column("kind", _("资助方式")), Column("amount", _("应资助金额"), "money")],
        rows=rows, totals={"name": _("合计"), "masked_id": _("%(n)s人") % {"n": len(rows)},
                           "amount": sum((r["amount"] or ZERO for r in rows), ZERO)},
        filters_text=_("%(y)s年；%(d)s") % {"y": year, "d": _district_text(data)}, period=_("%(y)s年度") % {"y": year},
        notes=[_("名单内人员应由医保经办机构协助参保，资助参保率目标为100%。身份证号已脱敏。")],
        empty_message=_("应资助人员均已参保。"),
    )


# ------------------------------------------------------------------------------------------
# Three-tier composition, by 病种, monthly beneficiary changes
# ------------------------------------------------------------------------------------------

# Institution levels as a district office reports them upward (省/市/县/乡): the product's
# levels are hospital grades, so 三级 stands for provincial, 二级 for municipal, 县级 for county and
# 一级/基层 (township health centres) for township institutions; pharmacies are shown apart.
LEVEL_TIERS = {
    "tertiary": (1, gettext_lazy("省级（三级）")), "secondary": (2, gettext_lazy("市级（二级）")),
    "county": (3, gettext_lazy("县级")), "primary": (4, gettext_lazy("乡级（一级/基层）")), "pharmacy": (5, gettext_lazy("定点药店")),
}


class ThreeTierForm(PeriodForm):
    by = forms.ChoiceField(label=gettext_lazy("分组"), choices=[("category", gettext_lazy("按对象类别")), ("level", gettext_lazy("按医疗机构级别"))],
                           required=False)


TIER_PARTS = ("basic", "critical", "assistance", "other", "self_pay")


def _whole_months(start: date, end: date) -> bool:
    """Whether ``start``..``end`` (both included) is whole calendar months."""
    return start.day == 1 and (end + timedelta(days=1)).day == 1


def _months_q(start: date, end: date) -> Q:
    """Pre-aggregate rows (year, month) from ``start``'s month to ``end``'s, both included."""
    return ((Q(year__gt=start.year) | Q(year=start.year, month__gte=start.month))
            & (Q(year__lt=end.year) | Q(year=end.year, month__lte=end.month)))


def _three_tier_by_category_from_aggregate(user, data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The three-tier groups by category for whole months, from the fund pre-aggregate
    (``reports.aggregate``: the same bills as the scan, ``claims.money.bills_for_report``, by
    discharge month; relief on application's rows left out): amounts and stays from the district
    level, distinct people per category and in all from the person level. Returns the groups (as
    the scan's ``values().annotate()`` gives them, money in 元) and the people in all."""
    months = _months_q(data["date_from"], data["date_to"])
    lines = _district_filter(selectors.access_report_fund_districts(user), data, "district").filter(months).exclude(
        visit_class=RELIEF_VISIT_CLASS)
    people = _district_filter(selectors.access_report_fund_months(user), data, "district").filter(
        months, bills__gt=0).exclude(visit_class=RELIEF_VISIT_CLASS)
    persons = dict(people.values_list("category").annotate(n=Count("person_id", distinct=True)).order_by())
    grouped = []
    for g in lines.values("category").annotate(
            stays=Sum("bills"), assistance=Sum("amount_fen"), total=Sum("total_fen"), scope=Sum("scope_fen"),
            basic=Sum("basic_fen"), critical=Sum("critical_fen"), other=Sum("other_fen")).order_by():
        if g["stays"] > 0:
            grouped.append({"r_group": g["category"], "stays": g["stays"], "persons": persons.get(g["category"], 0),
                            **{k: _from_fen(g[k]) for k in ("total", "scope", "basic", "critical", "other", "assistance")}})
    return grouped, people.aggregate(n=Count("person_id", distinct=True))["n"]


def three_tier(user, data: dict[str, Any]) -> ReportTable:
    """三重制度保障构成: of the bills with assistance granted (``claims.money``) discharged in the
    period, 总费用 split into 基本医保 + 大病保险 + 医疗救助 + 其他 + 个人自付, by category or by
    institution level. 医疗救助 is the granted figure, so its 合计 equals the fund report's per-bill
    spending of the same period (relief on application is not per bill and is not in this table).

    By category over whole calendar months (1st of a month to the last day of a month) the figures
    come from the fund pre-aggregate (issue 20), no bill is read; a period that starts or ends
    inside a month, and the view by institution level, scan the bills (the pre-aggregate is by
    month and has no institution). Both give the same figures to the fen (tests/reports/test_three_tier.py)."""
    from claims import money

    start, end = data["date_from"], data["date_to"]
    by = data.get("by") or "category"
    group = "r_group"
    everyone: int | None = None
    if by == "category" and _whole_months(start, end):
        grouped, everyone = _three_tier_by_category_from_aggregate(user, data)
    else:
        bills = money.bills_for_report(_district_filter(selectors.access_report_bills(user), data, "district")).filter(
            discharge_date__range=(start, end))
        if by == "level":
            bills = bills.annotate(r_group=F("institution__level"))
        else:
            bills = bills.annotate(r_group=KeyTextTransform("category", "computation"))
        zero = Value(ZERO, output_field=MONEY_FIELD)
        grouped = list(bills.values(group).annotate(
            stays=Count("id"), persons=Count("person", distinct=True),
            total=Coalesce(Sum("total_cost"), zero), scope=Coalesce(Sum("policy_scope_cost"), zero),
            basic=Coalesce(Sum("basic_paid"), zero), critical=Coalesce(Sum("critical_paid"), zero),
            other=Coalesce(Sum("other_paid"), zero), assistance=Coalesce(Sum(money.granted_expr()), zero),
        ).order_by())
    names = _category_names()
    rows = []
    for g in grouped:
        if by == "level":
            rank, label = LEVEL_TIERS.get(g[group], (9, g[group] or _("（未知）")))
        else:
            rank, label = 0, names.get(g[group] or "", g[group] or _("（未识别）"))
        row = {"group": str(label), "rank": rank, "stays": g["stays"], "persons": g["persons"],
               **{k: _money(g[k]) for k in ("total", "scope", "basic", "critical", "other", "assistance")}}
        row["self_pay"] = row["total"] - row["basic"] - row["critical"] - row["other"] - row["assistance"]
        row["self_share"] = (row["self_pay"] / row["total"]) if row["total"] else None
        rows.append(row)
    rows.sort(key=lambda r: (r["rank"], -r["total"], r["group"]))
    if everyone is None:
        everyone = bills.values("person").distinct().count()
    totals: dict[str, Any] = {"group": _("合计"), "stays": sum(r["stays"] for r in rows), "persons": everyone}
    for k in ("total", "scope", "basic", "critical", "other", "assistance", "self_pay"):
        totals[k] = sum((r[k] for r in rows), ZERO)
    totals["self_share"] = (totals["self_pay"] / totals["total"]) if totals["total"] else None
    part_labels = {"basic": _("基本医保"), "critical": _("大病保险"), "assistance": _("医疗救助"), "other": _("其他"),
                   "self_pay": _("个人自付")}
    chart = {
        "type": "bar", "stacked": True, "horizontal": True, "unit": _("元"), "labels": [r["group"] for r in rows],
        "datasets": [{"label": str(part_labels[k]), "data": [float(r[k]) for r in rows]} for k in TIER_PARTS],
    }
    return ReportTable(
        title=_("三重制度保障构成统计表"),
        columns=[
            Column("group", _("对象类别") if by == "category" else _("医疗机构级别")), Column("stays", _("人次"), "int"),
            Column("persons", _("人数"), "int"), Column("total", _("总费用"), "money"), Column("scope", _("政策范围内费用"), "money"),
            Column("basic", _("基本医保"), "money"), Column("critical", _("大病保险"), "money"),
            Column("assistance", _("医疗救助"), "money"), Column("other", _("其他支付"), "money"),
            Column("self_pay", _("个人自付"), "money"), Column("self_share", _("个人自付占比"), "percent"),
        ],
        rows=rows, totals=totals, chart=chart,
        period=_("%(a)s至%(b)s") % {"a": start.isoformat(), "b": end.isoformat()},
        filters_text=_("出院日期%(a)s至%(b)s；%(d)s；获得医疗救助的结算单") % {"a": start.isoformat(), "b": end.isoformat(), "d": _district_text(data)},
        notes=[_("总费用 = 基本医保 + 大病保险 + 医疗救助 + 其他支付 + 个人自付；医疗救助为已核定金额（一站式结算及已审核通过的报销）。"),
               _("医疗机构级别：三级医院列为省级、二级列为市级、县级医院列为县级、一级及基层（乡镇卫生院）列为乡级。")],
        empty_message=_("所选期间没有获得医疗救助的结算单。"),
    )


def by_disease(user, data: dict[str, Any]) -> ReportTable:
    """按病种统计: bills with assistance granted, by ICD-10 diagnosis code (三位类目, e.g. C34),
    people, stays, total cost and the granted assistance; bills without a code in one row."""
    from django.db.models.functions import Left, Upper

    from claims import money

    start, end = data["date_from"], data["date_to"]
    bills = money.bills_for_report(_district_filter(selectors.access_report_bills(user), data, "district")).filter(
        discharge_date__range=(start, end)).annotate(r_code=Upper(Left("diagnosis_code", 3)))
    zero = Value(ZERO, output_field=MONEY_FIELD)
    grouped = bills.values("r_code").annotate(
        stays=Count("id"), persons=Count("person", distinct=True), total=Coalesce(Sum("total_cost"), zero),
        assistance=Coalesce(Sum(money.granted_expr()), zero),
    ).order_by()
    names: dict[str, str] = {}
    for code, name in bills.exclude(diagnosis_name="").values_list("r_code", "diagnosis_name").order_by("r_code", "diagnosis_name"):
        names.setdefault(code, name)
    rows = [{"code": g["r_code"] or _("（未填写）"), "name": names.get(g["r_code"] or "", "") if g["r_code"] else _("未填写诊断编码"),
             "stays": g["stays"], "persons": g["persons"], "total": _money(g["total"]), "assistance": _money(g["assistance"]),
             "avg": _average(_money(g["assistance"]), g["stays"])} for g in grouped]
    rows.sort(key=lambda r: (r["code"].startswith("（"), -r["assistance"], r["code"]))
    totals = {"code": _("合计"), "stays": sum(r["stays"] for r in rows), "persons": bills.values("person").distinct().count(),
              "total": sum((r["total"] for r in rows), ZERO), "assistance": sum((r["assistance"] for r in rows), ZERO)}
    totals["avg"] = _average(totals["assistance"], totals["stays"])
    top = rows[:15]
    chart = {"type": "bar", "horizontal": True, "unit": _("元"), "labels": [f"{r['code']} {r['name']}"[:18] for r in top],
             "datasets": [{"label": _("医疗救助"), "data": [float(r["assistance"]) for r in top]}]}
    return ReportTable(
        title=_("医疗救助按病种统计表"),
        columns=[Column("code", _("疾病编码（ICD-10 类目）")), Column("name", _("病种名称")), Column("stays", _("救助人次"), "int"),
                 Column("persons", _("救助人数"), "int"), Column("total", _("医疗总费用"), "money"),
                 Column("assistance", _("医疗救助金额"), "money"), Column("avg", _("次均救助"), "money")],
        rows=rows, totals=totals, chart=chart,
        period=_("%(a)s至%(b)s") % {"a": start.isoformat(), "b": end.isoformat()},
        filters_text=_("出院日期%(a)s至%(b)s；%(d)s") % {"a": start.isoformat(), "b": end.isoformat(), "d": _district_text(data)},
        notes=[_("按结算单的诊断编码（ICD-10）前三位归类；结算数据未提供诊断编码的列为“未填写”。")],
        empty_message=_("所选期间没有获得医疗救助的结算单。"),
    )


def beneficiary_changes(user, data: dict[str, Any]) -> ReportTable:
    """救助对象增减变动月报: per certifying agency and month of the year, certifications begun
    (新增, valid_from in the month) and ended (终止, valid_until in the month), for reconciling
    with the civil-affairs rolls."""
    from django.db.models.functions import ExtractMonth as Month

    year = data["year"]
    certs = _district_filter(selectors.access_report_certifications(user), data, "person__hukou_district")
    new = certs.filter(valid_from__year=year).annotate(m=Month("valid_from")).values("agency__name", "m").annotate(n=Count("id")).order_by()
    ended = certs.filter(valid_until__year=year).annotate(m=Month("valid_until")).values("agency__name", "m").annotate(n=Count("id")).order_by()
    cells: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {"new": 0, "ended": 0})
    for g in new:
        cells[(g["agency__name"], g["m"])]["new"] += g["n"]
    for g in ended:
        cells[(g["agency__name"], g["m"])]["ended"] += g["n"]
    rows = [{"agency": agency, "month": _("%(m)s月") % {"m": m}, "m": m, "new": v["new"], "ended": v["ended"],
             "net": v["new"] - v["ended"]} for (agency, m), v in cells.items()]
    rows.sort(key=lambda r: (r["agency"], r["m"]))
    totals = {"agency": _("合计"), **{k: sum(r[k] for r in rows) for k in ("new", "ended", "net")}}
    months = list(range(1, 13))
    chart = {"type": "bar", "unit": _("人次"), "labels": [_("%(m)s月") % {"m": m} for m in months], "datasets": [
        {"label": _("新增"), "data": [sum(r["new"] for r in rows if r["m"] == m) for m in months]},
        {"label": _("终止"), "data": [sum(r["ended"] for r in rows if r["m"] == m) for m in months]},
    ]}
    return ReportTable(
        title=_("救助对象增减变动月报"),
        columns=[Column("agency", _("认定机构")), Column("month", _("月份")), Column("new", _("新增"), "int"),
                 Column("ended", _("终止"), "int"), Column("net", _("净增"), "int")],
        rows=rows, totals=totals, chart=chart, period=_("%(y)s年1月至12月") % {"y": year},
        filters_text=_("%(y)s年；%(d)s；按认定起止日期") % {"y": year, "d": _district_text(data)},
        notes=[_("新增：认定起始日期在该月；终止：认定终止日期在该月（含到期和撤销）。一人多个身份分别计。")],
        empty_message=_("该年度没有认定变动。"),
    )


# ------------------------------------------------------------------------------------------
# (4) Institutions' out-of-pocket ratio
# ------------------------------------------------------------------------------------------


def out_of_pocket(user, data: dict[str, Any]) -> ReportTable:
    """定点医疗机构救助对象住院自付比例 (Wuxi (七), POLICY.md §9): per institution, over
    beneficiaries' inpatient stays discharged in the period, personal self-pay = total cost −
    basic − critical-illness − other − assistance *granted* (``claims.money``), over
    政策范围内住院总费用 (the stays' policy-scope cost). Every institution in the county is held to
    10% (county-level hospitals and township health centres, :data:`COUNTY_AREA_LEVELS`); the others
    are shown for comparison."""
    from beneficiaries.models import Certification
    from claims import money
    from claims.models import VisitType
    from organizations.models import InstitutionLevel

    start, end = data["date_from"], data["date_to"]
    covered = Certification.objects.filter(
        person_id=OuterRef("person_id"), valid_from__lte=OuterRef("discharge_date"),
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=OuterRef("admission_date")))
    bills = _district_filter(selectors.access_report_bills(user), data, "district").filter(
        visit_type=VisitType.INPATIENT, discharge_date__range=(start, end),
    ).filter(Exists(covered))
    zero = Value(ZERO, output_field=MONEY_FIELD)
    grouped = (
        bills.values("institution__name", "institution__code", "institution__level", "institution__district__name")
        .annotate(
            stays=Count("id"),
            total=Coalesce(Sum("total_cost"), zero),
            scope=Coalesce(Sum("policy_scope_cost"), zero),
            paid=Coalesce(Sum(F("basic_paid") + F("critical_paid") + F("other_paid") + money.granted_expr(),
                              output_field=MONEY_FIELD), zero),
        )
        .order_by("institution__code")
    )
    levels = dict(InstitutionLevel.choices)
    # The 10% target is Wuxi's (七); another region's report shows the ratio without judging it
    # (a Beijing office's report must not cite or apply the Wuxi policy).
    holds_limit = _region_holds_oop_limit(user, data, end)
    rows = []
    for g in grouped:
        total = _money(g["total"])
        scope = _money(g["scope"])
        self_pay = max(ZERO, _money(total - g["paid"]))
        ratio = (self_pay / scope) if scope else ZERO
        county = g["institution__level"] in COUNTY_AREA_LEVELS
        rows.append({
            "institution": g["institution__name"], "code": g["institution__code"],
            "level": str(levels.get(g["institution__level"], g["institution__level"])),
            "district": g["institution__district__name"], "stays": g["stays"], "total": total, "scope": scope,
            "self_pay": self_pay, "ratio": ratio, "flag": holds_limit and county and ratio > OOP_LIMIT,
        })
    rows.sort(key=lambda r: (not r["flag"], -r["ratio"]))
    total_cost = sum((r["total"] for r in rows), ZERO)
    total_scope = sum((r["scope"] for r in rows), ZERO)
    total_self = sum((r["self_pay"] for r in rows), ZERO)
    totals = {
        "institution": _("合计"), "stays": sum(r["stays"] for r in rows), "total": total_cost, "scope": total_scope,
        "self_pay": total_self, "ratio": (total_self / total_scope) if total_scope else ZERO, "flag": None,
    }
    chart = {
        "type": "bar", "horizontal": True, "unit": "%", "limit": float(OOP_LIMIT * 100),
        "labels": [r["institution"] for r in rows[:30]],
        "datasets": [{"label": _("个人自付比例"), "data": [float((r["ratio"] * 100).quantize(Decimal("0.1"))) for r in rows[:30]],
                      "flags": [bool(r["flag"]) for r in rows[:30]]}],
    }
    flagged = sum(1 for r in rows if r["flag"])
    return ReportTable(
        title=_("定点医疗机构救助对象住院个人自付比例"),
        columns=[
            Column("institution", _("医疗机构")), Column("level", _("等级")), Column("district", _("所在区县")),
            Column("stays", _("住院人次"), "int"), Column("total", _("医疗总费用"), "money"),
            Column("scope", _("政策范围内住院总费用"), "money"),
            Column("self_pay", _("个人自付"), "money"), Column("ratio", _("自付比例"), "percent"),
            Column("flag", _("超过10%（县域内）"), "flag"),
        ],
        rows=rows, totals=totals, chart=chart,
        filters_text=_("出院日期%(a)s至%(b)s；%(d)s") % {"a": start.isoformat(), "b": end.isoformat(), "d": _district_text(data)},
        notes=[
            _("个人自付 = 医疗总费用 − 基本医保 − 大病保险 − 其他支付 − 已核定医疗救助；自付比例 = 个人自付 ÷ 政策范围内住院总费用；仅统计出院时持有救助身份人员的住院费用。"),
            (_("无锡市实施意见(七)：救助对象在县域内定点医疗机构（含乡镇卫生院）住院个人自付费用控制在政策范围内住院总费用10%%以内。本期超标机构：%(n)s家。") % {"n": flagged})
            if holds_limit else _("本地区政策未规定救助对象住院个人自付比例控制目标，本表仅列示比例，不作超标判定。"),
        ],
        empty_message=_("所选期间没有救助对象的住院费用。"),
    )


def _region_holds_oop_limit(user, data: dict[str, Any], on: date) -> bool:
    """Whether the policy in force for the report's region(s) is Wuxi's (the 10% target of (七))."""
    from policies.selectors import policy_in_force

    district = data.get("district")
    regions = [district.region] if district is not None else list(selectors.regions_in_scope(user))
    for region in regions:
        policy = policy_in_force(region=region, on=on)
        if policy is not None and policy.code.startswith("wuxi"):
            return True
    return False


# ------------------------------------------------------------------------------------------
# (5) Early warnings by status
# ------------------------------------------------------------------------------------------


def warnings_by_status(user, data: dict[str, Any]) -> ReportTable:
    """预警处置情况: early warnings (monitoring app) by kind and status for a year."""
    qs = selectors.access_report_warnings(user)
    if qs is None:
        return ReportTable(title=_("预警处置情况"), columns=[], rows=[], empty_message=_("预警监测功能尚未启用。"))
    from monitoring.models import WarningKind, WarningStatus

    qs = _district_filter(qs, data, "household__district").filter(year=data["year"])
    zero = Value(ZERO, output_field=MONEY_FIELD)
    grouped = qs.values("kind", "status").annotate(n=Count("id"), burden=Coalesce(Sum("burden"), zero)).order_by("kind", "status")
    kinds, statuses = dict(WarningKind.choices), dict(WarningStatus.choices)
    kind_rank = {k: i for i, k in enumerate(kinds)}
    status_rank = {k: i for i, k in enumerate(statuses)}
    grouped = sorted(grouped, key=lambda g: (kind_rank.get(g["kind"], 99), status_rank.get(g["status"], 99)))
    rows = [
        {"kind": str(kinds.get(g["kind"], g["kind"])), "status": str(statuses.get(g["status"], g["status"])),
         "households": g["n"], "burden": _money(g["burden"])}
        for g in grouped
    ]
    totals = {"kind": _("合计"), "households": sum(r["households"] for r in rows), "burden": sum((r["burden"] for r in rows), ZERO)}
    status_order = [str(label) for label in statuses.values()]
    kind_labels = [str(label) for label in kinds.values()]
    chart = {
        "type": "bar", "stacked": True, "unit": _("户"), "labels": status_order,
        "datasets": [
            {"label": k, "data": [sum(r["households"] for r in rows if r["kind"] == k and r["status"] == s) for s in status_order]}
            for k in kind_labels
        ],
    }
    return ReportTable(
        title=_("预警处置情况"),
        columns=[Column("kind", _("预警类型")), Column("status", _("状态")), Column("households", _("户数"), "int"),
                 Column("burden", _("年度医疗负担总额"), "money")],
        rows=rows, totals=totals, chart=chart,
        filters_text=_("%(y)s年；%(d)s") % {"y": data["year"], "d": _district_text(data)},
        empty_message=_("该年度没有预警。"),
    )


def in_unit(table: ReportTable, unit: str | None) -> ReportTable:
    """The table with its money columns in 元 (as computed) or 万元 (÷ 10,000, half-up to 0.01).

    The 合计 row is converted from the 元 total, so in 万元 it may differ from the sum of the
    rounded rows by a few 0.01; the 元 figures add up exactly."""
    divisor, label = UNITS.get(unit or "yuan", UNITS["yuan"])
    table.unit = str(label)
    if divisor == 1:
        return table
    keys = [c.key for c in table.columns if c.kind == "money"]

    def scaled(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for k in keys:
            if isinstance(out.get(k), Decimal):
                out[k] = (out[k] / divisor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return out

    table.rows = [scaled(r) for r in table.rows]
    table.totals = scaled(table.totals) if table.totals else None
    table.notes = [*table.notes, _("金额单位为万元，由元四舍五入至0.01万元，末行总数由元总数折算。")]
    return table


def filing_unit(user, data: dict[str, Any]) -> str:
    """填报单位: the chosen district's office, else the user's own agency."""
    from .services import office_name_for

    district = data.get("district")
    if district is not None:
        return office_name_for(district)
    profile = getattr(user, "staff_profile", None)
    agency = getattr(profile, "agency", None)
    return agency.name if agency is not None else ""


@dataclass(frozen=True)
class ReportDef:
    slug: str
    title: Any
    description: Any
    form_class: type[ScopedForm]
    run: Any
    icon: str = "bar-chart"

    def initial(self, user=None) -> dict[str, Any]:
        today = timezone.localdate()
        if self.form_class in (PeriodForm, ThreeTierForm):
            return {**_default_period(), "by": "category"} if self.form_class is ThreeTierForm else _default_period()
        if self.form_class is YearMonthForm:
            # Open on the latest month with spending in the user's scope, not on an empty month.
            latest = _latest_spending_day(user) if user is not None else None
            day = latest or today
            return {"year": day.year, "month": day.month}
        return {"year": today.year}


def _latest_spending_day(user) -> date | None:
    """The first day of the latest month with granted bills in the user's scope, read from the
    fund pre-aggregate (``reports.aggregate``), not the bills."""
    latest = (selectors.access_report_fund_months(user).filter(bills__gt=0).exclude(visit_class=RELIEF_VISIT_CLASS)
              .order_by("-year", "-month").values_list("year", "month").first())
    return date(latest[0], latest[1], 1) if latest else None


REPORTS: dict[str, ReportDef] = {r.slug: r for r in [
    ReportDef("fund", gettext_lazy("医疗救助基金支出月报"), gettext_lazy("按区县、对象类别、就诊类别统计当月及年度累计支出"),
              YearMonthForm, fund_expenditure, "cash-coin"),
    ReportDef("beneficiaries", gettext_lazy("救助对象分类统计"), gettext_lazy("按类别和认定机构统计在册、新增和终止人数"),
              PeriodForm, beneficiaries_by_category, "people"),
    ReportDef("subsidy", gettext_lazy("资助参保汇总"), gettext_lazy("按类别统计年度资助参保人数和金额"),
              YearForm, premium_subsidy_totals, "shield-check"),
    ReportDef("out-of-pocket", gettext_lazy("住院个人自付比例"), gettext_lazy("定点医疗机构救助对象住院自付比例，县级超过10%标红"),
              PeriodForm, out_of_pocket, "hospital"),
    ReportDef("warnings", gettext_lazy("预警处置情况"), gettext_lazy("按类型和状态统计因病致贫、返贫预警"),
              YearForm, warnings_by_status, "exclamation-triangle"),
    ReportDef("three-tier", gettext_lazy("三重制度保障构成"), gettext_lazy("总费用中基本医保、大病保险、医疗救助和个人自付的构成，按类别或机构级别"),
              ThreeTierForm, three_tier, "layers"),
    ReportDef("uninsured", gettext_lazy("未参保救助对象核查名单"), gettext_lazy("应资助参保但尚未参保的救助对象"),
              YearForm, uninsured_beneficiaries, "person-exclamation"),
    ReportDef("changes", gettext_lazy("救助对象增减变动"), gettext_lazy("按认定机构和月份统计新增和终止，便于与民政等部门对账"),
              YearForm, beneficiary_changes, "arrow-left-right"),
    ReportDef("disease", gettext_lazy("按病种统计"), gettext_lazy("按诊断编码（ICD-10）统计救助人次、人数和金额"),
              PeriodForm, by_disease, "clipboard2-pulse"),
]}
