from datetime import date
from decimal import Decimal

import pytest


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def approved_content():
    return {
        "recipient_name": "张伟",
        "recipient_masked_id": "110105********1234",
        "district_name": "朝阳区",
        "decision": "approved",
        "amount": Decimal("16409.02"),
        "subject": "2023年3月住院费用的医疗救助申请",
        "bills": [{
            "settlement_no": "S00000001", "institution": "北京朝阳医院", "visit_type": "住院",
            "admission_date": "2023-03-01", "discharge_date": "2023-03-10",
            "total_cost": Decimal("30000.00"), "burden": Decimal("20000.00"), "assistance": Decimal("16409.02"),
        }],
        "explanation": [
            {"label": "救助对象类别", "value": "最低生活保障对象", "clause": "京医保发〔2022〕37号 二(一)"},
            {"label": "政策范围内个人负担", "value": "20000.00", "clause": "京医保发〔2022〕37号 五(一)"},
            {"label": "救助比例", "value": "80%", "clause": "京医保发〔2022〕37号 五(二)2"},
        ],
        "clauses": ["五(一)", "五(二)2"],
        "reason": "",
        "payment_route": "转账至本人社会保障卡金融账户",
        "policy_document": "京医保发〔2022〕37号",
    }


@pytest.fixture
def rejected_content(approved_content):
    return dict(approved_content, decision="rejected", amount=Decimal("0.00"),
                reason="非定点医药机构就医", clauses=["京医保发〔2022〕37号 三(二)"])


@pytest.fixture
def person(district):
    from tests.factories import PersonFactory

    return PersonFactory(hukou_district=district, name="张伟")


@pytest.fixture
def approved_claim(district, person, caseworker, reviewer):
    """An approved manual claim with one computed bill (built directly: only its shape matters here)."""
    from claims.models import Claim, ClaimStatus
    from tests.factories import BillFactory

    claim = Claim.objects.create(
        person=person, district=district, status=ClaimStatus.APPROVED, applied_on=date(2023, 3, 20),
        created_by=caseworker, reviewed_by=reviewer, approved_amount=Decimal("1680.32"), payee_account="6222020200001234567",
    )
    BillFactory(
        person=person, district=district, claim=claim, total_assistance=Decimal("1680.32"),
        computation={"category": "minimum_living", "explanation": {
            "lines": [
                {"key": "burden", "label": "政策范围内个人负担", "value": "2100.40", "clause": "京医保发〔2022〕37号 五(一)"},
                {"key": "rate", "label": "救助比例", "value": "80%", "clause": "京医保发〔2022〕37号 五(二)2"},
            ],
            "clauses": ["京医保发〔2022〕37号 五(二)2"],
        }},
    )
    return claim


@pytest.fixture
def rejected_claim(district, person, caseworker, reviewer):
    from claims.models import Claim, ClaimStatus, RejectionReason
    from tests.factories import BillFactory

    claim = Claim.objects.create(
        person=person, district=district, status=ClaimStatus.REJECTED, applied_on=date(2023, 4, 2),
        created_by=caseworker, reviewed_by=reviewer, decision_reason=RejectionReason.NON_DESIGNATED,
        decision_note="就医机构不在定点名单内",
    )
    BillFactory(person=person, district=district, claim=claim)
    return claim


def _application(district, person, caseworker, *, status, relief=None, reason=""):
    from applications.models import Application
    from tests.factories import HouseholdFactory

    household = HouseholdFactory(district=district)
    person.household = household
    person.save(update_fields=["household"])
    return Application.objects.create(
        number=f"YS2024-{status}", household=household, applicant=person, district=district,
        received_on=date(2024, 2, 1), year=2024, status=status, relief=relief,
        burden=Decimal("80000.00") if relief else None, decision_reason=reason, payment_route="转账至申请人账户",
        computation={"lines": [
            {"label": "计入的个人负担", "value": "80000.00", "clause": "京医保发〔2022〕37号 六(三)"},
            {"label": "分段救助", "value": "32000.00", "clause": "京医保发〔2022〕37号 六(三)"},
        ], "clauses": ["京医保发〔2022〕37号 六(三)"]},
        created_by=caseworker,
    )


@pytest.fixture
def approved_application(district, person, caseworker):
    return _application(district, person, caseworker, status="approved", relief=Decimal("32000.00"))


@pytest.fixture
def rejected_application(district, person, caseworker):
    return _application(district, person, caseworker, status="rejected", reason="家庭经济状况不符合因病致贫认定条件")
