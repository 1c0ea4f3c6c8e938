"""How long each free-text field of an event may be, so no single field can swell an event.

Lists are capped by count (``MAX_MESSAGES_PER_EVENT``) and batches split by bytes
(``sizing.py``); these caps bound the text inside. Each is well above what the HTTP edge that
feeds the field already allows (a contact's name: 200 characters at the contacts API, 1,000
here), so no event a service builds from checked input is refused, while an oversized field
from a client that publishes on the bus directly is refused where the event is parsed, naming
the field. Worked example: a 2,000-message ``messages.requested`` at these caps stays within the
768 KiB split size only because batches split by bytes; a single message is at most ~10 KB.
"""

PHONE = 32  # E.164 is at most 16 characters ("+" and 15 digits)
KEY = 300  # idempotency keys: "client:" plus the API's 255, or "campaign:<uuid>:<uuid>"
NAME = 1000  # a person's or a campaign's name, a specialty, a region, who acted
REASON = 2000  # why someone opted out, took over, cancelled
CODE = 200  # machine words: reasons, rule names, time zones
PROVIDER_ID = 256  # the id a provider gives a message (Cloud's "wamid.…" is ~60 characters)
INBOUND_BODY = 65536  # the longest text WhatsApp lets a person send
