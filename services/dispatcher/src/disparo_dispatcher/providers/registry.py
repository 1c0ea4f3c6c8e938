"""Finds the adapter for a sender's provider name, so callers never import adapters directly."""

from disparo_dispatcher.providers.base import Provider
from disparo_dispatcher.providers.cloud import CloudProvider
from disparo_dispatcher.providers.connections import ConnectionPool
from disparo_dispatcher.providers.evolution import EvolutionProvider

PROVIDERS: dict[str, type[CloudProvider] | type[EvolutionProvider]] = {
    EvolutionProvider.name: EvolutionProvider,
    CloudProvider.name: CloudProvider,
}


class UnknownProvider(ValueError):
    """A sender names a provider we have no adapter for (a configuration error)."""


def get_provider(name: str, http: ConnectionPool) -> Provider:
    """The adapter for ``name`` ("evolution" or "cloud") sending through ``http``.

    The session is the caller's (``transport.open_session``): its pool and timeouts are the
    adapter's, and the caller closes it.
    """
    try:
        adapter = PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProvider(f"unknown provider {name!r}; known: {known}") from None
    return adapter(http)
