"""Throughput of the pure engine: 200,000 people, 1,000,000 bills, one core.

Run from the project root:  .venv/bin/python benchmarks/engine_bench.py [--people N] [--bills N] [--policy CODE|mixed]
                                [--rounds N] [--gc-off] [--fingerprint]

Generates a deterministic population (seed 20230101) in memory: identity mixes per policy
(most people one identity, some two, some lost during the year), bills across the visit types
with realistic burdens (outpatient small, inpatient large), a few non-designated or unreferred
bills and a few with bad amounts. Times ``assess_bills`` over every person (fresh year states)
and prints bills per second. Generation is not timed.

Conditions are printed with every figure (issue 20). The **reported** figure runs the engine
**as production's nightly chunk does** (``claims.recalc.recompute_chunk``): the people in chunks of
:data:`CHUNK_PEOPLE` (monitoring.services.CHUNK_PEOPLE, 4,000), each chunk under
``claims.recalc.gc_paused`` (the collector paused for the chunk, enabled between chunks, its
collections then counted in the time), the chunk's results dropped with the chunk. Beside it, the
**worst case**: the collector on all along and every result kept to the end (no production path
keeps 200,000 results alive; the collector's full passes then walk them and the inputs).
``--gc-off`` adds the keep-everything loop with the collector off. The **floor** is measured in the
same rounds on the same bills, just before each engine loop: a bare ``Decimal`` computation of the
same figures (burden, rate, half-up to the fen, one annual room), with no identities, explanations
or reason codes. The ratio engine ÷ floor is the figure to compare across machines. With
``--rounds N`` each round times floor, chunked engine, floor, keep-everything engine (fresh results
each round, the previous round's freed first) and prints one line; the load average is printed
before and after. ``--fingerprint`` prints the md5 over every result's ``digest()`` and ``repr``
(bytes that are stored must not change when the engine is made faster).
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import sys
import time
from collections import Counter
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claims.recalc import gc_paused  # noqa: E402  (pure: importable without Django settings)
from policies.engine import BillIn, CertificationIn, Flags, PersonIn, assess_bills, load_preset  # noqa: E402

SEED = 20230101
# People per nightly chunk: monitoring.services.CHUNK_PEOPLE (settings.RECALC_CHUNK_PEOPLE, default
# 4,000; tests/policies/engine/test_issue20_bench.py holds the two equal).
CHUNK_PEOPLE = 4000
CENT = Decimal("0.01")
YEAR_OF = {"beijing-2023": 2023, "wuxi-2023": 2023, "ningbo-2019": 2020, "national-2021": 2023, "dongzhi-2022": 2023}
POLICY_WEIGHTS = {"beijing-2023": 40, "wuxi-2023": 20, "ningbo-2019": 20, "national-2021": 10, "dongzhi-2022": 10}
CATEGORY_MIX = {
    "beijing-2023": [("minimum_living", 50), ("extreme_poverty", 15), ("low_income_family", 15),
                     ("hardship_allowance", 8), ("downsized_1960s_worker", 5), ("disabled_returned_youth", 2),
                     ("illness_poverty_patient", 5)],
    "wuxi-2023": [("minimum_living", 40), ("marginal_family", 25), ("extreme_poverty", 10), ("orphan", 3),
                  ("distressed_child", 5), ("severe_disability", 10), ("expenditure_hardship_patient", 7)],
    "ningbo-2019": [("minimum_living", 45), ("marginal_family", 20), ("extreme_poverty", 15),
                    ("illness_poverty_patient", 8), ("disability_allowance", 8), ("good_samaritan", 2),
                    ("hiv_patient", 2)],
    "national-2021": [("minimum_living", 40), ("extreme_poverty", 15), ("marginal_family", 20),
                      ("monitored_rural", 10), ("illness_poverty_patient", 10), ("returned_to_poverty", 5)],
    "dongzhi-2022": [("minimum_living", 40), ("extreme_poverty", 15), ("marginal_family", 15),
                     ("monitored_rural", 15), ("returned_to_poverty", 10), ("illness_poverty_patient", 5)],
}
VISIT_MIX = [("outpatient", 55), ("outpatient_special", 20), ("inpatient", 22), ("maternity", 1),
             ("rehabilitation", 2)]
STATS = {y: {"per_capita_disposable_income": Decimal("50000.00"), "resident_contribution": Decimal("380.00")}
         for y in range(2018, 2025)}


def weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def generate(people: int, bills: int, policy_choice: str):
    """[(policy, person, [bills])], deterministic. Amount Decimals come from pools (memory)."""
    rng = random.Random(SEED)
    cents = [Decimal(f"{rng.randint(1000, 99999) / 100:.2f}") for _ in range(5000)]  # 10.00–999.99
    small = [Decimal(v) * 10 for v in cents]          # outpatient burdens 100–10,000
    large = [Decimal(v) * 200 for v in cents]         # inpatient burdens 2,000–200,000
    zero = Decimal("0.00")
    flags_pool = [Flags()] * 40 + [Flags(referral_compliant=False), Flags(designated=False),
                                   Flags(in_province=False), Flags(major_disease=True), Flags(rare_disease=True),
                                   Flags(good_samaritan_injury=True)]
    specs = {code: load_preset(code) for code in POLICY_WEIGHTS}
    codes = list(POLICY_WEIGHTS) if policy_choice == "mixed" else [policy_choice]
    weights = [POLICY_WEIGHTS[c] for c in codes]
    population = []
    made = 0
    for index in range(people):
        code = rng.choices(codes, weights)[0]
        year = YEAR_OF[code]
        first = date(year, 1, 1)
        certs = [CertificationIn(weighted(rng, CATEGORY_MIX[code]), date(year - 1, 6, 1))]
        roll = rng.random()
        if roll < 0.15:
            certs.append(CertificationIn(weighted(rng, CATEGORY_MIX[code]), first + timedelta(days=rng.randint(0, 200))))
        elif roll < 0.20:
            certs[0] = CertificationIn(certs[0].category, certs[0].valid_from, first + timedelta(days=rng.randint(0, 330)))
        person = PersonIn(tuple(certs), rng.choice((None, None, None, 1, 2, 3)))
        if index == people - 1:
            count = bills - made
        else:  # about bills/people each (1–12), steered so the total comes out exact
            count = max(0, min(12, round((bills - made) / (people - index) + rng.uniform(-3, 3))))
        own = []
        for number in range(count):
            visit = weighted(rng, VISIT_MIX)
            start = first + timedelta(days=rng.randint(0, 360))
            end = start if visit.startswith("outpatient") else start + timedelta(days=rng.randint(1, 20))
            burden = rng.choice(small if visit.startswith("outpatient") else large)
            basic = rng.choice(large) if visit == "inpatient" else rng.choice(small)
            scope = burden + basic
            if rng.random() < 0.003:  # bad amounts: basic above scope
                basic, scope = scope + 1, scope
            own.append(BillIn(f"{index}-{number}", visit, start, end, scope, scope, basic, zero, zero,
                              rng.choice(flags_pool)))
        made += count
        population.append((specs[code], person, own))
    assert made == bills, (made, bills)
    return population


def time_engine(population):
    """CPU seconds of ``assess_bills`` over every person (fresh year states), and the results."""
    results = []
    keep = results.append
    started = time.process_time()
    for policy, person, bills in population:
        keep(assess_bills(policy, person, bills, None, STATS))
    return time.process_time() - started, results


def time_engine_chunked(population, chunk_people: int = CHUNK_PEOPLE) -> tuple[float, int]:
    """CPU seconds and bill count of ``assess_bills`` as the nightly chunk runs it: ``chunk_people``
    people at a time under ``gc_paused`` (the collector enabled between chunks), the chunk's
    results dropped with the chunk (``recompute_chunk`` writes what differs and returns)."""
    count = 0

    @gc_paused()
    def chunk(part) -> int:
        results = [assess_bills(policy, person, bills, None, STATS) for policy, person, bills in part]
        return sum(map(len, results))

    started = time.process_time()
    for lo in range(0, len(population), chunk_people):
        count += chunk(population[lo:lo + chunk_people])
    return time.process_time() - started, count


def fingerprint(results) -> str:
    """md5 over every result's ``digest()`` and ``repr`` (input order, person by person)."""
    hasher = hashlib.md5(usedforsecurity=False)
    for person_results in results:
        for result in person_results:
            hasher.update(result.digest().encode())
            hasher.update(repr(result).encode())
    return hasher.hexdigest()


def time_floor(population) -> float:
    """CPU seconds of the bare arithmetic on the same bills: burden, rate, half-up, one room."""
    rate = Decimal("0.85")
    cap = Decimal("160000.00")
    zero = Decimal("0.00")
    started = time.process_time()
    for _policy, _person, bills in population:
        room = cap
        for bill in bills:
            burden = bill.policy_scope_cost - bill.basic_paid - bill.critical_paid - bill.other_paid
            if burden < zero:
                burden = zero
            raw = (burden * rate).quantize(CENT, ROUND_HALF_UP)
            paid = raw if raw < room else room
            room -= paid
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument("--policy", default="mixed", choices=["mixed", *POLICY_WEIGHTS])
    parser.add_argument("--gc-off", action="store_true", help="also time the engine with the collector off all along")
    parser.add_argument("--rounds", type=int, default=1, help="floor + engine rounds on the same bills")
    parser.add_argument("--fingerprint", action="store_true", help="md5 over every result's digest() and repr")
    args = parser.parse_args()

    started = time.perf_counter()
    population = generate(args.people, args.bills, args.policy)
    print(f"generated {args.people:,} people, {args.bills:,} bills ({args.policy}) "
          f"in {time.perf_counter() - started:.1f}s", flush=True)

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}; Python {sys.version.split()[0]}; "
          f"garbage collector {'ON' if gc.isenabled() else 'OFF'} (thresholds {gc.get_threshold()})")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    print(f"reported: the engine as the nightly chunk runs it ({CHUNK_PEOPLE:,} people per chunk under "
          f"claims.recalc.gc_paused, GC on between chunks, results dropped per chunk); worst case beside it: "
          f"GC on all along, every result kept to the end", flush=True)
    results: list = []
    rows = []
    for round_no in range(1, args.rounds + 1):
        results = []
        gc.collect()  # the previous round's results are freed before this round is timed
        floor_a = time_floor(population)
        chunk_cpu, count = time_engine_chunked(population)
        gc.collect()
        floor_b = time_floor(population)
        engine_cpu, results = time_engine(population)
        rows.append((chunk_cpu / floor_a, count / chunk_cpu, count / floor_a, engine_cpu / floor_b,
                     count / engine_cpu, count / floor_b))
        # CPU time is the figure: on a shared machine wall time also counts other processes' turns.
        print(f"round {round_no}: floor {count / floor_a:,.0f} bills/s; engine as production (chunks, GC paused "
              f"per chunk) {chunk_cpu:.2f}s CPU = {count / chunk_cpu:,.0f} bills/s = {chunk_cpu / floor_a:.2f}x "
              f"the floor | floor {count / floor_b:,.0f} bills/s; worst case (GC on, all kept) {engine_cpu:.2f}s CPU "
              f"= {count / engine_cpu:,.0f} bills/s = {engine_cpu / floor_b:.2f}x | load {os.getloadavg()[0]:.2f}",
              flush=True)
    ratios = sorted(r[0] for r in rows)
    worst = sorted(r[3] for r in rows)
    print(f"as production: ratio median {ratios[len(ratios) // 2]:.2f}x (best {ratios[0]:.2f}x, "
          f"worst {ratios[-1]:.2f}x), best {max(r[1] for r in rows):,.0f} bills/s; "
          f"worst case (GC on, all kept): median {worst[len(worst) // 2]:.2f}x (best {worst[0]:.2f}x)")
    if args.gc_off:
        results = []
        gc.collect()
        floor_cpu = time_floor(population)
        gc.disable()
        try:
            off_cpu, results = time_engine(population)
        finally:
            gc.enable()
        print(f"engine (GC off all along, all kept; not production's condition): {off_cpu:.2f}s CPU = "
              f"{count / off_cpu:,.0f} bills/s = {off_cpu / floor_cpu:.2f}x the floor beside it")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.fingerprint:
        print(f"fingerprint (md5 of every digest() and repr): {fingerprint(results)}")

    outcome: Counter[str] = Counter()
    total = Decimal("0.00")
    for person_results in results:
        for result in person_results:
            total += result.total
            outcome[result.error or ("paid" if result.total else (result.reasons[0] if result.reasons else "zero"))] += 1
    print(f"total assistance {total:,}; outcomes: " + ", ".join(f"{k} {v:,}" for k, v in outcome.most_common()))


if __name__ == "__main__":
    main()
