"""An oslo.policy Enforcer that does its checks once, not on every request.

``oslo_policy.policy.Enforcer.enforce`` begins with ``load_rules``, which
searches the configuration directories for the policy file and every
``policy_dirs`` entry (a dozen ``stat`` calls when there is no file), and
then walks the rule's check tree, inspecting the signature of each check it
calls.  Together that was about a third of a keypair show.

This subclass changes two things, through public methods only:

* ``load_rules`` looks for changed policy files at most once per
  ``RELOAD_INTERVAL`` seconds: a changed policy file takes effect within
  that time instead of on the very next request.
* ``enforce`` remembers what a rule answered for the same target and the
  same credentials, until the next time the rules are looked at.  Only
  rules built from checks that depend on nothing but target, credentials
  and other rules are remembered (``role:``, ``rule:``, generic ``key:value``
  checks, ``@``, ``!``, and/or/not); a rule with an ``http:`` check or a
  check class registered by someone else is evaluated every time.  Only
  allowing answers are kept: a denial is evaluated again, so that it raises
  and logs exactly as oslo.policy does.
"""

from __future__ import annotations

import operator
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from oslo_context import context as oslo_context
from oslo_policy import policy

RELOAD_INTERVAL = 1.0
MAX_DECISIONS = 10_000

# Checks whose answer is a function of (target, credentials, rules) alone.
# oslo.policy names only the composite check classes publicly; the leaf
# classes are those its public parser builds for these rules.
_PURE_LEAVES = tuple(
    type(check)
    for check in policy.Rules.from_dict(
        {"always": "@", "never": "!", "role": "role:r", "generic": "keypairs_probe:%(x)s"}
    ).values()
)


class _Probe(oslo_context.RequestContext):
    """A context that never becomes the thread's current one: oslo.context
    stores a new context there when there is none yet, and log lines would
    then name the probe's values."""

    def update_store(self) -> None:
        pass


def _policy_value_getters() -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
    """Getters of the attributes ``RequestContext.to_policy_values()`` copies,
    the scalars and the lists apart; None if it is more than a copy of them.

    Reading the attributes is a fraction of building that mapping (a
    MutableMapping that warns on deprecated keys) and freezing it item by item.
    """
    probe = _Probe(
        user_id="user_id",
        user_domain_id="user_domain_id",
        system_scope="system_scope",
        domain_id="domain_id",
        project_id="project_id",
        project_domain_id="project_domain_id",
        roles=["roles"],
        is_admin_project=False,
        service_user_id="service_user_id",
        service_user_domain_id="service_user_domain_id",
        service_project_id="service_project_id",
        service_project_domain_id="service_project_domain_id",
        service_roles=["service_roles"],
    )
    values = dict(probe.to_policy_values())
    if not all(getattr(probe, name, None) is value for name, value in values.items()):
        return None
    lists = [name for name, value in values.items() if value.__class__ is list]
    scalars = [name for name in values if name not in lists]
    if len(lists) < 2 or len(scalars) < 2:  # attrgetter of one name returns no tuple
        return None
    return operator.attrgetter(*scalars), operator.attrgetter(*lists)


_POLICY_VALUES = _policy_value_getters()
_STOCK_POLICY_VALUES = oslo_context.RequestContext.to_policy_values


def _frozen(mapping: Mapping[str, Any]) -> Hashable:
    """A hashable image of a flat mapping (lists become tuples); TypeError if not flat."""
    # Building the frozenset hashes every value: a nested dict raises there.
    try:
        return frozenset(mapping.items())
    except TypeError:  # a list among the values, or a nested mapping
        return frozenset(
            (key, tuple(value) if value.__class__ is list else value)
            for key, value in mapping.items()
        )


class CachingEnforcer(policy.Enforcer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_load = 0.0
        self._load_lock = threading.Lock()
        self._decisions: dict[Hashable, Any] = {}
        self._pure: dict[str, bool] = {}

    def load_rules(self, force_reload: bool = False) -> None:
        if not force_reload and time.monotonic() < self._next_load:
            return
        with self._load_lock:
            if not force_reload and time.monotonic() < self._next_load:
                return
            super().load_rules(force_reload)
            self._forget()
            self._next_load = time.monotonic() + RELOAD_INTERVAL

    def register_default(self, default: Any) -> None:
        super().register_default(default)
        # Rules registered after a load join self.rules at the next load:
        # make that the next check, not up to RELOAD_INTERVAL later.
        self._next_load = 0.0

    def set_rules(self, *args: Any, **kwargs: Any) -> None:
        super().set_rules(*args, **kwargs)
        self._forget()

    def clear(self) -> None:
        super().clear()
        self._forget()
        self._next_load = 0.0

    def enforce(
        self,
        rule: Any,
        target: Any,
        creds: Any,
        do_raise: bool = False,
        exc: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        self.load_rules()
        key = self._decision_key(rule, target, creds)
        if key is not None:
            known = self._decisions.get(key)
            if known is not None:
                return known
        result = super().enforce(rule, target, creds, do_raise, exc, *args, **kwargs)
        if key is not None and result:
            if len(self._decisions) >= MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[key] = result
        return result

    # --- helpers ------------------------------------------------------------

    def _forget(self) -> None:
        # Fresh dicts rather than clear(): a thread mid-lookup keeps a
        # consistent (old) view.
        self._decisions = {}
        self._pure = {}

    def _decision_key(self, rule: Any, target: Any, creds: Any) -> Hashable | None:
        if not isinstance(rule, str) or not self._is_pure(rule):
            return None
        try:
            stock = getattr(type(creds), "to_policy_values", None) is _STOCK_POLICY_VALUES
            if stock and _POLICY_VALUES is not None:
                scalars, lists = _POLICY_VALUES
                key: Hashable = (
                    rule,
                    _frozen(target),
                    scalars(creds),
                    *[tuple(v) if v.__class__ is list else v for v in lists(creds)],
                )
                hash(key)  # an unhashable attribute: evaluated, not remembered
                return key
            if isinstance(creds, oslo_context.RequestContext):
                creds = creds.to_policy_values()
            return (rule, _frozen(target), _frozen(creds))
        except (TypeError, AttributeError):
            return None

    def _is_pure(self, name: str) -> bool:
        known = self._pure.get(name)
        if known is None:
            known = self._pure[name] = self._check_is_pure(self.rules.get(name), {name})
        return known

    def _check_is_pure(self, check: Any, seen: set[str]) -> bool:
        if check is None:  # an unknown rule: oslo.policy denies it, always
            return True
        if isinstance(check, policy.RuleCheck):
            if check.match in seen:  # a loop: leave it to oslo.policy
                return False
            return self._check_is_pure(self.rules.get(check.match), seen | {check.match})
        if isinstance(check, (policy.AndCheck, policy.OrCheck)):
            return all(self._check_is_pure(child, seen) for child in check.rules)
        if isinstance(check, policy.NotCheck):
            return self._check_is_pure(check.rule, seen)
        return type(check) in _PURE_LEAVES
