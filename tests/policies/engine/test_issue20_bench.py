"""Issue 20: the engine benchmark runs as production does, and a faster engine stores the same bytes.

``benchmarks/engine_bench.py`` reports the engine as the nightly chunk runs it (people in chunks of
``monitoring.services.CHUNK_PEOPLE`` under ``claims.recalc.gc_paused``, results dropped per chunk).
The pinned fingerprints were computed with the engine of 6ee0968 (before the issue-20 plans of
session 9): every ``digest()``, ``repr``, sampled ``to_dict()`` and the year states left behind
over the benchmark's own population must stay byte-identical whatever the hot path does.
"""
from __future__ import annotations

import gc
import hashlib
import importlib.util
from pathlib import Path

import pytest

from policies import engine as pe

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "engine_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("engine_bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_issue_20_bench_chunk_size_is_productions(bench):
    from monitoring import services

    assert bench.CHUNK_PEOPLE == services.CHUNK_PEOPLE


def test_issue_20_bench_chunked_mode_pauses_gc_per_chunk_and_drops_results(bench, monkeypatch):
    population = bench.generate(30, 120, "mixed")
    seen = []
    real = bench.assess_bills

    def spy(*args):
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(bench, "assess_bills", spy)
    chunk_entries = []
    real_chunked_enable = gc.enable

    def counting_enable():
        chunk_entries.append(len(seen))
        real_chunked_enable()

    monkeypatch.setattr(gc, "enable", counting_enable)
    assert gc.isenabled()
    cpu, count = bench.time_engine_chunked(population, chunk_people=7)
    monkeypatch.setattr(gc, "enable", real_chunked_enable)
    assert count == 120
    assert cpu >= 0
    assert seen == [False] * 30  # every person assessed with the collector paused...
    assert chunk_entries == [7, 14, 21, 28, 30]  # ...and the collector back on after each chunk
    assert gc.isenabled()


def test_issue_20_results_byte_identical_to_engine_before(bench):
    population = bench.generate(2000, 10000, "mixed")
    results = hashlib.md5(usedforsecurity=False)
    states_md5 = hashlib.md5(usedforsecurity=False)
    for policy, person, bills in population:
        states: dict = {}
        for result in pe.assess_bills(policy, person, bills, states, bench.STATS):
            results.update(result.digest().encode())
            results.update(repr(result).encode())
        states_md5.update(repr(sorted(states.items())).encode())
    explained = hashlib.md5(usedforsecurity=False)
    for policy, person, bills in population[::25]:
        for result in pe.assess_bills(policy, person, bills, {}, bench.STATS):
            explained.update(repr(result.to_dict()).encode())
    assert results.hexdigest() == "5c3509f6ebf7d339336c2cc58fb0a936"
    assert states_md5.hexdigest() == "5d2b492de300a6b73b6ee5d1ae7fbd78"
    assert explained.hexdigest() == "4ed40eb7dff4b5f224ec662a5dd72353"
    # the benchmark's own fingerprint of the same population
    _cpu, kept = bench.time_engine(population)
    assert bench.fingerprint(kept) == "5c3509f6ebf7d339336c2cc58fb0a936"
