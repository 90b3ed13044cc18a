"""Home-page work queues: claims to review, returned claims, differences to review."""
from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from organizations import roles
from organizations.dashboard import Queue

from . import money
from .models import ClaimStatus, PaymentAdjustment


def claim_queues(user) -> list[Queue]:
    from .selectors import access_adjustments, access_claims, claims_to_review

    queues: list[Queue] = []
    base = reverse("claims:index")
    if roles.has_role(user, roles.REVIEWER):
        queues.append(Queue(_("待审核的报销申请"), claims_to_review(user).count(), f"{base}?status=submitted", "clipboard-check"))
        queues.append(Queue(_("差额待核"), access_adjustments(user).filter(status=PaymentAdjustment.Status.OPEN).count(),
                            reverse("claims:differences"), "exclamation-diamond"))
    if roles.has_role(user, roles.CASEWORKER):
        queues.append(Queue(_("退回补正的申请"), access_claims(user).filter(status=ClaimStatus.RETURNED).count(),
                            f"{base}?status=returned", "arrow-return-left"))
        queues.append(Queue(_("待支付的已批准申请"),
                            money.claims_payable(access_claims(user)).count(),
                            reverse("claims:batches"), "bank"))
    return queues
