#!/bin/sh
# SPDX-License-Identifier: ISC
# `make bench` / bench/run.sh: postern vs Postfix on loopback; see bench/README.md.
#
# Knobs (environment):
#   RUNS=3        repetitions of every measurement (medians are quoted)
#   QUICK=1       short smoke run: 1 run, few messages (overrides RUNS unless set)
#   N1 N20 N100 NBIG   messages per run at c=1, c=20, c=100 (4 KiB) and c=20 (100 KiB)
#   IDLE=1000     idle connections for the memory test
#   ONLY=postern|postfix   measure one MTA only (no ratios)
#   PROFILE=1     perf record postern's smtp+queue processes during its last c=100 run
#   KEEP=1        keep the temp dir (logs, spools) instead of deleting it
#   TMPBASE=/var/tmp   where the temp dir (both spools) goes; not under /work
#   ONLY_TLS=1    only the STARTTLS session part (no smtp-source tests, no idle test)
#   TLS=0         skip the STARTTLS session part
#   TLS_PLAIN=0   STARTTLS part: skip the same client's no-TLS reference rows
#   NT20 NT100    sessions per run, STARTTLS at c=20 and c=100 (NP20 NP100: the no-TLS rows)
#   ONLY_AUTH=1   only the SMTP AUTH part (bench/auth.py: postern vs Postfix + Dovecot SASL)
#   AUTH=0        skip the SMTP AUTH part (it runs after bench.py otherwise; ONLY_TLS=1 skips it too)
#   AUTH_DUR=10   seconds per AUTH measurement (QUICK: 3)
#   AUTH_ACCOUNTS=300   first-login accounts (QUICK: 60); AUTH_ATTACKERS=8 attacker connections
#   AUTH_ATTACK_ACCOUNT=other|same   whose password the attacker guesses
#   AUTH_CACHE_ROW=0   no rows for Dovecot with its auth cache on
#   ONLY_GUARD=1  only the guard part (bench/guard.py: banned connections turned away, the
#                 guard's cost on allowed connections and sessions, guard on vs off)
#   GUARD=0       skip the guard part (it runs after AUTH otherwise; ONLY_TLS/ONLY_AUTH skip it)
#   ONLY_DKIM=1   only the DKIM part (bench/dkim.py: dkim-bench next to openssl speed; no
#                 MTA, no root needed)
#   DKIM=0        skip the DKIM part (it runs last otherwise; the other ONLY_* skip it)
#   DKIM_SECS=1   DKIM part: seconds per cell and round (rounds: RUNS, default 5; QUICK: 2)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

only_dkim=${ONLY_DKIM:-0}
if [ "$(id -u)" != 0 ] && [ "$only_dkim" != 1 ]; then
    echo "bench: must run as root (Postfix, postern's privilege drop, smtp-sink -u)" >&2
    exit 1
fi

# --- packages (idempotent) ---
"$top/scripts/deps.sh" build
only_auth=${ONLY_AUTH:-0}
only_guard=${ONLY_GUARD:-0}
do_dkim=1
[ "${DKIM:-1}" = 0 ] && do_dkim=0
[ "${ONLY_TLS:-0}" = 1 ] && do_dkim=0
[ "$only_auth" = 1 ] && do_dkim=0
[ "$only_guard" = 1 ] && do_dkim=0
[ "$only_dkim" = 1 ] && do_dkim=1
do_mta=1
[ "$only_auth" = 1 ] && do_mta=0
[ "$only_guard" = 1 ] && do_mta=0
[ "$only_dkim" = 1 ] && do_mta=0
do_guard=1
[ "${GUARD:-1}" = 0 ] && do_guard=0
[ "${ONLY_TLS:-0}" = 1 ] && do_guard=0
[ "$only_auth" = 1 ] && do_guard=0
[ "$only_guard" = 1 ] && do_guard=1
[ "$only_dkim" = 1 ] && do_guard=0
do_auth=1
[ "${AUTH:-1}" = 0 ] && do_auth=0
[ "${ONLY_TLS:-0}" = 1 ] && do_auth=0
[ "$only_auth" = 1 ] && do_auth=1
[ "$only_guard" = 1 ] && do_auth=0
[ "$only_dkim" = 1 ] && do_auth=0
want="postfix python3"
[ "$only_dkim" = 1 ] && want="python3"
[ "$do_auth" = 1 ] && want="$want dovecot-core"
[ "${PROFILE:-0}" = 1 ] && want="$want linux-perf"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench: installing:$missing"
    # No main.cf, no service started: we run our own instance under a temp dir.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || apt-get update -q
    # dovecot-core's postinst would start the system's Dovecot (/etc/dovecot): unless
    # the machine already has a policy, forbid service starts for this install only.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# bench/run.sh: no service starts during its apt-get install\nexit 101\n' \
            > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
    fi
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing || { [ -z "$policy" ] || rm -f "$policy"; exit 1; }
    [ -z "$policy" ] || rm -f "$policy"
fi
[ "$only_dkim" = 1 ] || getent passwd postern >/dev/null ||
    { echo "bench: no 'postern' user" >&2; exit 1; }

# --- build (release; src/ may change under us, so always run ninja) ---
# -Dwerror=false: a warning that only -O3 finds must not stop a benchmark (GCC 12
# once reported -Wuse-after-free in src/relay/client.c at -O3 only).
if [ ! -f build-bench/build.ninja ]; then
    meson setup build-bench --buildtype=release -Dwerror=false -Dtests=disabled >/dev/null
fi
targets=postern
[ "$do_dkim" = 1 ] && targets="$targets bench/dkim-bench"
# shellcheck disable=SC2086
ninja -C build-bench $targets >/dev/null || ninja -C build-bench $targets

# --- temp dir (off the checkout; both queues live here) ---
tmp=$(mktemp -d "${TMPBASE:-/var/tmp}/postern-bench.XXXXXX")
chmod 755 "$tmp"
pypid=""
cleanup() {
    rc=$?
    trap - EXIT INT TERM
    # bench.py stops what it started when told to (SIGTERM -> its finally: blocks).
    if [ -n "$pypid" ] && kill -0 "$pypid" 2>/dev/null; then
        kill -TERM "$pypid" 2>/dev/null || true
        wait "$pypid" 2>/dev/null || true
    fi
    # End whatever bench.py / auth.py started and did not stop (they record
    # "pid starttime name" in their temp dir's pids file).
    for pids in "$tmp/pids" "$tmp/auth/pids" "$tmp/guard/pids"; do
        [ -f "$pids" ] || continue
        while read -r pid st name; do
            cur=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null | awk '{print $20}') || cur=""
            if [ -n "$cur" ] && [ "$cur" = "$st" ]; then
                echo "bench: stopping leftover $name (pid $pid)" >&2
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done < "$pids"
        sleep 1
    done
    # A Postfix master that bench.py / auth.py started but never got to record.
    for d in "$tmp/postfix/spool" "$tmp/auth/postfix-auth/spool"; do
        mp=$(cat "$d/pid/master.pid" 2>/dev/null | tr -d ' ') || mp=""
        if [ -n "$mp" ] && grep -q "^$mp " "$tmp/pids" "$tmp/auth/pids" 2>/dev/null; then mp=""; fi
        if [ -n "$mp" ] && [ "$(cat "/proc/$mp/comm" 2>/dev/null)" = master ]; then
            echo "bench: stopping Postfix master (pid $mp)" >&2
            kill -TERM "$mp" 2>/dev/null || true
            sleep 2
        fi
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "bench: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the load generators (bench/tls-source.c, bench/auth-source.c), built fresh every run ---
if [ "$do_mta" = 1 ] && { [ "${TLS:-1}" != 0 ] || [ "${ONLY_TLS:-0}" = 1 ]; } ||
    [ "$do_guard" = 1 ]; then
    cc -O2 -Wall -o "$tmp/tls-source" "$top/bench/tls-source.c" "$top/bench/loadgen.c" \
        -lssl -lcrypto -lpthread
fi
if [ "$do_guard" = 1 ]; then
    cc -O2 -Wall -o "$tmp/conn-source" "$top/bench/conn-source.c" "$top/bench/loadgen.c" \
        -lssl -lcrypto -lpthread
fi
if [ "$do_auth" = 1 ]; then
    cc -O2 -Wall -o "$tmp/auth-source" "$top/bench/auth-source.c" "$top/bench/loadgen.c" \
        -lssl -lcrypto -lpthread
fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

runs=${RUNS:-}
rc=0
# --- the MTA part (bench/bench.py) ---
if [ "$do_mta" = 1 ]; then
    set -- --tmp "$tmp" --postern "$top/build-bench/postern" --results "$top/bench/results" \
        --idle "${IDLE:-1000}"
    if [ "${QUICK:-0}" = 1 ]; then
        set -- "$@" --quick --runs "${runs:-1}"
    else
        set -- "$@" --runs "${runs:-3}"
    fi
    [ -n "${ONLY:-}" ] && set -- "$@" --only "$ONLY"
    [ "${PROFILE:-0}" = 1 ] && set -- "$@" --profile
    if [ "${TLS:-1}" != 0 ] || [ "${ONLY_TLS:-0}" = 1 ]; then
        set -- "$@" --tls-source "$tmp/tls-source"
        if [ "${ONLY_TLS:-0}" = 1 ]; then set -- "$@" --only-tls; fi
        if [ "${TLS_PLAIN:-1}" = 0 ]; then set -- "$@" --no-tls-plain; fi
    fi
    # In the background so that a signal to this shell runs the trap at once.
    /usr/bin/python3 "$top/bench/bench.py" "$@" &
    pypid=$!
    wait "$pypid" || rc=$?
    pypid=""
fi

# --- the SMTP AUTH part (bench/auth.py), in a temp dir of its own under $tmp ---
if [ "$do_auth" = 1 ]; then
    mkdir -m 755 "$tmp/auth"
    set -- --tmp "$tmp/auth" --postern "$top/build-bench/postern" --results "$top/bench/results" \
        --auth-source "$tmp/auth-source"
    if [ "${QUICK:-0}" = 1 ]; then
        set -- "$@" --quick --runs "${runs:-1}"
    else
        set -- "$@" --runs "${runs:-3}"
    fi
    [ -n "${ONLY:-}" ] && set -- "$@" --only "$ONLY"
    [ -n "${AUTH_DUR:-}" ] && set -- "$@" --duration "$AUTH_DUR"
    [ -n "${AUTH_ACCOUNTS:-}" ] && set -- "$@" --accounts "$AUTH_ACCOUNTS"
    [ -n "${AUTH_ATTACKERS:-}" ] && set -- "$@" --attackers "$AUTH_ATTACKERS"
    [ -n "${AUTH_ATTACK_ACCOUNT:-}" ] && set -- "$@" --attack-account "$AUTH_ATTACK_ACCOUNT"
    [ "${AUTH_CACHE_ROW:-1}" = 0 ] && set -- "$@" --no-cache-row
    /usr/bin/python3 "$top/bench/auth.py" "$@" &
    pypid=$!
    wait "$pypid" || rc=$?
    pypid=""
fi

# --- the guard part (bench/guard.py), in a temp dir of its own under $tmp ---
if [ "$do_guard" = 1 ]; then
    mkdir -m 755 "$tmp/guard"
    set -- --tmp "$tmp/guard" --postern "$top/build-bench/postern" \
        --results "$top/bench/results" --conn-source "$tmp/conn-source" \
        --tls-source "$tmp/tls-source"
    if [ "${QUICK:-0}" = 1 ]; then
        set -- "$@" --quick --runs "${runs:-1}"
    else
        set -- "$@" --runs "${runs:-3}"
    fi
    /usr/bin/python3 "$top/bench/guard.py" "$@" &
    pypid=$!
    wait "$pypid" || rc=$?
    pypid=""
fi

# --- the DKIM part (bench/dkim.py): no daemon, no temp dir ---
if [ "$do_dkim" = 1 ]; then
    set -- --bench "$top/build-bench/bench/dkim-bench" --results "$top/bench/results" \
        --seconds "${DKIM_SECS:-1}"
    if [ "${QUICK:-0}" = 1 ]; then
        set -- "$@" --quick --rounds "${runs:-2}"
    else
        set -- "$@" --rounds "${runs:-5}"
    fi
    /usr/bin/python3 "$top/bench/dkim.py" "$@" &
    pypid=$!
    wait "$pypid" || rc=$?
    pypid=""
fi
exit "$rc"
