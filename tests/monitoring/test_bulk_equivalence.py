"""The bulk chunk path and claims' per-person-year service give the same database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims import services as claim_services
from claims.models import Bill, BillStatus
from monitoring import services
from tests.factories import BillFactory, CertificationFactory, PersonFactory, category

from .conftest import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(world, district):
    """Several statuses, years, identities and a paid bill."""
    alice, bob = world["alice"], world["bob"]
    dave = PersonFactory(hukou_district=district)
    CertificationFactory(person=dave, category=category("extreme_poverty"), valid_from=date(2022, 1, 1),
                         valid_until=date(2023, 4, 30))
    CertificationFactory(person=dave, category=category("minimum_living"), valid_from=date(2023, 4, 1))
    BillFactory(person=dave, visit_type="outpatient", admission_date=date(2023, 4, 20), discharge_date=date(2023, 4, 20),
                total_cost=Decimal("12000.00"), policy_scope_cost=Decimal("12000.00"), basic_paid=Decimal("1000.00"))
    BillFactory(person=dave, visit_type="outpatient", admission_date=date(2023, 5, 20), discharge_date=date(2023, 5, 20),
                total_cost=Decimal("12000.00"), policy_scope_cost=Decimal("12000.00"), basic_paid=Decimal("1000.00"))
    BillFactory(person=dave, admission_date=date(2024, 1, 3), discharge_date=date(2024, 1, 9))
    BillFactory(person=alice, status=BillStatus.SUBMITTED, admission_date=date(2023, 7, 1), discharge_date=date(2023, 7, 2))
    BillFactory(person=alice, status=BillStatus.HOSPITAL_PAID, hospital_assistance_paid=Decimal("1000.00"),
                admission_date=date(2023, 8, 1), discharge_date=date(2023, 8, 2))
    BillFactory(person=bob, status=BillStatus.REJECTED, admission_date=date(2023, 9, 1), discharge_date=date(2023, 9, 2))
    return world


def test_bulk_chunk_equals_recompute_person_year(mixed):
    person_years = sorted({(b.person_id, b.discharge_date.year) for b in Bill.objects.exclude(status=BillStatus.REJECTED)})
    for person_id, year in person_years:
        claim_services.recompute_person_year(person_id=person_id, year=year)
    by_service = snapshot()
    # Reset the computed figures, then the bulk path from scratch.
    from claims.models import PaymentAdjustment, PersonYearLedger

    PaymentAdjustment.objects.all().delete()
    PersonYearLedger.objects.all().delete()
    Bill.objects.update(policy=None, assistance=0, tilted=0, special=0, total_assistance=0, category="",
                        computation={}, computation_digest="", computed_at=None)
    run = services.run_synchronously(full=True)
    assert run.status == "succeeded", run.errors
    by_bulk = snapshot()
    for key in ("bills", "ledgers", "buckets", "adjustments"):
        assert by_bulk[key] == by_service[key], key
    # and the service agrees there is nothing left to change
    for person_id, year in person_years:
        outcome = claim_services.recompute_person_year(person_id=person_id, year=year, dry_run=True)
        assert outcome.bills_changed == 0 and not outcome.ledger_changed and outcome.adjustments_created == 0


def test_both_paths_store_the_digest_of_the_stored_explanation(mixed):
    """Bill.computation_digest is BillResult.digest() of the result the explanation was written
    from, whichever path wrote it (the bulk chunk here, the service in the test above)."""
    services.run_synchronously(full=True)
    bills = list(Bill.objects.exclude(status=BillStatus.REJECTED).select_related("person", "institution"))
    assert len(bills) >= 8
    checked = 0
    for bill in bills:
        assert len(bill.computation_digest) == 32, bill.pk
        result = claim_services.bill_compute_preview(bill=bill)
        if result is not None and result.total == bill.total_assistance and result.to_dict() == bill.computation:
            assert bill.computation_digest == result.digest()
            checked += 1
    assert checked >= 4


def test_equal_digests_mean_equal_explanations():
    """Across categories, visit types, amounts and earlier use of the year (same bill id, same
    policy version): two results have the same digest exactly when they have the same to_dict()."""
    import json

    from policies.engine.engine import assess_bill
    from policies.engine.presets import load_preset
    from policies.engine.types import YearState
    from tests.policies.engine.engine_builders import bill, person

    spec = load_preset("beijing-2023")
    digest_to_dict: dict[str, str] = {}
    dict_to_digest: dict[str, str] = {}
    for who in (person(), person("minimum_living"), person("extreme_poverty"), person("low_income_family"),
                person("minimum_living", until="2023-02-28")):
        for visit in ("inpatient", "outpatient"):
            for burden in ("0.00", "450.00", "5000.00", "90000.00", "400000.00"):
                state = YearState(2023)
                for _again in range(2):  # the second bill sees the first one's use of the year
                    result = assess_bill(spec, who, bill(burden, visit=visit), state)
                    explained = json.dumps(result.to_dict(), sort_keys=True, ensure_ascii=False)
                    assert digest_to_dict.setdefault(result.digest(), explained) == explained
                    assert dict_to_digest.setdefault(explained, result.digest()) == result.digest()
    assert len(digest_to_dict) > 20  # the grid really produced different explanations


def test_digest_is_the_same_in_every_process():
    """The digest is compared across worker processes and nights: no hash seed, set order or
    address may enter it. Two interpreters with different hash seeds give the same digest."""
    import os
    import subprocess
    import sys

    code = (
        "from policies.engine.presets import load_preset\n"
        "from policies.engine.engine import assess_bill\n"
        "from policies.engine.types import YearState\n"
        "from tests.policies.engine.engine_builders import bill, person\n"
        "r = assess_bill(load_preset('beijing-2023'), person('minimum_living', 'disabled'),"
        " bill('90000.00', basic='30000.00', rare_disease=True), YearState(2023))\n"
        "print(r.digest(), r.total)\n"
    )
    outputs = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs
    digest, total = outputs.pop().split()
    assert len(digest) == 32 and total != "0.00"
