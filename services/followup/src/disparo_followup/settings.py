"""Typed settings of the followup service (env prefix ``DISPARO_FOLLOWUP_``).

Rules are JSON in the environment, e.g.
``DISPARO_FOLLOWUP_RULES='{"primeiro_contato": {"delay": "2d", "max_followups": 2}}'``
(stages left out keep their defaults; the older stage words are accepted too).
"""

from datetime import time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo_followup.rules import DEFAULT_RULES, FollowupRule
from disparo_followup.texts import DEFAULT_TEXTS
from disparo_shared.durations import format_duration, parse_duration
from disparo_shared.events import ConversationStage


class StageRuleSettings(BaseModel):
    delay: str = Field(description="Wait after our last message: 3d, 36h, 1d12h, PT30M…")
    max_followups: int = Field(ge=0, description="Follow-ups at most in this stage.")

    @field_validator("delay")
    @classmethod
    def _a_duration(cls, value: str) -> str:
        parse_duration(value)  # raises, naming what is accepted
        return value


def _default_rule_settings() -> dict[ConversationStage, StageRuleSettings]:
    return {
        stage: StageRuleSettings(
            delay=format_duration(rule.delay), max_followups=rule.max_followups
        )
        for stage, rule in DEFAULT_RULES.items()
    }


class FollowupSettings(BaseSettings):
    """The cadence, the daily job and its summary."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_FOLLOWUP_", extra="ignore")

    port: int = Field(8003, description="HTTP port of health, metrics and the admin API.")
    rules: dict[ConversationStage, StageRuleSettings] = Field(
        default_factory=_default_rule_settings,
        description="Per stage: delay after our last message and the cap (the spec's defaults).",
    )
    run_at: time = Field(time(10, 0), description="Local time of the daily job.")
    timezone: str = Field("America/Sao_Paulo", description="IANA zone of run_at.")
    catch_up_hours: float = Field(
        4.0,
        ge=0,
        description="If the service was down at run_at, run on start when it is at most this late.",
    )
    batch_size: int = Field(
        500, ge=1, le=5000, description="Follow-ups per MessagesRequested event and transaction."
    )
    priority: int = Field(4, ge=1, le=10, description="Send priority of follow-ups (10 = urgent).")
    max_attempts: int = Field(5, ge=1, le=50, description="Send attempts per follow-up.")
    slack_webhook_url: SecretStr | None = Field(
        None, description="Slack incoming webhook for the job's summary; unset means no summary."
    )
    max_deliveries: int = Field(
        20, ge=1, description="Attempts at applying one event before it is dropped with an error."
    )
    dispatcher_url: str = Field(
        "http://127.0.0.1:8002",
        description="Base URL of the dispatcher, asked when a rule set's stage names a Cloud API"
        " template whether it exists, is approved and takes the parameters mapped.",
    )
    dispatcher_api_key: SecretStr | None = Field(
        None,
        description="followup's own X-API-Key for the dispatcher (the read scope is enough);"
        " unset: a rule set naming a template is answered 503, never saved unchecked.",
    )
    dispatcher_timeout_seconds: float = Field(
        5.0, gt=0, description="Timeout of one call to the dispatcher's template registry."
    )

    @field_validator("rules")
    @classmethod
    def _keep_default_stages(
        cls, value: dict[ConversationStage, StageRuleSettings]
    ) -> dict[ConversationStage, StageRuleSettings]:
        return {**_default_rule_settings(), **value}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def followup_rules(self) -> dict[ConversationStage, FollowupRule]:
        return {
            stage: FollowupRule(
                stage, parse_duration(rule.delay), rule.max_followups, DEFAULT_TEXTS[stage]
            )
            for stage, rule in self.rules.items()
        }
