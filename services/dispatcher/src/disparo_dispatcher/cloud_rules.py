"""The Cloud API's send-time rules: the 24-hour customer-service window and templates.

On the official Cloud API free text reaches a doctor only inside the 24 h after their last
message to that number; anything else must be an approved template. At claim time, for a message
on a Cloud sender:

1. the window (``conversation_windows``, fed by inbound webhooks) is open → the free text;
2. closed, and the message carries a template the registry has not seen paused or disabled → the
   template (``ClaimedMessage.as_template``);
3. closed, and no template → held as ``needs_template``: the provider is never called, the
   message waits in 'held' with that reason (``message.failed``, not final, tells reports), and
   goes back in line when the doctor writes (the window opens);
4. closed, and the template is PAUSED / DISABLED in the registry → held as ``template_paused`` /
   ``template_disabled`` until the template is approved again.

Evolution senders (a WhatsApp Web session) have no window and no templates: the text goes.
"""

from datetime import datetime, timedelta

from disparo_dispatcher.admission import Wait
from disparo_dispatcher.queue import HELD, ClaimedMessage, Settlement

CLOUD = "cloud"
WINDOW = timedelta(hours=24)
NEEDS_TEMPLATE = "needs_template"
TEMPLATE_PAUSED = "template_paused"
TEMPLATE_DISABLED = "template_disabled"
STOPPED_TEMPLATE_STATUSES = {"PAUSED": TEMPLATE_PAUSED, "DISABLED": TEMPLATE_DISABLED}
HOLD_REASONS = {
    NEEDS_TEMPLATE: (
        "outside the doctor's 24 h window with this number and the message names no approved "
        "template: waiting for the doctor to write, or for a template"
    ),
    TEMPLATE_PAUSED: "its template is paused by Meta: waiting for it to be approved again",
    TEMPLATE_DISABLED: "its template is disabled by Meta: it cannot be sent through it",
}


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether a doctor who last wrote at ``last_inbound_at`` may get free text at ``now``."""
    return last_inbound_at is not None and now - last_inbound_at < WINDOW


def choose_form(message: ClaimedMessage, provider: str, now: datetime) -> Wait | None:
    """Decide text or template for ``message`` (setting ``as_template``), or how it is held."""
    message.as_template = False
    if provider != CLOUD or window_open(message.last_inbound_at, now):
        return None
    if message.template is None:
        return Wait(hold(message, NEEDS_TEMPLATE), NEEDS_TEMPLATE, publish_failure=True)
    stopped = STOPPED_TEMPLATE_STATUSES.get(message.template_status or "")
    if stopped is not None:
        return Wait(hold(message, stopped), stopped, publish_failure=True)
    message.as_template = True
    return None


def hold(message: ClaimedMessage, reason: str, attempt_change: int = -1) -> Settlement:
    """Held with ``reason``; holding is not failing, so the attempt is handed back."""
    return Settlement(
        message.message_id,
        message.attempt,
        HELD,
        attempt_change=attempt_change,
        error_code=reason,
        error=HOLD_REASONS[reason],
    )
