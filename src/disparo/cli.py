"""The ``disparo`` command: the front door to running, migrating and measuring the system.

``disparo dev`` runs everything locally; ``disparo migrate`` and ``disparo streams`` prepare a
real Postgres and NATS (what a deployment's init job runs); ``disparo nats-config`` writes the
NATS users and permissions of the closed bus; ``disparo simulator`` runs the WhatsApp simulator
alone; ``disparo keys create`` makes an API key; ``disparo export-contact`` composes a doctor's
data export from every service; ``disparo bench …`` holds the benchmarks and
``disparo chaos`` injects faults into the whole stack and checks nothing was lost or doubled.
"""

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from disparo.bench import bench_app
from disparo.chaos import chaos

app = typer.Typer(
    help="disparo: an open campaign engine for WhatsApp.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench_app, name="bench")
app.command("chaos")(chaos)
keys_app = typer.Typer(
    help="API keys: named, scoped, stored as keyed hashes.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
console = Console()


def _configure_logging() -> None:
    """Our own log lines (migrations applied, …) go through the masking chain like the services'."""
    from disparo_shared.logging import configure_logging
    from disparo_shared.settings import TelemetrySettings

    telemetry = TelemetrySettings()
    configure_logging(telemetry.log_level, telemetry.log_json)


@app.command()
def dev(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the embedded servers' data [default: DISPARO_DEV_DIR or .disparo]"
        ),
    ] = None,
    evolution_numbers: Annotated[
        int, typer.Option(min=0, help="Simulated Evolution API numbers.")
    ] = 2,
    cloud_numbers: Annotated[int, typer.Option(min=0, help="Simulated Cloud API numbers.")] = 1,
    observability: Annotated[
        bool,
        typer.Option(
            help="Also start Prometheus (Debian package `prometheus`) scraping every service, "
            "with the alert rules of deploy/prometheus, on DISPARO_DEV_PROMETHEUS_PORT (9090)."
        ),
    ] = False,
) -> None:
    """Run the whole stack here: Postgres, NATS, the four services and the simulator.

    Uses DATABASE_URL / NATS_URL when set, else starts embedded servers with their data in
    .disparo/ (a restart keeps the queue). Ctrl-C stops everything.
    """
    from disparo.devstack import DevStack, DevStackSettings

    _configure_logging()
    settings = DevStackSettings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    stack = DevStack(
        settings,
        console,
        evolution_numbers=evolution_numbers,
        cloud_numbers=cloud_numbers,
        observability=observability,
    )
    raise typer.Exit(stack.run())


@app.command()
def migrate() -> None:
    """Apply every service's pending migrations to DATABASE_URL (safe to run concurrently)."""
    from disparo_shared.settings import DatabaseSettings

    _configure_logging()
    from disparo.devstack import migrate_all

    applied = asyncio.run(migrate_all(DatabaseSettings().url))
    table = Table("schema", "applied now")
    for schema, versions in applied.items():
        table.add_row(schema, ", ".join(versions) or "up to date")
    console.print(table)


@app.command()
def streams() -> None:
    """Create or update the JetStream streams on NATS_URL (idempotent)."""
    from disparo_shared.settings import NatsSettings
    from disparo_shared.streams import stream_configs

    _configure_logging()
    from disparo.devstack import declare_streams

    settings = NatsSettings()
    asyncio.run(declare_streams(settings))
    table = Table("stream", "subjects")
    for config in stream_configs(settings):
        table.add_row(config.name, ", ".join(config.subjects or []))
    console.print(table)


@app.command()
def asyncapi(
    output: Annotated[
        Path | None, typer.Option(help="Write the document here [default: stdout]")
    ] = None,
) -> None:
    """Print (or write) the AsyncAPI document of the event bus, generated from the code."""
    from disparo.asyncapi import render

    document = render()
    if output is None:
        typer.echo(document, nl=False)
    else:
        output.write_text(document)
        console.print(f"wrote {output}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. crm, console, ops-ana.")],
    scope: Annotated[list[str], typer.Option(help="A scope the key grants (repeat for several).")],
    expires_at: Annotated[
        str | None,
        typer.Option(help="When the key stops working, RFC 3339 with offset: 2027-03-31T00:00Z."),
    ] = None,
) -> None:
    """Make a key: prints it once, and the {name, hash, scopes} entry for DISPARO_API_KEYS.

    The hash is keyed by DISPARO_API_KEY_PEPPER (read from the environment, the same secret
    every service has); the key itself is stored nowhere, so copy it now.
    """
    import json

    from disparo_shared.api_keys import SCOPES, ApiKeyEntry, generate_api_key, hash_api_key
    from disparo_shared.secrets import secret_problem
    from disparo_shared.settings import HttpSettings

    pepper = HttpSettings().api_key_pepper
    problem = secret_problem(pepper)
    if problem:
        console.print(f"[red]DISPARO_API_KEY_PEPPER {problem}[/red]")
        raise typer.Exit(2)
    try:
        key = generate_api_key()
        entry = ApiKeyEntry(
            name=name,
            hash=hash_api_key(pepper, key),
            scopes=frozenset(scope),
            expires_at=expires_at,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]\nscopes: " + ", ".join(SCOPES))
        raise typer.Exit(2) from exc
    typer.echo(f"key (shown once): {key}")
    typer.echo(
        "add to DISPARO_API_KEYS: " + json.dumps(entry.model_dump(mode="json", exclude_none=True))
    )


@app.command("export-contact")
def export_contact(
    contact_id: Annotated[str, typer.Argument(help="The doctor's contact id (campaign-api).")],
    output: Annotated[
        Path | None, typer.Option(help="Write the JSON here (default: standard output).")
    ] = None,
    api_key: Annotated[
        str,
        typer.Option(
            envvar="DISPARO_API_KEY",
            help="A key with the contacts:phones scope, valid in every service.",
        ),
    ] = "",
    campaign_api_url: Annotated[
        str, typer.Option(envvar="DISPARO_CAMPAIGN_API_URL")
    ] = "http://127.0.0.1:8000",
    dispatcher_url: Annotated[str, typer.Option(envvar="DISPARO_DISPATCHER_URL")] = (
        "http://127.0.0.1:8002"
    ),
    followup_url: Annotated[str, typer.Option(envvar="DISPARO_FOLLOWUP_URL")] = (
        "http://127.0.0.1:8003"
    ),
    reporting_url: Annotated[str, typer.Option(envvar="DISPARO_REPORTING_URL")] = (
        "http://127.0.0.1:8001"
    ),
) -> None:
    """A doctor's data export (LGPD access request): what every service holds about them, as
    one JSON document (phones and texts in clear: handle it as the doctor's data)."""
    import json
    import uuid

    import httpx

    from disparo.contact_export import ExportFailed
    from disparo.contact_export import export_contact as compose

    try:
        parsed = uuid.UUID(contact_id)
    except ValueError as exc:
        console.print(f"[red]contact_id: not a UUID: {contact_id!r}[/red]")
        raise typer.Exit(2) from exc
    urls = {
        "campaign-api": campaign_api_url,
        "dispatcher": dispatcher_url,
        "followup": followup_url,
        "reporting": reporting_url,
    }

    async def run() -> dict:
        headers = {"X-API-Key": api_key}
        clients = {
            name: httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0)
            for name, url in urls.items()
        }
        try:
            return await compose(clients, parsed)
        finally:
            for client in clients.values():
                await client.aclose()

    try:
        document = json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2)
    except ExportFailed as exc:
        console.print(f"[red]export refused: {exc}[/red]")
        raise typer.Exit(1) from exc
    if output is None:
        typer.echo(document)
    else:
        output.write_text(document + "\n")
        console.print(f"wrote {output}")


@app.command("nats-config")
def nats_config(
    output: Annotated[
        Path | None, typer.Option(help="Write the configuration here [default: stdout]")
    ] = None,
    nkey: Annotated[
        list[str] | None,
        typer.Option(help="USER=PUBLIC_NKEY: that user signs in with an NKey, not a password."),
    ] = None,
    tls_cert: Annotated[str | None, typer.Option(help="Server certificate file.")] = None,
    tls_key: Annotated[str | None, typer.Option(help="Server private key file.")] = None,
    tls_client_ca: Annotated[
        str | None, typer.Option(help="CA of client certificates (demands mutual TLS).")
    ] = None,
    helm_values: Annotated[
        bool, typer.Option(help="Write the NATS Helm chart's values (YAML) instead.")
    ] = False,
) -> None:
    """Print the NATS server configuration of the closed bus: one user per service.

    Each user may publish only its service's subjects and read only its own consumers
    (ServiceSpec.bus); passwords are $DISPARO_NATS_PASSWORD_<USER> references nats-server
    reads from its environment. Subjects carry DISPARO_NATS_STREAM_PREFIX.
    """
    import json

    from disparo import nats_config
    from disparo.nats_config import ServerTls, bus_users, render_config
    from disparo_shared.settings import NatsSettings

    nkeys = dict(item.split("=", 1) for item in nkey or [])
    users = bus_users()
    unknown = set(nkeys) - set(users)
    if unknown:
        raise typer.BadParameter(f"unknown NATS users: {sorted(unknown)}", param_hint="--nkey")
    if bool(tls_cert) != bool(tls_key):
        raise typer.BadParameter("give both --tls-cert and --tls-key", param_hint="--tls-cert")
    tls = ServerTls(tls_cert, tls_key, tls_client_ca) if tls_cert and tls_key else None
    prefix = NatsSettings().stream_prefix
    if helm_values:
        values = nats_config.helm_values(users, prefix=prefix)
        text = nats_config.HELM_VALUES_HEADER + json.dumps(values, indent=2) + "\n"
    else:
        text = render_config(users, prefix=prefix, nkeys=nkeys, tls=tls)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def simulator(context: typer.Context) -> None:
    """Run the WhatsApp simulator alone (arguments go to it: --host, --port, --help)."""
    from disparo_simulator.__main__ import main

    main(list(context.args))


if __name__ == "__main__":
    app()
