"""The start-up check that keeps a service from running on a missing, public or weak secret.

``DISPARO_ENV`` says where a process runs: ``production`` (the default, when the variable is
unset), ``dev`` (set only by `disparo dev` and the benchmarks) or ``test`` (set only by the test
fixtures). In production every secret a service uses must be set, must not be one of the values
printed in this repository (``dev_secrets.KNOWN_DEV_SECRETS``) and must be at least 32 bytes; a
service that finds one that is not refuses to start, naming every offending variable (never its
value). Dev and test accept anything, including an unset secret, which then verifies nothing:
each verifier treats an empty secret as "no one may pass".
"""

from collections.abc import Mapping, Sequence
from typing import Literal

from disparo_shared.dev_secrets import KNOWN_DEV_SECRETS

DeploymentMode = Literal["production", "dev", "test"]
RELAXED_MODES: frozenset[str] = frozenset({"dev", "test"})
MIN_SECRET_BYTES = 32


class UnsafeSecrets(RuntimeError):
    """A production process found secrets it must not run with; the message names them."""


def secret_problem(value: str) -> str | None:
    """Why ``value`` cannot guard a production service, or None when it can."""
    if not value:
        return "is not set"
    if value in KNOWN_DEV_SECRETS:
        return "is a known development value printed in the repository"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def require_secrets(mode: str, secrets: Mapping[str, str | Sequence[str]]) -> None:
    """Raise ``UnsafeSecrets`` in production when any named secret is missing, public or short.

    A value may be a list (several accepted API keys): an empty list counts as not set, and
    each element is checked. Example: ``require_secrets("production", {"KEY": "dev-key"})``
    raises "KEY is a known development value …".
    """
    if mode in RELAXED_MODES:
        return
    problems: list[str] = []
    for name, value in secrets.items():
        values = [value] if isinstance(value, str) else list(value)
        if not values:
            problems.append(f"{name} is not set")
            continue
        for position, one in enumerate(values):
            problem = secret_problem(one)
            if problem:
                where = name if len(values) == 1 else f"{name}[{position}]"
                problems.append(f"{where} {problem}")
    if problems:
        raise UnsafeSecrets(
            "refusing to start with unsafe secrets (set DISPARO_ENV=dev only on a laptop): "
            + "; ".join(problems)
        )
