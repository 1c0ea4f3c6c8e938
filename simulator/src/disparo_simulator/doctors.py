"""The simulated doctors on the other end: their names and what they answer (in Portuguese)."""

import random
import zlib

REPLY_TEXTS: tuple[str, ...] = (
    "Tenho interesse!",
    "Qual o valor do plantão?",
    "Pode me mandar mais detalhes?",
    "Agora não, obrigado.",
    "PARAR",
)

_NAMES: tuple[str, ...] = (
    "Dr. Carlos Almeida",
    "Dra. Ana Souza",
    "Dr. Rafael Lima",
    "Dra. Juliana Costa",
    "Dr. Marcos Oliveira",
    "Dra. Fernanda Rocha",
    "Dr. Pedro Santos",
    "Dra. Beatriz Martins",
)


def doctor_name(phone: str) -> str:
    """The profile name shown for ``phone``; the same number always has the same name."""
    return _NAMES[zlib.crc32(phone.encode()) % len(_NAMES)]


def pick_reply(rng: random.Random) -> str:
    return rng.choice(REPLY_TEXTS)
