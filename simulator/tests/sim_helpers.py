"""Request builders and accessors shared by the simulator's tests."""

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from disparo_simulator.provider import SimulatedProvider

CLOUD_AUTH = {"Authorization": "Bearer sim-cloud-token"}
EVOLUTION_AUTH = {"apikey": "sim-evolution-key"}
CLOUD_URL = "/v21.0/1234567890/messages"
EVOLUTION_URL = "/message/sendText/recruiter-1"


def provider_of(client: AsyncTestClient[Litestar]) -> SimulatedProvider:
    return client.app.state.provider


async def stats(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    response = await client.get("/_sim/stats")
    return response.json()


def cloud_message(to: str = "5511987654321", body: str = "Olá, doutor!", **extra: Any) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def evolution_message(number: str = "5511987654321", text: str = "Olá, doutor!") -> dict:
    return {"number": number, "text": text, "delay": 1200}
