"""Fan-out with a Cloud API template against the same fan-out without one, in Postgres alone.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m disparo.bench.template_fanout --contacts 200000 --rounds 2

Creates a scratch database (dropped at the end), migrates campaign-api, inserts generated
doctors (a tenth without a specialty), then per round starts two campaigns to all of them — one
with only the text, one also naming a two-parameter template (first name, specialty) — and times
each chunk of each campaign's whole fan-out (``fan_out_next_chunk`` until done: the statements
the worker runs; no NATS, the events stay in the outbox). The order alternates between rounds so
neither variant always runs on a warmer cache. Prints the median chunk time per variant (robust
to a machine shared with other work) and their ratio.
"""

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from disparo.bench.scratch import scratch_database
from disparo_campaign_api.campaigns.fanout import FanoutSettings, fan_out_next_chunk
from disparo_campaign_api.campaigns.handlers import (
    CreateCampaign,
    create_campaign,
    start_campaign,
)
from disparo_campaign_api.spec import SPEC
from disparo_shared.db import create_pool
from disparo_shared.settings import DatabaseSettings

TEMPLATE = {
    "name": "plantao_aviso",
    "language": "pt_BR",
    "parameters": [{"field": "first_name"}, {"field": "specialty"}],
}


async def _timed_fanout(pool: asyncpg.Pool, cloud_template: dict | None, chunk: int) -> list[float]:
    """Seconds of each chunk of one campaign's whole fan-out."""
    now = datetime.now(UTC)
    data = CreateCampaign(
        name="bench",
        template="Oi {primeiro_nome}! Plantão de {especialidade} em {regiao}.",
        filter={"field": "region", "op": "eq", "value": "ABC"},
        max_per_day=None,
        cloud_template=cloud_template,
    )
    async with pool.acquire() as conn, conn.transaction():
        campaign_id = UUID((await create_campaign(conn, data, now))["id"])
        await start_campaign(conn, campaign_id, now)
    settings = FanoutSettings(chunk_size=chunk)
    chunk_seconds: list[float] = []
    while True:
        started = time.perf_counter()
        if await fan_out_next_chunk(pool, now, settings) is None:
            break
        chunk_seconds.append(time.perf_counter() - started)
    await pool.execute("TRUNCATE outbox")
    return chunk_seconds


async def main(contacts: int, rounds: int, chunk: int) -> None:
    async with scratch_database("disparo_tplbench", SPEC.schema, SPEC.migrations) as url:
        pool = await create_pool(
            DatabaseSettings(url=url, pool_min_size=1, pool_max_size=2), SPEC.schema
        )
        await pool.execute(
            "INSERT INTO contacts (phone, name, specialty, region)"
            " SELECT '+55119' || lpad(g::text, 8, '0'), 'Dra. Ana ' || g,"
            " CASE WHEN g % 10 = 0 THEN NULL ELSE 'Anestesiologia' END, 'ABC'"
            " FROM generate_series(1, $1::int) g",
            contacts,
        )
        await pool.execute("ANALYZE contacts")
        chunks: dict[str, list[float]] = {"text only": [], "with template": []}
        for n in range(rounds):
            order = [None, TEMPLATE] if n % 2 == 0 else [TEMPLATE, None]
            for template in order:
                variant = "with template" if template else "text only"
                seconds = await _timed_fanout(pool, template, chunk)
                chunks[variant] += seconds
                print(f"round {n + 1}: {variant} {sum(seconds):.2f}s")
        await pool.close()
        text, templ = (statistics.median(chunks[k]) for k in ("text only", "with template"))
        print(f"{contacts} recipients, chunks of {chunk}, median chunk over {rounds} rounds:")
        print(f"  text only      {text:.3f}s  ({chunk / text:,.0f} recipients/s)")
        print(f"  with template  {templ:.3f}s  ({chunk / templ:,.0f} recipients/s)")
        print(f"  ratio          {templ / text:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=5000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.contacts, arguments.rounds, arguments.chunk))
