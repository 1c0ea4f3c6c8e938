"""What a campaign-api handler may ask for by name; ``app.create_app`` provides each one.

Declare ``pool: Pool``, ``settings: Settings``, ``clock: Clock`` or ``runtime: RuntimeDep`` on
a route handler; the names matter (they are the dependency keys).
"""

from collections.abc import Callable
from datetime import datetime

import asyncpg
from litestar.di import NamedDependency

from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.runtime import Runtime

Pool = NamedDependency[asyncpg.Pool]
"""The asyncpg pool; its search_path is the campaign_api schema."""
Settings = NamedDependency[CampaignApiSettings]
Clock = NamedDependency[Callable[[], datetime]]
"""``clock()`` is the current UTC time; tests may provide a fixed one."""
RuntimeDep = NamedDependency[Runtime]
