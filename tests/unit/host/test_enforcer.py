"""The host's policy enforcer: oslo.policy's answers, looked up less often."""

from __future__ import annotations

import os
from typing import Any

import pytest
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_policy import policy

from keypairs_ext.host import enforcer as enforcer_module
from keypairs_ext.host.enforcer import CachingEnforcer

RULES = [
    policy.RuleDefault("is_admin", "role:admin"),
    policy.RuleDefault("own", "rule:is_admin or user_id:%(user_id)s"),
]
OWNER = oslo_context.RequestContext(user_id="alice", project_id="p", roles=["member"])
STRANGER = oslo_context.RequestContext(user_id="bob", project_id="p", roles=["member"])
ADMIN = oslo_context.RequestContext(user_id="root", project_id="p", roles=["admin"])


def make_enforcer(tmp_path: Any, policy_text: str | None = None) -> CachingEnforcer:
    conf = cfg.ConfigOpts()
    conf([], project="keypairs-test")
    policy_file = tmp_path / "policy.yaml"
    if policy_text is not None:
        policy_file.write_text(policy_text)
    enforcer = CachingEnforcer(conf, policy_file=str(policy_file))
    enforcer.register_defaults(RULES)
    return enforcer


def allowed(enforcer: CachingEnforcer, context: Any, user_id: str = "alice") -> bool:
    return bool(enforcer.enforce("own", {"user_id": user_id}, context))


def test_answers_as_oslo_policy_does(tmp_path: Any) -> None:
    enforcer = make_enforcer(tmp_path)
    assert allowed(enforcer, OWNER)
    assert not allowed(enforcer, STRANGER)
    assert allowed(enforcer, ADMIN)
    # The same target and credentials again, now answered from memory.
    assert allowed(enforcer, OWNER) and not allowed(enforcer, STRANGER)
    with pytest.raises(policy.PolicyNotAuthorized, match="own is disallowed by policy"):
        enforcer.authorize("own", {"user_id": "alice"}, STRANGER, do_raise=True)
    assert enforcer.authorize("own", {"user_id": "alice"}, OWNER, do_raise=True)


def test_an_unregistered_rule_is_still_refused(tmp_path: Any) -> None:
    enforcer = make_enforcer(tmp_path)
    with pytest.raises(policy.PolicyNotRegistered):
        enforcer.authorize("nothing", {}, ADMIN, do_raise=True)


def test_a_changed_policy_file_takes_effect_after_the_interval(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enforcer_module, "RELOAD_INTERVAL", 3600.0)
    enforcer = make_enforcer(tmp_path, '"own": "user_id:%(user_id)s"\n')
    assert allowed(enforcer, OWNER) and not allowed(enforcer, ADMIN)

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"own": "role:admin"\n')
    stat = policy_file.stat()
    os.utime(policy_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    # Within the interval the rules are not looked at again ...
    assert allowed(enforcer, OWNER) and not allowed(enforcer, ADMIN)
    # ... once it has passed, the new file decides, remembered answers included.
    monkeypatch.setattr(enforcer, "_next_load", 0.0)
    assert not allowed(enforcer, OWNER)
    assert allowed(enforcer, ADMIN)


def test_set_rules_forgets_remembered_answers(tmp_path: Any) -> None:
    enforcer = make_enforcer(tmp_path)
    assert allowed(enforcer, OWNER)
    enforcer.set_rules(policy.Rules.from_dict({"own": "!"}), overwrite=False)
    assert not allowed(enforcer, OWNER)


def test_rules_with_checks_of_their_own_are_evaluated_every_time(tmp_path: Any) -> None:
    calls: list[str] = []

    class CountingCheck(policy.Check):
        def __call__(self, target: Any, creds: Any, enforcer: Any) -> bool:
            calls.append(self.match)
            return True

    policy.register("counting", CountingCheck)
    enforcer = make_enforcer(tmp_path, '"counted": "rule:own and counting:yes"\n')
    enforcer.register_default(policy.RuleDefault("counted", "counting:yes"))
    for _ in range(3):
        assert enforcer.enforce("counted", {"user_id": "alice"}, OWNER)
        assert allowed(enforcer, OWNER)
    assert calls == ["yes", "yes", "yes"]


def test_unhashable_targets_are_evaluated_not_remembered(tmp_path: Any) -> None:
    enforcer = make_enforcer(tmp_path)
    target = {"user_id": "alice", "extra": {"nested": "dict"}}
    assert enforcer.enforce("own", target, OWNER)
    assert enforcer.enforce("own", target, OWNER)
    assert enforcer._decisions == {}


def test_a_rule_registered_after_the_first_check_applies_at_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enforcer_module, "RELOAD_INTERVAL", 3600.0)
    enforcer = make_enforcer(tmp_path)
    assert allowed(enforcer, OWNER)
    enforcer.register_default(policy.RuleDefault("late", "role:member"))
    assert enforcer.authorize("late", {}, OWNER)
    assert not enforcer.enforce("late", {}, ADMIN)


def test_the_remembered_leaf_checks_are_oslo_policys_pure_ones() -> None:
    # Found through oslo.policy's public parser, never its private module.
    assert sorted(cls.__name__ for cls in enforcer_module._PURE_LEAVES) == [
        "FalseCheck",
        "GenericCheck",
        "RoleCheck",
        "TrueCheck",
    ]


def test_every_policy_value_of_a_context_tells_remembered_answers_apart(tmp_path: Any) -> None:
    # The remembered answer is keyed on the context's attributes, not on the
    # mapping oslo.policy sees: each value of that mapping must count.
    assert enforcer_module._POLICY_VALUES is not None
    enforcer = make_enforcer(tmp_path)
    fields = dict(OWNER.to_policy_values())
    assert len(fields) >= 13
    base = enforcer._decision_key("own", {"user_id": "alice"}, OWNER)
    for name, value in fields.items():
        other = OWNER.from_dict(OWNER.to_dict())
        other.__dict__.update({name: ["x"] if isinstance(value, list) else f"{value}-x"})
        assert enforcer._decision_key("own", {"user_id": "alice"}, other) != base, name
    same = oslo_context.RequestContext(user_id="alice", project_id="p", roles=["member"])
    assert enforcer._decision_key("own", {"user_id": "alice"}, same) == base


def test_a_context_with_an_unhashable_policy_value_is_evaluated(tmp_path: Any) -> None:
    enforcer = make_enforcer(tmp_path)
    odd = oslo_context.RequestContext(user_id="alice", project_id="p", roles=["member"])
    odd.system_scope = {"all": True}  # type: ignore[assignment]
    assert enforcer._decision_key("own", {"user_id": "alice"}, odd) is None
    assert allowed(enforcer, odd)


def test_loading_the_enforcer_leaves_no_current_context() -> None:
    """Log lines name the current request context: the module's own probe of
    oslo.context must never become it."""
    import subprocess
    import sys

    code = (
        "from oslo_context import context\n"
        "import keypairs_ext.host.enforcer\n"
        "print(context.get_current())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "None"
