# shellcheck shell=bash
# Shared helpers for scripts/test and scripts/demo: brings up local PostgreSQL
# and RabbitMQ on a Debian/Ubuntu box without systemd (containers, CI).
# Sourced, not executed: callers already run with `set -euo pipefail`; setting
# it here would also kill an interactive shell that sources this for debugging.
# Every step is idempotent and already-running services are left alone.

SERVICES_TIMEOUT=${SERVICES_TIMEOUT:-60}
_SVC_APT_UPDATED=${_SVC_APT_UPDATED:-}

step() { printf '\n==> %s\n' "$*"; }
_svc_log() { printf '    %s\n' "$*" >&2; }
_svc_err() { printf 'error: %s\n' "$*" >&2; }

# Run as root: directly, or via sudo when we are an ordinary user.
_svc_root() {
    if ((EUID == 0)); then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else _svc_err "need root or sudo to run: $*"; return 1; fi
}

# Run as the postgres OS user: a fresh cluster only allows peer auth on the socket.
# `cd /` avoids "could not change directory" noise from the caller's home dir.
_svc_as_postgres() {
    if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@")
    elif command -v sudo >/dev/null 2>&1; then (cd / && sudo -u postgres -- "$@")
    else _svc_err "need root or sudo to run as postgres: $*"; return 1; fi
}

# apt-get update at most once per run, then install noninteractively.
_svc_apt_install() {
    command -v apt-get >/dev/null 2>&1 || { _svc_err "apt-get not found; install $* manually"; return 1; }
    if [[ -z $_SVC_APT_UPDATED ]]; then
        _svc_root apt-get update -q || return 1
        _SVC_APT_UPDATED=1
    fi
    _svc_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# True if something accepts TCP connections on host:port (bash /dev/tcp, no nc needed).
tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# Retry a command once a second until it succeeds or SERVICES_TIMEOUT expires.
_svc_wait() {
    local what=$1 hint=$2 deadline=$((SECONDS + SERVICES_TIMEOUT)); shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            _svc_err "$what not reachable after ${SERVICES_TIMEOUT}s; $hint"
            return 1
        fi
        sleep 1
    done
}

# Newest PostgreSQL version found under dir $1 at depth $2 matching path $3;
# the version is path field $4 ("/etc/postgresql/15/main" -> field 4 = "15").
_svc_newest() { find "$1" -mindepth "$2" -maxdepth "$2" -path "$3" 2>/dev/null | awk -F/ -v f="$4" '{print $f}' | sort -V | tail -n 1 || true; }

_svc_ensure_postgres() {
    if ! command -v psql >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1 \
        || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
        _svc_log "installing postgresql"
        _svc_apt_install postgresql || return 1
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        # Prefer the newest existing "main" cluster; create one for the newest server otherwise.
        local ver
        ver=$(_svc_newest /etc/postgresql 2 '*/main' 4)
        if [[ -z $ver ]]; then
            ver=$(_svc_newest /usr/lib/postgresql 3 '*/bin/postgres' 5)
            [[ -n $ver ]] || { _svc_err "no PostgreSQL server under /usr/lib/postgresql"; return 1; }
            _svc_log "creating PostgreSQL cluster $ver/main"
            _svc_root pg_createcluster "$ver" main || return 1
        fi
        if ! _svc_root pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
            _svc_log "starting PostgreSQL $ver/main"
            # --skip-systemctl-redirect: no systemd in containers/CI.
            _svc_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || return 1
        fi
        _svc_wait "PostgreSQL on 127.0.0.1:5432" \
            "check port/listen_addresses in /etc/postgresql/$ver/main and /var/log/postgresql/postgresql-$ver-main.log" \
            pg_isready -q -h 127.0.0.1 -p 5432 || return 1
    fi
    # Role (password re-set every time so a drifted password heals) and database.
    _svc_as_postgres psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p 5432 -d postgres <<'SQL' || return 1
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'debtor_notify') THEN
        CREATE ROLE debtor_notify;
    END IF;
    ALTER ROLE debtor_notify LOGIN CREATEDB PASSWORD 'debtor_notify';
END $$;
-- The benchmarks checkpoint between measured phases (PostgreSQL 15+: pg_checkpoint; older ones skip it).
SELECT 'GRANT pg_checkpoint TO debtor_notify' WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = 'pg_checkpoint') \gexec
SELECT 'CREATE DATABASE debtor_notify OWNER debtor_notify'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'debtor_notify') \gexec
SQL
    # Prove password login over TCP works (scram/md5 on fresh Debian, trust here).
    PGCONNECT_TIMEOUT=5 psql -X -q -At -c 'select 1' \
        'postgres://debtor_notify:debtor_notify@127.0.0.1:5432/debtor_notify' >/dev/null \
        || { _svc_err "cannot log in as debtor_notify on 127.0.0.1:5432 (check pg_hba.conf)"; return 1; }
}

_svc_ensure_rabbitmq() {
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        _svc_log "installing rabbitmq-server"
        _svc_apt_install rabbitmq-server || return 1
    fi
    tcp_open 127.0.0.1 5672 && return 0
    # A node that is still booting answers ping before its AMQP listener opens:
    # starting a second one would fail, so only start when ping fails too.
    if ! _svc_root rabbitmq-diagnostics -q ping -t 10 >/dev/null 2>&1; then
        _svc_log "starting RabbitMQ"
        _svc_root rabbitmq-server -detached >&2 || return 1
    fi
    _svc_wait "RabbitMQ on 127.0.0.1:5672" "see /var/log/rabbitmq/" tcp_open 127.0.0.1 5672
}

ensure_services() {
    # Debian keeps daemon CLIs (rabbitmq-*) in sbin, which non-root PATHs may lack.
    case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
    if ! command -v curl >/dev/null 2>&1; then _svc_apt_install curl || return 1; fi
    _svc_ensure_postgres || return 1
    _svc_ensure_rabbitmq || return 1
    export DATABASE_URL=${DATABASE_URL:-postgres://debtor_notify:debtor_notify@127.0.0.1:5432/debtor_notify?sslmode=disable}
    export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
    _svc_log "PostgreSQL and RabbitMQ ready"
}

# Fail clearly without Rust: only Debian and crates.io are reachable here, so
# we cannot install rustup ourselves.
# Kannel (bearerbox, smsbox) and its test SMSC (fakesmsc, in kannel-extras) for the Kannel adapter tests. The
# tests start their own boxes on ports they choose; Debian's own Kannel service is stopped if the package
# started it, so it holds no ports.
ensure_kannel() {
    if [[ ! -x /usr/sbin/bearerbox || ! -x /usr/lib/kannel/test/fakesmsc ]]; then
        _svc_log "installing kannel and kannel-extras"
        _svc_apt_install kannel kannel-extras || return 1
    fi
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kannel 2>/dev/null; then
        _svc_root systemctl disable --now kannel >/dev/null 2>&1 || true
    fi
    _svc_log "Kannel $(dpkg-query -W -f='${Version}' kannel 2>/dev/null) ready"
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
        PATH=$HOME/.cargo/bin:$PATH
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        _svc_err "cargo not found. Install Rust >= 1.94 with rustup (https://rustup.rs),"
        _svc_err "then 'rustup component add rustfmt clippy' and re-run. Debian's rustc is too old."
        return 1
    fi
    _svc_log "$(cargo --version)"
}

# Check cargo subcommands (e.g. fmt clippy) exist, naming the rustup component if not.
ensure_cargo_tools() {
    local sub
    for sub in "$@"; do
        cargo "$sub" --version >/dev/null 2>&1 \
            || { _svc_err "'cargo $sub' missing; run: rustup component add ${sub/fmt/rustfmt}"; return 1; }
    done
}
