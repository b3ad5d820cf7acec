"""The request context: oslo.context's, usable as an enginefacade context."""

from __future__ import annotations

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """Who is asking; also carries the request's database transaction."""
