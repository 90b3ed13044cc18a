"""Reads of the policies app: the policy in force, its engine spec, regional statistics, scope.

Policies are region-wide data: a bill is computed under the policy in force in its region on its
settlement (discharge) date. A region without a policy of its own falls back to a *confirmed*
national framework (region empty); an unconfirmed template is never used.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from organizations.access import scope_for

from .models import Policy

if TYPE_CHECKING:  # the engine is imported lazily at run time
    from organizations.models import Region

    from .engine.types import PolicySpec

__all__ = ["DistrictStandards", "access_policies", "district_policy_in_force", "policy_in_force", "region_stats",
           "resolved_spec", "spec_of", "usable_policies"]


def usable_policies() -> QuerySet[Policy]:
    """Versions that may be used for computation: not a template, or a confirmed one."""
    return Policy.objects.filter(Q(needs_confirmation=False) | Q(confirmed_at__isnull=False))


def _in_force_on(qs: QuerySet[Policy], on: date) -> QuerySet[Policy]:
    return qs.filter(effective_from__lte=on).filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def choose_in_force(versions: Iterable[Policy], *, region_id: int | None, on: date) -> Policy | None:
    """THE choice of the policy in force (pure; every caller goes through it): among usable
    ``versions``, the region's version whose effective period contains ``on``, the latest
    ``effective_from`` then the latest ``version`` winning (a correction that kept the same
    ``effective_from``); a region without one uses a national framework (region empty); else None.
    ``versions`` may hold other regions' and other dates' versions: they are skipped."""
    best: dict[bool, Policy] = {}
    for policy in versions:
        if not (policy.effective_from <= on and (policy.effective_to is None or on <= policy.effective_to)):
            continue
        if policy.region_id is not None and policy.region_id != region_id:
            continue
        own = policy.region_id is not None
        current = best.get(own)
        if current is None or (policy.effective_from, policy.version) > (current.effective_from, current.version):
            best[own] = policy
    if region_id is not None and True in best:
        return best[True]
    return best.get(False)


def policy_in_force(*, region: Region | int | None, on: date) -> Policy | None:
    """The usable policy version of ``region`` in force on ``on`` (:func:`choose_in_force`).

    Several versions can cover a date when a correction kept the same ``effective_from``: the
    latest version wins. A region with no policy of its own uses a confirmed national framework
    (region empty), if any; otherwise None.
    """
    region_id = region.pk if hasattr(region, "pk") else region
    candidates = _in_force_on(usable_policies(), on).filter(Q(region_id=region_id) | Q(region__isnull=True))
    return choose_in_force(candidates.select_related("region"), region_id=region_id, on=on)


_spec_cache: dict[tuple[int, object], PolicySpec] = {}
_spec_lock = threading.Lock()


def spec_of(policy: Policy) -> PolicySpec:
    """``PolicySpec.from_dict(policy.rules)``, cached per policy row in this process.

    The key includes ``updated_at`` so an in-place edit of a not-yet-used version (the only kind
    of in-place edit services allow) is picked up by every process. An unsaved policy is never
    cached. ``PolicyError`` propagates for rules that do not validate.
    """
    from .engine.types import PolicySpec

    if policy.pk is None:
        return PolicySpec.from_dict(policy.rules)
    key = (policy.pk, getattr(policy, "updated_at", None))
    spec = _spec_cache.get(key)
    if spec is None:
        spec = PolicySpec.from_dict(policy.rules)
        with _spec_lock:
            for old in [k for k in _spec_cache if k[0] == policy.pk]:
                _spec_cache.pop(old, None)
            _spec_cache[key] = spec
    return spec


_resolved_cache: dict[tuple, PolicySpec] = {}


def _resolve(policy: Policy, district_policy) -> PolicySpec:
    """The region spec with one district row's overrides applied (cached per both rows' stamps)."""
    from .districts import apply_overrides
    from .engine.types import PolicySpec

    key = (policy.pk, getattr(policy, "updated_at", None), district_policy.pk, district_policy.updated_at)
    spec = _resolved_cache.get(key) if policy.pk is not None and district_policy.pk is not None else None
    if spec is None:
        spec = PolicySpec.from_dict(apply_overrides(policy.rules, district_policy.overrides, district_policy.cite))
        if policy.pk is not None and district_policy.pk is not None:
            with _spec_lock:
                if len(_resolved_cache) > 1000:
                    _resolved_cache.clear()
                _resolved_cache[key] = spec
    return spec


def district_policy_in_force(*, district: int | None, code: str, on: date):
    """The district's standard (区级标准) amending policy ``code`` in force on ``on``, or None."""
    from .models import DistrictPolicy

    if district is None:
        return None
    district_id = district.pk if hasattr(district, "pk") else district
    return (DistrictPolicy.objects.filter(district_id=district_id, policy_code=code, effective_from__lte=on)
            .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on)).order_by("-effective_from").first())


def resolved_spec(policy: Policy, *, district, on: date) -> PolicySpec:
    """The ONE policy the engine sees for a bill of ``district`` settled ``on`` (POLICY.md §9).

    The region's spec (``spec_of``) unless the district holds a standard amending this policy
    in force on that date; then the region's rules with the district's named parameters, the
    overridden lines citing the district's document.
    """
    found = district_policy_in_force(district=district, code=policy.code, on=on)
    return spec_of(policy) if found is None else _resolve(policy, found)


class DistrictStandards:
    """All district standards loaded once, for batch runs (one query instead of one per bill)."""

    def __init__(self, rows=None) -> None:
        from .models import DistrictPolicy

        if rows is None:
            rows = DistrictPolicy.objects.order_by("-effective_from")
        self._rows: dict[tuple[int, str], list] = {}
        for row in rows:
            self._rows.setdefault((row.district_id, row.policy_code), []).append(row)
        self._specs: dict[tuple, PolicySpec] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def spec(self, policy: Policy, base: PolicySpec, district_id: int | None, on: date) -> PolicySpec:
        """``base`` (the region spec) or the district's resolved one for ``on``."""
        rows = self._rows.get((district_id, policy.code)) if district_id is not None else None
        if not rows:
            return base
        for row in rows:
            if row.effective_from <= on and (row.effective_to is None or on <= row.effective_to):
                key = (policy.pk, row.pk)
                spec = self._specs.get(key)
                if spec is None:
                    spec = self._specs[key] = _resolve(policy, row)
                return spec
        return base


def forget_spec(policy_pk: int | None = None) -> None:
    """Drop cached specs (one policy, or all): for tests and after in-place edits."""
    with _spec_lock:
        _resolved_cache.clear()
        if policy_pk is None:
            _spec_cache.clear()
        else:
            for old in [k for k in _spec_cache if k[0] == policy_pk]:
                _spec_cache.pop(old, None)


def region_stats(region: Region | int | None) -> dict[int, dict[str, Decimal]]:
    """``{year: {"per_capita_disposable_income": Decimal, "resident_contribution": Decimal}}``.

    Only recorded values appear (a missing one stays missing, never zero). National (None): {}.
    """
    from organizations.models import RegionStatistic

    region_id = region.pk if hasattr(region, "pk") else region
    if region_id is None:
        return {}
    out: dict[int, dict[str, Decimal]] = {}
    for stat in RegionStatistic.objects.filter(region_id=region_id).order_by("year"):
        values = stat.as_engine_stats()
        if values:
            out[stat.year] = {k: Decimal(v) for k, v in values.items()}
    return out


def access_policies(user) -> QuerySet[Policy]:
    """Policies ``user`` may read: region-wide rules, so district staff see their whole region.

    - a superuser sees every policy;
    - a user without a staff profile sees none;
    - staff see their region's policies and the national ones (region empty).
    """
    qs = Policy.objects.select_related("region", "supersedes", "confirmed_by")
    scope = scope_for(user)
    if scope.everything:
        return qs
    if scope.nothing:
        return qs.none()
    return qs.filter(Q(region_id=scope.region_id) | Q(region__isnull=True))


# --------------------------------------------------------------------------------------------
# A policy, human-readable (detail page, admin and letters): plain strings, each with its clause
# --------------------------------------------------------------------------------------------

FLAG_LABELS = {
    "designated": gettext_lazy("定点医药机构"),
    "referral_compliant": gettext_lazy("按规定转诊"),
    "in_province": gettext_lazy("省内就医"),
    "major_disease": gettext_lazy("重特大疾病/特殊病种"),
    "rare_disease": gettext_lazy("罕见病"),
    "good_samaritan_injury": gettext_lazy("见义勇为致伤"),
}
# The same statistics inside a sentence ("25% of last year's per-capita disposable income"):
# English needs them in lower case there, so they carry a context of their own.
STATISTIC_IN_SENTENCE = {
    "per_capita_disposable_income": pgettext_lazy("in a sentence", "居民人均可支配收入"),
    "resident_contribution": pgettext_lazy("in a sentence", "居民医保个人缴费"),
}
STATISTIC_LABELS = {
    "per_capita_disposable_income": gettext_lazy("居民人均可支配收入"),
    "resident_contribution": gettext_lazy("居民医保个人缴费"),
}
COVERAGE_LABELS = {
    "same_day": gettext_lazy("身份终止当日起不再享受"),
    "end_of_month": gettext_lazy("身份终止次月起不再享受（享受至当月末）"),
}
BUCKET_LABELS = {
    "outpatient": gettext_lazy("普通门诊"),
    "inpatient": gettext_lazy("住院"),
    "main": gettext_lazy("门诊慢特病与住院共用"),
    "annual": gettext_lazy("年度救助限额"),
    "rehabilitation": gettext_lazy("康复"),
}
WARNING_LABELS = {"illness_poverty": gettext_lazy("因病致贫预警"), "return_to_poverty": gettext_lazy("因病返贫预警")}


def _pct(rate) -> str:
    from .engine.money import percent_str

    return percent_str(rate)


def _yuan(amount) -> str:
    return f"{amount:,.2f}"


def _cap(amount) -> str:
    return str(gettext_lazy("不设限额")) if amount is None else _yuan(amount)


def _category_label(code: str) -> str:
    from .engine.types import CATEGORIES

    return f"{gettext(CATEGORIES.get(code, (code,))[0])}（{code}）"


def _class_label(name: str | None) -> str:
    from .engine.types import VISIT_TYPE_LABELS

    if name in VISIT_TYPE_LABELS:
        return f"{gettext(VISIT_TYPE_LABELS[name])}（{name}）"
    return name or ""


def _bucket_label(name: str) -> str:
    return f"{BUCKET_LABELS[name]}（{name}）" if name in BUCKET_LABELS else name


def _flags_text(flags) -> str:
    parts = []
    for name, wanted in flags:
        label = str(FLAG_LABELS.get(name, name))
        parts.append(label if wanted else str(gettext_lazy("非")) + label)
    return "、".join(parts)


def _year_text(offset: int) -> str:
    if offset == -1:
        return str(gettext_lazy("上年"))
    if offset == 0:
        return str(gettext_lazy("当年"))
    return str(gettext_lazy("%(n)s年前")) % {"n": -offset} if offset < 0 else str(gettext_lazy("%(n)s年后")) % {"n": offset}


def _deductible_text(d) -> str:
    if d.kind == "none":
        return str(gettext_lazy("不设起付标准"))
    if d.kind == "fixed":
        return str(gettext_lazy("年度起付标准 %(amount)s 元")) % {"amount": _yuan(d.amount)}
    return str(gettext_lazy("%(year)s%(stat)s的 %(share)s（年度累计）")) % {
        "year": _year_text(d.year_offset), "stat": STATISTIC_IN_SENTENCE.get(d.statistic, d.statistic), "share": _pct(d.share)}


def describe_policy(spec) -> dict:
    """The rules of ``spec`` as display rows (strings), every row with the clause it rests on."""
    from .engine.types import VISIT_TYPE_LABELS

    def visit_label(code):
        return gettext(VISIT_TYPE_LABELS[code]) if code in VISIT_TYPE_LABELS else code

    general = [
        {"label": gettext_lazy("个人负担的计算"), "value": gettext_lazy("政策范围内费用 − 基本医保 − 大病保险 − 其他支付（不低于0）"),
         "clause": spec.burden_clause},
        {"label": gettext_lazy("身份有效期"), "value": COVERAGE_LABELS.get(spec.coverage.ends, spec.coverage.ends),
         "clause": spec.coverage.clause},
        {"label": gettext_lazy("定点医药机构"), "value": gettext_lazy("仅定点医药机构的费用可救助") if spec.designated.required else gettext_lazy("不限定点"),
         "clause": spec.designated.clause},
        {"label": gettext_lazy("转诊"), "value": gettext_lazy("未按规定转诊的费用不予救助") if spec.referral.required else gettext_lazy("不以转诊为条件"),
         "clause": spec.referral.clause},
    ]
    visits = [
        {"visit_type": visit_label(v.visit_type), "when": _flags_text(v.when) or "—",
         "visit_class": _class_label(v.visit_class) or str(gettext_lazy("不在救助范围")), "covered": v.visit_class is not None, "clause": v.clause}
        for v in spec.visit_classes
    ]
    categories_by_tier: dict[str, list[dict]] = {}
    for ct in spec.category_tiers:
        categories_by_tier.setdefault(ct.tier, []).append({"label": _category_label(ct.category), "clause": ct.clause})
    tiers = []
    for tier in spec.tiers:
        tiers.append({
            "code": tier.code,
            "label": tier.label_zh,
            "clause": tier.clause,
            "categories": categories_by_tier.get(tier.code, []),
            "required_flags": _flags_text(tier.required_flags),
            "deductible": _deductible_text(tier.deductible),
            "deductible_clause": tier.deductible.clause,
            "buckets": [{"name": _bucket_label(b.name), "cap": _cap(b.cap), "clause": b.clause} for b in tier.buckets],
            "classes": [{"visit_class": _class_label(c.visit_class), "rate": _pct(c.rate),
                         "draws": "、".join(_bucket_label(n) for n in c.draws) or "—",
                         "clause": c.clause} for c in tier.visit_classes],
        })
    tilted = None
    if spec.tilted is not None:
        t = spec.tilted
        tilted = {
            "value": str(gettext_lazy("年度累计剩余个人负担超过 %(threshold)s 元的部分按 %(rate)s 救助")) % {
                "threshold": _yuan(t.threshold), "rate": _pct(t.rate)},
            "conditions": _flags_text(t.required_flags) or "—",
            "cap": _cap(t.cap),
            "clause": t.clause,
        }
    specials = []
    for s in spec.special_items:
        amount = (str(gettext_lazy("一次性 %(amount)s 元")) % {"amount": _yuan(s.amount)} if s.kind == "fixed"
                  else str(gettext_lazy("个人负担的 %(rate)s")) % {"rate": _pct(s.rate)})
        who = []
        if s.categories is not None:
            who.append("、".join(_category_label(c) for c in s.categories))
        if s.disability_grades is not None:
            who.append(str(gettext_lazy("残疾等级 %(grades)s 级")) % {"grades": "、".join(str(g) for g in s.disability_grades)})
        specials.append({
            "label": s.label_zh or s.code,
            "visit_types": "、".join(visit_label(v) for v in s.visit_types) if s.visit_types else str(gettext_lazy("不限")),
            "conditions": _flags_text(s.required_flags) or "—",
            "who": "；".join(who) or str(gettext_lazy("本政策救助对象")),
            "amount": amount,
            "cap": (f"{_bucket_label(s.bucket.name)}：{_cap(s.bucket.cap)}" if s.bucket is not None else str(gettext_lazy("不设限额"))),
            "exclusive": s.exclusive,
            "clause": s.clause,
        })
    schemes = []
    for a in spec.application_schemes:
        bands = []
        lower = None
        for band in a.bands:
            if band.upper is None:
                span = str(gettext_lazy("%(lower)s 元以上")) % {"lower": _yuan(lower)} if lower is not None else str(gettext_lazy("全部"))
            elif lower is None:
                span = str(gettext_lazy("%(upper)s 元以下（含）")) % {"upper": _yuan(band.upper)}
            else:
                span = f"{_yuan(lower)}–{_yuan(band.upper)}"
            bands.append({"span": span, "rate": _pct(band.rate)})
            lower = band.upper
        window = (str(gettext_lazy("申请上一自然年度")) if a.window == "previous_calendar_year"
                  else str(gettext_lazy("申请日前 %(months)s 个月")) % {"months": a.months})
        schemes.append({
            "label": a.label_zh or a.code,
            "categories": "、".join(_category_label(c) for c in a.categories),
            "window": window,
            "members": gettext_lazy("患者及共同生活的家庭成员") if a.members == "household" else gettext_lazy("患者本人"),
            "visit_classes": "、".join(_class_label(v) for v in a.visit_classes) if a.visit_classes else str(gettext_lazy("全部")),
            "require_designated": a.require_designated,
            "require_referral": a.require_referral,
            "bands": bands,
            "cap": _cap(a.cap),
            "bucket": f"{_bucket_label(a.bucket.name)}：{_cap(a.bucket.cap)}" if a.bucket is not None else "—",
            "once_per_year": a.once_per_year,
            "clause": a.clause,
        })
    ps = spec.premium_subsidies
    subsidies = {
        "statistic": STATISTIC_LABELS.get(ps.statistic, ps.statistic),
        "clause": ps.clause,
        "rules": [{"categories": "、".join(_category_label(c) for c in r.categories),
                   "share": str(gettext_lazy("全额资助")) if r.kind == "full" else str(gettext_lazy("资助 %(share)s")) % {"share": _pct(r.share)},
                   "clause": r.clause} for r in ps.rules],
        "timing": None if ps.timing is None else {
            "value": str(gettext_lazy("批准当月资助，%(from)s；当年已缴费的%(paid)s")) % {
                "from": gettext_lazy("次月起享受待遇") if ps.timing.covered_from == "next_month" else gettext_lazy("批准之日起享受待遇"),
                "paid": gettext_lazy("次年起资助") if ps.timing.if_already_paid == "next_year" else gettext_lazy("当年资助")},
            "clause": ps.timing.clause},
    }
    warnings = [
        {"kind": WARNING_LABELS.get(w.kind, w.kind),
         "who": (gettext_lazy("未认定任何救助身份的家庭") if w.categories is None
                 else "、".join(_category_label(c) for c in w.categories)),
         "threshold": str(gettext_lazy("年度个人负担超过%(year)s%(stat)s的 %(share)s")) % {
             "year": _year_text(w.year_offset), "stat": STATISTIC_IN_SENTENCE.get(w.statistic, w.statistic),
             "share": _pct(w.share)},
         "clause": w.clause}
        for w in spec.warnings
    ]
    return {"general": general, "visits": visits, "tiers": tiers, "tilted": tilted, "specials": specials,
            "schemes": schemes, "subsidies": subsidies, "warnings": warnings, "note": spec.note}


# --------------------------------------------------------------------------------------------
# Categories a region's policy maps (certification follows the region's policy, POLICY.md §9)
# --------------------------------------------------------------------------------------------


def mapped_categories(spec) -> frozenset[str]:
    """Categories a policy names: a tier, an on-application scheme, a premium subsidy or an early
    warning it watches (e.g. Beijing 八(一) watches 低保边缘 households, so they are certified)."""
    codes = {ct.category for ct in spec.category_tiers}
    for rule in spec.warnings:
        codes.update(rule.categories or ())
    for scheme in spec.application_schemes:
        codes.update(scheme.categories)
    for rule in spec.premium_subsidies.rules:
        codes.update(rule.categories)
    return frozenset(codes)


def region_categories(*, region, on: date) -> tuple[Policy | None, frozenset[str] | None]:
    """(policy in force, its mapped categories); (None, None) when no policy is in force (no check)."""
    policy = policy_in_force(region=region, on=on)
    if policy is None:
        return None, None
    return policy, mapped_categories(spec_of(policy))


def category_refusal(*, region, code: str, on: date) -> str | None:
    """Why ``code`` may not be certified in ``region`` on ``on`` (its policy does not map it), or None."""
    from .engine.types import CATEGORIES

    policy, codes = region_categories(region=region, on=on)
    if codes is None or code in codes:
        return None
    return str(gettext_lazy("“%(category)s”不是%(doc)s规定的救助对象类别（%(region)s现行政策），不能认定。")) % {
        "category": gettext(CATEGORIES.get(code, (code,))[0]), "doc": policy.document_no,  # type: ignore[union-attr]
        "region": policy.region.name if policy.region_id else str(gettext_lazy("全国框架")),  # type: ignore[union-attr]
    }
