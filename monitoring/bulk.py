"""The nightly run's view of THE recalculation core, which lives in :mod:`claims.recalc`.

There is one per-person-year loop (``claims.recalc.recompute_chunk``): the nightly chunks call it
for a range of people, ``claims.services.recompute_person_years`` (approvals, imports, commands)
for a list of person-years. This module only re-exports it for the monitoring app.
"""
from __future__ import annotations

from claims.recalc import (  # noqa: F401 - re-exported
    B_CLAIM,
    B_DISTRICT,
    B_END,
    B_ID,
    B_PERSON,
    B_STATUS,
    B_TOTAL_ASSIST,
    BILL_FIELDS,
    BILL_WRITE_FIELDS,
    ChunkOutcome,
    PaidBill,
    PolicyPicker,
    _bill_in,
    caps_from_computation,
    check_invariants,
    decision_key,
    drawn_from_computation,
    fast_update,
    gc_paused,
    recompute_chunk,
    reconcile_paid,
    stored_computation_without_lines,
)
