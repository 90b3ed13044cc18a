"""东至县 2022: 东医保办〔2022〕11号 东至县重特大疾病医疗保险和救助工程实施方案 (POLICY.md §3.4, §5).

Dongzhi defers its assistance figures to the Chizhou plan (三(三)3), which is not among the
seeds: the tiers are the national template values (an interpretation, shown in the note);
like national-2021 it is therefore a TEMPLATE that an administrator must confirm before use
(POLICY.md §9, issue 13); the premium subsidies (三(二)2) are Dongzhi's own.
"""
from __future__ import annotations

from typing import Any

from ._common import per_bill_scheme, subsidy, warnings
from .national_2021 import assistance_categories, assistance_tiers, assistance_visits

DOC = "东医保办〔2022〕11号"


def c(clause: str) -> str:
    return f"{DOC} {clause}"


def template(clause: str) -> str:
    return f"{DOC} 三(三)3（救助标准按池州市方案，未收录）；国办发〔2021〕42号 {clause}"


PRESET: dict[str, Any] = {
    "code": "dongzhi-2022",
    "region": "dongzhi",
    "document_no": DOC,
    "title": "东至县重特大疾病医疗保险和救助工程实施方案",
    "effective_from": "2022-01-01",
    "effective_to": None,
    "needs_confirmation": True,
    "note": "模板：救助起付标准、比例和限额按池州市方案执行（三(三)3），该方案未收录：暂用国办发〔2021〕42号模板值，"
            "使用前须经管理员确认；"
            "返贫致贫人口与特困、低保同档（解释，依三(三)2大病保险倾斜对象）。资助参保为本县标准（三(二)2）。",
    "burden": {"clause": c("三(三)3")},
    "coverage": {"ends": "same_day", "clause": c("三(一)3（解释：认定有效期内）")},
    "requirements": {
        "designated": {"required": True, "clause": c("三(四)")},
        "referral": {"required": True, "clause": c("三(四) 推行基层首诊、规范转诊")},
    },
    "visit_classes": assistance_visits(template),
    "category_tiers": assistance_categories("DZ", template),
    "tiers": assistance_tiers("DZ", template),
    "tilted": None,
    "special_items": [],
    "application_schemes": [per_bill_scheme("on_application", "依申请救助（低保边缘家庭成员、农村易返贫致贫人口、因病致贫重病患者）", ['marginal_family', 'monitored_rural', 'illness_poverty_patient'], template("五(八) 依申请落实综合保障政策"))],
    "premium_subsidies": {
        "statistic": "resident_contribution",
        "rules": [
            subsidy("full", "1", c("三(二)2 对特困人员给予全额资助"), "extreme_poverty"),
            subsidy("fraction", "0.90", c("三(二)2 对低保对象给予90%定额资助"), "minimum_living"),
            subsidy("fraction", "0.80", c("三(二)2 过渡期内对返贫致贫人口给予80%定额资助"), "returned_to_poverty"),
            subsidy("fraction", "0.50", c("三(二)2 对防止返贫监测对象给予50%定额资助"), "monitored_rural"),
        ],
        "timing": None,
        "clause": c("三(二)2"),
    },
    "warnings": warnings(c("二(六)、四(三)（监测标准：解释，默认值）")),
    "caps": {"count": "capped_tiers", "clause": template("四(六) 年度救助限额只计入设限额档次下的支付（解释）")},
}
