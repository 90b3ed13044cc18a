"""宁波 2019: 甬医保发〔2019〕27号 关于进一步加强新时期医疗救助工作的实施意见 (POLICY.md §3.3, §4.2)."""
from __future__ import annotations

from typing import Any

from ._common import bucket, categories, no_deductible, rate, subsidy, tier, visit, warnings

DOC = "甬医保发〔2019〕27号"


def c(clause: str) -> str:
    return f"{DOC} {clause}"


PRESET: dict[str, Any] = {
    "code": "ningbo-2019",
    "region": "ningbo",
    "document_no": DOC,
    "title": "宁波市关于进一步加强新时期医疗救助工作的实施意见",
    "effective_from": "2019-09-30",
    "effective_to": None,
    "needs_confirmation": False,
    "note": "重特大疾病、特殊病种门诊视同住院（三(二)2）；分娩、康复住院按住院救助（三(二)1），低保孕产妇分娩900元、"
            "一、二级残疾人康复50%（年3000元）、罕见病专项全额适用时按专项救助，不与住院救助重复（解释：不占80000元封顶线）；"
            "散居孤儿属第1类（二(一)）；第4类因病致贫对象申请前12个月住院负担按60%（三(二)1）。",
    "burden": {"clause": c("三(二)")},
    "coverage": {"ends": "same_day", "clause": c("二（解释：认定有效期内）")},
    "requirements": {
        "designated": {"required": True, "clause": c("三(二)")},
        "referral": {"required": False, "clause": c("三(二)（解释：未以转诊为救助条件）")},
    },
    "visit_classes": [
        visit("outpatient", "inpatient", c("三(二)2 重特大疾病门诊视同住院"), {"major_disease": True}),
        visit("outpatient", "outpatient", c("三(二)2")),
        visit("outpatient_special", "inpatient", c("三(二)2 特殊病种门诊视同住院")),
        visit("inpatient", "inpatient", c("三(二)1")),
        visit("maternity", "inpatient", c("三(二)1、三(二)3(1)（分娩住院按住院救助；低保孕产妇一次性救助另见专项）")),
        visit("rehabilitation", "inpatient", c("三(二)1、三(二)3(2)（康复住院按住院救助；一、二级残疾人康复救助另见专项）")),
    ],
    "category_tiers": {
        **categories("NB-1", c("二(一)"), "extreme_poverty"),
        **categories("NB-1", c("二(一) 特困供养人员（含散居孤儿）"), "orphan"),
        **categories("NB-70", c("二(二)"), "minimum_living", "distressed_child"),
        **categories("NB-70", c("二(三)"), "marginal_family"),
        **categories("NB-70", c("二(四)"), "illness_poverty_patient"),
        **categories("NB-70", c("二(五)"), "downsized_1960s_worker"),
        **categories("NB-70", c("二(六)"), "veteran_party_member"),
        **categories("NB-70", c("二(七)"), "entitled_group"),
        **categories("NB-70", c("二(八)"), "hiv_patient"),
        **categories("NB-70", c("二(九)"), "disability_allowance"),
        **categories("NB-GS", c("二(十)"), "good_samaritan"),
    },
    "tiers": [
        tier("NB-1", "第1类 特困供养人员", c("三(二)1"), no_deductible(c("三(二)（解释：未设起付标准）")),
             {"outpatient": bucket("500.00", c("三(二)2 全年累计救助不超过500元"))},
             {"inpatient": rate("1.00", [], c("三(二)1 全额救助")),
              "outpatient": rate("1.00", ["outpatient"], c("三(二)2 按照住院救助比例"))}),
        tier("NB-70", "第2–9类对象", c("三(二)1"), no_deductible(c("三(二)（解释：未设起付标准）")),
             {"outpatient": bucket("500.00", c("三(二)2 全年累计救助不超过500元")),
              "annual": bucket("80000.00", c("三(二)1 年度救助封顶线80000元（含住院和门诊）"))},
             {"inpatient": rate("0.70", ["annual"], c("三(二)1 按70%")),
              "outpatient": rate("0.70", ["outpatient", "annual"], c("三(二)2 按照住院救助比例"))}),
        tier("NB-GS", "第10类 见义勇为者", c("三(二)1 第10类"), no_deductible(c("三(二)（解释：未设起付标准）")),
             {},
             {"inpatient": rate("1.00", [], c("三(二)1 因见义勇为负伤住院全额救助")),
              "outpatient": rate("1.00", [], c("三(二)1 因见义勇为负伤门诊全额救助")),
              "rehabilitation": rate("1.00", [], c("三(二)1 因见义勇为负伤康复治疗全额救助"))},
             required_flags={"good_samaritan_injury": True}),
    ],
    "tilted": None,
    "special_items": [
        {
            "code": "maternity_grant",
            "label_zh": "低保孕产妇分娩一次性救助",
            "visit_types": ["maternity"],
            "required_flags": {},
            "categories": ["minimum_living"],
            "disability_grades": None,
            "kind": "fixed",
            "amount": "900.00",
            "rate": None,
            "bucket": None,
            "combine": "instead",
            "clause": c("三(二)3(1)（解释：与住院救助不得重复，适用时按本项）"),
        },
        {
            "code": "rehabilitation",
            "label_zh": "一、二级残疾人康复治疗救助",
            "visit_types": ["rehabilitation"],
            "required_flags": {},
            "categories": None,
            "disability_grades": [1, 2],
            "kind": "rate",
            "amount": None,
            "rate": "0.50",
            "bucket": {"name": "rehabilitation", "cap": "3000.00", "clause": c("三(二)3(2) 全年累计救助不超过3000元")},
            "combine": "instead",
            "clause": c("三(二)3(2)"),
        },
        {
            "code": "rare_disease",
            "label_zh": "罕见病专项救助",
            "visit_types": None,
            "required_flags": {"rare_disease": True},
            "categories": None,
            "disability_grades": None,
            "kind": "rate",
            "amount": None,
            "rate": "1.00",
            "bucket": None,
            "combine": "instead",
            "clause": c("三(二)3(4)"),
        },
    ],
    "application_schemes": [
        {
            "code": "illness_poverty_retroactive",
            "label_zh": "因病致贫对象申请前12个月住院费用救助",
            "categories": ["illness_poverty_patient"],
            "window": {"kind": "months_before", "months": 12},
            "members": "patient",
            "visit_classes": ["inpatient"],
            "require_designated": True,
            "require_referral": False,
            "bands": [{"upper": None, "rate": "0.60"}],
            "cap": None,
            "bucket": {"name": "annual", "cap": "80000.00", "clause": c("三(二)1 年度救助封顶线80000元")},
            "once_per_year": False,
            "method": "bands",
            "clause": c("三(二)1"),
        }
    ],
    "premium_subsidies": {
        "statistic": "resident_contribution",
        "rules": [
            subsidy("full", "1", c("三(一) 第1、2、7类和一、二级残疾人全额补助"), "extreme_poverty",
                    "minimum_living", "distressed_child", "entitled_group", "severe_disability"),
            subsidy("fraction", "0.50", c("三(一) 第3类按不低于50%补助"), "marginal_family"),
        ],
        "timing": {"covered_from": "next_month", "if_already_paid": "next_year",
                   "clause": c("三(一) 当月资助参保，次月生效；当年已参保的次年资助")},
        "clause": c("三(一)"),
    },
    "warnings": warnings(c("四(一)（大额医疗费用预警；监测标准：解释，默认值）")),
    "caps": {"count": "capped_tiers", "clause": c("三(二)1 除第1、10类对象外年度救助封顶线80000元（只计入设封顶线的类别下的救助）")},
}
