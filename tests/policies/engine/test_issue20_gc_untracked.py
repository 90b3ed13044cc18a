"""Issue 20: a stored result costs the garbage collector one object, whatever it holds.

The nightly run and the benchmark keep many results alive at once, and every full pass of the
collector walks every tracked object. A result's own fields (bucket and item lines included) are
plain tuples of str, Decimal and None, which CPython untracks once the collector has seen them;
only the result itself (a tuple subclass) and the shared ``Plan`` stay tracked. Reading a result
(attributes, iteration, ``repr``, ``_replace``, ``digest``) still gives ``BucketLine`` and
``ItemLine`` records exactly as before.
"""
from __future__ import annotations

import gc
import pickle
from decimal import Decimal
from hashlib import md5

from engine_builders import bill, person, spec

from policies.engine import BillResult, BucketLine, ItemLine, YearState, assess_bill, assess_bills

D = Decimal
STATS = {y: {"per_capita_disposable_income": D("50000.00"), "resident_contribution": D("380.00")}
         for y in range(2018, 2025)}


def _tracked_fields(result: BillResult) -> list[int]:
    """Positions of the stored fields (``plan`` aside: one per policy, shared) the collector tracks."""
    return [i for i in range(len(result) - 1) if gc.is_tracked(result[i])]


def _results() -> list[BillResult]:
    out = []
    # Beijing: one capped bucket; a second identity (dry run of both); a gate; a capped bill
    out += assess_bills(spec("beijing-2023"), person("minimum_living"),
                        [bill("3000.00", id="bj1"), bill("900000.00", id="bj2", start="2023-04-01"),
                         bill("100.00", id="bj3", visit="outpatient", designated=False)], {}, STATS)
    out += assess_bills(spec("beijing-2023"), person("minimum_living", "low_income_family"),
                        [bill("20000.00", id="bj4")], {}, STATS)
    # Wuxi: tilted assistance (an item line) above the threshold
    out += assess_bills(spec("wuxi-2023"), person("minimum_living"),
                        [bill("90000.00", id="wx1"), bill("90000.00", id="wx2", start="2023-05-01")], {}, STATS)
    # Ningbo: a special item (maternity) through the general path
    out += assess_bills(spec("ningbo-2019"), person("minimum_living", since="2019-01-01"),
                        [bill("5000.00", id="nb1", visit="maternity", start="2020-03-01")], {}, STATS)
    # errors
    out += assess_bills(spec("beijing-2023"), person("minimum_living"),
                        [bill("10.00", id="bad", basic="5.00", total="1.00")], {}, STATS)
    return out


def test_issue20_a_kept_result_holds_no_container_the_collector_tracks():
    results = _results()
    assert any(r.buckets for r in results) and any(r.items for r in results)
    gc.collect()
    gc.collect()  # a row inside a tuple is untracked first, the tuple holding it at the next pass
    assert {r.bill_id: _tracked_fields(r) for r in results} == {r.bill_id: [] for r in results}


def test_issue20_a_result_reads_its_rows_as_bucket_and_item_records():
    results = _results()
    for result in results:
        assert all(type(b) is BucketLine for b in result.buckets)
        assert all(type(i) is ItemLine for i in result.items)
        fields = tuple(result)
        assert fields[13] == result.buckets and fields[16] == result.items
        assert all(type(b) is BucketLine for b in fields[13]) and all(type(i) is ItemLine for i in fields[16])
        # the digest is the md5 of the repr of the fields as read (records), as it always was
        assert result.digest() == md5(repr(fields[:-1]).encode(), usedforsecurity=False).hexdigest()
        rebuilt = tuple.__new__(BillResult, fields)
        assert rebuilt == result and rebuilt.digest() == result.digest()
        assert repr(rebuilt) == repr(result) and repr(result).startswith("BillResult(bill_id=")
        assert "BucketLine(name=" in repr(result) or not result.buckets
        assert result._replace(reasons=result.reasons) == result
        assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 - our own bytes
        assert result.to_dict() == rebuilt.to_dict() and result.lines == rebuilt.lines


def test_issue20_assess_bill_results_are_untracked_too():
    state = YearState(2023)
    result = assess_bill(spec("wuxi-2023"), person("minimum_living"), bill("90000.00", id="w"), state, STATS)
    assert result.items and result.buckets
    gc.collect()
    gc.collect()
    assert _tracked_fields(result) == []
