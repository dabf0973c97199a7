"""The command line every service shares:
`karmayogi-<service> migrate | run | check-config | asyncapi | kafka-access`.

Settings that are missing or invalid (a DATABASE_URL asyncpg cannot use, a KAFKA_BOOTSTRAP_SERVERS entry that
is not host:port), or a file they name that cannot be used, end every command with one sentence per problem
on stderr. `migrate` and `run` first connect once to what they need with the
configured settings; a wrong password, an unverifiable certificate or a dependency that stays unreachable
ends them with one sentence on stderr and exit status 1 (`CannotStart`), never a stack trace or an
endless retry.
"""

import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import typer
from pydantic import ValidationError

from karmayogi_runtime.logs import configure_logging
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.service import ServiceDefinition, check_connections, kafka_access, serve
from karmayogi_runtime.settings import CannotStart, setting_problems


def service_cli(name: str, build: Callable[[], ServiceDefinition]) -> typer.Typer:
    """A typer app for the service `name`; `build` reads settings and assembles the service."""
    app = typer.Typer(help=f"The Karmayogi {name} service.", no_args_is_help=True, add_completion=False)

    def definition() -> ServiceDefinition:
        try:
            return build()
        except ValidationError as error:
            for sentence in setting_problems(error):
                typer.echo(f"{name}: {sentence}", err=True)
            raise typer.Exit(2) from None
        except CannotStart as refused:  # a setting's file the service cannot use (e.g. its signing keys)
            typer.echo(f"{name}: {refused}", err=True)
            raise typer.Exit(1) from None

    def check(connections: Coroutine[Any, Any, None]) -> None:
        try:
            asyncio.run(connections)
        except CannotStart as refused:
            typer.echo(f"{name}: {refused}", err=True)
            raise typer.Exit(1) from None

    @app.command()
    def migrate() -> None:
        """Apply the database migrations of this service, then exit."""
        service = definition()
        configure_logging(name, service.settings.log_level)
        check(check_connections(service, kafka=False))
        upgrade_to_head(service.settings.database_url.get_secret_value(), service.migrations_dir)

    @app.command()
    def run(migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations before starting (off when a Job runs them).")) -> None:
        """Serve the HTTP API, the consumers and the outbox relay until stopped."""
        service = definition()
        configure_logging(name, service.settings.log_level)
        check(check_connections(service))
        if migrate_first:
            upgrade_to_head(service.settings.database_url.get_secret_value(), service.migrations_dir)
        serve(service)

    @app.command("check-config")
    def check_config() -> None:
        """Read the settings and say whether they are complete, without connecting to anything."""
        service = definition()
        typer.echo(f"{name}: configuration is complete (HTTP port {service.settings.http_port}).")

    @app.command()
    def asyncapi() -> None:
        """Print this service's AsyncAPI 3 document."""
        from karmayogi_runtime.asyncapi import document

        json.dump(document(definition()), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")

    @app.command("kafka-access")
    def access() -> None:
        """Print, as JSON, the topics this service reads and writes and its consumer groups: the ACLs its
        Kafka user needs, no more."""
        json.dump(dataclasses.asdict(kafka_access(definition())), sys.stdout, indent=2)
        sys.stdout.write("\n")

    return app
