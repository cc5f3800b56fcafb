"""``hotline kb import``: its arguments, and what it sends to knowledge (a fake RPC proxy)."""

from __future__ import annotations

import argparse
import base64
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hotline import commands
from hotline.cli import add_kb_parser


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_kb_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["kb", "import", "a.txt", "b.docx", "--publish", "--type", "faq",
                              "--department", "shuiwu", "--category", "help"])
    assert (args.files, args.publish, args.type, args.department, args.category) == (
        ["a.txt", "b.docx"], True, "faq", "shuiwu", ["help"])
    with pytest.raises(SystemExit):
        parser.parse_args(["kb", "import", "a.txt", "--type", "poem"])


def test_files_go_to_knowledge_and_failures_set_the_exit_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[Any, ...]] = []

    class Knowledge:
        def import_documents(self, files: Any, options: Any, actor: Any) -> dict[str, Any]:
            calls.append((files, options, actor))
            return {"files": [{"filename": "a.txt", "status": "ok", "error": None,
                               "articles": [{"id": 1, "title": "停水通知", "status": "published"}]}],
                    "imported": 1, "failed": 0}

    @contextmanager
    def fake_rpc(config: Any, timeout: float = 30) -> Any:
        yield type("Rpc", (), {"knowledge": Knowledge()})()

    monkeypatch.setattr(commands, "cluster_rpc", fake_rpc)
    (tmp_path / "a.txt").write_text("第一篇:停水通知\n明日停水。\n")
    code = commands.kb_import({}, [str(tmp_path / "a.txt")], publish=True, article_type="faq")
    assert code == 0
    [(files, options, actor)] = calls
    assert files[0]["filename"] == "a.txt"
    assert base64.b64decode(files[0]["content_base64"]).decode().startswith("第一篇")
    assert options == {"publish": True, "article_type": "faq", "department_code": None,
                       "categories": []}
    assert actor["role"] == "admin" and actor["name"].startswith("cli:")
    assert "#1 [published] 停水通知" in capsys.readouterr().out
    assert commands.kb_import({}, [str(tmp_path / "a.txt"), str(tmp_path / "missing.txt")]) == 1
