"""The message bus: OpenStack Compute's notifications through oslo.messaging.

The configuration is Nova's: ``[DEFAULT] transport_url`` and ``host``,
``[oslo_messaging_notifications] driver``, ``topics`` and ``retry``,
``[notifications] notification_format`` and
``versioned_notifications_topics``, exchange ``nova``.  Without a driver
nothing is sent, no broker is contacted, and oslo.messaging (half a second
and a dozen megabytes to import) is not even loaded.

The bus never holds up the API.  Events go to oslo.messaging on one
background thread per process, in the order they were submitted; the
extension's ``notify`` only queues them.  While the bus is healthy, the
host waits at the end of each request until the request's events are
handed over (Nova publishes inside the request), but at most
``[notifications] send_wait`` seconds; once a send fails or takes longer,
requests stop waiting until a send succeeds again.  Events wait in a queue of at most
``[notifications] max_queued``; beyond it they are dropped.  What happens to
an event that cannot be sent is oslo.messaging's ``retry`` setting: -1
keeps trying (the queue holds the rest), N gives up after N attempts.
oslo.messaging logs each failed send with its payload; on the background
thread those lines are replaced by one warning per outage and one line when
the bus answers again.
"""

from __future__ import annotations

import collections
import datetime
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from oslo_config import cfg

from keypairs_ext.host.contract import LEGACY, VERSIONED, Notifier

LOG = logging.getLogger(__name__)

#: Nova's exchange (``[DEFAULT] control_exchange``)
EXCHANGE = "nova"
#: the group of oslo.messaging's notification options
BUS_GROUP = "oslo_messaging_notifications"
#: publisher ids: ``api.<host>`` (legacy) and ``nova-api:<host>`` (versioned)
LEGACY_SERVICE = "api"
VERSIONED_BINARY = "nova-api"

host_opts: list[cfg.Opt] = [
    cfg.HostDomainOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<current_hostname>",
        help="Name of this API host in notifications: their publisher ids are "
        "'api.<host>' and 'nova-api:<host>', as OpenStack Compute's.",
    ),
]

notification_opts: list[cfg.Opt] = [
    cfg.StrOpt(
        "notification_format",
        default="unversioned",
        choices=[
            ("both", "Both the legacy unversioned and the versioned notifications."),
            ("versioned", "Only the versioned notifications."),
            ("unversioned", "Only the legacy unversioned notifications."),
        ],
        help="Which notification streams to send (OpenStack Compute's option "
        "and default). Nothing is sent unless [oslo_messaging_notifications] "
        "driver is set.",
    ),
    cfg.ListOpt(
        "versioned_notifications_topics",
        default=["versioned_notifications"],
        help="Topics of the versioned notifications. The legacy ones go to "
        "[oslo_messaging_notifications] topics.",
    ),
    cfg.FloatOpt(
        "send_wait",
        default=0.5,
        min=0,
        help="Longest time, in seconds, a request waits at its end for its "
        "notifications to be handed to the message bus. After a send fails or "
        "takes longer, requests stop waiting until a send succeeds again. 0 "
        "never waits: notifications follow the response.",
    ),
    cfg.IntOpt(
        "max_queued",
        default=1000,
        min=1,
        help="Most notifications a process holds while the message bus does not "
        "take them; further ones are dropped (and counted in the log).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """The host's own options: ``[DEFAULT] host`` and ``[notifications]``."""
    conf.register_opts(host_opts)
    conf.register_opts(notification_opts, group="notifications")


def set_bus_defaults() -> None:
    """Nova's exchange as the default of oslo.messaging's ``control_exchange``."""
    import oslo_messaging

    oslo_messaging.set_transport_defaults(control_exchange=EXCHANGE)


def register_bus_opts(conf: cfg.ConfigOpts) -> None:
    """oslo.messaging's options (transport, driver, topics, rabbit...).

    Imports oslo.messaging, so the host calls it only where a configuration
    file has an ``[oslo_messaging_notifications]`` section.
    """
    from oslo_messaging import opts as messaging_opts

    set_bus_defaults()
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    return [("DEFAULT", host_opts), ("notifications", notification_opts)]


def build_notifier(conf: cfg.ConfigOpts) -> Notifier:
    """The host's notifier: a :class:`BusNotifier` when a driver is configured."""
    if BUS_GROUP not in conf and BUS_GROUP not in conf.list_all_sections():
        return Notifier()
    register_bus_opts(conf)
    if not [d for d in conf[BUS_GROUP].driver if d != "noop"]:
        return Notifier()
    import oslo_messaging

    # A malformed URL stops the service now, not at the first event.
    oslo_messaging.TransportURL.parse(conf, conf[BUS_GROUP].transport_url or conf.transport_url)
    return BusNotifier(conf)


class BusNotifier(Notifier):
    """Nova's two notifiers, fed through a :class:`Publisher`."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        fmt = conf.notifications.notification_format
        self._streams = {
            LEGACY: fmt in ("unversioned", "both"),
            VERSIONED: fmt in ("versioned", "both"),
        }
        self._publisher = Publisher(
            lambda: _connect(conf),
            wait=conf.notifications.send_wait,
            max_queued=conf.notifications.max_queued,
        )

    def enabled(self, stream: str) -> bool:
        return self._streams.get(stream, False)

    def notify(
        self,
        context: Any,
        stream: str,
        event_type: str,
        payload: Mapping[str, Any],
        priority: str = "INFO",
    ) -> None:
        if not self.enabled(stream):
            return

        def send(notifiers: Mapping[str, Any]) -> None:
            getattr(notifiers[stream], priority.lower())(context, event_type, dict(payload))

        self._publisher.submit(send)

    def settle(self) -> None:
        """Called by the host at the end of each request."""
        self._publisher.settle()

    def close(self) -> None:
        self._publisher.close()


class _Connection:
    """A notification transport and one oslo.messaging Notifier per stream."""

    def __init__(self, transport: Any, notifiers: dict[str, Any]) -> None:
        self.transport = transport
        self.notifiers = notifiers


def _connect(conf: cfg.ConfigOpts) -> _Connection:
    import oslo_messaging

    transport = oslo_messaging.get_notification_transport(conf)
    serializer = _ContextSerializer()
    return _Connection(
        transport,
        {
            LEGACY: oslo_messaging.Notifier(
                transport, f"{LEGACY_SERVICE}.{conf.host}", serializer=serializer
            ),
            VERSIONED: oslo_messaging.Notifier(
                transport,
                f"{VERSIONED_BINARY}:{conf.host}",
                serializer=serializer,
                topics=conf.notifications.versioned_notifications_topics,
            ),
        },
    )


class _ContextSerializer:
    """The context as Nova's ``to_dict`` shows it; payloads pass unchanged.

    oslo.messaging hands over its redacted copy (no token).  Nova's context
    adds these keys to oslo.context's, so consumers that read them find them.
    """

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        if not hasattr(ctxt, "to_dict"):
            return dict(ctxt or {})
        values = ctxt.to_dict()
        values.update(
            user_id=ctxt.user_id,
            project_id=ctxt.project_id,
            user_name=ctxt.user_name or ctxt.user_id,
            project_name=ctxt.project_name or ctxt.project_id,
            remote_address=None,
            timestamp=datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(),
            read_deleted="no",
            service_catalog=[],
            quota_class=None,
        )
        values["auth_token"] = None
        return values

    def deserialize_context(self, ctxt: Any) -> Any:
        return ctxt


# --- The background publisher --------------------------------------------------

_Send = Callable[[Mapping[str, Any]], None]


class _PublisherThread(threading.Thread):
    """The thread that talks to the bus; oslo.messaging's errors on it are counted."""

    def __init__(self, publisher: Publisher) -> None:
        super().__init__(name="notifications", daemon=True)
        self.publisher = publisher

    def run(self) -> None:
        self.publisher.run()


class _OutageFilter(logging.Filter):
    """Turns oslo.messaging's per-send error lines on a publisher thread into
    a signal to that publisher; other threads' lines pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        thread = threading.current_thread()
        if not isinstance(thread, _PublisherThread) or record.levelno < logging.WARNING:
            return True
        # The notifier modules' lines mean the event is lost (and carry its
        # payload); the driver's mean the connection is in trouble.
        lost = ".notify." in record.name
        if record.exc_info and record.exc_info[1] is not None:
            reason = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        elif lost:
            reason = "the notification could not be sent"
        else:
            reason = record.getMessage()
        thread.publisher.trouble(reason[:300], lost)
        return False


_FILTER = _OutageFilter()
_FILTER_INSTALLED = threading.Event()
# oslo.messaging's modules that log a failed send; those that log through
# oslo.log are named "oslo.messaging..." rather than "oslo_messaging...".
_WATCHED_MODULES = (
    "notify.notifier",
    "notify.messaging",
    "_drivers.impl_rabbit",
    "_drivers.amqpdriver",
    "_drivers.pool",
    "_drivers.impl_kafka",
)
_WATCHED_LOGGERS = tuple(
    f"{package}.{module}"
    for module in _WATCHED_MODULES
    for package in ("oslo_messaging", "oslo.messaging")
)


class Publisher:
    """Runs ``send`` callables on one background thread per process, in order."""

    def __init__(self, connect: Callable[[], _Connection], wait: float, max_queued: int) -> None:
        self._connect = connect
        self._wait = wait
        self._max_queued = max_queued
        self._cond = threading.Condition()
        self._pending: collections.deque[_Send] = collections.deque()
        # the last event each request thread submitted
        self._mine = threading.local()
        self._submitted = 0
        self._handled = 0
        self._pid = 0
        self._thread: _PublisherThread | None = None
        self._closing = False
        self._healthy = True
        self._dropped = 0
        self._lost_now = False
        self._clean_now = True

    # --- request threads ---------------------------------------------------------

    def submit(self, send: _Send) -> None:
        """Queue ``send``; never waits (see :meth:`settle`)."""
        with self._cond:
            self._start_here()
            if len(self._pending) >= self._max_queued:
                self._dropped += 1
                self._outage(f"{self._max_queued} notifications are already waiting")
                return
            self._pending.append(send)
            self._submitted += 1
            self._mine.ticket = self._submitted
            self._cond.notify_all()

    def settle(self) -> None:
        """Wait until what this thread submitted is sent: not at all while
        the bus is failing, and at most ``wait`` seconds."""
        ticket = getattr(self._mine, "ticket", 0)
        if not ticket or self._wait <= 0:
            return
        self._mine.ticket = 0
        with self._cond:
            if self._pid != os.getpid():
                return
            deadline = time.monotonic() + self._wait
            while self._healthy and self._handled < ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._outage(f"a send took longer than {self._wait} s")
                    break
                self._cond.wait(remaining)

    def close(self) -> None:
        """Stop the thread after what is pending, waiting at most ``wait``; close the bus."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread if self._pid == os.getpid() else None
        # Wait while the thread makes progress (a command may have queued
        # many), but no longer than ``wait`` without any.
        while thread is not None and thread.is_alive():
            handled = self._handled
            thread.join(max(self._wait, 0.1))
            if self._handled == handled or not self._healthy:
                break

    def _start_here(self) -> None:
        # Threads do not survive fork: a worker starts its own on first use.
        if self._pid == os.getpid():
            return
        if not _FILTER_INSTALLED.is_set():
            for name in _WATCHED_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _FILTER_INSTALLED.set()
        self._pid = os.getpid()
        self._pending.clear()
        self._submitted = self._handled = 0
        self._thread = _PublisherThread(self)
        self._thread.start()

    def _outage(self, reason: str) -> None:
        """Requests stop waiting; said once per outage.  Called holding the lock."""
        if self._healthy:
            self._healthy = False
            LOG.warning(
                "Notifications are not reaching the message bus (%s). Requests no "
                "longer wait for it; until it answers, notifications are kept (at "
                "most %d) or dropped as [oslo_messaging_notifications] retry says.",
                reason,
                self._max_queued,
            )
        self._cond.notify_all()

    # --- the publisher thread ------------------------------------------------------

    def trouble(self, reason: str, lost: bool) -> None:
        """oslo.messaging reported an error while sending (from the filter)."""
        with self._cond:
            self._clean_now = False
            self._lost_now = self._lost_now or lost
            self._outage(reason)

    def run(self) -> None:
        connection: _Connection | None = None
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._closing:
                        self._cond.wait()
                    if not self._pending:
                        return
                    send = self._pending[0]
                    self._lost_now, self._clean_now = False, True
                try:
                    if connection is None:
                        connection = self._connect()
                    send(connection.notifiers)
                except Exception as exc:  # never let one event stop the thread
                    self.trouble(f"{type(exc).__name__}: {exc}"[:300], lost=True)
                self._done()
        finally:
            if connection is not None:
                connection.transport.cleanup()

    def _done(self) -> None:
        with self._cond:
            self._pending.popleft()
            self._handled += 1
            if self._lost_now:
                self._dropped += 1
            elif self._clean_now and not self._healthy:
                self._healthy = True
                LOG.warning(
                    "Notifications reach the message bus again; %d were dropped meanwhile.",
                    self._dropped,
                )
                self._dropped = 0
            self._cond.notify_all()
