#!/usr/bin/env bash
# Scale-out drill (issue 14, docs/operations.md "Workers on a second host").
#
# A Celery worker on a "second host" does the nightly recalculation queued by the web host. The
# second host is a network namespace joined to this one by a veth pair only: it reaches PostgreSQL
# (through PgBouncer in transaction-pooling mode) and Redis at the veth address 10.77.0.1, and
# cannot reach this host's loopback at all (checked). Production settings on both sides.
#
#   sudo bash scripts/scaleout_drill.sh      # root: creates and removes the namespace and veth pair
#
# Needs: root, iproute2, pgbouncer (apt-get install pgbouncer), PostgreSQL on 127.0.0.1:5432
# (trust for the postgres role, as on the developers' machines), redis-server. Touches neither the
# running PostgreSQL's configuration nor the running Redis: it adds its own PgBouncer and its own
# Redis on the veth address, and its own database, all removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

NS=medassist-w2
HOST_IP=10.77.0.1
PEER_IP=10.77.0.2
DB=${DRILL_DB:-scaleout_drill}
PGB_PORT=6432
REDIS_PORT=6390
PY=.venv/bin/python
work=$(mktemp -d)
chmod 755 "$work"
worker_pid=""

say() { printf 'drill: %s\n' "$*"; }
cleanup() {
  set +e
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  ip link del mw-host 2>/dev/null
  sleep 1
  dropdb -h 127.0.0.1 -U postgres --if-exists "$DB" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "drill: run as root (it creates a network namespace)" >&2; exit 1; }
command -v pgbouncer >/dev/null || command -v /usr/sbin/pgbouncer >/dev/null || {
  echo "drill: pgbouncer missing (apt-get install pgbouncer)" >&2; exit 1; }
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

# 1. The second host: a namespace, a veth pair, nothing else (no route to this host's loopback).
ip netns del "$NS" 2>/dev/null || true
ip link del mw-host 2>/dev/null || true
ip netns add "$NS"
ip link add mw-host type veth peer name mw-peer
ip link set mw-peer netns "$NS"
ip addr add "$HOST_IP/24" dev mw-host
ip link set mw-host up
ip netns exec "$NS" ip addr add "$PEER_IP/24" dev mw-peer
ip netns exec "$NS" ip link set mw-peer up
ip netns exec "$NS" ip link set lo up
say "namespace $NS at $PEER_IP, this host at $HOST_IP (veth)"

# 2. PgBouncer (transaction pooling) and Redis on the veth address.
createdb -h 127.0.0.1 -U postgres "$DB"
cat > "$work/pgbouncer.ini" <<EOF
[databases]
$DB = host=127.0.0.1 port=5432 dbname=$DB user=postgres
[pgbouncer]
listen_addr = $HOST_IP
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
pidfile = $work/pgbouncer.pid
logfile = $work/pgbouncer.log
EOF
echo '"postgres" ""' > "$work/users.txt"
chown -R postgres "$work"
su postgres -s /bin/sh -c "$PGBOUNCER -d $work/pgbouncer.ini"
redis-server --port "$REDIS_PORT" --bind "$HOST_IP" --protected-mode no --save "" --appendonly no \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
sleep 1
say "PgBouncer at $HOST_IP:$PGB_PORT (transaction pooling), Redis at $HOST_IP:$REDIS_PORT"

# The second host must not reach this host's loopback: the worker really goes over the veth.
if ip netns exec "$NS" timeout 2 bash -c "</dev/tcp/127.0.0.1/5432" 2>/dev/null; then
  echo "drill: FAILED: the namespace reaches 127.0.0.1:5432 (not a second host)" >&2; exit 1
fi
ip netns exec "$NS" timeout 2 bash -c "</dev/tcp/$HOST_IP/$PGB_PORT" \
  || { echo "drill: FAILED: the namespace cannot reach PgBouncer at $HOST_IP:$PGB_PORT" >&2; exit 1; }
say "from $NS: 127.0.0.1:5432 unreachable, $HOST_IP:$PGB_PORT reachable"

# 3. Production settings on both sides; the second host through PgBouncer.
export DJANGO_SETTINGS_MODULE=config.settings.production
export DJANGO_SECRET_KEY=drill-secret-key-not-for-production-0123456789abcdef
FIELD_ENCRYPTION_KEY=$(openssl rand -base64 32) FIELD_HASH_KEY=$(openssl rand -base64 32)
export FIELD_ENCRYPTION_KEY FIELD_HASH_KEY
export DJANGO_ALLOWED_HOSTS=localhost PUBLIC_BASE_URL=https://medassist.example.gov.cn
export REDIS_URL="redis://$HOST_IP:$REDIS_PORT/0"
web_db="postgres://postgres@127.0.0.1:5432/$DB"
worker_db="postgres://postgres@$HOST_IP:$PGB_PORT/$DB"

DATABASE_URL="$web_db" $PY manage.py migrate --noinput -v 0
DATABASE_URL="$web_db" $PY manage.py seed_demo > "$work/seed.log" 2>&1
say "web host: migrated and seeded $DB"

ip netns exec "$NS" env DATABASE_URL="$worker_db" DB_TRANSACTION_POOLER=true \
  .venv/bin/celery -A config worker -n w2@second-host -c 2 -l info > "$work/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 1 60); do grep -q "ready\." "$work/worker.log" 2>/dev/null && break; sleep 1; done
grep -q "ready\." "$work/worker.log" || { tail -40 "$work/worker.log" >&2; echo "drill: FAILED: worker not ready" >&2; exit 1; }
say "second host: worker w2@second-host ready"

# 4. The web host queues the full nightly run; the second host's worker does all of it.
DATABASE_URL="$web_db" $PY manage.py shell -c "
import time
from monitoring.models import RecalcRun
from monitoring.tasks import nightly_recalculation
from operations.models import WorkerHeartbeat
before = RecalcRun.objects.order_by('-pk').values_list('pk', flat=True).first() or 0
nightly_recalculation.delay(full=True)
deadline = time.monotonic() + 300
run = None
while time.monotonic() < deadline:
    run = RecalcRun.objects.filter(pk__gt=before).order_by('-pk').first()
    if run is not None and run.status in ('succeeded', 'failed'):
        break
    time.sleep(1)
assert run is not None and run.status == 'succeeded', (run and (run.status, run.errors))
assert run.chunks_done == run.chunks_total > 0, (run.chunks_done, run.chunks_total)
hosts = set(WorkerHeartbeat.objects.values_list('hostname', flat=True))
assert 'w2@second-host' in hosts, hosts
print(f'drill: run #{run.pk} {run.status}: {run.chunks_done}/{run.chunks_total} chunks, '
      f'{run.person_years_total} person-years, {run.bills_changed} bills changed, '
      f'{len(run.invariant_violations)} invariant violations; heartbeats from {sorted(hosts)}')
"
done_chunks=$(grep -c "monitoring.recalculate_chunk\[.*\] succeeded" "$work/worker.log" || true)
[ "$done_chunks" -gt 0 ] || { tail -40 "$work/worker.log" >&2; echo "drill: FAILED: no chunk ran on the second host" >&2; exit 1; }
pooled=$(grep -c "login attempt: db=$DB" "$work/pgbouncer.log" || true)
say "second host ran $done_chunks chunk task(s); PgBouncer saw $pooled client login(s)"
say "PASSED"
