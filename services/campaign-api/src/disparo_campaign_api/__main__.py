"""``python -m disparo_campaign_api``: serve campaign-api
on ``DISPARO_CAMPAIGN_API_PORT`` (8000).
"""

from disparo_campaign_api.app import create_app
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.runtime import KernelSettings, serve


def main() -> None:
    kernel = KernelSettings()
    settings = CampaignApiSettings()
    serve(create_app(kernel, settings), kernel, settings.port)


if __name__ == "__main__":
    main()
