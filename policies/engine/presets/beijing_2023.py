"""北京 2023: 京医保发〔2022〕37号 关于健全重特大疾病医疗保险和救助制度的实施意见 (POLICY.md §3.1, §4.1)."""
from __future__ import annotations

from typing import Any

from ._common import bucket, categories, no_deductible, rate, tier, visit, warnings

DOC = "京医保发〔2022〕37号"


def c(clause: str) -> str:
    return f"{DOC} {clause}"


PRESET: dict[str, Any] = {
    "code": "beijing-2023",
    "region": "beijing",
    "document_no": DOC,
    "title": "北京市关于健全重特大疾病医疗保险和救助制度的实施意见",
    "effective_from": "2023-01-01",
    "effective_to": None,
    "needs_confirmation": False,
    "note": "医疗救助不设起付标准；门诊特殊疾病、急诊留观按住院标准并入住院限额（七）；"
            "因病致贫家庭重病患者依申请救助（六(三)）。倾斜救助标准由各区确定（七），未预设。",
    "burden": {"clause": c("五")},
    "coverage": {"ends": "same_day", "clause": c("十(三)")},
    "requirements": {
        "designated": {"required": True, "clause": c("三")},
        "referral": {"required": True, "clause": c("十(三)")},
    },
    "visit_classes": [
        visit("outpatient", "outpatient", c("六(一)")),
        visit("outpatient_special", "inpatient", c("七")),
        visit("inpatient", "inpatient", c("六(二)")),
        visit("maternity", "inpatient", c("六(二)（解释：无专门规定的分娩费用按住院）")),
        visit("rehabilitation", "inpatient", c("六(二)（解释：无专门规定的康复费用按住院）")),
    ],
    "category_tiers": {
        **categories("BJ-1", c("一(一)1"), "extreme_poverty", "disabled_returned_youth"),
        **categories("BJ-2", c("一(一)2"), "downsized_1960s_worker"),
        **categories("BJ-3", c("一(一)3"), "minimum_living", "hardship_allowance"),
        **categories("BJ-3", c("一(一)4"), "low_income_family"),
    },
    "tiers": [
        tier("BJ-1", "特困供养人员、因公(病)致残返城知青", c("六(一)1、六(二)1"), no_deductible(c("六")),
             {"outpatient": bucket(None, c("六(一)1")), "inpatient": bucket(None, c("六(二)1"))},
             {"outpatient": rate("1.00", ["outpatient"], c("六(一)1")),
              "inpatient": rate("1.00", ["inpatient"], c("六(二)1"))}),
        tier("BJ-2", "60年代初精减退职老职工", c("六(一)2、六(二)2"), no_deductible(c("六")),
             {"outpatient": bucket(None, c("六(一)2")), "inpatient": bucket(None, c("六(二)2"))},
             {"outpatient": rate("0.80", ["outpatient"], c("六(一)2")),
              "inpatient": rate("0.85", ["inpatient"], c("六(二)2"))}),
        tier("BJ-3", "其他社会救助对象", c("六(一)3、六(二)3"), no_deductible(c("六")),
             {"outpatient": bucket("8000.00", c("六(一)3")), "inpatient": bucket("160000.00", c("六(二)3、七"))},
             {"outpatient": rate("0.80", ["outpatient"], c("六(一)3")),
              "inpatient": rate("0.85", ["inpatient"], c("六(二)3"))}),
    ],
    "tilted": None,
    "special_items": [],
    "application_schemes": [
        {
            "code": "illness_poverty_household",
            "label_zh": "因病致贫家庭重病患者救助",
            "categories": ["illness_poverty_patient"],
            "window": {"kind": "previous_calendar_year", "months": None},
            "members": "household",
            "visit_classes": None,
            "require_designated": True,
            "require_referral": False,
            "bands": [
                {"upper": "30000.00", "rate": "0.30"},
                {"upper": "50000.00", "rate": "0.40"},
                {"upper": None, "rate": "0.50"},
            ],
            "cap": "150000.00",
            "bucket": None,
            "once_per_year": True,
            "method": "bands",
            "clause": c("六(三)"),
        }
    ],
    "premium_subsidies": {
        "statistic": "resident_contribution",
        "rules": [],
        "timing": None,
        "clause": c("四（资助标准由市医疗保障部门会同财政部门确定）"),
    },
    "warnings": warnings(c("八(一)（监测标准：解释，默认值）")),
    "caps": {"count": "capped_tiers", "clause": c("六(一)3、六(二)3 全年最高支付限额只计入按该标准救助的支付")},
}
