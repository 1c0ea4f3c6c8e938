"""Wires the simulated provider to its HTTP routes; the one place the simulator is assembled."""

import time
from typing import Any

from litestar import Litestar
from litestar.logging.config import LoggingConfig
from litestar.types import Receive, Scope, Send

from disparo_simulator.lifecycle import WallClock
from disparo_simulator.limits import Clock
from disparo_simulator.provider import SimulatedProvider
from disparo_simulator.routes.cloud import cloud_routes, cloud_send
from disparo_simulator.routes.control import control_routes
from disparo_simulator.routes.evolution import evolution_routes, evolution_send
from disparo_simulator.routes.sends import SendRoutes
from disparo_simulator.settings import SimulatorSettings


class SimulatorApp(Litestar):
    """Litestar, with the provider sends answered before routing (``routes.sends``)."""

    def __init__(self, sends: SendRoutes, **config: Any) -> None:
        super().__init__(**config)
        self.sends = sends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.sends.route(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await super().__call__(scope, receive, send)
        else:
            await self.sends.answer(route, scope, receive, send)


def create_app(
    settings: SimulatorSettings | None = None,
    clock: Clock = time.monotonic,
    wall_clock: WallClock = time.time,
) -> SimulatorApp:
    """The simulator as an ASGI app; ``app.state.provider`` exposes its state to tests.

    ``clock`` (monotonic seconds) drives the rate limits, ``wall_clock`` (unix seconds) the
    timestamps in responses and webhooks; tests inject fakes for both.
    """
    settings = settings or SimulatorSettings()
    provider = SimulatedProvider(settings, clock, wall_clock)
    app = SimulatorApp(
        SendRoutes(evolution_send(provider), cloud_send(provider)),
        route_handlers=[
            *evolution_routes(provider),
            *cloud_routes(provider),
            *control_routes(provider),
        ],
        on_startup=[provider.poster.start],
        on_shutdown=[provider.lifecycle.cancel_all, provider.poster.stop],
        openapi_config=None,
        logging_config=LoggingConfig(
            log_exceptions="always",
            # httpx logs every webhook post at INFO: thousands of lines a second under load.
            loggers={
                "httpx": {"level": "WARNING", "propagate": True},
                "httpcore": {"level": "WARNING", "propagate": True},
            },
        ),
    )
    app.state.provider = provider
    return app
