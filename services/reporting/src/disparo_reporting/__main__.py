"""``python -m disparo_reporting`` serves the API; ``python -m disparo_reporting rebuild`` replays.

The offline rebuild needs only Postgres and NATS (no HTTP), for when the service is stopped or
its projections must be rebuilt from a job.
"""

import argparse
import asyncio
from datetime import timedelta

from disparo_reporting.app import create_app
from disparo_reporting.replay import rebuild
from disparo_reporting.settings import ReportingSettings
from disparo_reporting.spec import SPEC
from disparo_shared.db import create_pool
from disparo_shared.logging import configure_logging, get_logger
from disparo_shared.migrations import migrate
from disparo_shared.nats_connection import connect
from disparo_shared.runtime import KernelSettings, serve

log = get_logger(__name__)


async def _rebuild(kernel: KernelSettings, settings: ReportingSettings) -> None:
    await migrate(kernel.database.url, SPEC.schema, SPEC.migrations)
    pool = await create_pool(kernel.database, SPEC.schema)
    nc = await connect(kernel.nats, SPEC.name)
    try:
        result = await rebuild(
            pool, nc.jetstream(), kernel.nats, timedelta(hours=settings.reply_window_hours)
        )
        log.info("rebuild finished", replayed=result.replayed, applied=result.applied)
    finally:
        await nc.close()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m disparo_reporting")
    parser.add_argument("command", nargs="?", choices=["serve", "rebuild"], default="serve")
    args = parser.parse_args()
    kernel = KernelSettings()
    settings = ReportingSettings()
    if args.command == "rebuild":
        configure_logging(kernel.telemetry.log_level, kernel.telemetry.log_json)
        asyncio.run(_rebuild(kernel, settings))
    else:
        serve(create_app(kernel, settings), kernel, settings.port)


if __name__ == "__main__":
    main()
