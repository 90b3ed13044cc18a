"""The office's reports: each is a filter form plus a function from (user, filters) to a table.

A report never builds its own querysets from model managers: every row set starts from an
``access_*`` selector in :mod:`reports.selectors`, so a district user only ever counts their
district. One :class:`ReportTable` feeds the HTML page (with a Chart.js chart), the CSV/XLSX
export and the printed PDF (with the same chart drawn as SVG).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, ExtractMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import selectors

ZERO = Decimal("0.00")
MONEY_FIELD = DecimalField(max_digits=16, decimal_places=2)
RELIEF_CATEGORY = "illness_poverty_patient"  # relief on application: 因病致贫重病患者 (POLICY.md §4)
RELIEF_VISIT_CLASS = "relief_on_application"
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
    empty_message: str = ""


# ------------------------------------------------------------------------------------------
# Filter forms
# ------------------------------------------------------------------------------------------


def _year_choices() -> list[tuple[int, int]]:
    this = timezone.localdate().year
    return [(y, y) for y in range(this, this - 8, -1)]


class ScopedForm(forms.Form):
    district = forms.ModelChoiceField(queryset=None, required=False, label=gettext_lazy("区县"), empty_label=gettext_lazy("全部（本人权限范围）"))

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


def fund_expenditure(user, data: dict[str, Any]) -> ReportTable:
    """医疗救助基金支出月报: district × category × visit class, month and year to date.

    Amount = what was *granted* (``claims.money``): bills of one-stop settlement and of approved
    or paid claims (never a rejected, returned or pending claim's suggestion), by discharge month,
    plus the relief on application granted (approved applications), by decision month. Category
    and visit class are the ones the engine chose (``computation["category"]``/``["visit_class"]``),
    falling back to the bill's visit type when the engine recorded no class.
    """
    from claims import money
    from claims.models import VisitType

    year = data["year"]
    month = data.get("month")
    bills = money.bills_for_report(_district_filter(selectors.access_report_bills(user), data, "district")).filter(
        discharge_date__year=year,
    )
    if month:
        bills = bills.filter(discharge_date__month__lte=month)
    grouped = list(
        bills.annotate(
            r_category=KeyTextTransform("category", "computation"),
            r_visit_class=KeyTextTransform("visit_class", "computation"),
            r_month=ExtractMonth("discharge_date"),
        )
        .values("district__name", "r_category", "r_visit_class", "visit_type", "r_month")
        .annotate(amount=Sum(money.granted_expr()), bills=Count("id"))
        .order_by()
    )
    applications = money.applications_granted(
        _district_filter(selectors.access_report_applications(user), data, "district")).filter(decided_at__year=year)
    if month:
        applications = applications.filter(decided_at__month__lte=month)
    for app in applications.annotate(r_month=ExtractMonth("decided_at")).values(
            "district__name", "r_month", "relief"):
        grouped.append({"district__name": app["district__name"], "r_category": RELIEF_CATEGORY,
                        "r_visit_class": RELIEF_VISIT_CLASS, "visit_type": "", "r_month": app["r_month"],
                        "amount": app["relief"], "bills": 1})
    categories = _category_names()
    visit_labels: dict[str, Any] = {**dict(VisitType.choices), RELIEF_VISIT_CLASS: _("依申请救助")}
    last_month = month or 12
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
            "month_amount": ZERO, "ytd_amount": ZERO, "month_bills": 0, "ytd_bills": 0,
        })
        row["ytd_amount"] += g["amount"]
        row["ytd_bills"] += g["bills"]
        if g["r_month"] == last_month:
            row["month_amount"] += g["amount"]
            row["month_bills"] += g["bills"]
        monthly[row["category"]][g["r_month"] - 1] += g["amount"]
    rows = sorted(rows_by_key.values(), key=lambda r: (r["district"], r["category"], r["visit_class"]))
    totals = {
        "district": _("合计"),
        "month_amount": sum((r["month_amount"] for r in rows), ZERO),
        "ytd_amount": sum((r["ytd_amount"] for r in rows), ZERO),
        "month_bills": sum(r["month_bills"] for r in rows),
        "ytd_bills": sum(r["ytd_bills"] for r in rows),
    }
    months = list(range(1, last_month + 1))
    chart = {
        "type": "bar", "stacked": True, "unit": _("元"),
        "labels": [_("%(m)s月") % {"m": m} for m in months],
        "datasets": [{"label": cat, "data": [float(v) for v in values[:last_month]]} for cat, values in sorted(monthly.items())],
    }
    month_label = _("%(y)s年%(m)s月") % {"y": year, "m": last_month}
    return ReportTable(
        title=_("医疗救助基金支出月报"),
        columns=[
            Column("district", _("区县")), Column("category", _("救助对象类别")), Column("visit_class", _("就诊类别")),
            Column("month_bills", _("本月人次"), "int"), Column("month_amount", _("本月支出（%(m)s）") % {"m": month_label}, "money"),
            Column("ytd_bills", _("年度累计人次"), "int"), Column("ytd_amount", _("年度累计支出"), "money"),
        ],
        rows=rows, totals=totals, chart=chart,
        filters_text=_("%(y)s年，截至%(m)s月；%(d)s；按出院（结算）日期统计") % {"y": year, "m": last_month, "d": _district_text(data)},
        empty_message=_("所选期间没有救助支出。"),
    )


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
                "share": r.share, "people": 0, "amount": ZERO, "clause": r.clause,
            })
            row["people"] += 1
            if r.amount is None:
                missing_contribution = True
            else:
                row["amount"] += r.amount
    if missing_contribution:
        notes.append(_("部分统筹地区未录入%(y)s年居民医保个人缴费标准，相关金额按0计，请在地区统计数据中补录。") % {"y": year})
    rows = sorted(rows_by_cat.values(), key=lambda r: (-r["amount"], r["category"]))
    for r in rows:
        r["share"] = f"{(r['share'] * 100).quantize(Decimal('1'))}%"
    totals = {"category": _("合计"), "people": sum(r["people"] for r in rows), "amount": sum((r["amount"] for r in rows), ZERO)}
    chart = {
        "type": "doughnut", "unit": _("元"), "labels": [r["category"] for r in rows],
        "datasets": [{"label": _("资助金额"), "data": [float(r["amount"]) for r in rows]}],
    }
    return ReportTable(
        title=_("资助参保汇总"),
        columns=[
            Column("category", _("救助对象类别")), Column("kind", _("资助方式")), Column("share", _("资助比例")),
            Column("people", _("人数"), "int"), Column("amount", _("资助金额"), "money"), Column("clause", _("政策依据")),
        ],
        rows=rows, totals=totals, chart=chart, notes=notes,
        filters_text=_("%(y)s年；%(d)s") % {"y": year, "d": _district_text(data)},
        empty_message=_("该年度没有资助参保对象，或适用政策未配置资助参保规则（如北京市资助标准由市医保局会同财政局另行确定，需在政策中配置）。"),
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
            "self_pay": self_pay, "ratio": ratio, "flag": county and ratio > OOP_LIMIT,
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
            _("无锡市实施意见(七)：救助对象在县域内定点医疗机构（含乡镇卫生院）住院个人自付费用控制在政策范围内住院总费用10%%以内。本期超标机构：%(n)s家。") % {"n": flagged},
        ],
        empty_message=_("所选期间没有救助对象的住院费用。"),
    )


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
                 Column("burden", _("年度医疗负担合计"), "money")],
        rows=rows, totals=totals, chart=chart,
        filters_text=_("%(y)s年；%(d)s") % {"y": data["year"], "d": _district_text(data)},
        empty_message=_("该年度没有预警。"),
    )


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
        if self.form_class is PeriodForm:
            return _default_period()
        if self.form_class is YearMonthForm:
            # Open on the latest month with spending in the user's scope, not on an empty month.
            latest = _latest_spending_day(user) if user is not None else None
            day = latest or today
            return {"year": day.year, "month": day.month}
        return {"year": today.year}


def _latest_spending_day(user) -> date | None:
    from django.db.models import Max

    from claims import money
    from claims.selectors import access_bills

    return money.bills_for_report(access_bills(user)).aggregate(day=Max("discharge_date"))["day"]


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
]}
