"""``disparo bench``: benchmarks that run the real services against the real simulator.

Each benchmark is a module of this package that registers its command on ``bench_app``
(``@bench_app.command("dispatch")``) and is imported below, so ``disparo bench --help`` lists
exactly the benchmarks that exist.
"""

import typer

bench_app = typer.Typer(
    help="Benchmarks against the real services and the simulator (each prints its figures).",
    no_args_is_help=False,
)


@bench_app.callback(invoke_without_command=True)
def bench(context: typer.Context) -> None:
    """Benchmarks against the real services and the simulator."""
    if context.invoked_subcommand is None:
        typer.echo(context.get_help())
        if not context.command.list_commands(context):  # type: ignore[attr-defined]
            typer.echo("\nNo benchmark is available yet.")


# Each import registers its command: ``disparo bench campaigns``, ``disparo bench dispatch``.
from disparo.bench import campaigns, claim, console, dispatch  # noqa: E402, F401
