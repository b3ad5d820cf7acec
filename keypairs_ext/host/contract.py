"""The host contract: what an extension implements and what the host offers it.

This module is the whole interface between the reference host and its
extensions.  It imports nothing else from ``keypairs_ext.host`` so that an
extension (or another host) can depend on it alone.

An extension is a class registered under the entry-point group
``EXTENSION_GROUP``.  The host selects extensions by :attr:`Extension.alias`
(``[api] enabled_extensions``), checks the identity attributes, and builds one
instance with :class:`HostServices`.  Everything the extension adds to the
API is declared by the methods below; the host calls nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

EXTENSION_GROUP = "keypairs_ext.host.extensions"

#: identity attributes every extension class must define as non-empty strings
IDENTITY_ATTRIBUTES = ("name", "alias", "namespace", "updated", "description")


# --- Errors -----------------------------------------------------------------
# Extensions raise these (or subclasses); the host maps each class to one
# HTTP fault.  They carry a message for the user and nothing about HTTP.


class APIError(Exception):
    """Base of every error an extension may raise to end a request."""

    message = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        text = message if message is not None else self.message
        if kwargs:
            text = text % kwargs
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class Invalid(APIError):
    message = "Invalid input received."


class Forbidden(APIError):
    message = "Policy doesn't allow this operation to be performed."


class NotFound(APIError):
    message = "Resource could not be found."


class Conflict(APIError):
    message = "There was a conflict when trying to complete your request."


class QuotaExceeded(APIError):
    """Over a quota: answered as 403, as OpenStack Compute does."""

    message = "Quota exceeded."


class NotAcceptable(APIError):
    """A requested version (compute or extension) is outside the supported range."""

    message = "Version not supported."


class ServiceUnavailable(APIError):
    message = "The service is temporarily unavailable."


# --- Text the databases can hold ----------------------------------------------


def storable(text: str) -> bool:
    """Whether every backend can hold ``text``: no NUL, no lone surrogate.

    PostgreSQL refuses NUL in text and no driver encodes a lone surrogate.
    A value that cannot be stored cannot name a stored record either, so a
    lookup with one should find nothing rather than fail in the driver.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- Requests and responses -------------------------------------------------


@dataclasses.dataclass(frozen=True, order=True)
class Version:
    """A microversion ``major.minor``."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        major, _, minor = text.partition(".")
        return cls(int(major), int(minor))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def matches(self, low: str | None = None, high: str | None = None) -> bool:
        """True when ``low <= self <= high`` (either bound may be omitted)."""
        # Called for every field of every listed item: bounds are parsed once.
        here = (self.major, self.minor)
        if low is not None and here < _bound(low):
            return False
        return not (high is not None and here > _bound(high))


@functools.lru_cache(maxsize=1024)
def _bound(text: str) -> tuple[int, int]:
    version = Version.parse(text)
    return (version.major, version.minor)


@dataclasses.dataclass
class ApiRequest:
    """What a route handler receives.

    ``context`` is an ``oslo_context.context.RequestContext`` (with
    ``user_id``, ``project_id``, ``is_admin``) that also works as the
    transaction context of :attr:`HostServices.database`.
    """

    context: Any
    version: Version
    #: True on the legacy ``/v2`` and ``/v1.1`` endpoints (relaxed 2.0 rules)
    legacy: bool
    #: path parameters of the matched route, already URL-decoded
    path_params: Mapping[str, str]
    #: query parameters as (name, value) pairs in request order
    query: list[tuple[str, str]]
    #: the decoded body (from JSON or XML), or None when there is none
    body: Any
    #: the request URL without its query string, as the client sent it
    url: str
    #: the query string as sent
    query_string: str
    #: versions requested for extension contracts, e.g. {"keypairs": Version(1, 1)}
    extension_versions: Mapping[str, Version] = dataclasses.field(default_factory=dict)

    def query_values(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]


@dataclasses.dataclass(frozen=True)
class RawBody:
    """A response body sent as these bytes, not serialised (e.g. a binary file)."""

    data: bytes
    media_type: str = "application/octet-stream"


@dataclasses.dataclass
class ApiResponse:
    status: int
    #: a JSON-serialisable value, or :class:`RawBody` for bytes sent as they are
    body: Any = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


Handler = Callable[[ApiRequest], ApiResponse]


@dataclasses.dataclass(frozen=True)
class Route:
    """One URL an extension serves, relative to the API root.

    ``path`` is a template such as ``/os-keypairs/{name}``; the host mounts it
    under ``/v2.1``, ``/v2.1/{project_id}`` and (with ``legacy`` rules) under
    ``/v2/{project_id}`` and ``/v1.1/{project_id}``.  ``legacy_only`` routes
    are mounted on the legacy prefixes alone.
    """

    method: str
    path: str
    handler: Handler
    legacy_only: bool = False
    #: XML element name of a list item on the legacy endpoints
    xml_list_item: str | None = None
    #: served only to requests that opt in to this extension contract
    #: (``OpenStack-API-Version: <contract> X.Y``); absent for the others
    contract: str | None = None
    #: with ``contract``: served only from this contract version on; a
    #: request at an earlier version sees the API as if it were absent
    contract_min_version: str | None = None

    def serves(self, contract_version: Version) -> bool:
        """Whether a request at ``contract_version`` of ``contract`` sees this route."""
        return contract_version.matches(self.contract_min_version)


# --- Server integration ------------------------------------------------------


@dataclasses.dataclass
class ServerHookInput:
    """What a server create or rebuild hook sees.

    ``body`` is the validated ``server`` (or ``rebuild``) object; hooks read
    it and never change it.  ``contribution`` is this extension's own part of
    the instance record: a JSON-serialisable dict that the host stores with
    the instance and hands back to the view and metadata hooks.  Other
    extensions' parts are not visible.
    """

    context: Any
    version: Version
    body: Mapping[str, Any]
    contribution: dict[str, Any]
    #: extension contract versions the request opted in to, as in
    #: :attr:`ApiRequest.extension_versions`: a hook refuses the properties of
    #: a contract version the request did not ask for
    extension_versions: Mapping[str, Version] = dataclasses.field(default_factory=dict)


# --- Notifications -------------------------------------------------------------

#: OpenStack Compute's unversioned stream: publisher ``api.<host>``, the
#: topics of ``[oslo_messaging_notifications] topics``, free-form payloads
LEGACY = "legacy"
#: the versioned stream: publisher ``nova-api:<host>``, the topics of
#: ``[notifications] versioned_notifications_topics``, payloads in the
#: ``nova_object`` envelope
VERSIONED = "versioned"


class Notifier:
    """The host's message bus, as an extension sees it.

    The host owns the broker connection and its configuration; the extension
    says what happened, in order, and never waits on the bus: ``notify``
    queues the event, and the host bounds how long a request waits for its
    events to be sent.  ``context`` is the request's context: the host sends a
    redacted copy (never the caller's token).  ``payload`` must be plain
    JSON data.  This base class sends nothing; it is what a host without a
    bus offers.
    """

    def enabled(self, stream: str) -> bool:
        """Whether events of ``stream`` (:data:`LEGACY` or :data:`VERSIONED`) are sent."""
        return False

    def notify(
        self,
        context: Any,
        stream: str,
        event_type: str,
        payload: Mapping[str, Any],
        priority: str = "INFO",
    ) -> None:
        """Publish one event on ``stream`` with ``priority`` (``INFO``, ``ERROR``...)."""

    def close(self) -> None:
        """Send what is waiting (briefly) and close the broker connection."""


@dataclasses.dataclass
class ServerEvent:
    """A server's create, rebuild or delete, after the host committed it.

    Delivered to :meth:`Extension.on_server_created`, ``on_server_rebuilt``
    and ``on_server_deleted`` once the instance record is written (or gone),
    so an extension can keep records of its own about servers, such as which
    servers use a keypair.  ``contribution`` is this extension's part of the
    instance record: as stored after a create or rebuild, as it was before a
    delete.  ``created_at`` is the server's creation time (naive UTC).
    """

    context: Any
    server_id: str
    name: str
    created_at: datetime.datetime
    contribution: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Command:
    """An operator command: ``keypairs-manage <category> <name> [arguments]``.

    ``add_arguments(parser)`` adds the command's options to its argparse
    parser.  ``run(extension, arguments)`` runs it on the built, enabled
    extension (``arguments`` has one attribute per option, named by its
    ``dest``) and returns the exit status.
    """

    category: str
    name: str
    help: str
    add_arguments: Callable[[Any], None]
    run: Callable[[Any, Any], int]


# --- What the host offers -----------------------------------------------------


#: the execution option of an engine whose statements the host rewrites or
#: observes, e.g. with a trace comment (see :attr:`HostServices.autocommit`)
STATEMENT_HOOKS = "keypairs_statement_hooks"


@dataclasses.dataclass
class HostServices:
    """Handed to an extension's constructor."""

    #: the host's ``oslo_config.cfg.ConfigOpts``; extensions register their
    #: own options on it (never on the global ``cfg.CONF``)
    conf: Any
    #: an ``oslo_db.sqlalchemy.enginefacade`` transaction context manager;
    #: use ``database.reader.using(request.context)`` / ``writer``.  Its
    #: engines raise oslo.db's exceptions (``DBDuplicateEntry``,
    #: ``DBDeadlock``, ``DBConnectionError``) and apply every ``[database]``
    #: option of the host's configuration.
    database: Any
    #: the host's ``oslo_policy.policy.Enforcer``; the extension's rules from
    #: :meth:`Extension.list_rules` are registered on it before construction
    policy: Any
    #: the highest compute microversion this host serves
    max_version: Version
    #: the most items one page of a paged list may hold (``[api] max_limit``)
    max_limit: int
    #: ``validate(schema, instance)``: JSON-schema validation that raises
    #: :class:`Invalid` with OpenStack Compute's wording; compiled schemas
    #: are cached, so pass module-level schema objects
    validate: Callable[[dict, Any], None]
    #: optional: a SQLAlchemy ``Engine`` on the same database as ``database``
    #: for work that is one statement or one short explicit transaction
    #: (``BEGIN`` ... ``COMMIT`` sent as statements; ``BEGIN IMMEDIATE`` on
    #: SQLite).  The host promises: its connections are in autocommit mode
    #: and pooled; they are not pinged before use, so work on them that
    #: raises ``oslo_db.exception.DBConnectionError`` may be run once more on
    #: a new connection; its errors are translated by oslo.db's exception
    #: filters, as ``database``'s are; and each connection gets every
    #: ``[database]`` session setting ``database``'s connections get (SQLite
    #: pragmas, MySQL ``sql_mode`` and ``wsrep_sync_wait``).  While the host
    #: rewrites or observes its statements (``[database] connection_trace``),
    #: the engine carries the execution option :data:`STATEMENT_HOOKS` set to
    #: True: send every statement through SQLAlchemy's ``execute`` then, not
    #: on the driver's cursor.  None where the host offers none; use
    #: ``database`` then.
    autocommit: Any = None
    #: the message bus (:class:`Notifier`); the base class, which sends
    #: nothing, where the host has none or none is configured
    notifier: Notifier = dataclasses.field(default_factory=Notifier)


# --- The extension -------------------------------------------------------------


class Extension:
    """Base class of an extension.  Override what the extension provides."""

    name: ClassVar[str]
    alias: ClassVar[str]
    namespace: ClassVar[str]
    updated: ClassVar[str]
    description: ClassVar[str]

    #: names of the properties this extension adds to the server create and
    #: rebuild bodies.  The host uses them to name the extension when one is
    #: sent while the extension is disabled.
    server_properties: ClassVar[tuple[str, ...]] = ()

    #: the extension's own contract versions (``OpenStack-API-Version:
    #: <contract_name> X.Y``), or None when it has no extended contract
    contract_name: ClassVar[str | None] = None
    contract_min_version: ClassVar[str | None] = None
    contract_max_version: ClassVar[str | None] = None

    def __init__(self, services: HostServices) -> None:
        self.services = services

    # Configuration and policy (class-level so generators need no instance).

    @classmethod
    def register_opts(cls, conf: Any) -> None:
        """Register this extension's options on ``conf``."""

    @classmethod
    def list_rules(cls) -> Iterable[Any]:
        """oslo.policy rule defaults of this extension."""
        return ()

    @classmethod
    def commands(cls) -> list[Command]:
        """Operator commands this extension adds to the host's management tool."""
        return []

    @classmethod
    def migrations(cls) -> str | None:
        """Path of this extension's alembic script directory, or None."""
        return None

    # HTTP surface.

    def routes(self) -> list[Route]:
        """Every URL this extension serves."""
        return []

    # Server integration.

    def server_create_schema(self, version: Version) -> dict[str, Any]:
        """JSON-schema properties this extension adds to ``server`` at ``version``."""
        return {}

    def server_rebuild_schema(self, version: Version) -> dict[str, Any]:
        """JSON-schema properties this extension adds to ``rebuild``."""
        return {}

    def on_server_create(self, hook: ServerHookInput) -> None:
        """Fill ``hook.contribution`` for a new instance; raise APIError to refuse."""

    def on_server_rebuild(self, hook: ServerHookInput) -> None:
        """Update ``hook.contribution`` on rebuild."""

    def on_server_created(self, event: ServerEvent) -> None:
        """A server was created (after commit).  An error here is logged by
        the host and does not undo the server; see :class:`ServerEvent`."""

    def on_server_rebuilt(self, event: ServerEvent) -> None:
        """A server was rebuilt (after commit); ``event.contribution`` is the new one."""

    def on_server_deleted(self, event: ServerEvent) -> None:
        """A server was deleted (after commit); ``event.contribution`` is what it had."""

    def server_view(self, contribution: Mapping[str, Any], version: Version) -> dict:
        """Fields this extension adds to a server's view."""
        return {}

    def server_extended_view(
        self, contribution: Mapping[str, Any], contract_version: Version
    ) -> dict:
        """Fields added to a server's view for a request that opted in to this
        extension's contract (at ``contract_version``), beside
        :meth:`server_view`'s; never shown to a compatible request."""
        return {}

    def server_filters(self) -> Mapping[str, Callable[[Mapping[str, Any], str], bool]]:
        """Query filters for ``GET /servers``: name -> predicate(contribution, value)."""
        return {}

    def instance_metadata(self, contribution: Mapping[str, Any]) -> dict[str, Any]:
        """Keys this extension adds to ``openstack/*/meta_data.json``."""
        return {}

    def instance_files(self, contribution: Mapping[str, Any]) -> dict[str, bytes]:
        """Files this extension adds under ``openstack/<version>/``, by name.

        Rendered on every read (unlike the snapshot in ``contribution``), so
        a file can say what is true now; served as ``application/octet-stream``.
        """
        return {}

    def ec2_metadata(self, contribution: Mapping[str, Any]) -> dict[str, Any]:
        """Entries this extension adds under the EC2 ``meta-data/`` tree.

        A dict is a directory, a string a file.  A directory dict may carry a
        ``"_name"`` entry: its listing line in the parent directory.
        """
        return {}

    def extension_record(self) -> dict[str, Any]:
        """Extra, opt-in facts for ``/extensions/{alias}`` (never in the plain record)."""
        return {}
