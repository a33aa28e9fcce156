"""keyfolio user add|list|disable and serve's refusals (thin wrappers over keyfolio.db.users)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from keyfolio.cli import build_app
from keyfolio.db import close_db, history
from keyfolio.db.engine import ENV_VAR
from keyfolio.db.users import authenticate
from keyfolio.workspace import Workspace

app = build_app()
runner = CliRunner()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert runner.invoke(app, ["init", str(tmp_path / "w")]).exit_code == 0
    workspace = Workspace.open(tmp_path / "w")
    yield workspace
    close_db(workspace)


def test_user_add_list_disable(ws: Workspace) -> None:
    root = str(ws.root)
    add = ["user", "add", root, "Ann@Example.com", "--role", "lead", "--by", "boot"]
    result = runner.invoke(app, add, input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "added ann@example.com (lead)" in result.output
    assert authenticate(ws, "ann@example.com", "a long password") is not None
    again = runner.invoke(app, add, input="a long password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    listed = runner.invoke(app, ["user", "list", root, "--json"])
    assert [u["email"] for u in json.loads(listed.output)] == ["ann@example.com"]
    result = runner.invoke(app, ["user", "disable", root, "ann@example.com", "--by", "boot"])
    assert result.exit_code == 0 and "disabled ann@example.com" in result.output
    assert authenticate(ws, "ann@example.com", "a long password") is None
    assert [e.action for e in history(ws, "user")] == ["add", "disable"]
    assert runner.invoke(app, ["user", "disable", root, "x@y.z"]).exit_code == 1


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "boss"], "a long password\n", "a role must be one of"),
        (["--role", "viewer"], "short\n", "at least 8 characters"),
    ],
)
def test_user_add_refusals_are_one_line(
    ws: Workspace, args: list[str], stdin: str, message: str
) -> None:
    result = runner.invoke(app, ["user", "add", str(ws.root), "v@example.com", *args], input=stdin)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_serve_needs_a_user(ws: Workspace) -> None:
    result = runner.invoke(app, ["serve", str(ws.root)])
    assert result.exit_code == 1 and "no users yet" in result.output


def test_serve_answers(ws: Workspace) -> None:
    """The real server: uvicorn builds the app with the factory from serve's settings."""
    add = ["user", "add", str(ws.root), "a@example.com", "--role", "admin", "--by", "boot"]
    assert runner.invoke(app, add, input="a long password\n").exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-c", "from keyfolio.cli import main; main()", "serve"]
    server = subprocess.Popen(
        [*command, str(ws.root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login?format=json", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        assert response.status_code == 200 and response.json()["csrf_token"]
        denied = httpx.get(f"http://127.0.0.1:{port}/", headers={"accept": "application/json"})
        assert denied.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
