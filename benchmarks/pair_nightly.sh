#!/bin/bash
# The issue 12 comparison: the nightly full run of an earlier commit beside today's, alternated in
# one window, each on its own database generated with the same seed (docs/benchmarks/monitoring.md).
#
#   BASE_DIR=/path/to/clone-at-ffbb8dd BASE_DB=bench_base NEW_DIR=. NEW_DB=bench_new ROUNDS=2 \
#       benchmarks/pair_nightly.sh > pair.log
#
# Each side needs its own venv (make setup) and a database made by
# `manage.py generate_synthetic --people 200000 --claims 1000000 --seed 42` and migrated by that
# side's code, with one full run already done (steady state). Redis dbs 13 (base) and 12 (new).
set -u
export DJANGO_SETTINGS_MODULE=config.settings.test
run() { # dir db redisdb label
  echo "=== $4 $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  (cd "$1" && DATABASE_URL=postgres://postgres@127.0.0.1:5432/$2 REDIS_URL=redis://127.0.0.1:6379/$3 \
    CELERY_TEST_REDIS_URL=redis://127.0.0.1:6379/$3 .venv/bin/python benchmarks/monitoring_recalc.py floor full floor 2>&1 \
    | grep -E "^(floor|full)")
  echo "=== end $4 $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
}
run "${NEW_DIR:-.}" "${NEW_DB:-bench_new}" 12 new-warmup
for _ in $(seq 1 "${ROUNDS:-2}"); do
  run "$BASE_DIR" "${BASE_DB:-bench_base}" 13 base
  run "${NEW_DIR:-.}" "${NEW_DB:-bench_new}" 12 new
done
