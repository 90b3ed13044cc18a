"""Claim workflow, four-eyes rule, payment, recompute idempotency and the paid-bill rule."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from claims import services
from claims.models import (
    AdjustmentKind,
    Bill,
    BillStatus,
    Claim,
    ClaimStatus,
    LedgerBucket,
    PaymentAdjustment,
    PersonYearLedger,
    RejectionReason,
)
from organizations import roles
from tests.factories import BillFactory, CertificationFactory, make_staff

from .conftest import bill_data

pytestmark = pytest.mark.django_db


def transitions(claim: Claim) -> list[tuple[str, str]]:
    return list(claim.transitions.values_list("from_status", "to_status"))


class TestWorkflow:
    def test_create_computes_suggestion_in_draft(self, make_claim):
        claim = make_claim(submit=False)
        assert claim.status == ClaimStatus.DRAFT
        bill = claim.bills.get()
        assert bill.status == BillStatus.DRAFT
        # 京医保发〔2022〕37号 六(二)3: 低保 inpatient 85 % of burden 20,000.
        assert bill.total_assistance == Decimal("17000.00")
        assert bill.computation["explanation"]["lines"]
        assert transitions(claim) == [("", "draft")]

    def test_submit_then_approve_records_every_transition(self, make_claim, reviewer):
        claim = make_claim()
        services.claim_approve(claim=claim, reviewer=reviewer, note="材料齐全")
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.APPROVED
        assert claim.approved_amount == Decimal("17000.00")
        assert claim.reviewed_by == reviewer
        assert transitions(claim) == [("", "draft"), ("draft", "submitted"), ("submitted", "approved")]
        last = claim.transitions.last()
        assert last.by == reviewer and last.note == "材料齐全" and last.at is not None
        assert claim.bills.get().status == BillStatus.APPROVED

    def test_submitter_cannot_approve_own_claim_four_eyes(self, make_claim, district):
        both = make_staff(roles.CASEWORKER, district=district)
        both.groups.add(*__import__("django.contrib.auth.models", fromlist=["Group"]).Group.objects.filter(name=roles.REVIEWER))
        claim = make_claim(who=both)
        with pytest.raises(ValidationError) as exc:
            services.claim_approve(claim=claim, reviewer=both)
        assert exc.value.code == "four_eyes"
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.SUBMITTED
        for action in (lambda: services.claim_reject(claim=claim, reviewer=both, reason="documents"),
                       lambda: services.claim_return(claim=claim, reviewer=both, note="x")):
            with pytest.raises(ValidationError) as exc:
                action()
            assert exc.value.code == "four_eyes"

    def test_caseworker_without_reviewer_role_cannot_approve(self, make_claim, district):
        other = make_staff(roles.CASEWORKER, district=district)
        claim = make_claim()
        with pytest.raises(PermissionDenied):
            services.claim_approve(claim=claim, reviewer=other)

    def test_reject_needs_listed_reason_and_text_for_other(self, make_claim, reviewer):
        claim = make_claim()
        with pytest.raises(ValidationError) as exc:
            services.claim_reject(claim=claim, reviewer=reviewer, reason="bogus")
        assert exc.value.error_dict["reason"][0].code == "invalid_reason"
        with pytest.raises(ValidationError) as exc:
            services.claim_reject(claim=claim, reviewer=reviewer, reason=RejectionReason.OTHER, note=" ")
        assert exc.value.error_dict["note"][0].code == "note_required"
        services.claim_reject(claim=claim, reviewer=reviewer, reason=RejectionReason.UNREFERRED, note="未办理转诊备案")
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.REJECTED and claim.decision_reason == "unreferred"
        assert claim.bills.get().status == BillStatus.REJECTED
        assert transitions(claim)[-1] == ("submitted", "rejected")

    def test_return_then_correct_and_resubmit(self, make_claim, reviewer, caseworker, institution):
        claim = make_claim()
        with pytest.raises(ValidationError):
            services.claim_return(claim=claim, reviewer=reviewer, note="")
        services.claim_return(claim=claim, reviewer=reviewer, note="请补充出院小结")
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.RETURNED
        services.claim_add_bill(claim=claim, data=bill_data(institution, burden="1000.00"), by=caseworker)
        services.claim_submit(claim=claim, by=caseworker)
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.SUBMITTED
        assert transitions(claim)[-2:] == [("submitted", "returned"), ("returned", "submitted")]

    @pytest.mark.parametrize("status_action", ["approve_twice", "submit_approved", "add_bill_submitted"])
    def test_transitions_out_of_order_are_refused(self, make_claim, reviewer, caseworker, institution, status_action):
        claim = make_claim()
        if status_action == "approve_twice":
            services.claim_approve(claim=claim, reviewer=reviewer)
            action = lambda: services.claim_approve(claim=claim, reviewer=reviewer)  # noqa: E731
        elif status_action == "submit_approved":
            services.claim_approve(claim=claim, reviewer=reviewer)
            action = lambda: services.claim_submit(claim=claim, by=caseworker)  # noqa: E731
        else:
            action = lambda: services.claim_add_bill(claim=claim, data=bill_data(institution), by=caseworker)  # noqa: E731
        with pytest.raises(ValidationError) as exc:
            action()
        assert exc.value.code == "invalid_state"

    def test_submit_without_bills_refused(self, make_claim, caseworker):
        claim = make_claim(bills=[], submit=False)
        with pytest.raises(ValidationError) as exc:
            services.claim_submit(claim=claim, by=caseworker)
        assert exc.value.code == "no_bills"

    def test_payment_batch_marks_paid_and_freezes_bill_amounts(self, make_claim, reviewer, caseworker):
        claim = make_claim()
        services.claim_approve(claim=claim, reviewer=reviewer)
        batch = services.payment_batch_create(claims=[claim], by=caseworker)
        assert batch.total_amount == Decimal("17000.00")
        with pytest.raises(ValidationError):
            services.payment_batch_create(claims=[claim], by=caseworker)  # already in a batch
        with pytest.raises(ValidationError):
            services.payment_batch_mark_paid(batch=batch, reference="", by=caseworker)
        services.payment_batch_mark_paid(batch=batch, reference="ICBC-20230501-001", by=caseworker)
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.PAID
        bill = claim.bills.get()
        assert bill.status == BillStatus.PAID and bill.paid_amount == Decimal("17000.00")
        assert transitions(claim)[-1] == ("approved", "paid")

    def test_unapproved_claim_cannot_be_batched(self, make_claim, caseworker):
        claim = make_claim()
        with pytest.raises(ValidationError) as exc:
            services.payment_batch_create(claims=[claim], by=caseworker)
        assert exc.value.code == "not_payable"


class TestBillValidation:
    """POLICY.md §1: no negative amount; total ≥ scope ≥ basic + critical; refused naming the field."""

    @pytest.mark.parametrize(("changes", "field", "code"), [
        ({"basic_paid": Decimal("-1")}, "basic_paid", "negative"),
        ({"total_cost": Decimal("100"), "policy_scope_cost": Decimal("200")}, "policy_scope_cost", "scope_gt_total"),
        ({"policy_scope_cost": Decimal("100"), "basic_paid": Decimal("80"), "critical_paid": Decimal("30")}, "basic_paid", "paid_gt_scope"),
        ({"admission_date": date(2023, 3, 20)}, "discharge_date", "discharge_before_admission"),
    ])
    def test_policy_1_inconsistent_amounts_refused(self, make_claim, caseworker, institution, changes, field, code):
        claim = make_claim(submit=False)
        data = bill_data(institution) | changes
        with pytest.raises(ValidationError) as exc:
            services.claim_add_bill(claim=claim, data=data, by=caseworker)
        assert exc.value.error_dict[field][0].code == code
        assert claim.bills.count() == 1


class TestRecompute:
    def test_recompute_twice_changes_nothing_the_second_time(self, person, district, institution):
        for i in range(3):
            BillFactory(person=person, institution=institution, discharge_date=date(2023, 3, 10 + i), hospital_assistance_paid=None)
        first = services.recompute_person_year(person_id=person.pk, year=2023)
        assert first.bills_changed == 3 and first.ledger_changed
        snapshot = list(Bill.objects.order_by("pk").values("pk", "total_assistance", "computation", "computed_at"))
        second = services.recompute_person_year(person_id=person.pk, year=2023)
        assert (second.bills_changed, second.adjustments_created, second.ledger_changed) == (0, 0, False)
        assert list(Bill.objects.order_by("pk").values("pk", "total_assistance", "computation", "computed_at")) == snapshot

    def test_dry_run_writes_nothing(self, person, institution):
        BillFactory(person=person, institution=institution)
        outcome = services.recompute_person_year(person_id=person.pk, year=2023, dry_run=True)
        assert outcome.bills_changed == 1
        assert not PersonYearLedger.objects.exists()
        assert Bill.objects.get().computed_at is None

    def test_policy_3_1_bucket_cap_holds_and_ledger_shows_room(self, person, institution):
        # BJ-3 inpatient cap 160,000: burdens 150,000 + 60,000 → 127,500 + 32,500 (cap-limited).
        b1 = BillFactory(person=person, institution=institution, policy_scope_cost=Decimal("160000"), total_cost=Decimal("160000"),
                         basic_paid=Decimal("10000"), discharge_date=date(2023, 3, 10))
        b2 = BillFactory(person=person, institution=institution, policy_scope_cost=Decimal("70000"), total_cost=Decimal("70000"),
                         basic_paid=Decimal("10000"), discharge_date=date(2023, 5, 10))
        services.recompute_person_year(person_id=person.pk, year=2023)
        b1.refresh_from_db(), b2.refresh_from_db()
        assert b1.total_assistance == Decimal("127500.00")
        assert b2.total_assistance == Decimal("32500.00") and "cap_limited" in b2.computation["reasons"]
        bucket = LedgerBucket.objects.get(ledger__person=person, ledger__year=2023, bucket="inpatient")
        assert (bucket.cap, bucket.used, bucket.room) == (Decimal("160000.00"), Decimal("160000.00"), Decimal("0.00"))
        [year] = __import__("claims.selectors", fromlist=["x"]).ledger_for_person(person)
        assert year["buckets"][0]["room"] == Decimal("0.00")

    def test_paid_bill_never_changes_what_was_paid_adjustment_once(self, person, institution, district):
        bill = BillFactory(person=person, institution=institution, hospital_assistance_paid=Decimal("15000.00"),
                           status=BillStatus.HOSPITAL_PAID)
        first = services.recompute_person_year(person_id=person.pk, year=2023)
        bill.refresh_from_db()
        assert bill.hospital_assistance_paid == Decimal("15000.00")  # what was paid stays
        assert bill.total_assistance == Decimal("17000.00")
        assert first.adjustments_created == 1
        adj = PaymentAdjustment.objects.get()
        assert (adj.kind, adj.amount, adj.status) == (AdjustmentKind.SUPPLEMENTARY, Decimal("2000.00"), "open")
        again = services.recompute_person_year(person_id=person.pk, year=2023)
        assert again.adjustments_created == 0 and PaymentAdjustment.objects.count() == 1

    def test_retroactive_revocation_of_a_paid_claim_becomes_a_correction_then_a_recovery(
            self, make_claim, person, reviewer, caseworker, district):
        """Issue 12: the payment and the grant stand; the difference is a proposed correction, and
        only its approval by a second person records the 追回 (once; resolved, it stays resolved)."""
        from claims.models import Correction
        from tests.factories import make_staff

        claim = make_claim()
        services.claim_approve(claim=claim, reviewer=reviewer)
        batch = services.payment_batch_create(claims=[claim], by=caseworker)
        services.payment_batch_mark_paid(batch=batch, reference="R1", by=caseworker)
        cert = person.certifications.get()
        cert.valid_from = date(2023, 6, 1)  # identity backdated to start after the stay
        cert.save()
        outcome = services.recompute_person_year(person_id=person.pk, year=2023)
        bill = claim.bills.get()
        assert bill.total_assistance == Decimal("0.00") and bill.paid_amount == Decimal("17000.00")
        assert outcome.adjustments_created == 0 and not PaymentAdjustment.objects.exists()
        correction = Correction.objects.get(claim=claim)
        services.correction_approve(correction=correction, reviewer=make_staff(roles.REVIEWER, district=district,
                                                                               username="rv-b"))
        adj = PaymentAdjustment.objects.get(bill=bill)
        assert (adj.kind, adj.amount) == (AdjustmentKind.RECOVERY, Decimal("17000.00"))
        services.adjustment_resolve(adjustment=adj, by=reviewer, note="已追回")
        assert services.recompute_person_year(person_id=person.pk, year=2023).adjustments_created == 0
        assert not Correction.objects.filter(status=Correction.Status.PROPOSED).exists()

    def test_changed_figure_supersedes_stale_adjustment(self, person, institution):
        bill = BillFactory(person=person, institution=institution, hospital_assistance_paid=Decimal("15000.00"),
                           status=BillStatus.HOSPITAL_PAID)
        services.recompute_person_year(person_id=person.pk, year=2023)
        CertificationFactory(person=person, category=__import__("tests.factories", fromlist=["x"]).category("extreme_poverty"))
        services.recompute_person_year(person_id=person.pk, year=2023)
        bill.refresh_from_db()
        assert bill.total_assistance == Decimal("20000.00")  # BJ-1 100 %
        statuses = dict(PaymentAdjustment.objects.values_list("amount", "status"))
        assert statuses == {Decimal("2000.00"): "superseded", Decimal("5000.00"): "open"}

    def test_draft_and_rejected_bills_do_not_count(self, make_claim, reviewer, person, institution):
        rejected = make_claim(bills=[bill_data(institution, burden="150000.00")])
        services.claim_reject(claim=rejected, reviewer=reviewer, reason="documents")
        make_claim(bills=[bill_data(institution, burden="150000.00")], submit=False)
        services.recompute_person_year(person_id=person.pk, year=2023)
        ledger = PersonYearLedger.objects.get(person=person, year=2023)
        assert ledger.bills_counted == 0 and ledger.total_assistance == Decimal("0.00")


class TestBatchRecompute:
    def test_batch_equals_one_by_one(self, district, institution):
        from tests.factories import PersonFactory

        pairs = []
        for i in range(4):
            p = PersonFactory(hukou_district=district)
            CertificationFactory(person=p, category=__import__("tests.factories", fromlist=["x"]).category(
                ["minimum_living", "extreme_poverty", "low_income_family", "downsized_1960s_worker"][i]))
            for j, year in enumerate((2023, 2023, 2024)):
                BillFactory(person=p, institution=institution, admission_date=date(year, 2 + j, 1),
                            discharge_date=date(year, 2 + j, 5), policy_scope_cost=Decimal("90000"), total_cost=Decimal("90000"),
                            hospital_assistance_paid=Decimal("50000.00") if j == 1 else None,
                            status=BillStatus.HOSPITAL_PAID if j == 1 else BillStatus.RECORDED)
            pairs += [(p.pk, 2023), (p.pk, 2024)]
        outcomes = services.recompute_person_years(person_years=pairs, chunk=3)
        assert [(o.person_id, o.year) for o in outcomes] == sorted(pairs)
        assert sum(o.bills_changed for o in outcomes) == 12
        created = sum(o.adjustments_created for o in outcomes)
        assert created == PaymentAdjustment.objects.count() > 0
        for person_id, year in pairs:
            again = services.recompute_person_year(person_id=person_id, year=year)
            assert (again.bills_changed, again.adjustments_created, again.ledger_changed) == (0, 0, False)
        assert LedgerBucket.objects.filter(ledger__year=2023).count() >= 4


def test_approved_unpaid_claim_keeps_its_grant_until_a_correction_is_approved(make_claim, reviewer, person, district):
    """Issue 12 (a decision stands): the new figure is proposed as a correction, never taken silently."""
    from claims.models import Correction
    from tests.factories import make_staff

    claim = make_claim()
    services.claim_approve(claim=claim, reviewer=reviewer)
    claim.refresh_from_db()
    assert claim.approved_amount == Decimal("17000.00")
    CertificationFactory(person=person, category=__import__("tests.factories", fromlist=["x"]).category("extreme_poverty"))
    services.recompute_person_year(person_id=person.pk, year=2023)
    claim.refresh_from_db()
    assert claim.approved_amount == Decimal("17000.00")  # the grant stands
    correction = Correction.objects.get(claim=claim, status=Correction.Status.PROPOSED)
    services.correction_approve(correction=correction, reviewer=make_staff(roles.REVIEWER, district=district, username="rv-c"))
    claim.refresh_from_db()
    assert claim.approved_amount == Decimal("20000.00")  # BJ-1 100 %
    assert not PaymentAdjustment.objects.exists()
