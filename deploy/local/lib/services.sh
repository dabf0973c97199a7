# shellcheck shell=bash
# The four services and the local mail/SMS server, each a console script installed into .venv by `make install`.

SERVICES=(enrolment attendance certification notifications)
declare -A SERVICE_PORT=([enrolment]=8101 [attendance]=8102 [certification]=8103 [notifications]=8104)
MAIL_NAME=local-mail
SMTP_PORT=2525
SMS_PORT=8025

service_exe() { echo "$VENV/bin/karmayogi-$1"; }
service_pid() { live_pid "$RUN/$1.pid" "$(service_exe "$1")"; }
is_service() { [[ -n ${SERVICE_PORT[$1]:-} || $1 == "$MAIL_NAME" ]]; }

# What every service process is given; the database is the service's own.
service_env() {
    local name=$1
    echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP"
    echo "LOCAL_DATA_DIR=$LOCAL"
    echo "SMTP_HOST=127.0.0.1"
    echo "SMTP_PORT=$SMTP_PORT"
    echo "SMS_GATEWAY_URL=http://127.0.0.1:$SMS_PORT"
    if [[ $name == certification ]]; then
        echo "CERTIFICATION_PUBLIC_BASE_URL=http://127.0.0.1:${SERVICE_PORT[certification]}"
        echo "CERTIFICATION_ADMIN_TOKEN=$(local_secret admin-token)"
    fi
    if [[ $name == notifications ]]; then
        # The local relay and gateway are recorders on loopback: no provider's sending limits apply.
        echo "NOTIFICATIONS_EMAIL_PER_SECOND=500"
        echo "NOTIFICATIONS_SMS_PER_SECOND=500"
    fi
    if [[ $name != "$MAIL_NAME" ]]; then
        echo "DATABASE_URL=postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$name"
        echo "HTTP_PORT=${SERVICE_PORT[$name]}"
        # One key for every state (`*`), which `stack.sh env` exports as API_KEY for the demo, bench and curl.
        echo "API_KEYS=*:$(local_secret api-key)"
    else
        echo "SMS_HTTP_PORT=$SMS_PORT"
    fi
}

# A secret of the local stack, by file name (`admin-token`: certificate revocation; `api-key`: the services'
# API key of every state): random, made once, kept in .local/run/ readable by its owner only. It is written
# under a draft name and linked into place, so two `stack.sh env` run at once never print different keys.
local_secret() {
    local file="$RUN/$1" draft
    if [[ ! -s $file ]]; then
        ensure_dirs
        draft=$(umask 077 && mktemp "$file.XXXXXX")
        head -c 32 /dev/urandom | od -An -vtx1 | tr -d ' \n' >"$draft"
        ln "$draft" "$file" 2>/dev/null || true # another run made it first: theirs is kept
        rm -f "$draft"
    fi
    cat "$file"
}

service_ready() {
    local name=$1
    if [[ $name == "$MAIL_NAME" ]]; then
        port_open 127.0.0.1 "$SMTP_PORT" && port_open 127.0.0.1 "$SMS_PORT"
    else
        [[ $(http_status "http://127.0.0.1:${SERVICE_PORT[$name]}/health/ready") == 200 ]]
    fi
}

service_address() {
    if [[ $1 == "$MAIL_NAME" ]]; then
        echo "smtp 127.0.0.1:$SMTP_PORT, sms http://127.0.0.1:$SMS_PORT"
    else
        echo "http://127.0.0.1:${SERVICE_PORT[$1]}"
    fi
}

# Migrates (services only), starts in the background, waits for readiness; skips what is not installed yet.
service_up() {
    local name=$1 exe pid log="$LOGS/$1.log" deadline
    local -a env
    exe=$(service_exe "$name")
    if [[ ! -x $exe ]]; then
        say "$name: not installed (.venv/bin/${exe##*/} is missing), skipped."
        return 0
    fi
    if pid=$(service_pid "$name"); then
        say "$name: already running (pid $pid)."
        return 0
    fi
    if [[ $name == "$MAIL_NAME" ]]; then
        require_free_port "$SMTP_PORT" "$name (SMTP)"
        require_free_port "$SMS_PORT" "$name (SMS)"
    else
        require_free_port "${SERVICE_PORT[$name]}" "$name"
    fi
    mapfile -t env < <(service_env "$name")
    if [[ $name != "$MAIL_NAME" ]]; then
        echo "---- $(date -Is) migrate" >>"$log"
        if ! env "${env[@]}" "$exe" migrate </dev/null >>"$log" 2>&1; then
            log_tail "$log"
            die "$name: \`karmayogi-$name migrate\` failed; the end of .local/logs/$name.log is above."
        fi
    fi
    echo "---- $(date -Is) run" >>"$log"
    spawn "$RUN/$name.pid" "$log" env "${env[@]}" "$exe" run || die "$name did not start (see .local/logs/$name.log)."
    STARTED+=("$name")
    pid=$(<"$RUN/$name.pid")
    deadline=$((SECONDS + 60))
    until service_ready "$name"; do
        if ! running "$pid" || ((SECONDS >= deadline)); then
            log_tail "$log"
            running "$pid" && die "$name (pid $pid) was not ready within 60s; the end of .local/logs/$name.log is above."
            die "$name exited during startup; the end of .local/logs/$name.log is above."
        fi
        sleep 0.3
    done
    say "$name: ready on $(service_address "$name") (pid $pid)."
}

service_stop() {
    local name=$1 pid
    if pid=$(service_pid "$name"); then
        terminate "$pid" "$name" 30
        say "$name: stopped (pid $pid)."
    fi
    rm -f "$RUN/$name.pid"
}

# Exit 1 when the service should run (started by `up all`, or has a pid file) and is not healthy.
service_status() {
    local name=$1 expected=$2 pid label
    label=$(printf '%-14s' "$name")
    if [[ ! -x $(service_exe "$name") ]]; then
        echo "$label -        not installed"
        return 0
    fi
    if ! pid=$(service_pid "$name"); then
        if [[ -f $RUN/$name.pid || $expected == yes ]]; then
            echo "$label DOWN     not running (expected on $(service_address "$name"); see .local/logs/$name.log)"
            return 1
        fi
        echo "$label -        not running (\`make up\` starts it)"
        return 0
    fi
    if service_ready "$name"; then
        echo "$label healthy  pid $pid, $(service_address "$name")"
        return 0
    fi
    echo "$label UNHEALTHY pid $pid, $(service_address "$name") is not ready (see .local/logs/$name.log)"
    return 1
}
