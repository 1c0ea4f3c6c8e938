"""Provider message ids that look like the real ones and never repeat within a process.

Evolution ids are uppercase hex starting ``3EB0`` (as Baileys makes them), e.g.
``3EB0A1F29C0D4E000001``; Cloud ids are ``wamid.`` plus base64, e.g. ``wamid.NTUxMTk4…``.
A process-wide counter inside each id keeps it unique even after a reset reseeds the generator.
"""

import base64
import itertools
import random
import string

_TRACE_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    """Makes provider message ids and Graph ``fbtrace_id`` values."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._counter = itertools.count(1)

    def evolution_message_id(self) -> str:
        return f"3EB0{self._rng.getrandbits(40):010X}{next(self._counter):06X}"

    def cloud_message_id(self, wa_id: str) -> str:
        raw = f"{wa_id}:{next(self._counter)}:{self._rng.getrandbits(64):016X}".encode()
        return "wamid." + base64.b64encode(raw).decode()

    def fbtrace_id(self) -> str:
        return "".join(self._rng.choices(_TRACE_ALPHABET, k=11))
