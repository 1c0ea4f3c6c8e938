"""The dispatcher's template registry, asked when a campaign names a Cloud API template.

The client and the registry's rules are the kernel's (``disparo_shared.template_registry``);
this module builds campaign-api's client from its settings and answers in the campaign's terms:
a 422 naming ``cloud_template.…``, or a 503 with ``Retry-After`` when the registry cannot be
asked (a campaign is never accepted with a template nobody checked).
"""

from disparo_campaign_api.campaigns.cloud_templates import (
    CloudTemplateIn,
    MappingError,
    check_against_registry,
)
from disparo_campaign_api.settings import CampaignApiSettings
from disparo_shared.problems import invalid
from disparo_shared.template_registry import (
    DispatcherTemplates,
    RegistryUnavailable,
    TemplateRegistry,
    unavailable,
)

__all__ = ["TemplateRegistry", "check_cloud_template", "registry_of"]


def registry_of(settings: CampaignApiSettings) -> DispatcherTemplates:
    """campaign-api's client of the dispatcher's registry, with its own key."""
    key = settings.dispatcher_api_key
    return DispatcherTemplates(
        settings.dispatcher_url,
        key.get_secret_value() if key else None,
        settings.dispatcher_timeout_seconds,
    )


async def check_cloud_template(registry: TemplateRegistry, template: CloudTemplateIn) -> None:
    """Raise the API's problem unless ``template`` exists, is approved and fits its mapping:
    422 naming the field at fault, or 503 (with Retry-After) when the registry cannot answer."""
    try:
        listed = await registry.find(template.name, template.language)
    except RegistryUnavailable as exc:
        raise unavailable("cloud_template", exc) from None
    try:
        check_against_registry(template, list(listed))
    except MappingError as exc:
        raise invalid(exc.field, exc.reason) from None
