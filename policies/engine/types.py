"""Types of the medical-assistance engine (医疗救助计算引擎): inputs, results and the policy.

Pure Python: no Django here. Inputs and results are frozen ``slots`` dataclasses with ``Decimal``
money; :class:`YearState` is the one mutable type (a person's accumulations for a calendar year,
updated by the engine). :class:`PolicySpec` is a policy as data: ``PolicySpec.from_dict`` reads
and validates the JSON-ready dict administrators edit (see ``presets/``), ``to_dict`` writes it
back. Every rule in it carries the clause of the document it rests on.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from hashlib import md5
from typing import Any, NamedTuple

from .money import ONE, ZERO, money_str, percent_str, to_decimal

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

VISIT_TYPES = ("outpatient", "outpatient_special", "inpatient", "maternity", "rehabilitation")

VISIT_TYPE_LABELS = {
    "outpatient": "普通门诊",
    "outpatient_special": "门诊慢性病/特殊疾病",
    "inpatient": "住院",
    "maternity": "分娩",
    "rehabilitation": "康复",
}

# Readable names of the usual cap buckets, for explanations read to a citizen (a policy may name
# others; those are shown as named).
BUCKET_LABELS = {
    "outpatient": "普通门诊",
    "inpatient": "住院及门诊特殊疾病",
    "main": "住院及门诊慢特病",
    "annual": "年度",
    "rehabilitation": "康复",
}

FLAG_NAMES = (
    "designated",
    "referral_compliant",
    "in_province",
    "major_disease",
    "rare_disease",
    "good_samaritan_injury",
)

# POLICY.md §2: the stable category vocabulary, its label and the agencies that certify it.
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "extreme_poverty": ("特困人员", ("civil_affairs",)),
    "orphan": ("孤儿、事实无人抚养儿童", ("civil_affairs",)),
    "minimum_living": ("最低生活保障对象", ("civil_affairs",)),
    "distressed_child": ("困境儿童", ("civil_affairs",)),
    "marginal_family": ("低保边缘家庭成员", ("civil_affairs",)),
    "low_income_family": ("城乡低收入家庭救助人员", ("civil_affairs",)),
    "hardship_allowance": ("生活困难补助人员", ("civil_affairs",)),
    "disabled_returned_youth": ("因公(病)致残返城知青", ("civil_affairs",)),
    "downsized_1960s_worker": ("20世纪60年代精减退职职工", ("civil_affairs",)),
    "expenditure_hardship_patient": ("支出型困难家庭中的大重病患者", ("civil_affairs", "medical_security")),
    "temporary_relief_patient": ("临时救助对象中的大重病患者", ("civil_affairs", "medical_security")),
    "illness_poverty_patient": ("因病致贫重病患者", ("civil_affairs", "medical_security")),
    "veteran_party_member": ("农村建国前入党的老党员、老游击队员、老交通员", ("civil_affairs",)),
    "entitled_group": ("享受国家抚恤补助的优抚对象", ("veterans_affairs",)),
    "hardship_worker": ("总工会核定的特困职工", ("trade_union",)),
    "severe_disability": ("符合条件的重度残疾人", ("disabled_persons_federation",)),
    "disability_allowance": ("享受困难残疾人生活补贴人员", ("disabled_persons_federation",)),
    "returned_to_poverty": ("返贫致贫人口", ("rural_revitalization",)),
    "monitored_rural": ("防止返贫监测对象", ("rural_revitalization",)),
    "hiv_patient": ("艾滋病机会性感染者和病人", ("health",)),
    "good_samaritan": ("见义勇为者", ("public_security",)),
    "other_special": ("其他特殊困难人员", ("civil_affairs",)),
}
CATEGORY_CODES = tuple(CATEGORIES)

REASONS = {
    "not_eligible": "不属于医疗救助对象或不在身份有效期内",
    "non_designated": "非定点医药机构",
    "unreferred": "未按规定转诊",
    "visit_not_covered": "该就诊类别不在救助范围",
    "cap_limited": "受年度救助限额限制",
    "cap_exhausted": "年度救助限额已用完",
    "deductible": "起付标准内个人负担",
    "outside_policy_period": "结算日期不在政策执行期内",
    "invalid_amounts": "费用金额不一致",
    "invalid_dates": "就诊日期不一致",
    "missing_statistic": "缺少上年统计数据",
    "already_applied_this_year": "本自然年度已申请过",
    "capped": "超过单次救助最高限额",
    "no_counted_bills": "无可计入的费用",
    "identity_set_aside": "另一救助身份的起付标准缺少上年统计数据，未参与比较（按其余身份计算）",
    "special_instead": "按专项救助标准救助，不再重复享受普通救助",
    "special_higher": "专项救助高于普通救助，就高救助，不得重复",
    "regular_higher": "普通救助高于专项救助，就高救助，不得重复",
    "no_scheme": "本地区政策未设依申请救助",
}

STATISTICS = ("per_capita_disposable_income", "resident_contribution")

COVERAGE_ENDS = ("same_day", "end_of_month")
DEDUCTIBLE_KINDS = ("none", "fixed", "statistic_share")
SPECIAL_KINDS = ("fixed", "rate")
# How a special item combines with the bill's regular assistance: ``add`` (paid on what is left),
# ``instead`` (replaces regular assistance whenever it applies), ``higher`` (就高: the larger of the
# two, never both).
SPECIAL_COMBINE = ("add", "instead", "higher")
# Whose payments use up a cap bucket's room (POLICY.md §9 "caps across identities"):
# ``capped_tiers``: only assistance paid under tiers that carry the bucket WITH a cap;
# ``all_tiers``: everything paid from a bucket of that name, uncapped tiers included.
CAP_COUNTS = ("capped_tiers", "all_tiers")
WINDOW_KINDS = ("previous_calendar_year", "months_before", "since_certification")
# How relief on application is computed: progressive ``bands`` over the counted burden (Beijing
# 六(三), Ningbo 三(二)1), or ``per_bill``: each counted bill assessed under the region's own tier
# of the scheme's category (national 五(八), Wuxi, Dongzhi; POLICY.md §9).
SCHEME_METHODS = ("bands", "per_bill")
MEMBER_SCOPES = ("household", "patient")
SUBSIDY_KINDS = ("full", "fraction")
WARNING_KINDS = ("illness_poverty", "return_to_poverty")
COVERED_FROM = ("approval_date", "next_month")
IF_ALREADY_PAID = ("same_year", "next_year")

RegionStats = Mapping[int, Mapping[str, Decimal]]


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flags:
    """Facts about a bill that rules depend on (POLICY.md §3)."""

    designated: bool = True
    referral_compliant: bool = True
    in_province: bool = True
    major_disease: bool = False
    rare_disease: bool = False
    good_samaritan_injury: bool = False


DEFAULT_FLAGS = Flags()


@dataclass(frozen=True, slots=True)
class CertificationIn:
    """A certified category; ``valid_until`` is None while in force (POLICY.md §2)."""

    category: str
    valid_from: date
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class PersonIn:
    certifications: tuple[CertificationIn, ...]
    disability_grade: int | None = None


@dataclass(frozen=True, slots=True)
class BillIn:
    """One settled bill; ``end`` is the settlement date (结算日期)."""

    id: str
    visit_type: str
    start: date
    end: date
    total_cost: Decimal
    policy_scope_cost: Decimal
    basic_paid: Decimal
    critical_paid: Decimal
    other_paid: Decimal
    flags: Flags = DEFAULT_FLAGS


@dataclass(slots=True)
class YearState:
    """A person's accumulations for ONE calendar year; the engine updates it in place.

    ``bucket_used`` holds what counts against each named bucket's cap this year: under the
    policy's ``caps.count`` rule ``capped_tiers`` (every preset), only assistance paid under tiers
    that carry the bucket with a cap (POLICY.md §9); under ``all_tiers`` uncapped draws too. ``tilted_base`` is the
    cumulative remaining burden (burden − assistance) of tilted-eligible bills.
    Precondition for concurrent use: the caller holds the person-year lock.
    """

    year: int
    bucket_used: dict[str, Decimal] = field(default_factory=dict)
    deductible_used: Decimal = ZERO
    tilted_base: Decimal = ZERO


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


class ExplanationLine(NamedTuple):
    """One printed step of an explanation: (key, label_zh, value, clause)."""

    key: str
    label_zh: str
    value: str
    clause: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label_zh, "value": self.value, "clause": self.clause}


# The three per-bill records below are immutable ``NamedTuple`` records rather than frozen
# dataclasses: building a frozen dataclass runs one ``object.__setattr__`` per field (about 2 µs for
# a BillResult on our servers, a fifth of the per-bill budget of the 100,000 bills/s target);
# a NamedTuple is built in C. Attribute names, immutability, equality and ``to_dict`` are the same.


class BucketLine(NamedTuple):
    """An annual cap bucket as a bill saw it; ``cap``/``room_*`` are None for 不设限额."""

    name: str
    cap: Decimal | None
    room_before: Decimal | None
    room_after: Decimal | None
    drawn: Decimal
    clause: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cap": _opt_money(self.cap),
            "room_before": _opt_money(self.room_before),
            "room_after": _opt_money(self.room_after),
            "drawn": money_str(self.drawn),
            "clause": self.clause,
        }


class ItemLine(NamedTuple):
    """A line outside regular assistance: tilted assistance or a special item.

    ``bucket`` names the annual bucket the amount was drawn from (None: no bucket).
    """

    kind: str  # "tilted" | "special"
    code: str
    label_zh: str
    amount: Decimal
    detail: str
    clause: str
    bucket: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "label": self.label_zh,
            "amount": money_str(self.amount),
            "detail": self.detail,
            "clause": self.clause,
        }


class Plan:
    """Precomputed context of a result: category, tier, visit class and the clauses to cite.

    Built once per policy for each category × visit rule and shared by every result that uses
    it, so explanations cost nothing on the hot path and are derived only when read.
    """

    __slots__ = (
        "category",
        "category_clause",
        "tier",
        "tier_code",
        "visit_rule",
        "visit_class",
        "class_rate",
        "rate",
        "draws",
        "reason_clauses",
        "burden_clause",
        "clauses",
        "caps",
        "cap_counted_by",
    )

    def __init__(
        self,
        *,
        category: str | None,
        category_clause: str,
        tier: Tier | None,
        visit_rule: VisitRule | None,
        class_rate: ClassRate | None,
        reason_clauses: Mapping[str, str],
        burden_clause: str,
        caps: CapRule | None = None,
        cap_counted_by: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.caps = caps
        self.cap_counted_by = cap_counted_by or {}
        self.category = category
        self.category_clause = category_clause
        self.tier = tier
        self.tier_code = None if tier is None else tier.code
        self.visit_rule = visit_rule
        self.visit_class = None if visit_rule is None else visit_rule.visit_class
        self.class_rate = class_rate
        self.rate = None if class_rate is None else class_rate.rate
        # ((bucket name, cap or None, clause), ...) drawn at once by this visit class
        self.draws: tuple[tuple[str, Decimal | None, str], ...] = () if class_rate is None or tier is None else tuple(
            (name, tier._bucket_by_name[name].cap, tier._bucket_by_name[name].clause) for name in class_rate.draws)
        self.reason_clauses = reason_clauses
        self.burden_clause = burden_clause
        clauses = [burden_clause, category_clause]
        if tier is not None:
            clauses.append(tier.clause)
            if class_rate is not None:
                clauses.append(tier.deductible.clause)
        if visit_rule is not None:
            clauses.append(visit_rule.clause)
        if class_rate is not None:
            clauses.append(class_rate.clause)
            clauses.extend(clause for _, _, clause in self.draws)
        self.clauses = _dedupe(c for c in clauses if c)

    def _key(self) -> tuple[Any, ...]:
        return (self.category, self.tier_code, self.visit_class, self.rate, self.clauses)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Plan) and self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Plan({self.category!r}, {self.tier_code!r}, {self.visit_class!r})"


class _BillFields(NamedTuple):
    """The 18 stored fields of a :class:`BillResult`, in order (``buckets`` and ``items`` as rows)."""

    bill_id: str
    error: str | None
    assistance: Decimal
    tilted: Decimal
    special: Decimal
    total: Decimal
    category: str | None
    tier: str | None
    visit_class: str | None
    burden: Decimal
    deductible: Decimal
    rate: Decimal | None
    raw: Decimal
    buckets: tuple[tuple[Any, ...], ...]
    reasons: tuple[str, ...]
    clauses: tuple[str, ...]
    items: tuple[tuple[Any, ...], ...] = ()
    plan: Plan | None = None


_new = tuple.__new__


# repr of a BucketLine / ItemLine from its fields (a NamedTuple's repr: "Name(field=%r, ...)")
_BUCKET_REPR = "BucketLine(name=%r, cap=%r, room_before=%r, room_after=%r, drawn=%r, clause="
_ITEM_REPR = "ItemLine(kind=%r, code=%r, label_zh=%r, amount=%r, detail=%r, clause=%r, bucket=%r)"
_REPRS: dict[int, tuple[Any, str]] = {}


def _shared_repr(value: Any) -> str:
    """``repr(value)`` of a long-lived immutable value (a kernel's clause tuple, a clause text),
    kept per object (the object is held, so its id is not reused; at most 4,096 kept)."""
    found = _REPRS.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    text = repr(value)
    if len(_REPRS) >= 4096:
        _REPRS.clear()
    _REPRS[id(value)] = (value, text)
    return text


def _records_repr(form: str, rows: tuple[tuple[Any, ...], ...]) -> str:
    """repr of ``rows`` (plain rows or records) as a tuple of BucketLine/ItemLine records."""
    if form is _BUCKET_REPR:
        parts = [form % row[:5] + _shared_repr(row[5]) + ")" for row in rows]
    else:
        parts = [form % tuple(row) for row in rows]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


class BillResult(_BillFields):
    """The assessment of one bill with its explanation (for decision letters and screens).

    ``total = assistance + tilted + special``. ``error`` is ``"invalid_amounts"``,
    ``"invalid_dates"`` or ``"missing_statistic"`` (all money zero) or None. ``lines`` (the
    ordered, human-readable steps) is derived on read from the shared :class:`Plan`.

    Stored as rows, read as records (issue 20): the engine stores ``buckets`` and ``items`` as
    plain tuples of str, Decimal and None (``(name, cap, room_before, room_after, drawn,
    clause)``, ``(kind, code, label_zh, amount, detail, clause, bucket)``), and the attributes
    ``buckets`` and ``items``, iteration, ``repr``, ``_replace`` and :meth:`digest` read them as
    :class:`BucketLine` / :class:`ItemLine` exactly as before. A plain tuple holding only str,
    Decimal and None is untracked by the garbage collector at its first collection, so a result
    in a long-lived list costs the collector's full passes one object, not three (a result
    holding ``BucketLine`` records stayed three tracked objects for good). Records given at
    construction (``BillResult(buckets=(BucketLine(...),))``) are read the same way. Equality is
    the tuples': a row equals the record with the same fields.
    """

    __slots__ = ()

    @property
    def buckets(self) -> tuple[BucketLine, ...]:
        rows: Any = self[13]
        if not rows or type(rows[0]) is BucketLine:
            return rows
        return tuple([_new(BucketLine, row) for row in rows])

    @property
    def items(self) -> tuple[ItemLine, ...]:
        rows: Any = self[16]
        if not rows or type(rows[0]) is ItemLine:
            return rows
        return tuple([_new(ItemLine, row) for row in rows])

    def _read(self) -> tuple[Any, ...]:
        """The 18 fields as read (records, not rows)."""
        return (*self[:13], self.buckets, self[14], self[15], self.items, self[17])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._read())

    def __repr__(self) -> str:
        return "BillResult(" + ", ".join([f"{name}={value!r}" for name, value in zip(self._fields, self._read(),
                                                                                      strict=True)]) + ")"

    def digest(self) -> str:
        """A fingerprint of the result: the md5 of the ``repr`` of every field but ``plan``.

        ``to_dict()`` is built from these fields and the plan, and the plan is fixed by the policy
        version and the result's category, tier and visit class; so under one policy version,
        equal digests mean equal explanations. The nightly recalculation compares a stored
        digest with this instead of re-reading and re-serialising every stored explanation.
        Stable across processes: only str, None, Decimal and tuples of them (no sets, no hashes).
        """
        # The repr of the 17 fields as read (bucket and item rows as BucketLine/ItemLine records),
        # written piece by piece: a tuple's repr is "(" + ", ".join(reprs) + ")", a record's as in
        # _BUCKET_REPR/_ITEM_REPR; the reprs of the policy's shared clause tuples and texts are
        # kept (_shared_repr). The same string as repr(self[:-1]) gave before issue 20.
        text = "".join((repr(self[:13])[:-1], ", ", _records_repr(_BUCKET_REPR, self[13]), ", ", repr(self[14]),
                        ", ", _shared_repr(self[15]), ", ", _records_repr(_ITEM_REPR, self[16]), ")"))
        return md5(text.encode(), usedforsecurity=False).hexdigest()

    @property
    def lines(self) -> tuple[ExplanationLine, ...]:
        plan = self.plan
        out: list[ExplanationLine] = []
        add = out.append
        if self.error is not None:
            add(ExplanationLine("error", "说明", REASONS.get(self.error, self.error), ""))
            return tuple(out)
        burden_clause = plan.burden_clause if plan is not None else ""
        if self.category is not None:
            label = CATEGORIES.get(self.category, (self.category,))[0]
            add(ExplanationLine("category", "救助对象类别", label,
                                plan.category_clause if plan else ""))
        tier = plan.tier if plan is not None else None
        if tier is not None:
            add(ExplanationLine("tier", "救助档次", f"{tier.code} {tier.label_zh}".strip(), tier.clause))
        if self.visit_class is not None:
            rule = plan.visit_rule if plan is not None else None
            add(ExplanationLine("visit_class", "就诊类别", VISIT_TYPE_LABELS.get(self.visit_class, self.visit_class),
                                rule.clause if rule else ""))
        add(ExplanationLine("burden", "政策范围内个人负担", money_str(self.burden), burden_clause))
        class_rate = plan.class_rate if plan is not None else None
        if class_rate is not None and tier is not None and self.rate is not None:
            add(ExplanationLine("deductible", "起付标准（本次扣除）", money_str(self.deductible),
                                tier.deductible.clause))
            add(ExplanationLine("rate", "救助比例", percent_str(self.rate), class_rate.clause))
            add(ExplanationLine("raw", "按比例计算的救助额", money_str(self.raw), class_rate.clause))
        for bucket in self.buckets:
            if bucket.cap is None:
                value = f"不设限额；本次支付 {money_str(bucket.drawn)}"
            else:
                value = (f"限额 {money_str(bucket.cap)}；剩余 {money_str(bucket.room_before)}"  # type: ignore[arg-type]
                         f" → {money_str(bucket.room_after)}")  # type: ignore[arg-type]
                counted = plan.cap_counted_by.get(bucket.name) if plan is not None else None
                if counted and plan is not None and plan.caps is not None:
                    value += (f"；已用额度只计入 {'、'.join(counted)} 档次下的支付" if plan.caps.count == "capped_tiers"
                              else f"；已用额度计入 {'、'.join(counted)} 档次下的全部支付")
            clause = bucket.clause
            if bucket.cap is not None and plan is not None and plan.caps is not None:
                clause = "；".join(dict.fromkeys(c for c in (bucket.clause, plan.caps.clause) if c))
            add(ExplanationLine(f"bucket:{bucket.name}", f"年度救助限额（{BUCKET_LABELS.get(bucket.name, bucket.name)}）",
                                value, clause))
        add(ExplanationLine("assistance", "医疗救助金额", money_str(self.assistance),
                            class_rate.clause if class_rate else ""))
        for item in self.items:
            value = money_str(item.amount) + (f"（{item.detail}）" if item.detail else "")
            add(ExplanationLine(f"{item.kind}:{item.code}", item.label_zh, value, item.clause))
        add(ExplanationLine("total", "救助合计", money_str(self.total), ""))
        reason_clauses = plan.reason_clauses if plan is not None else {}
        cap_clauses = [b.clause for b in self.buckets if b.cap is not None and b.room_after == ZERO]
        cap_clauses += [i.clause for i in self.items]
        for reason in self.reasons:
            clause = reason_clauses.get(reason, "")
            if reason in ("cap_limited", "cap_exhausted"):
                clause = "；".join(dict.fromkeys(cap_clauses))
            elif reason == "deductible" and tier is not None:
                clause = tier.deductible.clause
            add(ExplanationLine(f"reason:{reason}", "说明", REASONS.get(reason, reason), clause))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money as ``"17000.00"`` strings, keys as in ``cases/README.md``."""
        return {
            "bill_id": self.bill_id,
            "error": self.error,
            "assistance": money_str(self.assistance),
            "tilted": money_str(self.tilted),
            "special": money_str(self.special),
            "total": money_str(self.total),
            "category": self.category,
            "tier": self.tier,
            "visit_class": self.visit_class,
            "reasons": list(self.reasons),
            "explanation": {
                "category": self.category,
                "tier": self.tier,
                "visit_class": self.visit_class,
                "burden": money_str(self.burden),
                "deductible": money_str(self.deductible),
                "rate": None if self.rate is None else str(self.rate),
                "raw": money_str(self.raw),
                "buckets": [b.to_dict() for b in self.buckets],
                "items": [i.to_dict() for i in self.items],
                "reasons": list(self.reasons),
                "clauses": list(self.clauses),
                "lines": [line.to_dict() for line in self.lines],
            },
        }


@dataclass(frozen=True, slots=True)
class SubsidyResult:
    """Premium subsidy (资助参保, POLICY.md §5) for one person on one date."""

    category: str | None
    kind: str | None  # "full" | "fraction" | None
    share: Decimal
    amount: Decimal | None
    clause: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "kind": self.kind,
            "share": str(self.share),
            "amount": _opt_money(self.amount),
            "clause": self.clause,
        }


@dataclass(frozen=True, slots=True)
class SubsidyTimingResult:
    """When a newly approved beneficiary's premium subsidy starts and cover begins (§5)."""

    subsidised_year: int
    covered_from: date
    clause: str | None


class WarningResult(NamedTuple):
    """Early warning (预警, POLICY.md §6): kind is None when no threshold is exceeded."""

    kind: str | None
    threshold: Decimal | None
    clause: str | None


class MissingStatisticError(LookupError):
    """A regional statistic a rule needs is not recorded (never read as zero)."""

    def __init__(self, year: int, name: str) -> None:
        super().__init__(f"statistic {name!r} for {year} is not recorded")
        self.year = year
        self.name = name


# --------------------------------------------------------------------------------------------
# The policy as data
# --------------------------------------------------------------------------------------------


class PolicyError(ValueError):
    """A policy dict that does not validate; ``field`` is the dotted path of the bad value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _dedupe(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _opt_money(value: Decimal | None) -> str | None:
    return None if value is None else money_str(value)


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class _Reader:
    """Reads one JSON object at ``path``, naming the field in every error."""

    __slots__ = ("data", "path", "_seen")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise PolicyError(path or "(root)", "must be an object")
        self.data = data
        self.path = path
        self._seen: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str, default: Any = ..., *, required: bool = False) -> Any:
        self._seen.add(key)
        if key in self.data:
            return self.data[key]
        if required or default is ...:
            raise PolicyError(self.at(key), "is required")
        return default

    def done(self) -> None:
        extra = [k for k in self.data if k not in self._seen]
        if extra:
            raise PolicyError(self.at(str(extra[0])), "unknown field")

    # typed getters -------------------------------------------------------------------------
    def text(self, key: str, default: Any = ..., *, choices: tuple[str, ...] | None = None,
            nullable: bool = False, empty: bool = False) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise PolicyError(self.at(key), "must be a non-empty string")
        if choices is not None and value not in choices:
            raise PolicyError(self.at(key), f"must be one of {', '.join(choices)}")
        return value

    def clause(self, key: str = "clause") -> str:
        value: str = self.text(key)
        return value

    def boolean(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise PolicyError(self.at(key), "must be true or false")
        return value

    def integer(self, key: str, default: Any = ..., *, nullable: bool = False, lo: int | None = None) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise PolicyError(self.at(key), "must be an integer")
        if lo is not None and value < lo:
            raise PolicyError(self.at(key), f"must be at least {lo}")
        return value

    def decimal(self, key: str, default: Any = ..., *, nullable: bool = False,
                lo: Decimal | None = ZERO, hi: Decimal | None = None) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        if isinstance(value, float):  # admin JSON may hold numbers; read them by their text
            value = repr(value)
        try:
            number = to_decimal(value)
        except ValueError:
            raise PolicyError(self.at(key), "must be a decimal number written as a string, e.g. \"0.85\"") from None
        if lo is not None and number < lo:
            raise PolicyError(self.at(key), f"must be at least {lo}")
        if hi is not None and number > hi:
            raise PolicyError(self.at(key), f"must be at most {hi}")
        return number

    def rate(self, key: str, default: Any = ..., *, nullable: bool = False) -> Any:
        return self.decimal(key, default, nullable=nullable, lo=ZERO, hi=ONE)

    def day(self, key: str, default: Any = ..., *, nullable: bool = False) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise PolicyError(self.at(key), "must be a date YYYY-MM-DD") from None

    def seq(self, key: str, default: Any = ..., *, nullable: bool = False) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        if not isinstance(value, (list, tuple)):
            raise PolicyError(self.at(key), "must be a list")
        return value

    def codes(self, key: str, vocabulary: tuple[str, ...], default: Any = ..., *,
              nullable: bool = False) -> Any:
        items = self.seq(key, default, nullable=nullable)
        if items is None:
            return None
        for index, item in enumerate(items):
            if item not in vocabulary:
                raise PolicyError(f"{self.at(key)}[{index}]", f"unknown code {item!r}")
        if len(set(items)) != len(items):
            raise PolicyError(self.at(key), "lists a code twice")
        return tuple(items)

    def flags(self, key: str, default: Any = ...) -> tuple[tuple[str, bool], ...]:
        value = self.raw(key, default)
        if not isinstance(value, Mapping):
            raise PolicyError(self.at(key), "must be an object of flag: true/false")
        for name, flag in value.items():
            if name not in FLAG_NAMES:
                raise PolicyError(f"{self.at(key)}.{name}", f"unknown flag; flags are {', '.join(FLAG_NAMES)}")
            if not isinstance(flag, bool):
                raise PolicyError(f"{self.at(key)}.{name}", "must be true or false")
        return tuple(value.items())

    def obj(self, key: str, default: Any = ..., *, nullable: bool = False) -> Any:
        value = self.raw(key, default)
        if value is None and nullable:
            return None
        return _Reader(value, self.at(key))


def _flags_match(flags: Flags, required: tuple[tuple[str, bool], ...]) -> bool:
    for name, wanted in required:
        if getattr(flags, name) is not wanted:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Coverage:
    """When a certification stops covering bills: ``same_day`` or ``end_of_month`` (次月起)."""

    ends: str
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> Coverage:
        value = cls(ends=r.text("ends", choices=COVERAGE_ENDS), clause=r.clause())
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"ends": self.ends, "clause": self.clause}


@dataclass(frozen=True, slots=True)
class Requirement:
    required: bool
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> Requirement:
        value = cls(required=r.boolean("required"), clause=r.clause())
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"required": self.required, "clause": self.clause}


@dataclass(frozen=True, slots=True)
class VisitRule:
    """Maps a visit type (and flags) to a visit class; class None = not covered (first match wins)."""

    visit_type: str
    when: tuple[tuple[str, bool], ...]
    visit_class: str | None
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> VisitRule:
        value = cls(
            visit_type=r.text("visit_type", choices=VISIT_TYPES),
            when=r.flags("when", {}),
            visit_class=r.text("class", nullable=True),
            clause=r.clause(),
        )
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"visit_type": self.visit_type, "when": dict(self.when), "class": self.visit_class,
                "clause": self.clause}


@dataclass(frozen=True, slots=True)
class CategoryTier:
    category: str
    tier: str
    clause: str


@dataclass(frozen=True, slots=True)
class Deductible:
    """Annual deductible (起付标准): none, a fixed amount, or a share of a regional statistic.

    ``statistic_share`` reads the statistic of the settlement year + ``year_offset`` (−1: 上年).
    """

    kind: str
    amount: Decimal | None
    statistic: str | None
    share: Decimal | None
    year_offset: int
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> Deductible:
        kind = r.text("kind", choices=DEDUCTIBLE_KINDS)
        amount = r.decimal("amount", None, nullable=True)
        statistic = r.text("statistic", None, nullable=True, choices=STATISTICS)
        share = r.rate("share", None, nullable=True)
        year_offset = r.integer("year_offset", -1)
        clause = r.clause()
        r.done()
        if kind == "fixed" and amount is None:
            raise PolicyError(r.at("amount"), "is required for a fixed deductible")
        if kind == "statistic_share" and (statistic is None or share is None):
            raise PolicyError(r.at("statistic" if statistic is None else "share"),
                              "is required for a statistic_share deductible")
        return cls(kind, amount, statistic, share, year_offset, clause)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "amount": _opt_str(self.amount), "statistic": self.statistic,
                "share": _opt_str(self.share), "year_offset": self.year_offset, "clause": self.clause}


@dataclass(frozen=True, slots=True)
class Bucket:
    """A named annual cap bucket (年度救助限额); ``cap`` None = 不设限额 (still accumulated)."""

    name: str
    cap: Decimal | None
    clause: str

    @classmethod
    def from_dict(cls, name: str, r: _Reader) -> Bucket:
        value = cls(name=name, cap=r.decimal("cap", None, nullable=True), clause=r.clause())
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"cap": _opt_str(self.cap), "clause": self.clause}


@dataclass(frozen=True, slots=True)
class ClassRate:
    """A tier's rate for one visit class and the buckets it draws on (all of them, at once)."""

    visit_class: str
    rate: Decimal
    draws: tuple[str, ...]
    clause: str

    def to_dict(self) -> dict[str, Any]:
        return {"rate": str(self.rate), "draws": list(self.draws), "clause": self.clause}


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier (救助档次): deductible, buckets, and per visit class a rate and buckets drawn.

    ``required_flags``: bills without them are not covered by this tier (e.g. Ningbo 见义勇为:
    only injuries from the act).
    """

    code: str
    label_zh: str
    clause: str
    required_flags: tuple[tuple[str, bool], ...]
    deductible: Deductible
    buckets: tuple[Bucket, ...]
    visit_classes: tuple[ClassRate, ...]
    _bucket_by_name: dict[str, Bucket] = field(init=False, repr=False, compare=False)
    _class_by_name: dict[str, ClassRate] = field(init=False, repr=False, compare=False)
    # visit class → ((name, cap, bucket), ...) for the hot path
    _draws: dict[str, tuple[tuple[str, Decimal | None, Bucket], ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {b.name: b for b in self.buckets}
        object.__setattr__(self, "_bucket_by_name", by_name)
        object.__setattr__(self, "_class_by_name", {c.visit_class: c for c in self.visit_classes})
        object.__setattr__(self, "_draws", {
            c.visit_class: tuple((n, by_name[n].cap, by_name[n]) for n in c.draws) for c in self.visit_classes
        })

    @classmethod
    def from_dict(cls, r: _Reader) -> Tier:
        code = r.text("code")
        label = r.text("label_zh", "", empty=True)
        clause = r.clause()
        required_flags = r.flags("required_flags", {})
        deductible = Deductible.from_dict(r.obj("deductible"))
        buckets_r = r.obj("buckets", {})
        buckets = tuple(Bucket.from_dict(name, buckets_r.obj(name)) for name in buckets_r.data)
        buckets_r._seen.update(buckets_r.data)
        classes_r = r.obj("visit_classes")
        classes = []
        for name in classes_r.data:
            cr = classes_r.obj(name)
            rate = cr.rate("rate")
            draws = cr.seq("draws", [])
            for index, bucket in enumerate(draws):
                if bucket not in buckets_r.data:
                    raise PolicyError(f"{cr.at('draws')}[{index}]", f"no bucket {bucket!r} in {buckets_r.path}")
            classes.append(ClassRate(name, rate, tuple(draws), cr.clause()))
            cr.done()
        r.done()
        return cls(code, label, clause, required_flags, deductible, buckets, tuple(classes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label_zh": self.label_zh,
            "clause": self.clause,
            "required_flags": dict(self.required_flags),
            "deductible": self.deductible.to_dict(),
            "buckets": {b.name: b.to_dict() for b in self.buckets},
            "visit_classes": {c.visit_class: c.to_dict() for c in self.visit_classes},
        }


@dataclass(frozen=True, slots=True)
class Tilted:
    """倾斜救助: ``rate`` × the year's cumulative remaining burden above ``threshold``.

    Only bills with ``required_flags`` (e.g. referral-compliant, in-province) count; its own line,
    outside regular buckets, capped by ``cap`` if set.
    """

    threshold: Decimal
    rate: Decimal
    required_flags: tuple[tuple[str, bool], ...]
    cap: Decimal | None
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> Tilted:
        value = cls(
            threshold=r.decimal("threshold"),
            rate=r.rate("rate"),
            required_flags=r.flags("required_flags", {}),
            cap=r.decimal("cap", None, nullable=True),
            clause=r.clause(),
        )
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": str(self.threshold), "rate": str(self.rate),
                "required_flags": dict(self.required_flags), "cap": _opt_str(self.cap), "clause": self.clause}


@dataclass(frozen=True, slots=True)
class SpecialItem:
    """A special grant outside regular buckets (POLICY.md §3.3), e.g. Ningbo 分娩 900.

    Applies to bills of ``visit_types`` (None = any) with ``required_flags``, for ``categories``
    (None = any category the policy maps to a tier) and ``disability_grades`` (None = any).
    ``fixed``: ``amount`` (at most the remaining burden); ``rate``: ``rate`` × remaining burden.
    ``combine``: ``add`` (on what regular assistance left), ``instead`` (replaces regular
    assistance whenever it applies, e.g. 专项救助 of the whole burden) or ``higher`` (就高: the
    larger of the two, never both). ``exclusive`` (older dicts) reads as ``instead``.
    ``bucket``: its own annual cap bucket.
    """

    code: str
    label_zh: str
    visit_types: tuple[str, ...] | None
    required_flags: tuple[tuple[str, bool], ...]
    categories: tuple[str, ...] | None
    disability_grades: tuple[int, ...] | None
    kind: str
    amount: Decimal | None
    rate: Decimal | None
    bucket: Bucket | None
    combine: str
    clause: str

    @property
    def exclusive(self) -> bool:
        return self.combine == "instead"

    @classmethod
    def from_dict(cls, r: _Reader) -> SpecialItem:
        code = r.text("code")
        label = r.text("label_zh", "", empty=True)
        visit_types = r.codes("visit_types", VISIT_TYPES, None, nullable=True)
        required_flags = r.flags("required_flags", {})
        categories = r.codes("categories", CATEGORY_CODES, None, nullable=True)
        grades = r.seq("disability_grades", None, nullable=True)
        if grades is not None:
            for index, grade in enumerate(grades):
                if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 4:
                    raise PolicyError(f"{r.at('disability_grades')}[{index}]", "must be a grade 1–4")
            grades = tuple(grades)
        kind = r.text("kind", choices=SPECIAL_KINDS)
        amount = r.decimal("amount", None, nullable=True)
        rate = r.rate("rate", None, nullable=True)
        bucket_r = r.obj("bucket", None, nullable=True)
        bucket = None
        if bucket_r is not None:
            bucket = Bucket(bucket_r.text("name"), bucket_r.decimal("cap", None, nullable=True), bucket_r.clause())
            bucket_r.done()
        exclusive = r.boolean("exclusive", None) if "exclusive" in r.data else None
        combine = r.text("combine", None, nullable=True, choices=SPECIAL_COMBINE)
        if combine is None:
            combine = "instead" if exclusive else "add"
        elif exclusive is not None and exclusive != (combine == "instead"):
            raise PolicyError(r.at("exclusive"), f"contradicts combine {combine!r}")
        clause = r.clause()
        r.done()
        if kind == "fixed" and amount is None:
            raise PolicyError(r.at("amount"), "is required for a fixed item")
        if kind == "rate" and rate is None:
            raise PolicyError(r.at("rate"), "is required for a rate item")
        return cls(code, label, visit_types, required_flags, categories, grades, kind, amount, rate,
                   bucket, combine, clause)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label_zh": self.label_zh,
            "visit_types": None if self.visit_types is None else list(self.visit_types),
            "required_flags": dict(self.required_flags),
            "categories": None if self.categories is None else list(self.categories),
            "disability_grades": None if self.disability_grades is None else list(self.disability_grades),
            "kind": self.kind,
            "amount": _opt_str(self.amount),
            "rate": _opt_str(self.rate),
            "bucket": None if self.bucket is None else {"name": self.bucket.name, "cap": _opt_str(self.bucket.cap),
                                                        "clause": self.bucket.clause},
            "combine": self.combine,
            "clause": self.clause,
        }


@dataclass(frozen=True, slots=True)
class CapRule:
    """Whose payments use up a cap bucket's room (POLICY.md §9, 京 六(一)3、六(二)3, 甬 三(二)1).

    ``capped_tiers``: a bucket's used amount counts only assistance paid under tiers that carry
    that bucket with a cap, so what a person received while 特困 (no cap) does not use up the
    room of the 低保 tier they move to. ``all_tiers``: every payment from a bucket of that name.
    """

    count: str
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> CapRule:
        value = cls(count=r.text("count", choices=CAP_COUNTS), clause=r.clause())
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "clause": self.clause}


DEFAULT_CAP_RULE = CapRule("capped_tiers", "POLICY.md §9（限额只计入设有该限额的救助档次下的支付）")


@dataclass(frozen=True, slots=True)
class Band:
    """A progressive band (分段): the part of the burden up to ``upper`` (None = no upper)."""

    upper: Decimal | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class ApplicationScheme:
    """Relief on application (依申请救助, POLICY.md §4).

    The patient must hold one of ``categories`` on the application date. Counted: bills settled
    in the ``window`` (``previous_calendar_year`` or the ``months`` before the application date)
    of the patient or the whole household (``members``), of ``visit_classes`` (None = all), at
    designated institutions if ``require_designated``; the burden is progressive over ``bands``,
    then limited by ``cap`` and the room of ``bucket`` (the caller says what it has used).
    """

    code: str
    label_zh: str
    categories: tuple[str, ...]
    window: str
    months: int | None
    members: str
    visit_classes: tuple[str, ...] | None
    require_designated: bool
    require_referral: bool
    bands: tuple[Band, ...]
    cap: Decimal | None
    bucket: Bucket | None
    once_per_year: bool
    clause: str
    method: str = "bands"

    @classmethod
    def from_dict(cls, r: _Reader) -> ApplicationScheme:
        code = r.text("code")
        label = r.text("label_zh", "", empty=True)
        categories = r.codes("categories", CATEGORY_CODES)
        if not categories:
            raise PolicyError(r.at("categories"), "must name at least one category")
        window_r = r.obj("window")
        window = window_r.text("kind", choices=WINDOW_KINDS)
        months = window_r.integer("months", None, nullable=True, lo=1)
        window_r.done()
        if window == "months_before" and months is None:
            raise PolicyError(window_r.at("months"), "is required for months_before")
        members = r.text("members", choices=MEMBER_SCOPES)
        visit_classes = r.seq("visit_classes", None, nullable=True)
        if visit_classes is not None:
            for index, name in enumerate(visit_classes):
                if not isinstance(name, str) or not name:
                    raise PolicyError(f"{r.at('visit_classes')}[{index}]", "must be a visit class name")
            visit_classes = tuple(visit_classes)
        require_designated = r.boolean("require_designated", True)
        require_referral = r.boolean("require_referral", False)
        method = r.text("method", "bands", choices=SCHEME_METHODS)
        bands_raw = r.seq("bands", [])
        if not bands_raw and method == "bands":
            raise PolicyError(r.at("bands"), "must have at least one band")
        bands = []
        previous = ZERO
        for index, band_raw in enumerate(bands_raw):
            br = _Reader(band_raw, f"{r.at('bands')}[{index}]")
            upper = br.decimal("upper", None, nullable=True)
            rate = br.rate("rate")
            br.done()
            if upper is None and index != len(bands_raw) - 1:
                raise PolicyError(br.at("upper"), "only the last band may have no upper limit")
            if upper is not None and upper <= previous:
                raise PolicyError(br.at("upper"), "must be above the previous band's upper limit")
            previous = upper if upper is not None else previous
            bands.append(Band(upper, rate))
        cap = r.decimal("cap", None, nullable=True)
        bucket_r = r.obj("bucket", None, nullable=True)
        bucket = None
        if bucket_r is not None:
            bucket = Bucket(bucket_r.text("name"), bucket_r.decimal("cap", None, nullable=True), bucket_r.clause())
            bucket_r.done()
        once = r.boolean("once_per_year", False)
        clause = r.clause()
        r.done()
        return cls(code, label, categories, window, months, members, visit_classes, require_designated,
                   require_referral, tuple(bands), cap, bucket, once, clause, method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label_zh": self.label_zh,
            "categories": list(self.categories),
            "window": {"kind": self.window, "months": self.months},
            "members": self.members,
            "visit_classes": None if self.visit_classes is None else list(self.visit_classes),
            "require_designated": self.require_designated,
            "require_referral": self.require_referral,
            "bands": [{"upper": _opt_str(b.upper), "rate": str(b.rate)} for b in self.bands],
            "cap": _opt_str(self.cap),
            "bucket": None if self.bucket is None else {"name": self.bucket.name, "cap": _opt_str(self.bucket.cap),
                                                        "clause": self.bucket.clause},
            "once_per_year": self.once_per_year,
            "method": self.method,
            "clause": self.clause,
        }


@dataclass(frozen=True, slots=True)
class SubsidyRule:
    categories: tuple[str, ...]
    kind: str  # full | fraction
    share: Decimal
    clause: str


@dataclass(frozen=True, slots=True)
class SubsidyTiming:
    """Ningbo: subsidised in the month of approval, covered from the next month; one who already
    paid this year is subsidised from next year (三(一))."""

    covered_from: str  # approval_date | next_month
    if_already_paid: str  # same_year | next_year
    clause: str


@dataclass(frozen=True, slots=True)
class PremiumSubsidies:
    """资助参保: share of the individual contribution (a per-region, per-year ``statistic``)."""

    statistic: str
    rules: tuple[SubsidyRule, ...]
    timing: SubsidyTiming | None
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> PremiumSubsidies:
        statistic = r.text("statistic", "resident_contribution", choices=STATISTICS)
        rules = []
        for index, raw in enumerate(r.seq("rules", [])):
            rr = _Reader(raw, f"{r.at('rules')}[{index}]")
            categories = rr.codes("categories", CATEGORY_CODES)
            kind = rr.text("kind", choices=SUBSIDY_KINDS)
            share = rr.rate("share")
            if share <= 0:
                raise PolicyError(rr.at("share"), "must be above 0")
            if kind == "full" and share != ONE:
                raise PolicyError(rr.at("share"), "a full subsidy has share 1")
            rules.append(SubsidyRule(categories, kind, share, rr.clause()))
            rr.done()
        timing_r = r.obj("timing", None, nullable=True)
        timing = None
        if timing_r is not None:
            timing = SubsidyTiming(timing_r.text("covered_from", choices=COVERED_FROM),
                                   timing_r.text("if_already_paid", choices=IF_ALREADY_PAID), timing_r.clause())
            timing_r.done()
        clause = r.clause()
        r.done()
        return cls(statistic, tuple(rules), timing, clause)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "rules": [{"categories": list(x.categories), "kind": x.kind, "share": str(x.share), "clause": x.clause}
                      for x in self.rules],
            "timing": None if self.timing is None else {"covered_from": self.timing.covered_from,
                                                        "if_already_paid": self.timing.if_already_paid,
                                                        "clause": self.timing.clause},
            "clause": self.clause,
        }


@dataclass(frozen=True, slots=True)
class WarningRule:
    """A warning when a household's annual burden exceeds ``share`` × a statistic.

    ``categories``: households holding one of these (因病返贫); None: households holding no
    category at all (因病致贫). The first matching rule decides.
    """

    kind: str
    categories: tuple[str, ...] | None
    statistic: str
    share: Decimal
    year_offset: int
    clause: str

    @classmethod
    def from_dict(cls, r: _Reader) -> WarningRule:
        value = cls(
            kind=r.text("kind", choices=WARNING_KINDS),
            categories=r.codes("categories", CATEGORY_CODES, None, nullable=True),
            statistic=r.text("statistic", choices=STATISTICS),
            share=r.decimal("share", lo=ZERO),
            year_offset=r.integer("year_offset", -1),
            clause=r.clause(),
        )
        r.done()
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "categories": None if self.categories is None else list(self.categories),
                "statistic": self.statistic, "share": str(self.share), "year_offset": self.year_offset,
                "clause": self.clause}


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy version as data (see ``presets/`` for the dict form and POLICY.md for meaning)."""

    code: str
    region: str
    document_no: str
    title: str
    effective_from: date
    effective_to: date | None
    needs_confirmation: bool
    note: str
    burden_clause: str
    coverage: Coverage
    designated: Requirement
    referral: Requirement
    visit_classes: tuple[VisitRule, ...]
    category_tiers: tuple[CategoryTier, ...]
    tiers: tuple[Tier, ...]
    tilted: Tilted | None
    special_items: tuple[SpecialItem, ...]
    application_schemes: tuple[ApplicationScheme, ...]
    premium_subsidies: PremiumSubsidies
    warnings: tuple[WarningRule, ...]
    caps: CapRule = DEFAULT_CAP_RULE
    # Lookups precomputed once for the hot path (not part of equality).
    tier_by_code: dict[str, Tier] = field(init=False, repr=False, compare=False)
    category_plan: dict[str, tuple[int, CategoryTier, Tier]] = field(init=False, repr=False, compare=False)
    # visit type → ((when flags, rule, {category: Plan}), ...): first matching rule wins
    visit_table: dict[str, tuple[tuple[tuple[tuple[str, bool], ...], VisitRule, dict[str, Plan]], ...]] = field(
        init=False, repr=False, compare=False)
    no_rule_plans: dict[str, Plan] = field(init=False, repr=False, compare=False)
    reason_clauses: dict[str, str] = field(init=False, repr=False, compare=False)
    gate_plan: Plan = field(init=False, repr=False, compare=False)
    end_of_month: bool = field(init=False, repr=False, compare=False)
    exclusive_specials: tuple[SpecialItem, ...] = field(init=False, repr=False, compare=False)
    higher_specials: tuple[SpecialItem, ...] = field(init=False, repr=False, compare=False)
    other_specials: tuple[SpecialItem, ...] = field(init=False, repr=False, compare=False)
    # bucket name → codes of the tiers whose payments count against its cap (caps.count)
    cap_counted_by: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    count_uncapped: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tier_by_code = {t.code: t for t in self.tiers}
        tier_index = {t.code: i for i, t in enumerate(self.tiers)}
        category_plan: dict[str, tuple[int, CategoryTier, Tier]] = {}
        for index, ct in enumerate(self.category_tiers):
            # rank: tier order first (the list runs from the most generous), then mapping order;
            # it only breaks exact ties between identities, deterministically.
            rank = tier_index[ct.tier] * 1000 + index
            category_plan[ct.category] = (rank, ct, tier_by_code[ct.tier])
        visit_not_covered = "；".join(_dedupe(r.clause for r in self.visit_classes if r.visit_class is None))
        reason_clauses = {
            "non_designated": self.designated.clause,
            "unreferred": self.referral.clause,
            "not_eligible": self.coverage.clause,
            "visit_not_covered": visit_not_covered,
            "outside_policy_period": self.document_no,
        }

        cap_counted_by: dict[str, tuple[str, ...]] = {}
        for tier in self.tiers:
            for b in tier.buckets:
                if b.cap is not None or self.caps.count == "all_tiers":
                    cap_counted_by[b.name] = (*cap_counted_by.get(b.name, ()), tier.code)

        def plans_for(rule: VisitRule | None) -> dict[str, Plan]:
            plans = {}
            for category, (_, ct, tier) in category_plan.items():
                class_rate = tier._class_by_name.get(rule.visit_class) if rule and rule.visit_class else None
                clauses = dict(reason_clauses)
                if rule is not None:
                    clauses["visit_not_covered"] = rule.clause if class_rate is None and rule.visit_class is None \
                        else tier.clause
                if tier.required_flags:
                    clauses["not_eligible"] = tier.clause
                plans[category] = Plan(category=category, category_clause=ct.clause, tier=tier, visit_rule=rule,
                                       class_rate=class_rate, reason_clauses=clauses,
                                       burden_clause=self.burden_clause, caps=self.caps,
                                       cap_counted_by=cap_counted_by)
            return plans

        table: dict[str, list[Any]] = {}
        for rule in self.visit_classes:
            table.setdefault(rule.visit_type, []).append((rule.when, rule, plans_for(rule)))
        set_ = object.__setattr__
        set_(self, "tier_by_code", tier_by_code)
        set_(self, "category_plan", category_plan)
        set_(self, "visit_table", {k: tuple(v) for k, v in table.items()})
        set_(self, "no_rule_plans", plans_for(None))
        set_(self, "reason_clauses", reason_clauses)
        set_(self, "end_of_month", self.coverage.ends == "end_of_month")
        set_(self, "exclusive_specials", tuple(s for s in self.special_items if s.combine == "instead"))
        set_(self, "higher_specials", tuple(s for s in self.special_items if s.combine == "higher"))
        set_(self, "other_specials", tuple(s for s in self.special_items if s.combine == "add"))
        set_(self, "cap_counted_by", cap_counted_by)
        set_(self, "count_uncapped", self.caps.count == "all_tiers")
        set_(self, "gate_plan", Plan(category=None, category_clause="", tier=None, visit_rule=None,
                                     class_rate=None, reason_clauses=reason_clauses,
                                     burden_clause=self.burden_clause))

    @property
    def coverage_ends(self) -> str:
        return self.coverage.ends

    def visit_match(self, visit_type: str, flags: Flags) -> tuple[VisitRule | None, dict[str, Plan]]:
        """The first visit rule matching the visit type and flags, with its plans per category."""
        for when, rule, plans in self.visit_table.get(visit_type, ()):
            if not when or _flags_match(flags, when):
                return rule, plans
        return None, self.no_rule_plans

    # -- dict form ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySpec:
        """Validate and read a policy dict; ``PolicyError(field, message)`` names the bad field."""
        r = _Reader(data, "")
        code = r.text("code")
        region = r.text("region")
        document_no = r.text("document_no")
        title = r.text("title")
        effective_from = r.day("effective_from")
        effective_to = r.day("effective_to", None, nullable=True)
        if effective_to is not None and effective_to < effective_from:
            raise PolicyError("effective_to", "is before effective_from")
        needs_confirmation = r.boolean("needs_confirmation", False)
        note = r.text("note", "", empty=True)
        burden_r = r.obj("burden")
        burden_clause = burden_r.clause()
        burden_r.done()
        coverage = Coverage.from_dict(r.obj("coverage"))
        req_r = r.obj("requirements")
        designated = Requirement.from_dict(req_r.obj("designated"))
        referral = Requirement.from_dict(req_r.obj("referral"))
        req_r.done()
        visit_rules = tuple(
            VisitRule.from_dict(_Reader(raw, f"visit_classes[{i}]")) for i, raw in enumerate(r.seq("visit_classes"))
        )
        tiers = tuple(Tier.from_dict(_Reader(raw, f"tiers[{i}]")) for i, raw in enumerate(r.seq("tiers")))
        seen_tiers: set[str] = set()
        for index, tier in enumerate(tiers):
            if tier.code in seen_tiers:
                raise PolicyError(f"tiers[{index}].code", f"tier {tier.code!r} is defined twice")
            seen_tiers.add(tier.code)
        ct_r = r.obj("category_tiers")
        category_tiers = []
        for category in ct_r.data:
            if category not in CATEGORIES:
                raise PolicyError(ct_r.at(str(category)), "unknown category code")
            one = ct_r.obj(category)
            tier_code = one.text("tier")
            if tier_code not in seen_tiers:
                raise PolicyError(one.at("tier"), f"no tier {tier_code!r} in tiers")
            category_tiers.append(CategoryTier(category, tier_code, one.clause()))
            one.done()
        ct_r._seen.update(ct_r.data)
        tilted_r = r.obj("tilted", None, nullable=True)
        tilted = None if tilted_r is None else Tilted.from_dict(tilted_r)
        specials = tuple(
            SpecialItem.from_dict(_Reader(raw, f"special_items[{i}]"))
            for i, raw in enumerate(r.seq("special_items", []))
        )
        schemes = tuple(
            ApplicationScheme.from_dict(_Reader(raw, f"application_schemes[{i}]"))
            for i, raw in enumerate(r.seq("application_schemes", []))
        )
        premium = PremiumSubsidies.from_dict(r.obj("premium_subsidies"))
        warnings = tuple(
            WarningRule.from_dict(_Reader(raw, f"warnings[{i}]")) for i, raw in enumerate(r.seq("warnings", []))
        )
        caps_r = r.obj("caps", None, nullable=True)
        caps = DEFAULT_CAP_RULE if caps_r is None else CapRule.from_dict(caps_r)
        r.done()
        return cls(
            code=code, region=region, document_no=document_no, title=title, effective_from=effective_from,
            effective_to=effective_to, needs_confirmation=needs_confirmation, note=note,
            burden_clause=burden_clause, coverage=coverage, designated=designated, referral=referral,
            visit_classes=visit_rules, category_tiers=tuple(category_tiers), tiers=tiers, tilted=tilted,
            special_items=specials, application_schemes=schemes, premium_subsidies=premium, warnings=warnings,
            caps=caps,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable dict ``from_dict`` reads (Decimals as strings, dates ISO)."""
        return {
            "code": self.code,
            "region": self.region,
            "document_no": self.document_no,
            "title": self.title,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": None if self.effective_to is None else self.effective_to.isoformat(),
            "needs_confirmation": self.needs_confirmation,
            "note": self.note,
            "burden": {"clause": self.burden_clause},
            "coverage": self.coverage.to_dict(),
            "requirements": {"designated": self.designated.to_dict(), "referral": self.referral.to_dict()},
            "visit_classes": [v.to_dict() for v in self.visit_classes],
            "category_tiers": {ct.category: {"tier": ct.tier, "clause": ct.clause} for ct in self.category_tiers},
            "tiers": [t.to_dict() for t in self.tiers],
            "tilted": None if self.tilted is None else self.tilted.to_dict(),
            "special_items": [s.to_dict() for s in self.special_items],
            "application_schemes": [s.to_dict() for s in self.application_schemes],
            "premium_subsidies": self.premium_subsidies.to_dict(),
            "warnings": [w.to_dict() for w in self.warnings],
            "caps": self.caps.to_dict(),
        }
