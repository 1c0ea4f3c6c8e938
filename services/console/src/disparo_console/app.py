"""Wiring of the console: its database, the service clients, the pages, the shared edge."""

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Litestar, Request, Response, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import (
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from disparo_console.auth.users import ensure_first_admin  # noqa: F401 (re-exported for the CLI)
from disparo_console.clients.base import ApiError, ServiceUnavailable
from disparo_console.clients.services import ServiceConnections
from disparo_console.context import ConsoleContext
from disparo_console.i18n import load_catalogue
from disparo_console.pages import (
    auth,
    campaigns,
    dashboard,
    doctors,
    new_campaign,
    operations,
    preferences,
    users,
)
from disparo_console.settings import ConsoleSettings
from disparo_console.spec import SPEC
from disparo_console.web import (
    CsrfRefused,
    LoginRequired,
    authenticate,
    csrf_refused,
    login_required,
    page,
    security_headers,
)
from disparo_shared.db import create_pool
from disparo_shared.events import utc_now
from disparo_shared.logging import get_logger
from disparo_shared.migrations import migrate
from disparo_shared.runtime import KernelSettings
from disparo_shared.secrets import require_secrets

HERE = Path(__file__).parent
log = get_logger(__name__)

ROUTES = [
    auth.login_form, auth.login, auth.logout,
    dashboard.dashboard, dashboard.dashboard_live,
    campaigns.campaign_list, campaigns.campaign_page, campaigns.campaign_funnel,
    campaigns.campaign_csv,
    campaigns.confirm_command, campaigns.run_command, campaigns.schedule, campaigns.edit_template,
    new_campaign.new_campaign, new_campaign.live_count, new_campaign.create_draft,
    new_campaign.live_steps_preview,
    doctors.doctor_list, doctors.doctor_page, doctors.change_consent, doctors.import_form,
    doctors.import_csv, doctors.import_result, doctors.invalid_rows_csv,
    operations.senders_page, operations.sender_action, operations.failures_page,
    operations.requeue_campaign, operations.requeue_message, operations.requeue_in_doubt,
    operations.followups_page, operations.edit_rules_form, operations.save_rules,
    operations.run_followups, operations.conversations_page, operations.conversation_page,
    operations.change_conversation,
    users.users_page, users.add_user, users.change_user,
    preferences.set_language, preferences.language_form_target,
]  # fmt: skip


def _error_page(status: int, message_key: str) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        service = getattr(exc, "service", None)
        if isinstance(exc, ApiError):
            log.warning("service refused", service=exc.service, status=exc.status, title=exc.title)
        return page(
            request,
            "error.html",
            status_code=status,
            message_key=message_key,
            service=service,
            problem=exc if isinstance(exc, ApiError) else None,
        )

    return handle


def _unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: logged with its traceback, and a page that says so (never a stack trace)."""
    log.exception("page failed", path=request.url.path, error=type(exc).__name__)
    return page(
        request,
        "error.html",
        status_code=500,
        message_key="error.unexpected",
        service=None,
        problem=None,
    )


def create_app(
    kernel: KernelSettings, settings: ConsoleSettings, clock: Callable[[], datetime] = utc_now
) -> Litestar:
    require_secrets(
        kernel.deployment.env,
        {
            "DISPARO_CONSOLE_API_KEY": settings.api_key.get_secret_value()
            if settings.api_key
            else ""
        },
    )
    ctx = ConsoleContext(
        settings=settings,
        database_url=kernel.database.url,
        catalogue=load_catalogue(settings.locale),
        clock=clock,
        connections=ServiceConnections(settings),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if kernel.database.migrate_at_start:  # off where the migration Job's role does it
            await migrate(kernel.database.url, SPEC.schema, SPEC.migrations)
        ctx.pool = await create_pool(kernel.database, SPEC.schema)
        try:
            yield
        finally:
            await ctx.connections.close()
            await ctx.pool.close()

    @get("/health", sync_to_thread=False, include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", include_in_schema=False)
    async def ready() -> dict[str, str]:
        try:
            await ctx.db().fetchval("SELECT 1")
        except Exception as exc:
            raise ServiceUnavailableException(f"not ready: {exc}") from exc
        return {"status": "ready"}

    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined
    )
    app = Litestar(
        route_handlers=[
            health,
            ready,
            create_static_files_router(
                path="/static", directories=[HERE / "static"], include_in_schema=False
            ),
            *ROUTES,
        ],
        guards=[authenticate],
        middleware=[security_headers],
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment)),
        exception_handlers={
            LoginRequired: login_required,
            CsrfRefused: csrf_refused,
            NotFoundException: _error_page(404, "error.not_found"),
            PermissionDeniedException: _error_page(403, "error.forbidden"),
            ApiError: _error_page(502, "error.service_refused"),
            ServiceUnavailable: _error_page(503, "error.service_down"),
            Exception: _unexpected,
        },
        openapi_config=None,
        lifespan=[lifespan],
    )
    app.state.console = ctx
    return app
