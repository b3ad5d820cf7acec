"""oslo.log's context formatter, with the service's everyday records formatted in one pass.

Every create and delete writes an INFO line (who created or deleted which
key), and oslo.log's :class:`~oslo_log.formatters.ContextFormatter` was
the largest part of a create's own work after the database: per record it
reads the context's logging values twice, computes an ISO timestamp that
the default formats never print, reads its format options from the
configuration and builds a new ``PercentStyle``.

:class:`ContextFormatter` gives the same lines.  A record below WARNING,
without an exception and without an instance, whose context is absent or
an oslo.context ``RequestContext`` (the service's own lines) is formatted
here: the context read once, the styles built once, ``isotime`` set only
when a configured format uses it.  Every other record (warnings and
errors with their summaries, tracebacks, instances, dict contexts) goes
through oslo.log's own ``format``.  The format options are read once:
none of them is mutable, so a configuration reload does not change them.
A test holds the output equal to oslo.log's.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_context import context as context_utils
from oslo_log import formatters

# Record fields oslo.log sets to '' when neither the record nor the context
# has them ("instance" too, which ``format`` sets to '' outright, as oslo.log does).
_DEFAULT_EMPTY = (
    "color",
    "user_identity",
    "resource",
    "user_name",
    "project_name",
    "global_request_id",
)
_ERROR_SUMMARY = "%(error_summary)s"


class ContextFormatter(formatters.ContextFormatter):
    """oslo.log's ``ContextFormatter`` with a one-pass path for everyday records."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conf = self.conf
        self._context_format = conf.logging_context_format_string
        self._default_format = conf.logging_default_format_string
        self._debug_suffix = conf.logging_debug_format_suffix
        self._identity_format = conf.logging_user_identity_format
        self._needs_isotime = any(
            "%(isotime)" in (text or "")
            for text in (
                self._context_format,
                self._default_format,
                self._debug_suffix,
                conf.logging_exception_prefix,
            )
        )
        self._styles: dict[tuple[bool, bool], tuple[logging.PercentStyle, bool]] = {}

    @classmethod
    def replacing(cls, formatter: logging.Formatter | None) -> logging.Formatter | None:
        """This class in place of oslo.log's own ``formatter``; any other is kept."""
        if type(formatter) is not formatters.ContextFormatter:
            return formatter
        return cls(
            project=formatter.project,
            version=formatter.version,
            datefmt=formatter.datefmt,
            config=formatter.conf,
        )

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        context = fields["context"] if "context" in fields else context_utils.get_current()
        if (
            record.levelno >= logging.WARNING
            or record.exc_info
            or fields.get("instance")
            or fields.get("instance_uuid")
            or not (context is None or isinstance(context, context_utils.RequestContext))
            or _names_an_instance(context)
        ):
            return super().format(record)
        record.project = self.project
        record.version = self.version
        if context is not None:
            values = context.get_logging_values()
            fields.update(values)
            fields["user_identity"] = self._identity_format % formatters._ReplaceFalseValue(values)
        fields["instance"] = ""
        for key in _DEFAULT_EMPTY:
            fields.setdefault(key, "")
        with_context = bool(fields.get("request_id"))
        style, prints_summary = self._style_for(with_context, record.levelno == logging.DEBUG)
        # Below WARNING oslo.log's summary is empty, or '-' where the format prints it.
        record.error_summary = "-" if prints_summary else ""
        if self._needs_isotime:
            self._compute_iso_time(record)
        self._style = style
        self._fmt = style._fmt
        try:
            return logging.Formatter.format(self, record)
        except TypeError as err:
            record.msg = f"Error formatting log line msg={record.msg!r} err={err!r}".replace(
                "%", "*"
            )
            return logging.Formatter.format(self, record)

    def _style_for(self, with_context: bool, debug: bool) -> tuple[logging.PercentStyle, bool]:
        """The style of a record, and whether its format (before any debug
        suffix, as oslo.log looks) prints the error summary."""
        key = (with_context, debug)
        found = self._styles.get(key)
        if found is None:
            fmt = self._context_format if with_context else self._default_format
            prints_summary = _ERROR_SUMMARY in fmt
            if debug and self._debug_suffix:
                fmt += " " + self._debug_suffix
            found = self._styles[key] = (logging.PercentStyle(fmt), prints_summary)
        return found


def _names_an_instance(context: Any) -> bool:
    return bool(
        getattr(context, "instance", None)
        or getattr(context, "instance_uuid", None)
        or getattr(context, "resource_uuid", None)
    )


def install(logger: logging.Logger | None = None) -> None:
    """Put :class:`ContextFormatter` on ``logger``'s handlers (the root's by
    default) wherever oslo.log set up its own."""
    for handler in (logger or logging.getLogger()).handlers:
        replaced = ContextFormatter.replacing(handler.formatter)
        if replaced is not handler.formatter:
            handler.setFormatter(replaced)
