"""Throughput of the pure engine: 200,000 people, 1,000,000 bills, one core.

Run from the project root:  .venv/bin/python benchmarks/engine_bench.py [--people N] [--bills N] [--policy CODE|mixed]
                                [--rounds N] [--gc-off]

Generates a deterministic population (seed 20230101) in memory: identity mixes per policy
(most people one identity, some two, some lost during the year), bills across the visit types
with realistic burdens (outpatient small, inpatient large), a few non-designated or unreferred
bills and a few with bad amounts. Times ``assess_bills`` over every person (fresh year states)
and prints bills per second. Generation is not timed.

Conditions are printed with every figure (issue 20): the headline figure runs with the garbage
collector **on**, as production runs; ``--gc-off`` adds the same loop with the collector paused.
The **floor** is measured in the same run on the same bills: a bare ``Decimal`` computation of the
same figures (burden, rate, half-up to the fen, one annual room), with no identities, explanations
or reason codes. The ratio engine ÷ floor is the figure to compare across machines. With
``--rounds N`` each round times the floor and then the engine (fresh results each round, the
previous round's freed first) and prints one line; the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections import Counter
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.engine import BillIn, CertificationIn, Flags, PersonIn, assess_bills, load_preset  # noqa: E402

SEED = 20230101
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
    parser.add_argument("--gc-off", action="store_true", help="also time the engine with the collector paused")
    parser.add_argument("--rounds", type=int, default=1, help="floor + engine rounds on the same bills")
    args = parser.parse_args()

    started = time.perf_counter()
    population = generate(args.people, args.bills, args.policy)
    print(f"generated {args.people:,} people, {args.bills:,} bills ({args.policy}) "
          f"in {time.perf_counter() - started:.1f}s", flush=True)

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}; Python {sys.version.split()[0]}; "
          f"garbage collector {'ON' if gc.isenabled() else 'OFF'} (thresholds {gc.get_threshold()})")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    results: list = []
    rows = []
    for round_no in range(1, args.rounds + 1):
        results = []
        gc.collect()  # the previous round's results are freed before this round is timed
        floor_cpu = time_floor(population)
        engine_cpu, results = time_engine(population)
        count = sum(len(person_results) for person_results in results)
        rows.append((count / engine_cpu, count / floor_cpu, engine_cpu / floor_cpu))
        # CPU time is the figure: on a shared machine wall time also counts other processes' turns.
        print(f"round {round_no}: floor (bare Decimal, GC on) {floor_cpu:.2f}s CPU = {count / floor_cpu:,.0f} bills/s; "
              f"engine (GC on, as production) {engine_cpu:.2f}s CPU = {count / engine_cpu:,.0f} bills/s "
              f"= {engine_cpu / floor_cpu:.1f}x the floor; load {os.getloadavg()[0]:.2f}", flush=True)
    best = max(rows)
    print(f"best round: engine {best[0]:,.0f} bills/s, floor {best[1]:,.0f} bills/s, {best[2]:.1f}x; "
          f"lowest ratio of the rounds {min(r[2] for r in rows):.1f}x")
    if args.gc_off:
        gc.collect()
        gc.disable()
        try:
            off_cpu, _ = time_engine(population)
        finally:
            gc.enable()
        print(f"engine (GC off): {off_cpu:.2f}s CPU = {count / off_cpu:,.0f} bills/s "
              f"= {off_cpu / floor_cpu:.1f}x the floor (last round's floor)")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    outcome: Counter[str] = Counter()
    total = Decimal("0.00")
    for person_results in results:
        for result in person_results:
            total += result.total
            outcome[result.error or ("paid" if result.total else (result.reasons[0] if result.reasons else "zero"))] += 1
    print(f"total assistance {total:,}; outcomes: " + ", ".join(f"{k} {v:,}" for k, v in outcome.most_common()))


if __name__ == "__main__":
    main()
