"""Where a message template goes wrong, for highlighting (pure).

campaign-api refuses a template naming the unknown placeholders ("unknown placeholder {nme};
allowed: …"); the editor marks each of them where it stands in the text:
``mark_unknown("Olá {nme}!", ["unknown placeholder {nme}; …"])`` is
``[("Olá ", False), ("{nme}", True), ("!", False)]``.
"""

import re

_NAMED = re.compile(r"\{[^{}\s]+\}")


def mark_unknown(template: str, reasons: list[str]) -> list[tuple[str, bool]]:
    wrong = {
        m.group(0)
        for reason in reasons
        if "placeholder" in reason
        for m in _NAMED.finditer(reason.split(";")[0])
    }
    if not wrong:
        return [(template, False)]
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _NAMED.finditer(template):
        if match.group(0) in wrong:
            parts.append((template[position : match.start()], False))
            parts.append((match.group(0), True))
            position = match.end()
    parts.append((template[position:], False))
    return [p for p in parts if p[0]]
