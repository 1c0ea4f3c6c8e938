"""The HTTP edge every service shares: health, readiness, API keys and scopes, the audit trail,
metrics, problem details. Every service builds its app here, so these rules hold everywhere.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

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

from disparo_shared.access import Caller, require_route_scope
from disparo_shared.api_keys import ACTING_USER, KeyRing
from disparo_shared.audit import AuditLog, AuditMiddleware, audit_router
from disparo_shared.logging import get_logger
from disparo_shared.openapi_truth import (
    document_closed_models,
    document_metrics,
    document_the_edge,
)
from disparo_shared.problems import EXCEPTION_HANDLERS
from disparo_shared.settings import HttpSettings

OPEN_PATHS = ["^/health$", "^/ready$", "^/metrics$", "^/schema", "^/webhooks/"]
API_KEY_HEADER = "X-API-Key"
ACTING_USER_HEADER = "X-Acting-User"
ACTING_USER_MAX_LENGTH = 200

ReadinessCheck = Callable[[], Awaitable[None]]

log = get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Accepts a request only with a known ``X-API-Key``; the caller is its named key.

    ``X-Acting-User`` (the console's signed-in person) is believed only from a key with the
    ``acting-user`` scope; from any other key it is ignored. A key past its ``expires_at``
    is refused with a 401 that says it expired (and a warning naming the key, never its value).
    """

    def __init__(
        self, app, keyring: KeyRing, clock: Callable[[], datetime] = _utc_now, **kwargs
    ) -> None:
        super().__init__(app, exclude=OPEN_PATHS, exclude_from_auth_key="no_auth", **kwargs)
        self._keyring = keyring
        self._clock = clock

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        key = self._keyring.find(connection.headers.get(API_KEY_HEADER) or "")
        if key is None:
            raise NotAuthorizedException(f"missing or invalid {API_KEY_HEADER} header")
        if key.expired(self._clock()):
            log.warning("expired API key refused", key_name=key.name, expired_at=key.expires_at)
            raise NotAuthorizedException(
                f"the {API_KEY_HEADER} key expired at {key.expires_at}; ask for a new one"
            )
        acting_user = None
        if key.grants(ACTING_USER):
            claimed = (connection.headers.get(ACTING_USER_HEADER) or "").strip()
            acting_user = claimed[:ACTING_USER_MAX_LENGTH] or None
        return AuthenticationResult(user=Caller(key, acting_user), auth=None)


def health_router(
    readiness_checks: Sequence[ReadinessCheck],
    degraded_checks: Mapping[str, ReadinessCheck] | None = None,
) -> Router:
    @get("/health", sync_to_thread=False, include_in_schema=False)
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @get("/ready", include_in_schema=False)
    async def ready() -> dict[str, object]:
        """Readiness: Postgres answers. NATS is reported, never required: the API and webhook
        paths only write to Postgres (events wait in the outbox), so a NATS outage must not
        take a pod out of the load balancer and turn Evolution's one-shot webhooks away."""
        for check in readiness_checks:
            try:
                await check()
            except Exception as exc:
                raise ServiceUnavailableException(f"not ready: {exc}") from exc
        degraded = []
        for name, check in (degraded_checks or {}).items():
            try:
                await check()
            except Exception:  # noqa: BLE001 - reported, not raised
                degraded.append(name)
        return {"status": "ready", "degraded": degraded}

    return Router(path="/", route_handlers=[health, ready])


def create_http_app(
    *,
    service_name: str,
    version: str,
    route_handlers: Sequence[ControllerRouterHandler],
    http: HttpSettings,
    mode: str,
    readiness_checks: Sequence[ReadinessCheck],
    degraded_checks: Mapping[str, ReadinessCheck] | None = None,
    audit: AuditLog | None = None,
    on_startup: Sequence[LifespanHook] = (),
    on_shutdown: Sequence[LifespanHook] = (),
    lifespan: Sequence = (),
) -> Litestar:
    """A Litestar app with the shared edge; services pass only their own controllers.

    ``mode`` is ``DISPARO_ENV``: in production the keys must be hashed with a strong pepper.
    With an ``audit`` log, state-changing calls are recorded and ``GET /v1/audit`` serves them.
    """
    keyring = KeyRing.from_settings(http, mode)
    audit_layer = (
        [DefineMiddleware(AuditMiddleware, audit=audit, open_paths=OPEN_PATHS)] if audit else []
    )
    audit_routes = [audit_router(audit)] if audit else []
    prometheus = PrometheusConfig(
        app_name=service_name, prefix="disparo_http", group_path=True, exclude=["^/metrics$"]
    )
    metrics_controller: type[Controller] = PrometheusController
    app = Litestar(
        route_handlers=[
            health_router(readiness_checks, degraded_checks),
            metrics_controller,
            *audit_routes,
            *route_handlers,
        ],
        middleware=[
            *audit_layer,
            DefineMiddleware(ApiKeyMiddleware, keyring=keyring),
            prometheus.middleware,
        ],
        guards=[require_route_scope],
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
    # The document is built once, here, and served as amended with what the edge answers.
    document_the_edge(app.openapi_schema, OPEN_PATHS)
    document_metrics(app.openapi_schema)
    document_closed_models(app.openapi_schema)
    return app
