"""What each use-case error means, for HTTP (``app.py``) and the NATS micro replies (``micro.py``).

The use cases raise their own exceptions and know no transport; this map is the one
place that turns them into an HTTP status (and the same code in a NATS error reply).
An IMAP outage (``DependencyUnavailable``) is a dependency outage: the frame answers 503.
"""

from keybuzz_shared.http import ErrorStatuses

from keybuzz_poller.polling.scheduler import PollBusy, TenantNotPollable
from keybuzz_poller.replies.checks import (
    AttachmentsTooLarge,
    InvalidReply,
    InvalidSettings,
    UnsupportedAttachment,
)
from keybuzz_poller.replies.queueing import CannotReply, ReplyTicketNotFound
from keybuzz_poller.shops.closing import CloseNotSupported
from keybuzz_poller.shops.closing_ports import CloseRefused
from keybuzz_poller.tickets.alerts import InvalidLeadTime
from keybuzz_poller.tickets.deadlines import InvalidResponseWindow, RuleNotOverridable
from keybuzz_poller.tickets.queries import AttachmentNotFound, InvalidQuery, TicketNotFound
from keybuzz_poller.tickets.response_times import InvalidReportQuery

ERROR_STATUSES: ErrorStatuses = {
    InvalidQuery: 400,
    InvalidReportQuery: 400,
    InvalidLeadTime: 400,
    InvalidResponseWindow: 400,
    # A marketplace's own rule is how it measures the seller: not the tenant's to change.
    RuleNotOverridable: 409,
    TicketNotFound: 404,
    AttachmentNotFound: 404,
    TenantNotPollable: 404,
    PollBusy: 409,
    InvalidReply: 400,
    AttachmentsTooLarge: 413,
    UnsupportedAttachment: 415,
    InvalidSettings: 400,
    ReplyTicketNotFound: 404,
    CannotReply: 409,
    # Closing a ticket on its marketplace (a marketplace down is the frame's 503).
    CloseNotSupported: 409,
    CloseRefused: 409,
}
