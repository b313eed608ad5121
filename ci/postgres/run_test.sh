#!/usr/bin/env bash
# `make test-postgres` (as root): a real PostgreSQL server on this machine — Debian's package, a
# throwaway cluster of its own on 127.0.0.1 — then the tests marked `postgres` against it, then
# the cluster is dropped (also on failure or interruption; KEEP_PG=1 keeps it).
#
# The DSN reaches pytest through HFHARVEST_PG_DSN only; its password is random per run and never
# written to a file.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
PG_PORT=${PG_PORT:-55432}
CLUSTER=hfharvest-ci
READY_TIMEOUT_S=${PG_READY_TIMEOUT_S:-60}

say() { echo "test-postgres: $*" >&2; }
[[ $(id -u) == 0 ]] || { say "run as root (it installs a package and starts a server)"; exit 1; }

if ! command -v pg_createcluster >/dev/null || [[ -z $(ls /usr/lib/postgresql 2>/dev/null) ]]; then
    say "installing Debian's postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends postgresql >/dev/null; }
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)

teardown() { pg_dropcluster --stop "$VERSION" "$CLUSTER" 2>/dev/null || true; }
teardown # a cluster left by an interrupted run
if [[ ${KEEP_PG:-0} != 1 ]]; then
    trap teardown EXIT
fi

start=$SECONDS
pg_createcluster "$VERSION" "$CLUSTER" --port "$PG_PORT" --start-conf manual \
    -- --auth-local peer --auth-host scram-sha-256 >/dev/null
echo "listen_addresses = '127.0.0.1'" >"/etc/postgresql/$VERSION/$CLUSTER/conf.d/listen.conf"
pg_ctlcluster "$VERSION" "$CLUSTER" start
deadline=$((SECONDS + READY_TIMEOUT_S))
until runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
    ((SECONDS < deadline)) || { say "the server did not start"; exit 1; }
    sleep 0.5
done

PASSWORD=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')
runuser -u postgres -- psql -q -p "$PG_PORT" -v ON_ERROR_STOP=1 -v pw="$PASSWORD" <<'SQL'
CREATE ROLE hfharvest LOGIN PASSWORD :'pw';
CREATE DATABASE hfharvest OWNER hfharvest;
SQL
say "PostgreSQL $VERSION on 127.0.0.1:$PG_PORT ready in $((SECONDS - start)) s"

export HFHARVEST_PG_DSN="postgresql://hfharvest:$PASSWORD@127.0.0.1:$PG_PORT/hfharvest"
"$PYTHON" -m pytest -q -m postgres -p no:cacheprovider tests/test_normalize.py "$@"
say "$((SECONDS - start)) s in all"
