"""``keypairs-manage keypairs expired [--older-than DAYS] [--delete]``.

Lists, oldest expiry first, the keypairs whose expiry has passed (by more
than DAYS days), one tab-separated line each: user id, name, expires_at
(UTC), UUID.  With ``--delete`` each is deleted as the API's forced delete
does (the user's quota is released, servers keep their copy of the key).

Safe to run from cron while the API serves: it reads in batches by the
``key_pairs_expires_at_idx`` index, each delete is its own short
transaction, and a keypair deleted meanwhile by someone else is skipped.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade

from keypairs_ext import exception, notification_payloads, notifications
from keypairs_ext.api import lifecycle
from keypairs_ext.host.contract import Command

BATCH = 500


@enginefacade.transaction_context_provider
class _OperatorContext(context.RequestContext):
    """An admin context for work that comes from no request."""


def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--older-than",
        dest="older_than",
        type=float,
        default=0.0,
        metavar="DAYS",
        help="only keypairs that expired more than DAYS days ago (default 0)",
    )
    parser.add_argument("--delete", dest="delete", action="store_true", help="delete them as well")
    parser.add_argument(
        "--batch-size",
        dest="batch_size",
        type=int,
        default=BATCH,
        help=f"keypairs read per query (default {BATCH})",
    )


def expired(extension: Any, arguments: Any) -> int:
    if arguments.older_than < 0 or arguments.batch_size < 1:
        print("keypairs-manage: --older-than must be >= 0 and --batch-size >= 1", file=sys.stderr)
        return 2
    store = extension.store
    ctx = _OperatorContext(is_admin=True, overwrite=False)
    before = lifecycle.now() - datetime.timedelta(days=arguments.older_than)
    after = None
    listed = deleted = 0
    events = notifications.KeypairEvents(
        extension.services.notifier, extension.services.conf.keypairs.extended_notifications
    )
    while True:
        rows = store.expired_batch(ctx, before, after, arguments.batch_size)
        for row in rows:
            print(f"{row.user_id}\t{row.name}\t{lifecycle.timestamp(row.expires_at)}\t{row.uuid}")
            listed += 1
            if arguments.delete:
                try:
                    store.delete_unused(ctx, row, force=True)
                    deleted += 1
                    events.extended(
                        ctx,
                        "keypair.expired.delete",
                        "KeypairExpiredPayload",
                        notification_payloads.keypair_expired(row),
                    )
                except exception.KeypairNotFound:
                    pass  # deleted meanwhile
        sys.stdout.flush()
        if len(rows) < arguments.batch_size:
            break
        after = (rows[-1].expires_at, rows[-1].id)
    summary = f"{listed} expired keypair(s)"
    if arguments.delete:
        summary += f", {deleted} deleted"
    print(summary, file=sys.stderr)
    return 0


COMMANDS = [
    Command(
        category="keypairs",
        name="expired",
        help="List (and with --delete, delete) keypairs whose expiry has passed",
        add_arguments=_arguments,
        run=expired,
    )
]
