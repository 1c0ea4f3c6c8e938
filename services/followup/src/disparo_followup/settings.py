"""Typed settings of the followup service (env prefix ``DISPARO_FOLLOWUP_``).

Rules and texts are JSON in the environment, e.g.
``DISPARO_FOLLOWUP_RULES='{"first_contact": {"delay_hours": 48, "max_followups": 3}}'``
(stages left out keep their defaults).
"""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo_followup.rules import DEFAULT_RULES, FollowupRule
from disparo_followup.texts import DEFAULT_TEXTS, unknown_placeholders
from disparo_shared.events import ConversationStage


class StageRuleSettings(BaseModel):
    delay_hours: float = Field(
        gt=0, description="Hours after our last message before following up."
    )
    max_followups: int = Field(ge=0, description="Follow-ups at most in this stage.")


def _default_rule_settings() -> dict[ConversationStage, StageRuleSettings]:
    return {
        stage: StageRuleSettings(
            delay_hours=rule.delay.total_seconds() / 3600, max_followups=rule.max_followups
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
    texts: dict[ConversationStage, str] = Field(
        default_factory=lambda: dict(DEFAULT_TEXTS),
        description="Follow-up text per stage; '{nome}' is the only placeholder.",
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

    @field_validator("rules")
    @classmethod
    def _keep_default_stages(
        cls, value: dict[ConversationStage, StageRuleSettings]
    ) -> dict[ConversationStage, StageRuleSettings]:
        return {**_default_rule_settings(), **value}

    @field_validator("texts")
    @classmethod
    def _only_known_placeholders(
        cls, value: dict[ConversationStage, str]
    ) -> dict[ConversationStage, str]:
        for stage, text in value.items():
            if unknown := unknown_placeholders(text):
                raise ValueError(f"text of {stage}: unknown placeholders {unknown}; only {{nome}}")
        return {**DEFAULT_TEXTS, **value}

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
            stage: FollowupRule(stage, timedelta(hours=rule.delay_hours), rule.max_followups)
            for stage, rule in self.rules.items()
        }
