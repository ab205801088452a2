#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks.
#
#   .ci/postgres.sh start [ENV_FILE]   install Debian's postgresql if missing, start a cluster on
#                                      127.0.0.1:<free port> in a temp dir, create role + database,
#                                      write ENV_FILE and print `export RTOC_TEST_PG_...` lines
#   .ci/postgres.sh stop  [ENV_FILE]   stop that cluster and delete its directory
#   .ci/postgres.sh pause|resume [ENV_FILE]   stop/start the server, keeping its data (tests)
#
# ENV_FILE defaults to $RTOC_TEST_PG_ENV or /tmp/rtoc-test-pg.env. The server runs as a non-root
# user (postgres refuses root): the `postgres` system user when we are root, else ourselves.
set -euo pipefail

cmd="${1:-start}"
env_file="${2:-${RTOC_TEST_PG_ENV:-/tmp/rtoc-test-pg.env}}"

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bindir() {
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && best="$d"
    done
    echo "$best"
}

ensure_installed() {
    local bindir
    bindir="$(find_bindir)"
    if [ -z "$bindir" ]; then
        [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and we are not root (apt-get install postgresql)"
        echo "postgres.sh: installing postgresql with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends postgresql >&2
        bindir="$(find_bindir)"
        [ -n "$bindir" ] || die "postgresql installed but no initdb found"
    fi
    echo "$bindir"
}

run_as() {  # run_as USER CMD...: as that user when we are root, else as ourselves
    local user="$1"; shift
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        local p
        for p in $(seq 25432 25532); do
            (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
        done
        die "no free port"
    fi
}

load_env() {
    [ -f "$env_file" ] || die "no env file $env_file (start first)"
    # shellcheck disable=SC1090
    . "$env_file"
}

pg_start_server() {  # start the server of an existing cluster dir and wait until it accepts connections
    run_as "$RTOC_TEST_PG_RUNAS" "$RTOC_TEST_PG_BIN/pg_ctl" -D "$RTOC_TEST_PG_DIR/data" -l "$RTOC_TEST_PG_DIR/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $RTOC_TEST_PG_PORT -k $RTOC_TEST_PG_DIR" -w -t 60 start >&2 \
        || { cat "$RTOC_TEST_PG_DIR/server.log" >&2; die "server did not start"; }
}

case "$cmd" in
start)
    bindir="$(ensure_installed)"
    if [ "$(id -u)" = 0 ]; then
        runas=postgres
        id -u "$runas" >/dev/null 2>&1 || useradd --system --no-create-home "$runas"
    else
        runas="$(id -un)"
    fi
    dir="$(mktemp -d /tmp/rtoc-pg.XXXXXX)"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown "$runas" "$dir"
    port="$(free_port)"
    password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    run_as "$runas" "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    RTOC_TEST_PG_RUNAS="$runas" RTOC_TEST_PG_BIN="$bindir" RTOC_TEST_PG_DIR="$dir" RTOC_TEST_PG_PORT="$port" pg_start_server
    run_as "$runas" psql -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE rtoc LOGIN PASSWORD '$password'" -c "CREATE DATABASE rtoc_test OWNER rtoc" >&2
    dsn="postgresql://rtoc:$password@127.0.0.1:$port/rtoc_test"
    umask 077
    cat >"$env_file" <<EOF
export RTOC_TEST_PG_DSN='$dsn'
export RTOC_TEST_PG_DIR='$dir'
export RTOC_TEST_PG_BIN='$bindir'
export RTOC_TEST_PG_PORT='$port'
export RTOC_TEST_PG_RUNAS='$runas'
export RTOC_TEST_PG_ENV='$env_file'
EOF
    cat "$env_file"
    ;;
stop)
    load_env
    if [ -f "$RTOC_TEST_PG_DIR/data/postmaster.pid" ]; then
        run_as "$RTOC_TEST_PG_RUNAS" "$RTOC_TEST_PG_BIN/pg_ctl" -D "$RTOC_TEST_PG_DIR/data" -m fast -w -t 60 stop >&2 || true
    fi
    rm -rf "$RTOC_TEST_PG_DIR"
    rm -f "$env_file"
    ;;
pause)
    load_env
    run_as "$RTOC_TEST_PG_RUNAS" "$RTOC_TEST_PG_BIN/pg_ctl" -D "$RTOC_TEST_PG_DIR/data" -m fast -w -t 60 stop >&2
    ;;
resume)
    load_env
    pg_start_server
    ;;
*)
    die "usage: $0 start|stop|pause|resume [ENV_FILE]"
    ;;
esac
