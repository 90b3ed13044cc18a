"""Bill data for the district-standard tests (a referred, in-province Beijing stay)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal


def referred_bill(institution, burden: str = "20000.00") -> dict:
    scope = Decimal(burden) + Decimal("10000.00")
    return {"institution": institution, "settlement_no": f"T{institution.pk:06d}", "visit_type": "inpatient",
            "admission_date": date(2023, 3, 1), "discharge_date": date(2023, 3, 10), "diagnosis_code": "C34.9",
            "diagnosis_name": "肺恶性肿瘤", "total_cost": scope, "policy_scope_cost": scope,
            "basic_paid": Decimal("10000.00"), "critical_paid": Decimal("0.00"), "other_paid": Decimal("0.00"),
            "referral_compliant": True, "in_province": True}
