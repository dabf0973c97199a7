#!/usr/bin/env bash
# The local stack: Kafka (KRaft, one node) and PostgreSQL on loopback, then the local mail/SMS server and the
# four services. Everything it writes lives in .local/ (gitignored). See deploy/local/README.md.
#
#   stack.sh up [infra|all]            start what is not running yet (default: all); idempotent
#   stack.sh down [--purge]            stop what `up` started; --purge also deletes .local/ (all data)
#   stack.sh status                    one line per component; non-zero when something that should run is not healthy
#   stack.sh env                       the exports the tests and the demo use: source <(deploy/local/stack.sh env);
#                                      API_KEY is the services' key of every state, for calls to their APIs:
#                                      curl -H "Authorization: Bearer $API_KEY" http://127.0.0.1:8101/v1/states/IN-HR/courses
#   stack.sh env SERVICE               a service's settings over SCRAM-SHA-512 + TLS, with its own Kafka user
#   stack.sh start|stop|restart NAME   one component: kafka, postgres, local-mail, enrolment, attendance,
#                                      certification, notifications (the crash tests use these)
#   stack.sh kafka-access < SPEC       more SCRAM users and ACLs (format in kafka/LocalKafkaAdmin.java)
set -Eeuo pipefail

LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib"
source "$LIB/common.sh"
source "$LIB/tls.sh"
source "$LIB/kafka.sh"
source "$LIB/postgres.sh"
source "$LIB/services.sh"

MODE_FILE="$RUN/stack.mode"   # what the last `up` asked for: "infra" or "all"; read by `status`

usage() {
    sed -n '5,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    DIED=1
    exit 64
}

start_component() {
    case $1 in
    kafka) kafka_launch && kafka_await ;;
    postgres) postgres_up ;;
    *) service_up "$1" ;;
    esac
}

stop_component() {
    case $1 in
    kafka) kafka_stop ;;
    postgres) postgres_stop ;;
    *) service_stop "$1" ;;
    esac
}

# Components are named on the command line by the crash tests; a typo must not silently do nothing.
check_component() {
    [[ $1 == kafka || $1 == postgres ]] || is_service "$1" ||
        die "unknown component '$1'; use one of: kafka postgres $MAIL_NAME ${SERVICES[*]}."
}

cmd_up() {
    local what=${1:-all} started name
    [[ $what == infra || $what == all ]] || die "unknown target '$what' for up; use \`up infra\` or \`up all\`."
    started=$(now_ms)
    take_lock
    # Kafka's JVM boots while PostgreSQL starts; both are then waited for.
    kafka_launch
    postgres_up
    kafka_await
    if [[ $what == all ]]; then
        service_up "$MAIL_NAME"
        for name in "${SERVICES[@]}"; do
            service_up "$name"
        done
        echo all >"$MODE_FILE"
    elif [[ $(cat "$MODE_FILE" 2>/dev/null) != all ]]; then
        echo infra >"$MODE_FILE"
    fi
    if ((${#STARTED[@]} == 0)); then
        say "everything was already running ($what); nothing changed (checked in $(elapsed_since "$started"))."
    else
        say "up $what: started ${STARTED[*]} in $(elapsed_since "$started")."
    fi
    STARTED=()
}

cmd_down() {
    local purge=${1:-} i
    [[ -z $purge || $purge == --purge ]] || die "unknown option '$purge' for down; use \`down\` or \`down --purge\`."
    [[ -d $LOCAL ]] || {
        say "nothing to stop (.local/ does not exist)."
        return 0
    }
    take_lock
    # Services first, so that none of them logs a storm of connection errors while the infra goes away.
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        service_stop "${SERVICES[i]}"
    done
    service_stop "$MAIL_NAME"
    kafka_stop
    if [[ -f $PG_DATA/PG_VERSION ]]; then
        postgres_stop
    fi
    rm -f "$MODE_FILE"
    if [[ $purge == --purge ]]; then
        rm -rf "$LOCAL"
        say "deleted .local/ (all local data and logs)."
    else
        say "stopped; data is kept in .local/ (\`down --purge\` deletes it)."
    fi
}

# Exit status: non-zero when Kafka or PostgreSQL is not healthy, or when a service or the mail server that
# should run is not healthy. "Should run": the last `up` was `up all`, or it has a pid file (it was started
# and has not been stopped). After `up infra` the services are reported as not running, which is fine.
cmd_status() {
    local rc=0 expected=no name
    [[ $(cat "$MODE_FILE" 2>/dev/null) == all ]] && expected=yes
    kafka_status || rc=1
    postgres_status || rc=1
    for name in "$MAIL_NAME" "${SERVICES[@]}"; do
        service_status "$name" "$expected" || rc=1
    done
    return $rc
}

# Without a service: what the tests use (the PLAINTEXT listener, the administrative database URL), the key
# the services' APIs take from clients (the demo, the benchmarks, curl), and where the authenticated
# listeners are. With one: that service's settings as production has them, SCRAM over TLS with its own
# user, and PostgreSQL over verified TLS.
cmd_env() {
    local name=${1:-} key
    if [[ -z $name ]]; then
        key=$(local_secret api-key)
        echo "export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP"
        echo "export DATABASE_URL=postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/postgres"
        echo "# The services' API key of every state (their API_KEYS): send it as 'Authorization: Bearer \$API_KEY'."
        echo "export API_KEY=$key"
        echo "# SCRAM-SHA-512 listeners (\`stack.sh env SERVICE\` for a service's credentials) and the local CA:"
        echo "export LOCAL_KAFKA_SCRAM_SERVERS=$KAFKA_HOST:$KAFKA_SCRAM_PORT"
        echo "export LOCAL_KAFKA_SCRAM_TLS_SERVERS=$KAFKA_HOST:$KAFKA_SCRAM_TLS_PORT"
        echo "export LOCAL_TLS_CA_FILE=$TLS_CA"
        return 0
    fi
    [[ -n ${SERVICE_PORT[$name]:-} ]] || die "unknown service '$name'; use one of: ${SERVICES[*]}."
    local password
    password=$(kafka_user_password "$name")
    # API_KEYS is quoted: its `*` must reach the service, not the shell's file name expansion.
    service_env "$name" | sed -e '/^KAFKA_BOOTSTRAP_SERVERS=/d' -e '/^DATABASE_URL=/d' \
        -e "s/^API_KEYS=\(.*\)\$/API_KEYS='\1'/" -e 's/^/export /'
    echo "export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_HOST:$KAFKA_SCRAM_TLS_PORT"
    echo "export KAFKA_SECURITY_PROTOCOL=SASL_SSL"
    echo "export KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
    echo "export KAFKA_USERNAME=$name"
    echo "export KAFKA_PASSWORD=$password"
    echo "export KAFKA_CA_FILE=$TLS_CA"
    echo "export DATABASE_URL='postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$name?sslmode=verify-full&sslrootcert=$TLS_CA'"
}

cmd_kafka_access() {
    take_lock
    kafka_pid >/dev/null || die "Kafka is not running; start it with \`deploy/local/stack.sh up infra\`."
    require_java
    kafka_resolve_classpath
    kafka_build_admin
    kafka_apply_access
}

cmd_component() {
    local action=$1 name=${2:-} started
    [[ -n $name ]] || die "\`$action\` needs a component: kafka postgres $MAIL_NAME ${SERVICES[*]}."
    check_component "$name"
    started=$(now_ms)
    take_lock
    case $action in
    start) start_component "$name" ;;
    stop) stop_component "$name" ;;
    restart)
        stop_component "$name"
        start_component "$name"
        ;;
    esac
    STARTED=()
    say "$action $name done in $(elapsed_since "$started")."
}

main() {
    install_traps
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status || {
        DIED=1   # an unhealthy component is an answer, not a failure of this script
        exit 1
    } ;;
    env) cmd_env "$@" ;;
    kafka-access) cmd_kafka_access ;;
    start | stop | restart) cmd_component "$cmd" "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
