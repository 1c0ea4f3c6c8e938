"""One POST to a provider, with every network failure turned into a classified ``Rejected``.

Timeouts are ambiguous: the provider may have accepted, and even delivered, the message before
the answer was lost. They are classified TRANSIENT (code ``timeout``), so a retry can send the
text a second time; the alternative, treating them as sent, would silently lose messages whose
request never arrived. The same holds for a connection dropped after the request went out
(``connection_error``). A connection that was never made (``connect_error``) is unambiguous:
nothing was sent. The simulator counts duplicates by the ``X-Disparo-Message-Id`` header, so
the double-send rate of a run is measurable.
"""

from typing import Any

import httpx

from disparo_dispatcher.providers import classify
from disparo_dispatcher.providers.base import FailureClass, Rejected

MESSAGE_ID_HEADER = "X-Disparo-Message-Id"
CONNECT_ERROR = "connect_error"


def _timeout_with_extra_read(http: httpx.AsyncClient, extra_read_seconds: float) -> httpx.Timeout:
    """The client's timeout, with ``extra_read_seconds`` more patience for the answer.

    Evolution holds the request while it shows the typing indicator (``delay``), so a 4 s typing
    indicator under a 10 s read timeout must wait 14 s before calling it a timeout.
    """
    base = http.timeout
    read = None if base.read is None else base.read + extra_read_seconds
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    extra_read_seconds: float = 0.0,
) -> httpx.Response | Rejected:
    """The provider's response, whatever its status, or a ``Rejected`` when none came back."""
    timeout = _timeout_with_extra_read(http, extra_read_seconds) if extra_read_seconds else None
    try:
        if timeout is None:
            return await http.post(url, headers=headers, json=body)
        return await http.post(url, headers=headers, json=body, timeout=timeout)
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return Rejected(FailureClass.TRANSIENT, CONNECT_ERROR, f"connect timeout: {exc!r}")
    except httpx.TimeoutException as exc:
        return Rejected(FailureClass.TRANSIENT, classify.TIMEOUT, f"no answer in time: {exc!r}")
    except httpx.ConnectError as exc:
        return Rejected(FailureClass.TRANSIENT, CONNECT_ERROR, f"cannot connect: {exc!r}")
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        # A misconfigured base URL or address: no message can leave through this account.
        return Rejected(FailureClass.PAUSE_SENDER, "invalid_url", f"bad provider URL: {exc!r}")
    except httpx.TransportError as exc:
        return Rejected(
            FailureClass.TRANSIENT, classify.CONNECTION_ERROR, f"connection failed: {exc!r}"
        )


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is not one (HTML error pages, empty)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def short_text(response: httpx.Response, limit: int = 300) -> str:
    """The start of the body, for an error's detail."""
    return response.text[:limit]
