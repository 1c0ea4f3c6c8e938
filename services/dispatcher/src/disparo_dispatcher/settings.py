"""Typed settings of the dispatcher: the queue's timing, the senders to seed, and every limit.

Read from ``DISPARO_DISPATCHER_*`` environment variables; each field's default works on a
laptop against the simulator. Lists and objects are JSON, e.g.
``DISPARO_DISPATCHER_SENDERS='[{"sender_id":"sim-1","provider":"evolution","address":"sim-1",
"base_url":"http://127.0.0.1:8025","credential_ref":"env:SIM_EVOLUTION_KEY","rate_per_second":80}]'``.
"""

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from disparo_dispatcher.doubt_policy import DEFAULT_POLICIES
from disparo_shared.events.messages import URGENT_PRIORITY

MAX_DAILY_LIMIT = 10_000_000
"""More than a number can send in a day (80 msg/s × 86,400 s ≈ 6.9 million); a larger cap is a
mistake, and would not fit the table's integer."""


class SenderSeed(BaseModel):
    """One WhatsApp number as configuration declares it; upserted into ``senders`` at start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    provider: str = Field(description='"evolution" or "cloud"')
    address: str = Field(
        min_length=1, description="Evolution instance name or Cloud phone-number id"
    )
    base_url: str = Field(min_length=1, description="Provider API root")
    credential_ref: str = Field(
        min_length=1,
        description='"env:NAME" reads the secret from that variable; else the literal (dev)',
    )
    rate_per_second: int = Field(80, ge=1, le=1000)
    daily_limit: int | None = Field(
        None, ge=1, le=MAX_DAILY_LIMIT, description="Messages per day; none = no cap"
    )
    warmup_started_on: date | None = Field(
        None, description="First day of the warm-up ramp; none = a mature number"
    )
    waba_id: str | None = Field(
        None, description="Cloud: the WhatsApp Business Account whose templates it sends"
    )
    portfolio: str | None = Field(
        None,
        description="Cloud: the business portfolio sharing one messaging tier (default: waba_id)",
    )
    display_phone_number: str | None = Field(
        None, description="Cloud: the number as Meta's quality webhooks name it, e.g. 5511955550001"
    )


class DispatcherSettings(BaseSettings):
    """Everything the dispatcher reads at start."""

    model_config = SettingsConfigDict(env_prefix="DISPARO_DISPATCHER_", extra="ignore")

    port: int = Field(8002, description="HTTP port of `python -m disparo_dispatcher`.")
    default_messaging_tier: str = Field(
        "TIER_250",
        description=(
            "A Cloud portfolio's messaging tier until Meta's webhook names it (a row of "
            "messaging_tiers: TIER_250, TIER_2K, TIER_10K, TIER_100K, TIER_UNLIMITED)"
        ),
    )
    senders: list[SenderSeed] = Field(
        default_factory=list,
        description="Senders upserted at start (JSON list); the API can add and change more.",
    )
    credential_variables: list[str] = Field(
        default_factory=list,
        description="Names of the variables that hold provider tokens; a sender's credential_ref"
        ' may only be env:NAME with NAME in this list (JSON list, e.g. ["EVOLUTION_RECIFE_KEY"]).',
    )
    provider_hosts: list[str] = Field(
        default_factory=lambda: ["graph.facebook.com"],
        description="Hosts a sender's base_url may point at, exactly (add your Evolution"
        " server's); https only outside DISPARO_ENV=dev/test.",
    )
    replica_id: str | None = Field(
        None, description="This process's name in leases; a random one when unset."
    )

    # --- LGPD retention ---------------------------------------------------------------------
    message_retention_days: int = Field(
        30,
        ge=1,
        description="Days after a message was sent or cancelled before its phone and text are "
        "blanked (dead messages keep theirs to be re-queued); idle phones are forgotten too.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the retention jobs run."
    )

    # --- the archive of finished messages (archive.py) --------------------------------------
    archive_after_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a sent, dead or cancelled message stays in the hot queue table "
        "after it finished before it moves to messages_archive.",
    )
    archive_interval_seconds: float = Field(
        5.0,
        ge=0,
        description="How often finished messages are moved to the archive; 0 turns moving off "
        "(the hot table then keeps every message until retention).",
    )
    archive_batch_size: int = Field(
        5_000, ge=1, description="Messages moved per statement (one transaction each)."
    )
    archive_retention_days: int = Field(
        40,
        ge=1,
        description="Days after a message finished before it is deleted from the archive, with "
        "its idempotency key: a request redelivered later would be sent again, so keep it longer "
        "than the streams keep events (DISPARO_NATS_MAX_AGE_DAYS, 30).",
    )
    erasure_check_seconds: float = Field(
        30.0,
        gt=0,
        description="How often an erasure that met a send in flight checks whether it is over.",
    )

    # --- intake ---------------------------------------------------------------------------
    intake_concurrency: int = Field(
        2,
        ge=1,
        le=50,
        description="messages.requested events persisted at once while this replica sends "
        "nothing (one JetStream pull asks for this many); while it sends, one at a time: the "
        "intake only has to stay ahead of sending, with which it shares the process and "
        "Postgres (see intake_gate).",
    )

    # --- claiming, leases, flushing -------------------------------------------------------
    sender_lease_seconds: float = Field(
        10.0, gt=0, description="How long a replica's hold on a sender lasts without renewal."
    )
    sender_lease_renew_seconds: float = Field(
        2.0, gt=0, description="How often leases are renewed and senders rebalanced."
    )
    message_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a claimed message stays 'sending' before another replica may "
        "reclaim it. A claimed message is sent only while its lease still covers the longest "
        "provider call (timeout + typing + 2 s); otherwise it goes back in line unsent.",
    )
    claim_interval_seconds: float = Field(
        0.2,
        gt=0,
        description="Pause between claims; a commit that queues an urgent message wakes the "
        "claim at once. Shorter claims each take fewer messages for the same fixed cost.",
    )
    claim_lookahead_seconds: float = Field(
        0.5,
        gt=0,
        description="Each sender holds at most this many seconds of sends claimed ahead; "
        "small keeps pauses and urgent replies prompt.",
    )
    claim_batch_max: int = Field(2000, ge=1, description="Upper bound of one claim statement.")
    flush_interval_seconds: float = Field(
        0.05, gt=0, description="How long send results wait before their batch is written."
    )
    flush_batch_max: int = Field(1000, ge=1, description="Results written per transaction at most.")
    reclaim_sending_as: str = Field(
        "resolve",
        pattern="^(resolve|retry|dead)$",
        description="What a crashed replica's in-flight messages become: 'resolve' (in doubt until "
        "an echo, the provider's search or the kind's policy settles them: see in_doubt), "
        "'retry' (at least once: the provider may have sent them) or 'dead' (at most once, "
        "re-queue by hand).",
    )
    provider_echoes: bool = Field(
        True,
        description="The providers post a sent-echo for every send they take (Cloud `sent` "
        "status, Evolution `send.message` webhook), so a doubt waits the grace for one. Off: no "
        "sender's doubt waits for an echo.",
    )
    senders_without_echoes: list[str] = Field(
        default_factory=list,
        description="Sender ids whose provider posts no sent-echo (e.g. an Evolution instance "
        "without the SEND_MESSAGE webhook event): their doubts wait for no echo.",
    )
    provider_lookup: bool = Field(
        True,
        description="Ask Evolution (POST /chat/findMessages/{instance}) whether a doubtful send "
        "went out, instead of waiting out the grace. Needs the instance to store what it sends "
        "(DATABASE_SAVE_DATA_NEW_MESSAGE, Evolution's default). Cloud has no such search.",
    )
    senders_without_lookup: list[str] = Field(
        default_factory=list,
        description="Sender ids whose Evolution instance keeps no messages: never asked.",
    )
    in_doubt_lookup_after_seconds: float = Field(
        3.0,
        gt=0,
        description="How long after a doubt began its provider is first asked: a send it lists "
        "settles the doubt as sent at once; its absence proves nothing yet (see "
        "provider_processing_horizon_seconds).",
    )
    provider_processing_horizon_seconds: float = Field(
        30.0,
        ge=0,
        description="How long after we gave up on a call the provider may still take it (an "
        "overloaded provider keeps the request in its queue and sends it later). Before this "
        "has passed since the doubt began, the provider's search saying 'not sent' does not "
        "prove the send absent, and no doubt is sent again by its kind's policy.",
    )
    in_doubt_policy: dict[str, Literal["at_most_once", "at_least_once"]] = Field(
        default_factory=lambda: dict(DEFAULT_POLICIES),
        description="Per message kind, what a doubt nothing could settle becomes: 'at_most_once' "
        "holds it 'in_doubt' for a person (counted in the report, requeued with POST "
        "/v1/in-doubt/requeue), 'at_least_once' sends it again. Unnamed kinds: at most once.",
    )
    in_doubt_grace_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a doubtful send of a sender that echoes waits for its echo before "
        "its kind's policy applies. Must exceed the providers' webhook latency, backlog included.",
    )
    in_doubt_resolve_interval_seconds: float = Field(
        1.0, gt=0, description="How often doubtful sends are matched to the echoes received."
    )
    echo_match_skew_seconds: float = Field(
        2.0,
        ge=0,
        description="Slack around an attempt's window when matching an Evolution echo by its "
        "text (its timestamp is in whole seconds; clocks differ).",
    )
    echo_retention_seconds: float = Field(
        86400.0,
        gt=0,
        description="How long provider echoes are kept (one row per send) for resolving doubts.",
    )
    provider_timeout_seconds: float = Field(
        10.0, gt=0, description="Read timeout of provider calls."
    )
    max_in_flight: int = Field(
        128,
        ge=1,
        description="Provider calls one replica keeps in flight at most, all senders together: "
        "past it, senders wait for answers, so an overloaded replica keeps its event loop (lease "
        "renewals, flushes, webhooks) responsive instead of piling up calls that time out.",
    )
    urgent_priority: int = Field(
        URGENT_PRIORITY,
        ge=1,
        le=10,
        description="Priority from which a message may use urgent_in_flight_reserve (a reply). "
        "Which requests are persisted out of turn is fixed by the kernel's URGENT_PRIORITY "
        "(their publishers choose the subject).",
    )
    urgent_in_flight_reserve: int = Field(
        16,
        ge=0,
        description="Calls past max_in_flight kept for urgent messages, so a reply never waits "
        "for a campaign's calls to be answered.",
    )
    http_connections_per_sender: int = Field(
        100,
        ge=1,
        description="Upper bound of each sender's provider connection pool (sized to its rate).",
    )
    metrics_refresh_seconds: float = Field(
        5.0, gt=0, description="Queue-depth gauge refresh period."
    )
    # A check reads the statistics collector only. At 10 s a fresh campaign's first ~100,000
    # rows were claimed on statistics of an empty table: 76–104 µs a claimed message in the first
    # 10 s of a run against 59–64 at 2 s (``disparo bench dispatch --messages 200000``).
    table_care_interval_seconds: float = Field(
        2.0,
        ge=0,
        description="How often the queue's hot tables are checked for a vacuum or analyse that "
        "autovacuum has not done (table_care.py); 0 turns the check off.",
    )
    table_care_min_rows: int = Field(
        50_000,
        ge=1,
        description="Rows dead or changed since the last pass below which a table is left alone.",
    )
    table_care_fraction: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Share of a table's live rows dead or changed that calls for a pass, when "
        "larger than table_care_min_rows.",
    )

    # --- per sender -----------------------------------------------------------------------
    spacing_jitter: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="Gaps between one sender's sends vary by ± this share of 1/rate, so the "
        "rhythm never looks machine-made; the per-second cap holds regardless.",
    )
    warmup_daily_caps: list[int] = Field(
        default_factory=lambda: [
            50,
            50,
            100,
            100,
            200,
            200,
            400,
            400,
            800,
            800,
            1500,
            1500,
            3000,
            3000,
        ],
        description=(
            "Messages allowed on warm-up day 1, 2, …; after the last entry no ramp applies."
        ),
    )
    pause_sender_seconds: float = Field(
        6 * 3600.0, gt=0, description="How long a sender rests after a spam-limit answer (131048)."
    )
    typing_indicator: bool = Field(
        True, description="Send Evolution's typing `delay` sized to the text."
    )

    # --- per recipient --------------------------------------------------------------------
    pair_spacing_seconds: float = Field(
        6.0, ge=0, description="Minimum time between two messages to the same recipient."
    )
    recipient_campaign_max_per_day: int = Field(
        2, ge=1, description="Campaign messages one recipient may get per day."
    )
    opt_out_reason_provider: str = Field(
        "provider_131050", description="Reason published when the provider reports an opt-out."
    )

    # --- quiet hours ------------------------------------------------------------------------
    time_zone: str = Field(
        "America/Sao_Paulo", description="Zone of recipients whose zone is unknown, and of 'today'."
    )
    send_window_start: time = Field(time(8, 0), description="Earliest local time to send.")
    send_window_end: time = Field(time(20, 0), description="Local time after which sends wait.")
    send_on_weekdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5],
        description="ISO weekday numbers minus one (Monday=0) on which sending is allowed.",
    )
    quiet_hours_exempt_kinds: list[str] = Field(
        default_factory=lambda: ["reply"],
        description="Message kinds sent at any hour (a reply answers a doctor who just wrote).",
    )

    # --- retries ----------------------------------------------------------------------------
    retry_base_seconds: float = Field(
        5.0, gt=0, description="Backoff ceiling after the first failure."
    )
    retry_max_seconds: float = Field(
        3600.0, gt=0, description="Backoff ceiling never exceeds this."
    )

    # --- fairness ---------------------------------------------------------------------------
    campaign_rank_step_ms: float = Field(
        1.0,
        gt=0,
        description="Virtual time between consecutive messages of one campaign; campaigns of one "
        "priority interleave by it.",
    )

    def echoes_from(self, sender_id: str) -> bool:
        """Whether ``sender_id``'s provider tells us every send it takes (see ``in_doubt``)."""
        return self.provider_echoes and sender_id not in self.senders_without_echoes

    def looks_up(self, sender_id: str) -> bool:
        """Whether ``sender_id``'s provider may be asked what it sent (Evolution only)."""
        return self.provider_lookup and sender_id not in self.senders_without_lookup

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> "DispatcherSettings":
        # 6 s is the typing indicator's cap (providers.typing_indicator), 2 s the margin.
        longest_call = self.provider_timeout_seconds + (6.0 if self.typing_indicator else 0.0) + 2.0
        if self.message_lease_seconds <= longest_call + self.claim_lookahead_seconds:
            raise ValueError(
                "message_lease_seconds must exceed"
                f" {longest_call + self.claim_lookahead_seconds:g} "
                "(provider timeout + typing + margin + claim lookahead)"
            )
        return self

    @model_validator(mode="after")
    def _echoes_outlive_a_doubt(self) -> "DispatcherSettings":
        longest_doubt = self.message_lease_seconds + self.in_doubt_grace_seconds
        if self.echo_retention_seconds <= longest_doubt:
            raise ValueError(
                f"echo_retention_seconds must exceed {longest_doubt:g} "
                "(message lease + in-doubt grace)"
            )
        return self
