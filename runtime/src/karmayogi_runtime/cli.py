"""The command line every service shares:
`karmayogi-<service> migrate | run | check-config | asyncapi | kafka-access`.

Settings that are missing or invalid (a DATABASE_URL asyncpg cannot use, a KAFKA_BOOTSTRAP_SERVERS entry that
is not host:port), or a file they name that cannot be used, end every command with one sentence per problem
on stderr. Only `asyncapi` and `kafka-access`, which print what the code declares (messages, topics, groups),
do without the settings that have no default, where to connect and the secrets (DATABASE_URL,
KAFKA_BOOTSTRAP_SERVERS, ADMIN_TOKEN): an operator or a deployment's tooling can ask them anywhere; a setting
that is set is checked all the same. `migrate` and `run` first connect once to what they need with the
configured settings; a wrong password, an unverifiable certificate or a dependency that stays unreachable
ends them with one sentence on stderr and exit status 1 (`CannotStart`), never a stack trace or an
endless retry.
"""

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import sys
import tempfile
import typing
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import typer
from pydantic import ValidationError, create_model
from pydantic.fields import FieldInfo

from karmayogi_runtime.logs import configure_logging
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.service import ServiceDefinition, check_connections, kafka_access, serve
from karmayogi_runtime.settings import CannotStart, ServiceSettings, setting_problems


def service_cli(name: str, build: Callable[..., ServiceDefinition]) -> typer.Typer:
    """A typer app for the service `name`. `build()` reads the settings from the environment and assembles the
    service; `build(settings)` assembles it from the settings given, its parameter annotated with the
    service's settings class (every main.py's `definition(settings: XSettings | None = None)`)."""
    app = typer.Typer(help=f"The Karmayogi {name} service.", no_args_is_help=True, add_completion=False)
    settings_class = _settings_class(build)
    env_prefix = settings_class.model_config.get("env_prefix", "") if settings_class else ""

    def definition(assemble: Callable[[], ServiceDefinition] = build) -> ServiceDefinition:
        try:
            return assemble()
        except ValidationError as error:
            for sentence in setting_problems(error, env_prefix):
                typer.echo(f"{name}: {sentence}", err=True)
            raise typer.Exit(2) from None
        except CannotStart as refused:  # a setting's file the service cannot use (e.g. its signing keys)
            typer.echo(f"{name}: {refused}", err=True)
            raise typer.Exit(1) from None

    def description() -> ServiceDefinition:
        return definition(lambda: described(build))

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
        settings = service.settings
        typer.echo(f"{name}: configuration is complete (HTTP port {settings.http_port}; {settings.state_keys().described()}).")

    @app.command()
    def asyncapi() -> None:
        """Print this service's AsyncAPI 3 document (no connection settings or secrets needed; it names the
        brokers of KAFKA_BOOTSTRAP_SERVERS as its server when that is set)."""
        from karmayogi_runtime.asyncapi import document

        json.dump(document(description()), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")

    @app.command("kafka-access")
    def access() -> None:
        """Print, as JSON, the topics this service reads and writes and its consumer groups: the ACLs its
        Kafka user needs, no more (no connection settings or secrets needed; KAFKA_TOPIC_PREFIX is applied)."""
        json.dump(dataclasses.asdict(kafka_access(description())), sys.stdout, indent=2)
        sys.stdout.write("\n")

    return app


def described(build: Callable[..., ServiceDefinition]) -> ServiceDefinition:
    """The service as the commands that describe it see it (`asyncapi`, `kafka-access`, the local stack's
    ACLs): nothing connects and nothing is served, so the settings without a default may be missing (see
    `optional_connections`). What building the service writes (certification's signing key, when none is
    configured) goes to a scratch folder deleted at once; only errors are logged meanwhile, since a warning
    about what was made there ("generated a local signing key") would be about something that no longer
    exists. A `build` that takes no settings reads them as `run` does."""
    settings_class = _settings_class(build)
    if settings_class is None:
        return build()
    lenient = optional_connections(settings_class)
    with tempfile.TemporaryDirectory(prefix="karmayogi-described-") as scratch, _errors_only():
        return build(lenient(local_data_dir=scratch))


def optional_connections(settings_class: type[ServiceSettings]) -> type[ServiceSettings]:
    """`settings_class` with every setting that has no default (where to connect, and the secrets) made
    optional, left None when it is not set. The topics, groups and messages of a service do not depend on
    them; a setting that is set is still read and checked as the service reads it."""
    unset_allowed: dict[str, Any] = {
        setting: (info.annotation | None, FieldInfo.merge_field_infos(info, default=None, validate_default=False))
        for setting, info in settings_class.model_fields.items() if info.is_required()
    }
    return create_model(settings_class.__name__, __base__=settings_class, **unset_allowed)


def _settings_class(build: Callable[..., ServiceDefinition]) -> type[ServiceSettings] | None:
    """The settings class that `build`'s first parameter is annotated with, or None (it takes no settings)."""
    parameters = list(inspect.signature(build).parameters)
    if not parameters:
        return None
    annotation = typing.get_type_hints(build).get(parameters[0])
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, ServiceSettings):
            return candidate
    return None


@contextlib.contextmanager
def _errors_only() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
