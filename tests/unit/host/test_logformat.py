"""The host's log formatter writes exactly the lines oslo.log's would."""

from __future__ import annotations

import logging
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oslo_config import cfg
from oslo_context import context as context_utils
from oslo_log import formatters
from oslo_log import log as oslo_logging

from keypairs_ext.host import logformat
from keypairs_ext.host.context import RequestContext

FORMATS = {
    "defaults": {},
    "isotime and summary": {
        "logging_context_format_string": "%(isotime)s %(levelname)s [%(request_id)s "
        "%(user_identity)s] %(message)s %(error_summary)s",
        "logging_default_format_string": "%(isotime)s %(levelname)s [-] %(message)s",
    },
    "no debug suffix, own identity": {
        "logging_debug_format_suffix": "",
        "logging_user_identity_format": "%(user)s/%(project)s %(user_name)s",
    },
    "every optional field": {
        "logging_context_format_string": "%(color)s%(resource)s %(user_name)s %(project_name)s "
        "%(global_request_id)s %(request_id)s %(user_identity)s %(message)s",
        "logging_default_format_string": "%(color)s%(resource)s %(user_name)s %(project_name)s "
        "%(global_request_id)s %(user_identity)s [-] %(instance)s%(message)s",
    },
    "summary in the debug suffix only": {
        "logging_debug_format_suffix": "%(lineno)d %(error_summary)s",
    },
}


def _conf(overrides: dict[str, str]) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    oslo_logging.register_options(conf)
    conf([], project="keypairs-logformat-test")
    for name, value in overrides.items():
        conf.set_override(name, value)
    return conf


def _both(conf: cfg.ConfigOpts) -> tuple[logging.Formatter, logging.Formatter]:
    oslo = formatters.ContextFormatter(project="keypairs", version="1.0", config=conf)
    ours = logformat.ContextFormatter.replacing(oslo)
    assert type(ours) is logformat.ContextFormatter
    return oslo, ours


def _record(level: int, msg: str, args: tuple, extra: dict | None = None, exc: bool = False):
    exc_info = None
    if exc:
        try:
            raise ValueError("the cause")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("keypairs_ext.api", level, "/x.py", 7, msg, args, exc_info)
    record.created = 1764979200.25  # the same instant for both formatters
    record.msecs = 250.0
    for key, value in (extra or {}).items():
        setattr(record, key, value)
    return record


def _same_line(conf, level, msg, args, extra=None, exc=False, current=None):
    """Both formatters' lines for the same record, with ``current`` as the thread's context."""
    oslo, ours = _both(conf)
    if current is not None:
        current.update_store()
    try:
        theirs = oslo.format(_record(level, msg, args, extra, exc))
        mine = ours.format(_record(level, msg, args, extra, exc))
    finally:
        _forget_current()
    assert mine == theirs
    return mine


def _forget_current() -> None:
    # oslo.context keeps the current context in a thread-local and offers no way to clear it.
    vars(context_utils._request_store).pop("context", None)


def _context(**values) -> RequestContext:
    return RequestContext(overwrite=False, **values)


CONTEXTS = {
    "none": None,
    "user and project": _context(user_id="u1", project_id="p1", request_id="req-1"),
    "names and global id": _context(
        user_id="u1",
        project_id="p1",
        user_name="alice",
        project_name="team",
        request_id="req-2",
        global_request_id="req-g",
    ),
    "no request id": _context(user_id="u1", project_id="p1", request_id=""),
    "a resource": _context(user_id="u1", request_id="req-3", resource_uuid="r-1"),
}


@pytest.mark.parametrize("formats", FORMATS.values(), ids=FORMATS)
@pytest.mark.parametrize("context", CONTEXTS.values(), ids=CONTEXTS)
@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR])
@pytest.mark.parametrize("passed", [False, True], ids=["current", "passed"])
def test_lines_equal_oslo_logs(formats, context, level, passed):
    conf = _conf(formats)
    extra = {"context": context} if passed else None
    line = _same_line(
        conf,
        level,
        "Created keypair %s for user %s",
        ("k1", "u1"),
        extra,
        False,
        None if passed else context,
    )
    assert "Created keypair k1 for user u1" in line


@pytest.mark.parametrize(
    "extra",
    [
        {"instance": {"uuid": "i-1"}},
        {"instance_uuid": "i-2"},
        {"context": {"request_id": "req-dict", "user": "u"}},
        {"context": None},
        {"color": "\033[0;32m", "resource": "res"},
    ],
    ids=["instance", "instance uuid", "dict context", "context none", "own fields"],
)
def test_records_oslo_log_formats_itself_read_alike(extra):
    conf = _conf({})
    current = CONTEXTS["user and project"]
    _same_line(conf, logging.INFO, "line %s", ("x",), extra, current=current)


def test_exceptions_and_bad_arguments_read_alike():
    conf = _conf(FORMATS["isotime and summary"])
    current = CONTEXTS["user and project"]
    _same_line(conf, logging.ERROR, "failed %s", ("x",), exc=True, current=current)
    _same_line(conf, logging.INFO, "after %s", ("x",), exc=True, current=current)
    # A message whose arguments do not fit: oslo.log's retry fails too, alike.
    oslo, ours = _both(conf)
    for formatter in (oslo, ours):
        with pytest.raises(TypeError, match="not all arguments converted"):
            formatter.format(_record(logging.INFO, "two %s %s", ("only one",)))


@given(
    user=st.text(max_size=12),
    project=st.one_of(st.none(), st.text(max_size=12)),
    request_id=st.one_of(st.none(), st.text(max_size=12)),
    message=st.text(max_size=30).map(lambda text: text.replace("%", "%%")),
    level=st.sampled_from([logging.DEBUG, logging.INFO]),
)
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_context_reads_alike(user, project, request_id, message, level):
    conf = _conf({})
    context = _context(user_id=user, project_id=project, request_id=request_id)
    _same_line(conf, level, message, (), {"context": context})


def test_install_replaces_only_oslo_logs_formatter():
    logger = logging.getLogger("keypairs-logformat-test")
    conf = _conf({})
    oslo_handler = logging.StreamHandler()
    oslo_handler.setFormatter(formatters.ContextFormatter(project="p", config=conf))
    plain_handler = logging.StreamHandler()
    plain = logging.Formatter("%(message)s")
    plain_handler.setFormatter(plain)
    logger.addHandler(oslo_handler)
    logger.addHandler(plain_handler)
    try:
        logformat.install(logger)
        assert type(oslo_handler.formatter) is logformat.ContextFormatter
        assert oslo_handler.formatter.project == "p"
        assert plain_handler.formatter is plain
    finally:
        logger.removeHandler(oslo_handler)
        logger.removeHandler(plain_handler)
