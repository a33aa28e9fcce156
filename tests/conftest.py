"""Shared fixtures, and the rule for real parts that are missing.

A test that needs a real part (Chromium, PostgreSQL, ../shared data) skips with the reason
when the part is absent on a developer's machine. Under CI (``CI=true``) every skip is a
failure instead: a missing part must never leave the suite green.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """A real part is missing: skip with the reason (fail under CI)."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing real part fails the run)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which is a failure: {reason}"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        missing(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
