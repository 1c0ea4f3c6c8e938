"""Counters of what the simulator answered, the evidence a benchmark reads at the end of a run."""

from dataclasses import dataclass, field

from disparo_simulator.outcomes import Verdict


@dataclass(slots=True)
class SenderStats:
    """Per sending number: accepted sends, and the peak in any sliding 1-second window."""

    accepted: int = 0
    max_per_second: int = 0
    violations: int = 0


@dataclass(slots=True)
class Stats:
    """Counts of every verdict; ``violations`` are the sends that broke a WhatsApp limit."""

    accepted: int = 0
    duplicates: int = 0
    throttled: int = 0
    pair_limited: int = 0
    errors_5xx: int = 0
    timeouts: int = 0
    permanent: int = 0
    opted_out: int = 0
    template_required: int = 0
    spam_limited: int = 0
    sender_locked: int = 0
    lookups: int = 0  # Evolution findMessages searches answered
    marketing_limited: int = 0
    template_errors: dict[str, int] = field(default_factory=dict)  # by verdict, e.g. 132015's
    by_sender: dict[str, SenderStats] = field(default_factory=dict)

    def count_accepted(self, sender: str, in_window: int, duplicate: bool) -> None:
        """Count an accepted send; ``in_window`` is the sender's count in the last second."""
        self.accepted += 1
        if duplicate:
            self.duplicates += 1
        sender_stats = self._sender(sender)
        sender_stats.accepted += 1
        sender_stats.max_per_second = max(sender_stats.max_per_second, in_window)

    def count_deferred_failure(self, sender: str, in_window: int, verdict: Verdict) -> None:
        """Count a send answered 200 that will fail by webhook (``async_failures``).

        It is counted under its refusal (``permanent``, ``opted_out``, ``template_required``),
        not as accepted, because it never reaches the phone; but it took a slot of the sender's
        throughput, so it counts towards ``max_per_second``.
        """
        self.count_refused(sender, verdict)
        sender_stats = self._sender(sender)
        sender_stats.max_per_second = max(sender_stats.max_per_second, in_window)

    def count_refused(self, sender: str, verdict: Verdict) -> None:
        """Count a send that was not accepted, under its verdict."""
        match verdict:
            case _ if verdict.startswith("template_") and verdict != Verdict.TEMPLATE_REQUIRED:
                self.template_errors[verdict.value] = self.template_errors.get(verdict.value, 0) + 1
            case Verdict.THROTTLED:
                self.throttled += 1
                self._sender(sender).violations += 1
            case Verdict.PAIR_LIMITED:
                self.pair_limited += 1
                self._sender(sender).violations += 1
            case Verdict.SERVER_ERROR:
                self.errors_5xx += 1
            case Verdict.TIMEOUT:
                self.timeouts += 1
            case Verdict.PERMANENT:
                self.permanent += 1
            case Verdict.OPTED_OUT:
                self.opted_out += 1
            case Verdict.TEMPLATE_REQUIRED:
                self.template_required += 1
            case Verdict.SPAM_LIMITED:
                self.spam_limited += 1
            case Verdict.SENDER_LOCKED:
                self.sender_locked += 1
            case Verdict.MARKETING_LIMITED:
                self.marketing_limited += 1
            case Verdict.ACCEPTED:
                raise ValueError("accepted sends are counted by count_accepted")

    def _sender(self, sender: str) -> SenderStats:
        sender_stats = self.by_sender.get(sender)
        if sender_stats is None:
            sender_stats = self.by_sender[sender] = SenderStats()
        return sender_stats

    def as_json(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "throttled": self.throttled,
            "pair_limited": self.pair_limited,
            "violations": self.throttled + self.pair_limited,
            "errors_5xx": self.errors_5xx,
            "timeouts": self.timeouts,
            "permanent": self.permanent,
            "opted_out": self.opted_out,
            "template_required": self.template_required,
            "spam_limited": self.spam_limited,
            "sender_locked": self.sender_locked,
            "lookups": self.lookups,
            "marketing_limited": self.marketing_limited,
            "template_errors": dict(self.template_errors),
            "by_sender": {
                sender: {
                    "accepted": s.accepted,
                    "max_per_second": s.max_per_second,
                    "violations": s.violations,
                }
                for sender, s in self.by_sender.items()
            },
        }
