"""What every benchmark command does around its run: progress, failures, output, exit code."""

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from disparo.embedded import EmbeddedServerError
from disparo.processes import ProcessFailed


def progress_printer(err: Console) -> Callable[[str], None]:
    return lambda line: err.print(f"[dim]bench[/dim] │ {line}")


def run_and_report(
    run: Coroutine[Any, Any, Any],
    *,
    failures: tuple[type[BaseException], ...],
    summarize: Callable[[Any], dict[str, Any]],
    render: Callable[[dict[str, Any], Console], None],
    json_file: Path | None,
    as_json: bool,
    err: Console,
) -> None:
    """Run the benchmark and exit: 0 when every check passed, 1 when one failed, 2 when the run
    could not complete, 130 on Ctrl-C (everything started is stopped by the run itself)."""
    try:
        evidence = asyncio.run(run)
    except (*failures, ProcessFailed, EmbeddedServerError) as failure:
        err.print(f"[red]benchmark failed:[/red] {failure!r}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted: everything started was stopped")
        raise typer.Exit(130) from None
    summary = summarize(evidence)
    if json_file is not None:
        json_file.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        render(summary, Console())
    raise typer.Exit(0 if summary["passed"] else 1)
