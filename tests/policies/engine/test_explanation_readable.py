"""Explanations are read aloud to an applicant and printed on letters (POLICY.md §3: explanation):
their values are Chinese words and figures, never internal codes."""
import re
from datetime import date
from decimal import Decimal

from policies.engine import BillIn, CertificationIn, PersonIn, YearState, assess_bill, load_preset

CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(outpatient|inpatient|annual|main)\b")


def _bill(visit_type: str, **amounts) -> BillIn:
    values = {"total_cost": "4100.00", "policy_scope_cost": "4100.00", "basic_paid": "100.00", "critical_paid": "0", "other_paid": "0"}
    values.update(amounts)
    return BillIn(id="b1", visit_type=visit_type, start=date(2023, 3, 1), end=date(2023, 3, 1),
                  **{k: Decimal(v) for k, v in values.items()})


def test_s3_explanation_values_and_labels_carry_no_internal_codes():
    spec = load_preset("beijing-2023")
    person = PersonIn(certifications=(CertificationIn("minimum_living", date(2023, 1, 1)),))
    result = assess_bill(spec, person, _bill("outpatient"), YearState(year=2023, bucket_used={}))
    rows = {line.key: line for line in result.lines}
    assert rows["category"].value == "最低生活保障对象"
    assert rows["visit_class"].value == "普通门诊"
    for line in result.lines:
        assert not CODE.search(line.label_zh + line.value), line


def test_s2_not_eligible_reason_is_explained_in_words():
    spec = load_preset("beijing-2023")
    person = PersonIn(certifications=())
    result = assess_bill(spec, person, _bill("inpatient"), YearState(year=2023, bucket_used={}))
    reason = next(line for line in result.lines if line.key == "reason:not_eligible")
    assert reason.value and not CODE.search(reason.value)
