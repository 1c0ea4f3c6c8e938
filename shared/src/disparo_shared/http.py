"""The HTTP edge every service shares: health, readiness, API keys, metrics, problem details."""

import hmac
from collections.abc import Awaitable, Callable, Sequence

from litestar import Controller, Litestar, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ControllerRouterHandler, LifespanHook

from disparo_shared.problems import EXCEPTION_HANDLERS

OPEN_PATHS = ["^/health$", "^/ready$", "^/metrics$", "^/schema", "^/webhooks/"]
API_KEY_HEADER = "X-API-Key"

ReadinessCheck = Callable[[], Awaitable[None]]


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Accepts a request only with a configured ``X-API-Key`` (compared in constant time)."""

    def __init__(self, app, api_keys: Sequence[str], **kwargs) -> None:
        super().__init__(app, exclude=OPEN_PATHS, exclude_from_auth_key="no_auth", **kwargs)
        self._keys = [k.encode() for k in api_keys if k]  # an empty key opens nothing

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        given = (connection.headers.get(API_KEY_HEADER) or "").encode()
        if given and any(hmac.compare_digest(given, key) for key in self._keys):
            return AuthenticationResult(user="api-client", auth=None)
        raise NotAuthorizedException(f"missing or invalid {API_KEY_HEADER} header")


def health_router(readiness_checks: Sequence[ReadinessCheck]) -> Router:
    @get("/health", sync_to_thread=False, include_in_schema=False)
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @get("/ready", include_in_schema=False)
    async def ready() -> dict[str, str]:
        """Readiness: Postgres and NATS answer."""
        for check in readiness_checks:
            try:
                await check()
            except Exception as exc:
                raise ServiceUnavailableException(f"not ready: {exc}") from exc
        return {"status": "ready"}

    return Router(path="/", route_handlers=[health, ready])


def create_http_app(
    *,
    service_name: str,
    version: str,
    route_handlers: Sequence[ControllerRouterHandler],
    api_keys: Sequence[str],
    readiness_checks: Sequence[ReadinessCheck],
    on_startup: Sequence[LifespanHook] = (),
    on_shutdown: Sequence[LifespanHook] = (),
    lifespan: Sequence = (),
) -> Litestar:
    """A Litestar app with the shared edge; services pass only their own controllers."""
    prometheus = PrometheusConfig(
        app_name=service_name, prefix="disparo_http", group_path=True, exclude=["^/metrics$"]
    )
    metrics_controller: type[Controller] = PrometheusController
    return Litestar(
        route_handlers=[health_router(readiness_checks), metrics_controller, *route_handlers],
        middleware=[
            DefineMiddleware(ApiKeyMiddleware, api_keys=list(api_keys)),
            prometheus.middleware,
        ],
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig())],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title=f"disparo {service_name}",
            version=version,
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="apiKey", name=API_KEY_HEADER, security_scheme_in="header"
                    )
                }
            ),
            security=[{"apiKey": []}],
        ),
        on_startup=list(on_startup),
        on_shutdown=list(on_shutdown),
        lifespan=list(lifespan),
    )
