"""Every controller of campaign-api, in one list that ``app.create_app`` mounts.

Handlers may declare these dependencies by name (provided in ``app.py``): ``pool``
(``asyncpg.Pool`` on the service schema), ``settings`` (``CampaignApiSettings``), ``runtime``
(``disparo_shared.runtime.Runtime``) and ``clock`` (``() -> datetime``, UTC).
"""

from litestar.types import ControllerRouterHandler

from disparo_campaign_api.campaigns.routes import CampaignsController
from disparo_campaign_api.contacts.routes import ContactsController
from disparo_campaign_api.messages.routes import MessagesController
from disparo_campaign_api.segments.routes import SegmentsController

ROUTES: list[ControllerRouterHandler] = [
    MessagesController,
    ContactsController,
    SegmentsController,
    CampaignsController,
]
