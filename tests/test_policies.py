"""Policy versions in the app database (SQLite and PostgreSQL), audited."""

from __future__ import annotations

import pytest

from keyfolio.db import history
from keyfolio.db.overrides import ConcurrentChangeError
from keyfolio.db.policies import (
    MAX_POLICY_BYTES,
    OUTSIDE,
    NoSuchVersion,
    current,
    diff_policies,
    save_policy,
    version,
    versions,
)
from keyfolio.errors import PolicyError
from keyfolio.policy import Policy, parse_policy, template_text
from keyfolio.workspace import Workspace
from test_db import pg_cluster, ws  # noqa: F401  (the both-backends fixtures)

TEXT = template_text()


def _refuse_unknown(policy: Policy) -> None:
    for rule in policy.selection.never:
        if "nope" in rule:
            raise PolicyError(f"selection.never: unknown column 'nope' in {rule!r}")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _policy_file(workspace: Workspace, text: str = TEXT) -> None:
    workspace.root.mkdir(parents=True, exist_ok=True)
    workspace.policy_path.write_text(text, encoding="utf-8")


def test_save_records_the_file_first_then_versions(ws: Workspace) -> None:  # noqa: F811
    _policy_file(ws)
    state = current(ws)
    assert state.newest is None and state.edited_outside and state.version == 0
    edited = _edit(TEXT, "keep_margin = 5", "keep_margin = 7")
    saved = save_policy(ws, edited, "lead@example.com", " wider margin ", 0, check=None)
    assert saved.number == 2 and saved.note == "wider margin"
    assert [(v.number, v.who) for v in versions(ws)] == [(1, OUTSIDE), (2, "lead@example.com")]
    assert version(ws, 1).text == TEXT and ws.policy_path.read_text(encoding="utf-8") == edited
    state = current(ws)
    assert not state.edited_outside and state.version == 2
    entries = history(ws, "policy")
    assert [(e.entity_id, e.action, e.who) for e in entries] == [
        ("1", "record", OUTSIDE), ("2", "save", "lead@example.com")]  # fmt: skip
    assert entries[1].before["text"] == TEXT and entries[1].after["text"] == edited


def test_hand_edit_is_recorded_before_the_next_save(ws: Workspace) -> None:  # noqa: F811
    _policy_file(ws)
    save_policy(ws, TEXT, "lead", "", None, check=None)
    by_hand = _edit(TEXT, "keep_margin = 5", "keep_margin = 6")
    ws.policy_path.write_text(by_hand, encoding="utf-8")
    assert current(ws).edited_outside
    save_policy(ws, _edit(TEXT, "keep_margin = 5", "keep_margin = 9"), "lead", "", 1, check=None)
    texts = [(v.number, v.who, v.text) for v in versions(ws)]
    assert texts[1] == (2, OUTSIDE, by_hand) and texts[2][0] == 3


def test_stale_save_is_refused_naming_who_and_when(ws: Workspace) -> None:  # noqa: F811
    _policy_file(ws)
    save_policy(ws, TEXT, "alice@example.com", "", 0, check=None)  # the file as it is: 1
    other = _edit(TEXT, "keep_margin = 5", "keep_margin = 8")
    with pytest.raises(ConcurrentChangeError, match=r"changed by alice@example.com at \d{4}-.*"
                       r"version 1; you edited version 0\); reload"):  # fmt: skip
        save_policy(ws, other, "bob@example.com", "", 0, check=None)
    assert len(versions(ws)) == 1 and ws.policy_path.read_text(encoding="utf-8") == TEXT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_edit(TEXT, "keep_margin = 5", 'keep_margin = "five"'), "selection.keep_margin: expected"),
        (_edit(TEXT, "never = [", 'never = [\n  "nope > 1",'), "unknown column 'nope'"),
        (TEXT + "\n" + "#" * MAX_POLICY_BYTES, "expected at most 256 KiB"),
        ("[selection\n", "not valid TOML"),
    ],
)
def test_bad_policy_refused_and_nothing_saved(
    ws: Workspace,  # noqa: F811
    text: str,
    message: str,
) -> None:
    _policy_file(ws)
    with pytest.raises(PolicyError, match=message):
        save_policy(ws, text, "lead", "", 0, check=_refuse_unknown)
    assert versions(ws) == [] and ws.policy_path.read_text(encoding="utf-8") == TEXT


def test_missing_version(ws: Workspace) -> None:  # noqa: F811
    _policy_file(ws)
    with pytest.raises(NoSuchVersion, match="no policy version 3; there are no versions yet"):
        version(ws, 3)
    save_policy(ws, _edit(TEXT, "keep_margin = 5", "keep_margin = 6"), "lead", "", 0, check=None)
    with pytest.raises(NoSuchVersion, match="there are versions 1 to 2"):
        version(ws, 3)


def test_diff_policies_names_what_changed() -> None:
    a = parse_policy(TEXT)
    text = _edit(TEXT, "keep_margin = 5", "keep_margin = 6")
    text = _edit(text, "attractiveness_cut = 50", "attractiveness_cut = 55")
    b = parse_policy(text)
    crits = [c.model_copy(update={"weight": 9.0}) if i == 0 else c
             for i, c in enumerate(b.attractiveness[:-1])]  # fmt: skip
    b = b.model_copy(update={"attractiveness": crits, "selection": b.selection.model_copy(
        update={"never": [*b.selection.never[1:], "revenue < 0"]})})  # fmt: skip
    changes = {(c.section, c.key): (c.before, c.after) for c in diff_policies(a, b)}
    first, last = a.attractiveness[0], a.attractiveness[-1]
    assert changes[("weights", f"attractiveness.{first.name}.weight")] == (first.weight, 9.0)
    assert changes[("criteria", f"attractiveness.{last.name}")] == (last.source, None)
    assert changes[("cuts", "matrix.attractiveness_cut")] == (50.0, 55.0)
    assert changes[("capacity", "selection.keep_margin")] == (5.0, 6.0)
    assert ("rules", "selection.never") in changes
    assert diff_policies(a, a) == []
