"""The `kb` command line: init is idempotent, tokens, import with a report, export round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data dir on a real SQLite file for CLI runs."""
    data = tmp_path / "var"
    monkeypatch.setenv("KB_DATA_DIR", str(data))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return data


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_init_twice_loads_the_demo_once(cli_env: Path) -> None:
    code, out = _run("init")
    assert code == 0, out
    first = json.loads(out)
    assert first["demo_entries"]["created"] >= 40
    assert (cli_env / "kb.sqlite3").exists()
    tokens = json.loads((cli_env / "demo-tokens.json").read_text("utf-8"))
    assert len(tokens) >= 5
    code, out = _run("init")
    second = json.loads(out)
    assert second["demo_entries"] == {"unchanged": first["demo_entries"]["created"]}
    assert second["new_demo_tokens"] is False


def test_token_create_requires_a_department_for_editors(cli_env: Path) -> None:
    _run("init", "--no-demo")
    code, out = _run("token", "create", "--role", "editor")
    assert code == 2 and "department_required" in out
    code, out = _run("token", "create", "--role", "editor", "--department", "hrss")
    assert code == 0
    assert json.loads(out)["token"].startswith("kb_")


def test_faq_sheet_import_reports_rejected_rows_and_keeps_good_ones(cli_env: Path) -> None:
    _run("init", "--no-demo")
    code, out = _run("entries", "import", str(DATA / "entries" / "faq.csv"))
    assert code == 1  # some rows were rejected
    report = json.loads(out)
    assert report["counts"]["created"] == 1
    rejected = {r["row"]: r["error"] for r in report["rejected"]}
    assert rejected == {
        3: "department_not_found",
        4: "validation_error",
        5: "validation_error",
        6: "validation_error",
    }
    assert all(r["detail"] for r in report["rejected"])


def test_export_reimports_to_the_same_state(cli_env: Path, tmp_path: Path) -> None:
    _run("init")
    out_file = tmp_path / "export.jsonl"
    code, _ = _run("entries", "export", "-o", str(out_file))
    assert code == 0
    exported = [json.loads(x) for x in out_file.read_text("utf-8").splitlines()]
    assert len(exported) >= 40

    # into an empty database: the same entries, the same state
    other = tmp_path / "other"
    other.mkdir()
    import os

    os.environ["KB_DATA_DIR"] = str(other / "var")
    _run("init", "--no-demo")
    code, out = _run("entries", "import", str(out_file))
    assert code == 0, out
    code, _ = _run("entries", "export", "-o", str(tmp_path / "again.jsonl"))
    again = [json.loads(x) for x in (tmp_path / "again.jsonl").read_text("utf-8").splitlines()]
    key = lambda o: (o["department"], o["external_id"])  # noqa: E731
    assert sorted(exported, key=key) == sorted(again, key=key)
    # and importing the same file again changes nothing
    code, out = _run("entries", "import", str(out_file))
    assert json.loads(out)["counts"] == {"unchanged": len(exported), "rejected": 0}


def test_sweep_once_from_the_command_line(cli_env: Path) -> None:
    code, out = _run("init", "--no-demo")
    assert code == 0, out
    code, out = _run("sweep")
    assert code == 0, out
    assert json.loads(out) == {"created": 0}  # nothing has reached its review date yet
