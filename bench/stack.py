"""Where the benchmarks find Kafka and PostgreSQL, and the key of the running services' APIs: the local
stack's, as `source <(deploy/local/stack.sh env)` exports them."""

import os

NEEDED = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")


def addresses() -> tuple[str, str]:
    """Kafka's bootstrap servers and PostgreSQL's administrative URL. Stops the run at once, saying what to do,
    when the stack's environment was not sourced: every benchmark needs both before it can do anything."""
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: run "
                         "`source <(deploy/local/stack.sh env)` first (`make infra-up` starts the stack).")
    return os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]


def api_key() -> str:
    """The key a benchmark sends to services it did not start (`Authorization: Bearer`): API_KEY, the local
    stack's key of every state. Stops the run at once, saying what to do, when it is not set."""
    if not (key := os.environ.get("API_KEY")):
        raise SystemExit("API_KEY is not set: run `source <(deploy/local/stack.sh env)` first, which exports the key "
                         "the local stack gives the services' APIs (or export a key their API_KEYS gives).")
    return key
