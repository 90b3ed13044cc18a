"""A run's results as display data, one builder for the page, the PDF and the XLSX."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from organizations.models import District

from .models import SimulationRun
from .selectors import access_person_years

ZERO = Decimal("0.00")
TOP = 20


def _category_label(code: str) -> str:
    from policies.engine.types import CATEGORIES

    if not code:
        return _("无救助身份")
    return _(str(CATEGORIES.get(code, (code,))[0]))  # English where the catalogue has the name


def _class_label(code: str) -> str:
    from claims.models import VisitType

    if not code:
        return _("不予救助")
    return str(VisitType(code).label) if code in VisitType.values else code


def _pct(diff: Decimal, base: Decimal) -> str:
    if not base:
        return "—"
    return f"{(diff * 100 / base):+.1f}%"


def band_label(band: dict) -> str:
    if band.get("unchanged"):
        return _("不变")
    lo, hi = band["lo"], band["hi"]
    if lo is None:
        return _("少于 %(hi)s") % {"hi": f"{Decimal(hi):,.0f}"}
    if hi is None:
        return _("%(lo)s 以上") % {"lo": _signed(lo)}
    return f"{_signed(lo)} ~ {_signed(hi)}"


def _months_of(run: SimulationRun) -> list[str]:
    out = []
    year, month = run.period_start.year, run.period_start.month
    while (year, month) <= (run.period_end.year, run.period_end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _signed(value: str) -> str:
    amount = Decimal(value)
    return f"{amount:,.0f}" if amount == 0 else f"{amount:+,.0f}"


def _compact(value: str | None) -> str:
    from django.utils.translation import get_language

    amount = Decimal(value or "0")
    if not amount:
        return "0"
    if not (get_language() or "zh").startswith("zh"):
        return f"{amount / 1000:+.0f}k" if abs(amount) >= 1000 else f"{amount:+.0f}"
    if abs(amount) >= 10000:
        return f"{amount / 10000:+.0f}万"
    if abs(amount) >= 1000:
        return f"{amount / 1000:+.0f}千"
    return f"{amount:+.0f}"


def band_short(band: dict) -> str:
    """At most 8 characters (the printed chart's axis): 不变, -5万~-2万, 5万+ ..."""
    if band.get("unchanged"):
        return _("不变")
    if band["lo"] is None:
        return f"<{_compact(band['hi'])}"
    if band["hi"] is None:
        return f"{_compact(band['lo'])}+"
    return f"{_compact(band['lo'])}~{_compact(band['hi'])}"


def run_results(run: SimulationRun, user) -> dict[str, Any]:
    s = run.summary or {}
    t = s.get("totals", {})
    base, draft = Decimal(t.get("base", "0")), Decimal(t.get("draft", "0"))
    districts = {d.pk: d.name for d in District.objects.filter(region_id=run.region_id)}
    rows = []
    for key, (b, d, nb, nd) in s.get("cells", {}).items():
        district_id, category, visit_class = key.split("|")
        b, d = Decimal(b), Decimal(d)
        if not b and not d:
            continue
        rows.append({"district": districts.get(int(district_id), district_id), "category": _category_label(category),
                     "visit_class": _class_label(visit_class), "base": b, "draft": d, "diff": d - b, "pct": _pct(d - b, b),
                     "base_bills": nb, "draft_bills": nd})
    rows.sort(key=lambda r: (r["district"], r["category"], r["visit_class"]))
    stored = s.get("months", {})
    months = []
    for m in _months_of(run):  # every month of the period, a month without bills at 0
        v = stored.get(m, ("0.00", "0.00"))
        months.append({"month": m, "base": Decimal(v[0]), "draft": Decimal(v[1])})
    histogram = [{"label": band_label(b), "short": band_short(b), "people": b["people"]} for b in s.get("histogram", [])]
    people = access_person_years(user, run)
    losers = list(people.filter(difference__lt=0).order_by("difference", "person_id")[:TOP])
    gainers = list(people.filter(difference__gt=0).order_by("-difference", "person_id")[:TOP])
    newly_capped = list(people.filter(draft_capped=True, base_capped=False).order_by("-draft_total", "person_id")[:TOP])
    apps = s.get("applications", {})
    return {
        "run": run,
        "totals": {"base": base, "draft": draft, "diff": draft - base, "pct": _pct(draft - base, base),
                   "person_years": int(t.get("person_years", 0)), "bills": int(t.get("bills", 0)),
                   "gainers": int(t.get("gainers", 0)), "losers": int(t.get("losers", 0)),
                   "gain": Decimal(t.get("gain", "0")), "loss": Decimal(t.get("loss", "0")),
                   "base_capped": int(t.get("base_capped", 0)), "draft_capped": int(t.get("draft_capped", 0)),
                   "newly_capped": int(t.get("newly_capped", 0)), "no_longer_capped": int(t.get("no_longer_capped", 0))},
        "rows": rows,
        "months": months,
        "histogram": histogram,
        "losers": losers,
        "gainers": gainers,
        "newly_capped": newly_capped,
        "applications": {"count": int(apps.get("count", 0)), "base": Decimal(apps.get("base", "0")),
                         "draft": Decimal(apps.get("draft", "0")), "gainers": int(apps.get("gainers", 0)),
                         "losers": int(apps.get("losers", 0)), "errors": int(apps.get("errors", 0))},
        "month_chart": {"type": "line", "labels": [m["month"] for m in months], "unit": _("元"),
                        "datasets": [{"label": _("现行政策"), "data": [float(m["base"]) for m in months]},
                                     {"label": _("草拟政策"), "data": [float(m["draft"]) for m in months]}]},
        "histogram_chart": {"type": "bar", "labels": [h["label"] for h in histogram], "unit": _("人"),
                            "datasets": [{"label": _("人数（按人年救助金额变化，元）"), "data": [h["people"] for h in histogram]}]},
    }


def explanation_pairs(base, draft) -> list[dict]:
    """Both explanations of a bill, clause by clause: lines aligned on their key, in the order seen,
    in the reader's language (policies.explain)."""
    from policies.explain import translate_label, translate_value

    base_lines = {line.key: line for line in (base.lines if base is not None else ())}
    draft_lines = {line.key: line for line in draft.lines}
    keys: list[str] = []
    for line in (*(base.lines if base is not None else ()), *draft.lines):
        if line.key not in keys:
            keys.append(line.key)
    out = []
    for key in keys:
        b, d = base_lines.get(key), draft_lines.get(key)
        line = b or d
        out.append({"label": translate_label(key, line.label_zh),
                    "base": translate_value(b.value) if b else "—", "base_clause": b.clause if b else "",
                    "draft": translate_value(d.value) if d else "—", "draft_clause": d.clause if d else "",
                    "differs": (b.value if b else None) != (d.value if d else None)})
    return out


def compare_rows(a: SimulationRun, b: SimulationRun) -> list[dict]:
    """Totals by district and category under now, draft A and draft B (each run's own now)."""
    districts = {d.pk: d.name for d in District.objects.filter(region_id__in={a.region_id, b.region_id})}
    acc: dict[tuple[str, str], list[Decimal]] = {}
    for index, run in enumerate((a, b)):
        for key, (base, draft, _nb, _nd) in (run.summary or {}).get("cells", {}).items():
            district_id, category, _vc = key.split("|")
            k = (districts.get(int(district_id), district_id), _category_label(category))
            row = acc.setdefault(k, [ZERO, ZERO, ZERO, ZERO])
            row[index * 2] += Decimal(base)
            row[index * 2 + 1] += Decimal(draft)
    return [{"district": k[0], "category": k[1], "base_a": v[0], "draft_a": v[1], "base_b": v[2], "draft_b": v[3],
             "diff_a": v[1] - v[0], "diff_b": v[3] - v[2]}
            for k, v in sorted(acc.items()) if any(v)]
