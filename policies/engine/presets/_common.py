"""Small builders shared by the presets; each returns the canonical dict form of one rule.

The presets are plain JSON-ready dicts (strings for Decimals, ISO dates) because that is what the
Django side stores in ``Policy.rules`` and administrators edit; ``PolicySpec.from_dict`` reads them.
"""
from __future__ import annotations

from typing import Any

WARNING_CATEGORIES = ["marginal_family", "monitored_rural", "returned_to_poverty"]


def visit(visit_type: str, visit_class: str | None, clause: str, when: dict[str, bool] | None = None) -> dict[str, Any]:
    return {"visit_type": visit_type, "when": when or {}, "class": visit_class, "clause": clause}


def no_deductible(clause: str) -> dict[str, Any]:
    return {"kind": "none", "amount": None, "statistic": None, "share": None, "year_offset": -1, "clause": clause}


def income_share_deductible(share: str, clause: str) -> dict[str, Any]:
    """起付标准 = share × 上年居民人均可支配收入 (the statistic of the year before settlement)."""
    return {"kind": "statistic_share", "amount": None, "statistic": "per_capita_disposable_income",
            "share": share, "year_offset": -1, "clause": clause}


def bucket(cap: str | None, clause: str) -> dict[str, Any]:
    return {"cap": cap, "clause": clause}


def rate(value: str, draws: list[str], clause: str) -> dict[str, Any]:
    return {"rate": value, "draws": draws, "clause": clause}


def tier(code: str, label: str, clause: str, deductible: dict[str, Any], buckets: dict[str, Any],
         visit_classes: dict[str, Any], required_flags: dict[str, bool] | None = None) -> dict[str, Any]:
    return {"code": code, "label_zh": label, "clause": clause, "required_flags": required_flags or {},
            "deductible": deductible, "buckets": buckets, "visit_classes": visit_classes}


def categories(tier_code: str, clause: str, *codes: str) -> dict[str, Any]:
    return {code: {"tier": tier_code, "clause": clause} for code in codes}


def subsidy(kind: str, share: str, clause: str, *codes: str) -> dict[str, Any]:
    return {"categories": list(codes), "kind": kind, "share": share, "clause": clause}


def warnings(clause: str, illness_share: str = "0.50", return_share: str = "0.25",
             watched: list[str] | None = None) -> list[dict[str, Any]]:
    """POLICY.md §6 defaults: 因病返贫 25%, 因病致贫 50% of last year's per-capita income; the
    categories watched for 因病返贫 are the policy's (``watched``, default POLICY.md §6's three)."""
    return [
        {"kind": "return_to_poverty", "categories": list(watched or WARNING_CATEGORIES),
         "statistic": "per_capita_disposable_income", "share": return_share, "year_offset": -1, "clause": clause},
        {"kind": "illness_poverty", "categories": None, "statistic": "per_capita_disposable_income",
         "share": illness_share, "year_offset": -1, "clause": clause},
    ]


def per_bill_scheme(code: str, label: str, categories: list[str], clause: str,
                    months: int | None = 12) -> dict[str, Any]:
    """依申请救助 assessed per bill under the region's own tier of the category (POLICY.md §9):
    bills settled since the certification (at most ``months`` back), the patient's only."""
    return {
        "code": code, "label_zh": label, "categories": categories,
        "window": {"kind": "since_certification", "months": months}, "members": "patient",
        "visit_classes": None, "require_designated": True, "require_referral": False,
        "bands": [], "cap": None, "bucket": None, "once_per_year": False, "method": "per_bill", "clause": clause,
    }
