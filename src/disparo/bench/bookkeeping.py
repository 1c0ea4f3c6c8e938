"""What the dispatcher's in-memory bookkeeping costs per message, in Python alone.

    python -m disparo.bench.bookkeeping --messages 4000

Times, with ``timeit`` (the best of ``--repeat`` rounds of ``--number`` passes), the two parts a
send passes through on the event loop besides the provider call and the database:
``Recipients`` (a claim, the admission's read, the answer) and ``count_recorded`` (a flushed
send's metrics). Needs no servers; figures are µs a message on this machine.
"""

import argparse
import random
import timeit
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from disparo_dispatcher.providers.base import Accepted
from disparo_dispatcher.queue import ClaimedMessage
from disparo_dispatcher.recipients import Recipients
from disparo_dispatcher.recording import Batch, count_recorded
from disparo_dispatcher.results import Outcome


def _outcomes(messages: int, now: datetime) -> list[Outcome]:
    rng = random.Random(7)
    outcomes = []
    for i in range(messages):
        phone = f"+55119{rng.randrange(10**8):08d}"
        message = ClaimedMessage(
            uuid4(), phone, "Olá", "campaign", 0, None, None, None, f"sender-{i % 50}", 1, 3,
            "America/Sao_Paulo", now, now - timedelta(seconds=2), None, None, 0, False, None, None,
        )  # fmt: skip
        outcomes.append(Outcome(message.sender_id, message, Accepted("wamid.1"), now))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    now = datetime.now(UTC)
    outcomes = _outcomes(args.messages, now)
    phones = [o.message.phone for o in outcomes]
    batch = Batch(accepted=outcomes)
    confirmed = {o.message.message_id for o in outcomes}

    def recipients() -> None:
        held = Recipients()
        for phone in phones:
            held.last_send(phone, now)
            held.claimed(phone)
        for phone in phones:
            held.answered(phone, now)

    def recorded() -> None:
        count_recorded(batch, confirmed, set())

    for name, work in (("Recipients", recipients), ("count_recorded", recorded)):
        best = min(timeit.repeat(work, number=args.number, repeat=args.repeat))
        print(f"{name}: {best / args.number / args.messages * 1e6:.3f} µs a message")


if __name__ == "__main__":
    main()
