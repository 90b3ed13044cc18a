"""The structured policy editor (issue 18/19): a form generated from a policy's rules.

Every parameter an office changes when a document changes — a tier's rates, caps and deductible,
which tier each beneficiary category belongs to, the tilted-assistance standard, the bands of
relief on application and the special grants — is one form field, named after its path in the
rules (``tiers[2].buckets.inpatient.cap`` is the field ``tiers__2__buckets__inpatient__cap``) and
labelled in words (「第3档 住院 封顶线」). Errors name the field in the reader's language; the
edited rules are validated by the engine itself (``PolicySpec.from_dict``) and an engine error is
put back on the field it names. Nothing is saved here: the views show a diff against the version
in force and save through ``policies.services.policy_revise`` (a new version) or
``simulation.services.draft_update`` (a draft) after confirmation. The JSON editor stays in the
admin for everything else (clauses of each rule, visit rules, premium subsidies, warnings).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

__all__ = ["Param", "StructuredRulesForm", "diff_rules", "engine_message", "params_of"]

MONEY, MONEY_OR_NONE, RATE, RATE_OR_NONE, TEXT, CHOICE, CATEGORY, CATEGORY_CLAUSE = (
    "money", "money_or_none", "rate", "rate_or_none", "text", "choice", "category", "category_clause")
MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True)
class Param:
    """One editable parameter: where it lives in the rules, how it reads, how it is typed."""

    path: tuple[Any, ...]
    label: str
    kind: str
    section: str
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return "__".join(str(p) for p in self.path)


# "第3档 住院 封顶线：必须是不小于0的金额": the field's label, then what is wrong with it.
LABELLED = _("%(label)s：%(message)s")


# -- labels ------------------------------------------------------------------------------------

def _tier_label(index: int) -> str:
    return gettext("第%(n)s档") % {"n": index + 1}


def _bucket_label(name: str) -> str:
    from .selectors import BUCKET_LABELS

    return str(BUCKET_LABELS[name]) if name in BUCKET_LABELS else name


def _class_label(name: str) -> str:
    from .engine.types import VISIT_TYPE_LABELS

    return gettext(VISIT_TYPE_LABELS[name]) if name in VISIT_TYPE_LABELS else name


def _category_label(code: str) -> str:
    from .engine.types import CATEGORIES

    return gettext(CATEGORIES[code][0]) if code in CATEGORIES else code


# The words of the labels (f-strings are not read by makemessages: each word is its own msgid).
WORDS = {
    "上限": _("上限"),
    "专项救助": _("专项救助"),
    "依申请救助": _("依申请救助"),
    "如 0.85 即 85％": _("如 0.85 即 85％"),
    "封顶线": _("封顶线"),
    "救助比例": _("救助比例"),
    "留空表示不设限额": _("留空表示不设限额"),
    "起付标准方式": _("起付标准方式"),
    "起付标准比例": _("起付标准比例"),
    "起付标准金额": _("起付标准金额"),
    "起付线": _("起付线"),
    "适用档次": _("适用档次"),
    "金额": _("金额"),
    "条款出处": _("条款出处"),
}


def _deductible_choices() -> tuple[tuple[str, str], ...]:
    return (("none", gettext("不设起付标准")), ("fixed", gettext("固定金额")),
            ("statistic_share", gettext("按统计数据的比例")))


def params_of(rules: dict) -> list[Param]:
    """The editable parameters of ``rules`` (a policy's rules dict), in reading order."""
    from .engine.types import CATEGORY_CODES

    out: list[Param] = []
    doc = gettext("文件信息")
    out.append(Param(("document_no",), gettext("文号"), TEXT, doc, gettext("新版本依据的文件文号")))
    out.append(Param(("title",), gettext("标题"), TEXT, doc))
    tiers = rules.get("tiers") or []
    for i, tier in enumerate(tiers):
        if not isinstance(tier, dict):
            continue
        tl = _tier_label(i)
        section = f"{tl} {tier.get('code', '')} {tier.get('label_zh', '')}".strip()
        out.append(Param(("tiers", i, "clause"), f"{tl} {WORDS['条款出处']}", TEXT, section))
        ded = tier.get("deductible") or {}
        dclause = ded.get("clause", "")
        out.append(Param(("tiers", i, "deductible", "kind"), f"{tl} {WORDS['起付标准方式']}", CHOICE, section,
                         dclause, _deductible_choices()))
        out.append(Param(("tiers", i, "deductible", "amount"), f"{tl} {WORDS['起付标准金额']}", MONEY_OR_NONE,
                         section, gettext("固定金额时填写（元）")))
        out.append(Param(("tiers", i, "deductible", "share"), f"{tl} {WORDS['起付标准比例']}", RATE_OR_NONE, section,
                         gettext("按统计数据的比例时填写，如 0.10")))
        for name, bucket in (tier.get("buckets") or {}).items():
            out.append(Param(("tiers", i, "buckets", name, "cap"), f"{tl} {_bucket_label(name)} {WORDS['封顶线']}",
                             MONEY_OR_NONE, section,
                             f"{WORDS['留空表示不设限额']} · {(bucket or {}).get('clause', '')}"))
        for name, rate in (tier.get("visit_classes") or {}).items():
            out.append(Param(("tiers", i, "visit_classes", name, "rate"),
                             f"{tl} {_class_label(name)} {WORDS['救助比例']}", RATE, section,
                             f"{WORDS['如 0.85 即 85％']} · {(rate or {}).get('clause', '')}"))
    tier_choices = (("", gettext("不列入（不予救助）")),) + tuple(
        (t.get("code", ""), f"{t.get('code', '')} {t.get('label_zh', '')}".strip()) for t in tiers if isinstance(t, dict))
    section = gettext("救助对象类别与档次")
    mapped = rules.get("category_tiers") or {}
    for code in CATEGORY_CODES:
        clause = (mapped.get(code) or {}).get("clause", "")
        out.append(Param(("category_tiers", code, "tier"), f"{_category_label(code)} {WORDS['适用档次']}", CATEGORY,
                         section, "", tier_choices))
        out.append(Param(("category_tiers", code, "clause"), f"{_category_label(code)} {WORDS['条款出处']}",
                         CATEGORY_CLAUSE, section, gettext("列入档次时填写；留空则引用该档次的条款") if not clause else ""))
    tilted = rules.get("tilted")
    if isinstance(tilted, dict):
        section = gettext("倾斜救助")
        out.append(Param(("tilted", "threshold"), f"{section} {WORDS['起付线']}", MONEY, section, tilted.get("clause", "")))
        out.append(Param(("tilted", "rate"), f"{section} {WORDS['救助比例']}", RATE, section))
        out.append(Param(("tilted", "cap"), f"{section} {WORDS['封顶线']}", MONEY_OR_NONE, section,
                         gettext("留空表示不设限额")))
    for i, scheme in enumerate(rules.get("application_schemes") or []):
        if not isinstance(scheme, dict):
            continue
        section = f"{WORDS['依申请救助']} {scheme.get('label_zh') or scheme.get('code', '')}"
        for j, band in enumerate(scheme.get("bands") or []):
            n = gettext("第%(n)s段") % {"n": j + 1}
            if isinstance(band, dict) and band.get("upper") is not None:
                out.append(Param(("application_schemes", i, "bands", j, "upper"), f"{section} {n} {WORDS['上限']}",
                                 MONEY, section))
            out.append(Param(("application_schemes", i, "bands", j, "rate"), f"{section} {n} {WORDS['救助比例']}",
                             RATE, section))
        out.append(Param(("application_schemes", i, "cap"), f"{section} {WORDS['封顶线']}", MONEY_OR_NONE, section,
                         f"{WORDS['留空表示不设限额']} · {scheme.get('clause', '')}"))
    for i, item in enumerate(rules.get("special_items") or []):
        if not isinstance(item, dict):
            continue
        section = f"{WORDS['专项救助']} {item.get('label_zh') or item.get('code', '')}"
        if item.get("kind") == "fixed":
            out.append(Param(("special_items", i, "amount"), f"{section} {WORDS['金额']}", MONEY, section,
                             item.get("clause", "")))
        else:
            out.append(Param(("special_items", i, "rate"), f"{section} {WORDS['救助比例']}", RATE, section,
                             item.get("clause", "")))
        if isinstance(item.get("bucket"), dict):
            out.append(Param(("special_items", i, "bucket", "cap"), f"{section} {WORDS['封顶线']}", MONEY_OR_NONE,
                             section, gettext("留空表示不设限额")))
    return out


# -- reading and writing a path ------------------------------------------------------------------

def get_path(rules: Any, path: tuple) -> Any:
    node = rules
    for key in path:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return None
    return node


def _set_path(rules: Any, path: tuple, value: Any) -> None:
    node = rules
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _set_category(rules: dict, code: str, tier: str) -> None:
    mapping = rules.setdefault("category_tiers", {})
    if not tier:
        mapping.pop(code, None)
        return
    entry = mapping.get(code)
    if entry is None:  # a newly mapped category cites its tier's clause until the admin edits it (JSON)
        clause = next((t.get("clause", "") for t in rules.get("tiers", []) if t.get("code") == tier), "")
        mapping[code] = {"tier": tier, "clause": clause}
    else:
        entry["tier"] = tier


# -- fields ------------------------------------------------------------------------------------

def _decimal(text: str) -> Decimal | None:
    text = text.strip().replace(",", "").replace("，", "").replace(" ", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class _ParamField(forms.CharField):
    """A text input whose errors name the parameter: 「第2档 住院 封顶线：必须是不小于0的金额」."""

    def __init__(self, param: Param, original: Any, **kwargs):
        self.param = param
        self.original = original
        super().__init__(label=param.label, required=False, help_text=param.help, **kwargs)

    def fail(self, message: str) -> ValidationError:
        return ValidationError(LABELLED, code="invalid_param",
                               params={"label": self.param.label, "message": message})

    def keep_original(self, value: Decimal) -> str | None:
        """The stored text when the value did not change ("0.80" stays "0.80", not "0.8")."""
        if isinstance(self.original, str):
            old = _decimal(self.original)
            if old is not None and old == value:
                return self.original
        return None


class _NumberField(_ParamField):
    """A decimal input; empty means "none" where the parameter may be unset (e.g. no cap)."""

    optional_kind: str

    def __init__(self, param, original, **kwargs):
        super().__init__(param, original, widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "form-control form-control-sm text-end"}), **kwargs)

    def prepare_value(self, value):
        return "" if value is None else value

    def clean(self, value):
        text = (value or "").strip()
        if not text:
            if self.param.kind == self.optional_kind:
                return None
            raise self.fail(gettext("必填"))
        return self.clean_number(text)

    def clean_number(self, text: str) -> str:
        raise NotImplementedError


class MoneyField(_NumberField):
    optional_kind = MONEY_OR_NONE

    def clean_number(self, text: str) -> str:
        number = _decimal(text)
        if number is None or number < 0 or number > MAX_AMOUNT:
            raise self.fail(gettext("必须是不小于0的金额"))
        if number != number.quantize(Decimal("0.01")):
            raise self.fail(gettext("金额最多两位小数（分）"))
        return self.keep_original(number) or f"{number:.2f}"


class RateField(_NumberField):
    optional_kind = RATE_OR_NONE

    def clean_number(self, text: str) -> str:
        percent = text.endswith(("%", "％"))
        number = _decimal(text.rstrip("%％"))
        if number is not None and percent:
            number = number / 100
        if number is None or number < 0 or number > 1:
            raise self.fail(gettext("必须是0到1之间的比例（如 0.85，或 85％）"))
        if number != number.quantize(Decimal("0.0001")):
            raise self.fail(gettext("比例最多四位小数"))
        kept = self.keep_original(number)
        if kept:
            return kept
        text = format(number.normalize(), "f")
        return text if len(text.partition(".")[2]) >= 2 else f"{number:.2f}"


class TextField(_ParamField):
    def __init__(self, param, original, **kwargs):
        super().__init__(param, original, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}), **kwargs)

    def clean(self, value):
        text = (value or "").strip()
        if not text:
            raise self.fail(gettext("不能为空"))
        if len(text) > 200:
            raise self.fail(gettext("最多200个字符"))
        self.run_validators(text)
        return text


class OptionalTextField(TextField):
    def clean(self, value):
        text = (value or "").strip()
        return super().clean(text) if text else ""


class ChoiceParamField(forms.ChoiceField):
    def __init__(self, param: Param, original: Any, **kwargs):
        self.param = param
        self.original = original
        super().__init__(label=param.label, required=False, choices=param.choices, help_text=param.help,
                         widget=forms.Select(attrs={"class": "form-select form-select-sm"}), **kwargs)

    def validate(self, value):
        if value not in {c for c, _label in self.param.choices}:
            raise ValidationError(LABELLED, code="invalid_param",
                                  params={"label": self.param.label, "message": gettext("请从列表中选择")})


FIELD_CLASSES = {MONEY: MoneyField, MONEY_OR_NONE: MoneyField, RATE: RateField, RATE_OR_NONE: RateField,
                 TEXT: TextField, CHOICE: ChoiceParamField, CATEGORY: ChoiceParamField,
                 CATEGORY_CLAUSE: OptionalTextField}


# -- the engine's words, in the reader's language ------------------------------------------------

ENGINE_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^is required$"), _("必填")),
    (re.compile(r"^must be at least (?P<v>.+)$"), _("不能小于 %(v)s")),
    (re.compile(r"^must be at most (?P<v>.+)$"), _("不能大于 %(v)s")),
    (re.compile(r"^must be a non-empty string$"), _("不能为空")),
    (re.compile(r"^must be a decimal number"), _("必须是数字")),
    (re.compile(r"^is required for a fixed deductible$"), _("起付标准为固定金额时必须填写金额")),
    (re.compile(r"^is required for a statistic_share deductible$"), _("起付标准按统计数据的比例时必须填写比例")),
    (re.compile(r"^must be above the previous band's upper limit$"), _("必须高于上一段的上限")),
    (re.compile(r"^only the last band may have no upper limit$"), _("只有最后一段可以不设上限")),
    (re.compile(r"^is before effective_from$"), _("失效日期早于生效日期")),
]


def engine_message(message: str) -> str:
    """A ``PolicyError`` message in the reader's language (the engine's own text if unknown)."""
    for pattern, text in ENGINE_MESSAGES:
        match = pattern.match(message)
        if match:
            return str(text) % match.groupdict() if match.groupdict() else str(text)
    return gettext("不符合计算引擎的要求（%(message)s）") % {"message": message}


def _field_name_of(engine_path: str) -> str:
    """``tiers[2].buckets.inpatient.cap`` → ``tiers__2__buckets__inpatient__cap``."""
    return "__".join(p for p in re.split(r"[.\[\]]+", engine_path) if p)


# -- the form ------------------------------------------------------------------------------------

class StructuredRulesForm(forms.Form):
    """The parameters of ``rules`` as fields; ``cleaned_data["rules"]`` is the edited rules dict,
    validated by the engine. ``extra_fields`` (the version's date and note, a draft's name) come first."""

    def __init__(self, *args, rules: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_rules = copy.deepcopy(rules)
        self.params = params_of(rules)
        self.param_by_name = {p.name: p for p in self.params}
        for param in self.params:
            original = get_path(rules, param.path)
            field = FIELD_CLASSES[param.kind](param, original)
            self.fields[param.name] = field
            self.initial.setdefault(param.name, "" if original is None else original)
        from organizations.textinput import protect

        protect(self)  # the generated fields too refuse control characters, naming the field (issue 15)

    @property
    def sections(self) -> list[dict]:
        out: list[dict] = []
        for param in self.params:
            if not out or out[-1]["title"] != param.section:
                out.append({"title": param.section, "fields": []})
            out[-1]["fields"].append(self[param.name])
        return out

    @property
    def extra_bound_fields(self):
        return [self[name] for name in self.fields if name not in self.param_by_name]

    def edited_rules(self) -> dict:
        rules = copy.deepcopy(self.base_rules)
        for param in self.params:
            if param.name not in self.cleaned_data:
                continue
            value = self.cleaned_data[param.name]
            if param.kind == CATEGORY:
                _set_category(rules, param.path[1], value)
            elif param.kind == CATEGORY_CLAUSE:  # after its tier (params_of's order): only a mapped category
                entry = rules.get("category_tiers", {}).get(param.path[1])
                if entry is not None and value:
                    entry["clause"] = value
            else:
                _set_path(rules, param.path, value)
        return rules

    def clean(self):
        cleaned = super().clean()
        if any(name in self.param_by_name for name in self.errors):
            return cleaned
        rules = self.prepare_rules(self.edited_rules())
        from .engine.types import PolicyError, PolicySpec

        try:
            PolicySpec.from_dict(rules)
        except PolicyError as exc:
            name = _field_name_of(exc.field)
            param = self.param_by_name.get(name)
            if param is None:  # a rule the form does not show: say where, in the engine's path
                self.add_error(None, ValidationError(gettext("规则字段 %(field)s：%(message)s") % {
                    "field": exc.field, "message": engine_message(exc.message)}, code="invalid_rules"))
            else:
                self.add_error(name, ValidationError(LABELLED, code="invalid_rules",
                                                     params={"label": param.label, "message": engine_message(exc.message)}))
            return cleaned
        cleaned["rules"] = rules
        return cleaned

    def prepare_rules(self, rules: dict) -> dict:
        """Hook: what the service will see (e.g. the new version's effective date)."""
        return rules


# -- the diff ------------------------------------------------------------------------------------

def _flatten(node: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    out: dict[tuple, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(_flatten(value, (*prefix, key)))
        if not node and prefix:
            out[prefix] = {}
    elif isinstance(node, list):
        if all(isinstance(v, dict) for v in node) and node:
            for index, value in enumerate(node):
                out.update(_flatten(value, (*prefix, index)))
        else:
            out[prefix] = node
    else:
        out[prefix] = node
    return out


SKIP_IN_DIFF = {("effective_from",), ("effective_to",), ("code",)}


def _shown(value: Any, kind: str | None, choices: dict[str, str]) -> str:
    if value is None or value == "":
        if kind in (MONEY_OR_NONE,):
            return gettext("不设限额")
        return "—"
    if kind in (CHOICE, CATEGORY):
        return choices.get(value, str(value))
    if kind in (RATE, RATE_OR_NONE):
        number = _decimal(str(value))
        if number is not None:
            from .engine.money import percent_str

            return f"{value}（{percent_str(number)}）"
    if kind in (MONEY, MONEY_OR_NONE):
        number = _decimal(str(value))
        if number is not None:
            return f"{number:,.2f}"
    if isinstance(value, bool):
        return gettext("是") if value else gettext("否")
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    return str(value)


def diff_rules(old: dict, new: dict) -> list[dict]:
    """Every parameter that differs between ``old`` (the version in force) and ``new``:
    ``{"label", "path", "old", "new"}`` with values as text; the editor's labels where it has one,
    the engine's dotted path otherwise (a change made in JSON)."""
    params = {p.path: p for p in params_of(old)}
    params.update({p.path: p for p in params_of(new)})
    flat_old, flat_new = _flatten(old), _flatten(new)
    rows = []
    seen: set[tuple] = set()
    # Category → tier: one row per category (its entry may appear or disappear as a whole).
    old_ct, new_ct = old.get("category_tiers") or {}, new.get("category_tiers") or {}
    for path, param in params.items():
        if param.kind != CATEGORY:
            continue
        code = path[1]
        a, b = (old_ct.get(code) or {}).get("tier", ""), (new_ct.get(code) or {}).get("tier", "")
        seen.add(("category_tiers", code, "tier"))
        if a != b:
            choices = dict(param.choices)
            rows.append({"label": param.label, "path": ".".join(map(str, path)), "old": _shown(a, CATEGORY, choices),
                         "new": _shown(b, CATEGORY, choices)})
    # In the editor's field order, then what only the JSON holds: the same on every database
    # (PostgreSQL's jsonb reorders keys, SQLite keeps them as written).
    order = {path: i for i, path in enumerate(params)}
    paths = [*flat_old, *(k for k in flat_new if k not in flat_old)]
    for path in sorted(paths, key=lambda k: order.get(k, len(order))):
        if path in seen or path in SKIP_IN_DIFF:
            continue
        seen.add(path)
        a, b = flat_old.get(path), flat_new.get(path)
        if a == b:
            continue
        param = params.get(path)
        kind = param.kind if param else None
        choices = dict(param.choices) if param else {}
        rows.append({"label": param.label if param else "", "path": _engine_path(path),
                     "old": _shown(a, kind, choices), "new": _shown(b, kind, choices)})
    return rows


def _engine_path(path: tuple) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out
