"""The simulator's settings: read once from ``SIM_*`` environment variables, most changeable live.

``SimulatorConfig`` holds what ``PUT /_sim/config`` may change while running, ``FaultConfig``
what ``PUT /_sim/faults`` may change; ``SimulatorSettings`` adds the listening address and reads
all of them from the environment, e.g. ``SIM_RATE_PER_SECOND=20``,
``SIM_PERMANENT_NUMBERS='["5511900000000"]'``, ``SIM_LATENCY_MS='[5, 40]'``.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo_simulator.faults import FaultConfig, Probability
from disparo_simulator.templates import TemplateSpec

Seconds = Annotated[float, Field(ge=0.0)]


class SimulatorConfig(BaseModel):
    """How the simulated provider behaves; every field can be changed at runtime."""

    model_config = ConfigDict(extra="forbid")

    rate_per_second: int = Field(
        80, ge=1, description="Accepted sends per sending number in any 1-second window."
    )
    pair_spacing_seconds: Seconds = Field(
        6.0, description="Minimum time between two sends from one number to the same recipient."
    )
    evolution_api_key: str = Field(
        "sim-evolution-key", description="The `apikey` header Evolution requests must carry."
    )
    cloud_access_token: str = Field(
        "sim-cloud-token", description="The bearer token Cloud API requests must carry."
    )
    cloud_app_secret: str = Field(
        "sim-app-secret", description="Signs Cloud webhooks (X-Hub-Signature-256)."
    )
    cloud_waba_id: str = Field(
        "100000000000001", description="WhatsApp Business Account id put in Cloud webhooks."
    )
    evolution_webhook_url: HttpUrl | None = Field(
        None, description="Where Evolution events go; none means no Evolution webhooks."
    )
    cloud_webhook_url: HttpUrl | None = Field(
        None, description="Where Cloud webhooks go; none means no Cloud webhooks."
    )
    delivered_after_seconds: Seconds = Field(
        0.2, description="Delay from acceptance to the `delivered` status."
    )
    read_probability: Probability = Field(0.5, description="Chance a delivered message is read.")
    read_after_seconds: Seconds = Field(1.0, description="Delay from `delivered` to `read`.")
    reply_probability: Probability = Field(
        0.0, description="Chance the doctor replies (a reply implies the message was read)."
    )
    reply_after_seconds: Seconds = Field(2.0, description="Delay from `read` to the reply.")
    sent_status: bool = Field(
        True,
        description="Cloud: post a `sent` status right after each accepted send, as Meta does.",
    )
    send_echo: bool = Field(
        True,
        description="Evolution: post a `send.message` event right after each accepted send.",
    )
    retry_after_seconds: int | None = Field(
        None,
        ge=1,
        description=(
            "Cloud: when set, 130429/131056 answers carry Retry-After, this many seconds or the "
            "time until the send can pass if longer. Unset, like Meta: no header."
        ),
    )
    cloud_require_window: bool = Field(
        True,
        description=(
            "Cloud: free text only inside the 24 h window a doctor's message opens for that "
            "number; outside it 131047, as Meta answers. False accepts free text anywhere."
        ),
    )
    cloud_window_hours: float = Field(
        24.0, gt=0, description="Cloud: how long a doctor's message keeps the window open."
    )
    cloud_number_wabas: dict[str, str] = Field(
        {},
        description=(
            "Cloud: the account (WABA id) of each phone number id; numbers not named belong to "
            "`cloud_waba_id`. A template send is checked against its number's account."
        ),
    )
    seed: int | None = Field(
        None, description="Seeds every random draw (faults, reads, replies, ids) when set."
    )


class SimulatorSettings(BaseSettings, SimulatorConfig, FaultConfig):
    """Everything the simulator reads at start, from ``SIM_``-prefixed environment variables."""

    model_config = SettingsConfigDict(env_prefix="SIM_", extra="forbid")

    cloud_templates: list[TemplateSpec] = Field(
        [],
        description=(
            "Cloud templates registered at start (JSON list of {name, language, category, "
            "status, body, waba_id}); kept across resets, more via POST /_sim/templates."
        ),
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8025, ge=0, le=65535, description="Port to listen on.")

    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig.model_validate(
            self.model_dump(include=set(SimulatorConfig.model_fields))
        )

    def fault_config(self) -> FaultConfig:
        return FaultConfig.model_validate(self.model_dump(include=set(FaultConfig.model_fields)))
