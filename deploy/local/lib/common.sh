# shellcheck shell=bash
# Shared helpers for deploy/local/stack.sh: paths, messages, failure handling, processes, ports.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
DEPLOY="$ROOT/deploy/local"
LOCAL="$ROOT/.local"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
VENV="$ROOT/.venv"

# shellcheck source=../versions.env
source "$DEPLOY/versions.env"

KAFKA_HOST=127.0.0.1
KAFKA_PORT=29092
KAFKA_CONTROLLER_PORT=29093
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
# Authenticated listeners (SCRAM-SHA-512): without TLS, and with TLS on the stack's own certificate.
KAFKA_SCRAM_PORT=29094
KAFKA_SCRAM_TLS_PORT=29095
PG_HOST=127.0.0.1
PG_PORT=55432
PG_USER=karmayogi
PG_PASSWORD=karmayogi

# Components this invocation started, in order; rolled back on failure so no half-started stack is left.
STARTED=()

say() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }

# One sentence on what is wrong and how to fix it, then undo what this invocation started.
die() {
    printf 'stack: %s\n' "$*" >&2
    DIED=1
    # Only the main shell knows what it started; a $(...) subshell just fails and lets the caller decide.
    [[ $BASHPID != "$$" ]] || rollback
    exit 1
}

rollback() {
    local i
    ((${#STARTED[@]})) || return 0
    warn "stopping what this run started: ${STARTED[*]}"
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        stop_component "${STARTED[i]}" >/dev/null 2>&1 || true
    done
    STARTED=()
}

# set -e ends the script on any unchecked failure; these traps turn that into one readable line and a
# rollback instead of a silent half-started stack.
DIED=
LAST_ERR=
install_traps() {
    trap 'LAST_ERR="\`$BASH_COMMAND\` (${BASH_SOURCE[0]##*/}:$LINENO)"' ERR
    trap 'on_exit $?' EXIT
    trap 'die "interrupted."' INT TERM
}

on_exit() {
    local rc=$1
    ((rc)) && [[ -z $DIED ]] || return 0
    warn "unexpected failure (exit $rc) of ${LAST_ERR:-a command}; the logs are in .local/logs."
    rollback
}

now_ms() { date +%s%3N; }

# "12.3s" since a now_ms timestamp.
elapsed_since() {
    local ms=$(($(now_ms) - $1))
    printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

ensure_dirs() {
    mkdir -p "$LOGS" "$RUN"
}

# Serialises commands that change the stack, so two `make test` runs cannot start Kafka twice.
take_lock() {
    ensure_dirs
    exec 9>"$RUN/stack.lock"
    flock -w 300 9 || die "another stack.sh has held .local/run/stack.lock for 5 minutes; wait for it or stop it."
}

# ---- processes -------------------------------------------------------------------------------------------

# Prints the pid recorded in a pid file when that process still runs and its command line contains the
# marker (so a recycled pid of some other program is never mistaken for ours).
live_pid() {
    local pidfile=$1 marker=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
    echo "$pid"
}

# Starts a long-running process detached from this shell: its own session (Ctrl-C in the terminal that ran
# `make test` must not take Kafka down), stdin closed, output appended to the log. The process writes its
# own pid before exec, so the pid file is right whatever setsid does.
spawn() {
    local pidfile=$1 log=$2
    shift 2
    rm -f "$pidfile"
    # 9>&-: the stack lock's descriptor must not live on in the child, or the lock would never be released.
    nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $pidfile ]] && return 0
        sleep 0.1
    done
    return 1
}

# True while a process runs. A detached process that exited may linger as a zombie until something reaps
# it, and `kill -0` still succeeds on a zombie, so its state is read from /proc.
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# SIGTERM, then wait for a clean exit; SIGKILL only when it does not come.
terminate() {
    local pid=$1 name=$2 timeout_s=$3 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < timeout_s * 10; i++)); do
        running "$pid" || return 0
        sleep 0.1
    done
    warn "$name (pid $pid) did not stop within ${timeout_s}s of SIGTERM; killing it."
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

# ---- network ---------------------------------------------------------------------------------------------

port_open() {
    timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# "java (pid 123)" for whatever listens on a local TCP port, as far as this user may see.
port_owner() {
    local line
    line=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1) || true
    if [[ $line =~ \"([^\"]*)\",pid=([0-9]+) ]]; then
        printf '%s (pid %s)' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf 'another process'
    fi
}

# A port wanted by a component that is not running must be free; name the squatter when it is not.
require_free_port() {
    local port=$1 name=$2 owner hint=""
    port_open 127.0.0.1 "$port" || return 0
    owner=$(port_owner "$port")
    if [[ $owner =~ pid\ ([0-9]+) ]] && other=$(other_checkout_of "${BASH_REMATCH[1]}"); then
        hint=" It is the local stack of another checkout: run \`$other/deploy/local/stack.sh down\` first."
    else
        hint=" Stop that process, then run this again."
    fi
    die "$name needs 127.0.0.1:$port, but $owner already listens there.$hint"
}

# When a pid belongs to this project's stack run from another directory, print that directory.
other_checkout_of() {
    local cmd root
    cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
    if [[ $cmd =~ ([^ ]*)/\.local/(kafka/server\.properties|postgres/data) ]]; then
        root=${BASH_REMATCH[1]}
    elif [[ $cmd =~ ([^ ]*)/\.venv/bin/karmayogi- ]]; then
        root=${BASH_REMATCH[1]}
    else
        return 1
    fi
    [[ $root != "$ROOT" && -x $root/deploy/local/stack.sh ]] || return 1
    echo "$root"
}

# HTTP status code of a GET, "000" when nothing answers.
http_status() {
    if command -v curl >/dev/null; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
    else   # a minimal machine may lack curl; python3 is always there for this project
        python3 -c 'import sys, urllib.request as u
try: print(u.urlopen(sys.argv[1], timeout=2).status)
except Exception as e: print(getattr(e, "code", "000"))' "$1" 2>/dev/null || echo 000
    fi
}

# Last lines of a log, indented, for failure messages.
log_tail() {
    [[ -f $1 ]] || return 0
    tail -n "${2:-20}" "$1" | sed 's/^/    | /' >&2
}
