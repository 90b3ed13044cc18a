"""全国框架: 国办发〔2021〕42号 国务院办公厅关于健全重特大疾病医疗保险和救助制度的意见 (POLICY.md §3.4).

A TEMPLATE (needs_confirmation): the document sets ranges ("不低于70%", "10%左右", "略低于"),
not figures; the rates and the 100,000 annual cap below are the template values of POLICY.md §3.4.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._common import (
    bucket,
    categories,
    income_share_deductible,
    no_deductible,
    per_bill_scheme,
    rate,
    subsidy,
    tier,
    visit,
    warnings,
)

DOC = "国办发〔2021〕42号"


def c(clause: str) -> str:
    return f"{DOC} {clause}"


def assistance_tiers(prefix: str, cite: Callable[[str], str]) -> list[dict[str, Any]]:
    """The three template tiers (also used by Dongzhi, whose own figures are deferred to its prefecture)."""

    def classes(value: str, clause: str) -> dict[str, Any]:
        return {"inpatient": rate(value, ["annual"], cite(clause))}

    annual = {"annual": bucket("100000.00", cite("四(五)、四(六) 门诊和住院救助共用年度救助限额（模板值）"))}
    return [
        tier(f"{prefix}-1", "低保对象、特困人员、返贫致贫人口", cite("四(五)"),
             no_deductible(cite("四(五) 对低保对象、特困人员原则上取消起付标准")), annual,
             classes("0.70", "四(五) 按不低于70%的比例救助")),
        tier(f"{prefix}-2", "低保边缘家庭成员、防止返贫监测对象", cite("四(五)"),
             income_share_deductible("0.10", cite("四(五) 上年居民人均可支配收入的10%左右")), dict(annual),
             classes("0.65", "四(五) 其他救助对象救助比例原则上略低于低保对象（模板值）")),
        tier(f"{prefix}-3", "因病致贫重病患者", cite("四(五)"),
             income_share_deductible("0.25", cite("四(五) 上年居民人均可支配收入的25%左右")), dict(annual),
             classes("0.60", "四(五) 其他救助对象救助比例原则上略低于低保对象（模板值）")),
    ]


def assistance_categories(prefix: str, cite: Callable[[str], str]) -> dict[str, Any]:
    return {
        **categories(f"{prefix}-1", cite("二(一)"), "extreme_poverty", "minimum_living"),
        **categories(f"{prefix}-1", cite("三(三)（解释：返贫致贫人口与特困、低保同档）"), "returned_to_poverty"),
        **categories(f"{prefix}-2", cite("二(一)"), "marginal_family", "monitored_rural"),
        **categories(f"{prefix}-3", cite("二(一)"), "illness_poverty_patient"),
    }


def assistance_visits(cite: Callable[[str], str]) -> list[dict[str, Any]]:
    return [
        visit("outpatient", None, cite("四(四) 普通门诊不在救助费用保障范围")),
        visit("outpatient_special", "inpatient", cite("四(四)、四(六) 门诊慢性病、特殊疾病与住院共用限额")),
        visit("inpatient", "inpatient", cite("四(四)")),
        visit("maternity", "inpatient", cite("四(四)（解释：无专门规定的分娩费用按住院）")),
        visit("rehabilitation", "inpatient", cite("四(四)（解释：无专门规定的康复费用按住院）")),
    ]


PRESET: dict[str, Any] = {
    "code": "national-2021",
    "region": "national",
    "document_no": DOC,
    "title": "国务院办公厅关于健全重特大疾病医疗保险和救助制度的意见",
    "effective_from": "2021-10-28",
    "effective_to": None,
    "needs_confirmation": True,
    "note": "模板：救助比例、年度限额由统筹地区确定，使用前须经管理员确认。起付标准按上年居民人均可支配收入"
            "比例计算，缺少该统计数据的费用报错（missing_statistic）。",
    "burden": {"clause": c("三(三)")},
    "coverage": {"ends": "same_day", "clause": c("二(一)（解释：认定有效期内）")},
    "requirements": {
        "designated": {"required": True, "clause": c("四(四)")},
        "referral": {"required": True, "clause": c("七(十三)")},
    },
    "visit_classes": assistance_visits(c),
    "category_tiers": assistance_categories("NT", c),
    "tiers": assistance_tiers("NT", c),
    "tilted": None,
    "special_items": [],
    "application_schemes": [per_bill_scheme("on_application", "依申请救助（低保边缘家庭成员、农村易返贫致贫人口、因病致贫重病患者）", ['marginal_family', 'monitored_rural', 'illness_poverty_patient'], c("五(八) 依申请落实综合保障政策"))],
    "premium_subsidies": {
        "statistic": "resident_contribution",
        "rules": [subsidy("full", "1", c("三(二) 全额资助特困人员"), "extreme_poverty")],
        "timing": None,
        "clause": c("三(二)（低保对象、返贫致贫人口定额资助标准由省级人民政府确定）"),
    },
    "warnings": warnings(c("五(七)（监测标准：解释，默认值）")),
    "caps": {"count": "capped_tiers", "clause": c("四(六) 年度救助限额只计入设限额档次下的支付（解释）")},
}
