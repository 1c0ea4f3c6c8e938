"""What every request handler of the console may need, built once per process."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from disparo_console.clients.services import ServiceConnections
from disparo_console.i18n import Catalogue
from disparo_console.settings import ConsoleSettings


@dataclass
class ConsoleContext:
    settings: ConsoleSettings
    database_url: str
    catalogue: Catalogue
    clock: Callable[[], datetime]
    connections: ServiceConnections
    pool: asyncpg.Pool | None = field(default=None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.time_zone)

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_max_hours)

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("console is not started: no database pool yet")
        return self.pool
