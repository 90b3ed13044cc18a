"""无锡 2023: 无锡市人民政府办公室关于健全重特大疾病医疗保险和救助制度的实施意见 (2022-12-26; POLICY.md §3.2)."""
from __future__ import annotations

from typing import Any

from ._common import bucket, categories, no_deductible, per_bill_scheme, rate, subsidy, tier, visit, warnings

DOC = "无锡市政府办公室实施意见(2022-12-26)"


def c(clause: str) -> str:
    return f"{DOC} {clause}"


def _buckets() -> dict:
    return {"outpatient": bucket("10000.00", c("四(六) 普通门诊救助限额")),
            "main": bucket("300000.00", c("四(六) 门诊慢特病和住院共用救助限额"))}


def _classes(value: str, clause: str) -> dict:
    return {"outpatient": rate(value, ["outpatient"], clause), "inpatient": rate(value, ["main"], clause)}


PRESET: dict[str, Any] = {
    "code": "wuxi-2023",
    "region": "wuxi",
    "document_no": DOC,
    "title": "无锡市关于健全重特大疾病医疗保险和救助制度的实施意见",
    "effective_from": "2023-01-01",
    "effective_to": None,
    "needs_confirmation": False,
    "note": "不设起付标准（四(六)）；丧失身份次月起不再享受（四(八)）；规范转诊且省域内就医的，"
            "年度个人负担6000元以上部分按60%倾斜救助（四(七)，解释：单列，不占30万元限额）。",
    "burden": {"clause": c("三(三)")},
    "coverage": {"ends": "end_of_month", "clause": c("四(八)")},
    "requirements": {
        "designated": {"required": True, "clause": c("四(五)")},
        "referral": {"required": False, "clause": c("四(七)（解释：普通救助不以转诊为条件，倾斜救助以规范转诊为条件）")},
    },
    "visit_classes": [
        visit("outpatient", "outpatient", c("四(六) 普通门诊")),
        visit("outpatient_special", "inpatient", c("四(六) 门诊慢性病、特殊疾病和住院共用救助限额")),
        visit("inpatient", "inpatient", c("四(六)")),
        visit("maternity", "inpatient", c("四(六)（解释：无专门规定的分娩费用按住院）")),
        visit("rehabilitation", "inpatient", c("四(六)（解释：无专门规定的康复费用按住院）")),
    ],
    "category_tiers": {
        **categories("WX-100", c("四(六) 特困人员、孤儿和事实无人抚养儿童100%"), "extreme_poverty", "orphan"),
        **categories("WX-85", c("四(六) 全额资助参保对象及特困职工85%"), "minimum_living", "distressed_child",
                     "entitled_group", "downsized_1960s_worker", "hardship_worker"),
        **categories("WX-70", c("四(六) 定额资助参保对象70%"), "marginal_family", "expenditure_hardship_patient",
                     "temporary_relief_patient", "severe_disability", "other_special"),
    },
    "tiers": [
        tier("WX-100", "特困人员、孤儿和事实无人抚养儿童", c("四(六)"), no_deductible(c("四(六) 不设起付标准")),
             _buckets(), _classes("1.00", c("四(六) 给予100%救助"))),
        tier("WX-85", "全额资助参保对象及特困职工", c("四(六)"), no_deductible(c("四(六) 不设起付标准")),
             _buckets(), _classes("0.85", c("四(六) 按85%的比例救助"))),
        tier("WX-70", "定额资助参保对象", c("四(六)"), no_deductible(c("四(六) 不设起付标准")),
             _buckets(), _classes("0.70", c("四(六) 按70%的比例救助"))),
    ],
    "tilted": {
        "threshold": "6000.00",
        "rate": "0.60",
        "required_flags": {"referral_compliant": True, "in_province": True},
        "cap": None,
        "clause": c("四(七)"),
    },
    "special_items": [],
    "application_schemes": [per_bill_scheme("on_application", "依申请救助（支出型困难家庭、临时救助对象中的大重病患者）", ['expenditure_hardship_patient', 'temporary_relief_patient'], c("五(十) 依申请落实综合保障政策"))],
    "premium_subsidies": {
        "statistic": "resident_contribution",
        "rules": [
            subsidy("full", "1", c("三(二) 全额资助参保"), "extreme_poverty", "orphan", "minimum_living",
                    "distressed_child", "entitled_group", "downsized_1960s_worker"),
            subsidy("fraction", "1.00", c("三(二) 按个人缴费标准的100%定额资助"), "marginal_family",
                    "expenditure_hardship_patient", "temporary_relief_patient", "severe_disability",
                    "other_special"),
        ],
        "timing": None,
        "clause": c("三(二)"),
    },
    "warnings": warnings(c("五(九) 重点监测低保边缘家庭成员和支出型困难家庭成员（监测标准：解释，默认值）"),
                         watched=["marginal_family", "expenditure_hardship_patient"]),
    "caps": {"count": "capped_tiers", "clause": c("四(六) 年度救助限额只计入设限额档次下的支付（解释）")},
}
