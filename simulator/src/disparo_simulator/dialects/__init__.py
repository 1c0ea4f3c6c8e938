"""Request and response shapes of the provider APIs the simulator imitates."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A status code, a JSON body and extra headers, ready to become an HTTP response."""

    status_code: int
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)
