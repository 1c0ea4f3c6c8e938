"""What a sender may point at: declared credential variables and allowlisted provider hosts.

A sender's ``credential_ref`` is sent as a bearer token (or ``apikey``) to its ``base_url``.
Unchecked, ``POST /v1/senders`` with ``env:DATABASE_URL`` and an attacker's host would mail
the database password out, so:

- ``credential_ref`` must be ``env:NAME`` with ``NAME`` one of the declared credential variables
  (``DISPARO_DISPATCHER_CREDENTIAL_VARIABLES``); a literal token is refused by the API, and by
  configured seeds too outside dev and tests (it would sit in the database in clear);
- ``base_url``'s host must be one of ``DISPARO_DISPATCHER_PROVIDER_HOSTS`` exactly (no
  suffix match, no user-info trick), over https outside dev and tests;
- the API never shows a literal credential (``shown_credential``).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from disparo_shared.secrets import RELAXED_MODES

ENV_PREFIX = "env:"
HIDDEN_LITERAL = "literal credential (hidden)"


@dataclass(frozen=True)
class SenderPolicy:
    credential_variables: frozenset[str]
    provider_hosts: frozenset[str]
    mode: str

    def problems(
        self, *, base_url: str, credential_ref: str, from_settings: bool
    ) -> list[tuple[str, str]]:
        """(field, reason) pairs; empty when the sender may be saved."""
        found = []
        credential = self._credential_problem(credential_ref, from_settings)
        if credential:
            found.append(("credential_ref", credential))
        host = self._host_problem(base_url)
        if host:
            found.append(("base_url", host))
        return found

    def _credential_problem(self, reference: str, from_settings: bool) -> str | None:
        if not reference.startswith(ENV_PREFIX):
            if from_settings and self.mode in RELAXED_MODES:
                return None
            return "must be env:NAME with NAME a declared credential variable, not a literal"
        name = reference.removeprefix(ENV_PREFIX)
        if name not in self.credential_variables:
            declared = ", ".join(sorted(self.credential_variables)) or "none"
            return (
                f"{name or '(empty)'} is not a declared credential variable (declared: {declared};"
                " see DISPARO_DISPATCHER_CREDENTIAL_VARIABLES)"
            )
        return None

    def _host_problem(self, base_url: str) -> str | None:
        try:
            parts = urlsplit(base_url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return "is not a URL"
        schemes = {"https", "http"} if self.mode in RELAXED_MODES else {"https"}
        if parts.scheme not in schemes:
            return f"must use {' or '.join(sorted(schemes))}"
        if parts.username is not None or parts.password is not None:
            return "must not carry user information"
        if host is None or host not in self.provider_hosts:
            allowed = ", ".join(sorted(self.provider_hosts)) or "none"
            return (
                f"host {host or '(none)'} is not an allowed provider host (allowed: {allowed};"
                " see DISPARO_DISPATCHER_PROVIDER_HOSTS)"
            )
        return None


def shown_credential(reference: str) -> str:
    """What the API shows of a credential reference: the variable's name, never a literal."""
    return reference if reference.startswith(ENV_PREFIX) else HIDDEN_LITERAL
