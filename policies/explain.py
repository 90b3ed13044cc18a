"""Explanations in the reader's language (issue 18).

The engine stores each explanation line as codes and figures — ``{key, label, value, clause}``
with a stable ``key`` (``burden``, ``rate``, ``bucket:inpatient``, ``reason:cap_limited``…) and
the Chinese wording of the policy documents. Screens render them through :func:`localize`, which
rebuilds the label from the key and translates the engine's vocabulary and value phrases in the
active language; in Chinese (and in every decision letter, which is Chinese by law) the stored
wording is shown unchanged. Figures, clause references (``京 五(三)``) and the policy's own names
(tier and item labels from the documents) are kept as they are.

The engine's vocabulary reaches the translation catalogue through :mod:`policies.explain_catalogue`
(generated literals; ``tests/policies/test_explain.py`` fails when the engine gains a word the
catalogue lacks).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import get_language, gettext

from policies.engine.types import BUCKET_LABELS, REASONS

# The fixed labels of the engine's explanation lines, by key (policies/engine/types.py, application.py).
KEY_LABELS = {
    "error": "说明",
    "note": "说明",
    "category": "救助对象类别",
    "tier": "救助档次",
    "visit_class": "就诊类别",
    "burden": "政策范围内个人负担",
    "deductible": "起付标准（本次扣除）",
    "rate": "救助比例",
    "raw": "按比例计算的救助额",
    "assistance": "医疗救助金额",
    "total": "救助合计",
    # relief on application (policies/engine/application.py)
    "scheme": "救助方式",
    "window": "费用计算期间",
    "cap": "单次救助最高限额",
    "relief": "依申请救助金额",
    # a grant capped by relief on application (京 六(三), claims.recalc.relief_cap_line)
    "relief_cap": "核定救助金额",
}
# Keys whose label starts with a fixed word and ends with names or numbers kept as they are.
PREFIX_LABELS = {
    "bill": "计入费用的个人负担",
}

# Value phrases the engine writes around figures: (pattern, English template). Applied to each
# "；"-separated part of a value that is not a whole catalogue string.
_MONEY = r"(-?[\d,]+\.\d{2})"
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^不设限额$"), "no cap"),
    (re.compile(rf"^本次支付 {_MONEY}$"), "paid now %s"),
    (re.compile(rf"^限额 {_MONEY}$"), "cap %s"),
    (re.compile(rf"^剩余 {_MONEY} → {_MONEY}$"), "room %s → %s"),
    (re.compile(r"^已用额度只计入 (.+) 档次下的支付$"), "the amount used counts only payments under tier(s) %s"),
    (re.compile(r"^已用额度计入 (.+) 档次下的全部支付$"), "the amount used counts every payment under tier(s) %s"),
    (re.compile(r"^定额 ([\d.,]+) 元$"), "fixed amount %s yuan"),
    (re.compile(r"^个人负担 × ([\d.]+%)$"), "personal burden × %s"),
    (re.compile(r"^年度限额 ([\d.,]+) 元$"), "annual cap %s yuan"),
    (re.compile(rf"^年度累计个人负担超过 {_MONEY} 元部分按 ([\d.]+%)$"),
     "the part of the year's cumulative personal burden above %s yuan at %s"),
    (re.compile(r"^(\d{4}-\d{2}-\d{2}) 至 (\d{4}-\d{2}-\d{2})$"), "%s to %s"),
    (re.compile(r"^(\d{4})年度$"), "year %s"),
    (re.compile(rf"^{_MONEY} 以上 部分 × ([\d.]+%)$"), "the part above %s × %s"),
    (re.compile(rf"^{_MONEY} 至 {_MONEY} 部分 × ([\d.]+%)$"), "the part from %s to %s × %s"),
    (re.compile(r"^按(.*?)救助标准计算（(.+)）$"), "computed by the %sper-bill standard (%s)"),
    (re.compile(rf"^按规则计算 {_MONEY}$"), "computed by the rules %s"),
    (re.compile(rf"^依申请救助 (\S*) ?已覆盖的负担不再救助 {_MONEY}$"),
     "burden already covered by relief on application %s, not assisted again: %s"),
)
_PAREN = re.compile(r"^(.*?)（(.+)）$")


def _is_chinese() -> bool:
    return (get_language() or "zh-hans").lower().startswith("zh")


def _phrase(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    translated = gettext(text)
    if translated != text:
        return translated
    for pattern, template in _PHRASES:
        match = pattern.match(text)
        if match:
            return template % match.groups()
    return text


def translate_value(value: str) -> str:
    """A value in the active language: a catalogue string, or figures with the engine's phrases
    ("限额 160000.00；剩余 160000.00 → 32500.00"); a trailing "（…）" detail translated the same way."""
    if not value or _is_chinese():
        return value
    if value in REASONS:  # a reason stored as its code
        return gettext(REASONS[value])
    whole = gettext(value)
    if whole != value:
        return whole
    paren = _PAREN.match(value)
    if paren:
        head, detail = paren.groups()
        return f"{translate_value(head)} ({translate_value(detail)})"
    for separator, joiner in (("；", "; "), ("，", ", ")):
        if separator in value:
            return joiner.join(_phrase(part) for part in value.split(separator))
    return _phrase(value)


def translate_label(key: str, label: str) -> str:
    if _is_chinese():
        return label
    if key in KEY_LABELS:
        return gettext(KEY_LABELS[key])
    head, _sep, name = key.partition(":")
    if head in PREFIX_LABELS and label.startswith(PREFIX_LABELS[head]):
        rest = label[len(PREFIX_LABELS[head]):]
        paren = _PAREN.match(rest)
        return gettext(PREFIX_LABELS[head]) + (f" ({paren.group(2)})" if paren else rest)
    if head == "bucket":
        bucket = BUCKET_LABELS.get(name)
        return gettext("年度救助限额（%(bucket)s）") % {"bucket": gettext(bucket) if bucket else name}
    if head == "reason":
        return gettext("说明")
    paren = _PAREN.match(label)
    if paren:  # "第 1 笔（张三 ZY-0001）": the names and numbers stay
        head_label, rest = paren.groups()
        return f"{translate_value(head_label)} ({rest})"
    return translate_value(label)


def localize(lines: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The explanation lines for a screen, in the active language (unchanged in Chinese)."""
    rows = [dict(line) for line in (lines or ())]
    if _is_chinese():
        return rows
    for row in rows:
        key = str(row.get("key", ""))
        row["label"] = translate_label(key, str(row.get("label", "")))
        value = row.get("value", "")
        if isinstance(value, str):
            row["value"] = translate_value(value)
    return rows


def catalogue_words() -> list[str]:
    """Every engine word :func:`localize` translates: what ``policies/explain_catalogue.py`` must list."""
    from policies.engine.types import CATEGORIES, VISIT_TYPE_LABELS

    return list(dict.fromkeys([*KEY_LABELS.values(), *PREFIX_LABELS.values(), "年度救助限额（%(bucket)s）",
                               *REASONS.values(), *(label for label, _agencies in CATEGORIES.values()),
                               *BUCKET_LABELS.values(), *VISIT_TYPE_LABELS.values()]))


CATALOGUE_HEADER = '''"""The engine's vocabulary as literals, so ``makemessages`` puts it in the translation catalogue.

Generated by ``python -m policies.explain`` from :func:`policies.explain.catalogue_words`;
``tests/policies/test_explain.py`` fails when the two differ. Do not edit by hand.
"""
from django.utils.translation import gettext_noop

WORDS = (
'''


def catalogue_source() -> str:
    body = "".join(f"    gettext_noop({word!r}),\n" for word in catalogue_words())
    return f"{CATALOGUE_HEADER}{body})\n"


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name("explain_catalogue.py").write_text(catalogue_source(), encoding="utf-8")
