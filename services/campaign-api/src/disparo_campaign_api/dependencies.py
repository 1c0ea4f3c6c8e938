"""What a campaign-api handler may ask for by name; ``app.create_app`` provides each one.

Declare ``pool: Pool``, ``settings: Settings``, ``clock: Clock``, ``runtime: RuntimeDep`` or
``registry: Registry`` on a route handler; the names matter (they are the dependency keys).
"""

from collections.abc import Callable
from datetime import datetime

import asyncpg
from litestar.di import NamedDependency

from disparo_campaign_api.campaigns.template_registry import TemplateRegistry
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.runtime import Runtime

Pool = NamedDependency[asyncpg.Pool]
"""The asyncpg pool; its search_path is the campaign_api schema."""
Settings = NamedDependency[CampaignApiSettings]
Clock = NamedDependency[Callable[[], datetime]]
"""``clock()`` is the current UTC time; tests may provide a fixed one."""
RuntimeDep = NamedDependency[Runtime]
Registry = NamedDependency[TemplateRegistry]
"""The dispatcher's Cloud template registry (``campaigns.template_registry``)."""
