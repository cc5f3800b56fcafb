"""Knowledge's bulk import RPC (``import_documents``) and the demo loader (``load_entries``),
through ``worker_factory`` on a migrated SQLite file: each file whole or not at all, a per-file
report, departments import drafts of their own, loading twice creates nothing twice."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from sqlalchemy import func, select

from hotline.demo import knowledge_entries, seed_dir
from services.knowledge.models import Article
from services.knowledge.service import KnowledgeService
from shared.errors import Forbidden, Invalid
from tests.service.conftest import Worker, outbox

SUP = {"name": "supervisor1", "role": "supervisor", "department_code": None}
ADMIN = {"name": "admin", "role": "admin", "department_code": None}
WATER = ("第一篇:泸州市江阳区计划停水通知\n因滨江路供水管网改造，12月5日停水。\n"
         "第二篇:供水管网抢修服务承诺\n接到爆管报修后城区2小时内到达现场。\n")
FAQ_MD = "# 停水期间可以申请送水吗\n\n连续停水超过12小时的片区，可申请送水车。\n"


def _file(name: str, data: bytes | str) -> dict[str, str]:
    raw = data.encode() if isinstance(data, str) else data
    return {"filename": name, "content_base64": base64.b64encode(raw).decode()}


def _docx(*paragraphs: tuple[str, int | None]) -> bytes:
    import docx

    document = docx.Document()
    for text, level in paragraphs:
        if level is None:
            document.add_paragraph(text)
        else:
            document.add_heading(text, level)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def kb(store: Any) -> Any:
    db = store("knowledge")
    return Worker(KnowledgeService, db), db


def _articles(db: Any) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(Article.title, Article.status, Article.source,
                                        Article.department_code, Article.article_type)
                                 .order_by(Article.id)))


class TestImportDocuments:
    def test_two_good_files_and_a_corrupt_docx(self, kb: Any) -> None:
        worker, db = kb
        report = worker.import_documents(
            [_file("water.txt", WATER), _file("broken.docx", b"PK\x03\x04 not a zip"),
             _file("guide.docx", _docx(("供水抢修", 1), ("拨打供水热线或12345。", None)))],
            {"article_type": "faq", "department_code": "shuiwu", "publish": True}, SUP)
        assert [(f["filename"], f["status"]) for f in report["files"]] == [
            ("water.txt", "ok"), ("broken.docx", "error"), ("guide.docx", "ok")]
        assert "无法读取 .docx" in report["files"][1]["error"]
        assert (report["imported"], report["failed"]) == (3, 1)
        rows = _articles(db)
        assert [(r.title, r.status, r.source, r.department_code) for r in rows] == [
            ("泸州市江阳区计划停水通知", "published", "import:water.txt#1", "shuiwu"),
            ("供水管网抢修服务承诺", "published", "import:water.txt#2", "shuiwu"),
            ("供水抢修", "published", "import:guide.docx#1", "shuiwu")]
        assert [r.article_type for r in rows] == ["policy", "faq", "faq"]  # 通知 → 政策法规
        published = [e for e in outbox(db) if e["type"] == "kb.article_published"]
        assert len(published) == 3

    def test_a_file_refused_half_way_leaves_nothing(self, kb: Any) -> None:
        """A file whose entries are added and then refused at publication (guides without
        their required fields): the entries already added are rolled back with it; the other
        file is imported."""
        worker, db = kb
        report = worker.import_documents(
            [_file("guides.md", "# 居住证申领\n\n到派出所办理。\n\n# 低保申请\n\n到街道申请。\n"),
             _file("rules.md", "# 泸州市城市供水管理办法\n\n第一条 为加强城市供水管理，制定本办法。\n")],
            {"article_type": "guide", "publish": True}, SUP)
        assert [f["status"] for f in report["files"]] == ["error", "ok"]
        assert report["files"][0]["articles"] == []
        assert [(r.title, r.article_type) for r in _articles(db)] == [
            ("泸州市城市供水管理办法", "policy")]  # a policy by its title, whatever was told

    @pytest.mark.parametrize("name, data, words", [
        ("empty.txt", b"", "文件为空"), ("photo.png", b"\x89PNG", "不支持的文件类型"),
        ("latin.txt", b"\x00\x01binary\x00", "不是文本")])
    def test_unreadable_files_are_reported(self, kb: Any, name: str, data: bytes,
                                           words: str) -> None:
        worker, db = kb
        report = worker.import_documents([_file(name, data), _file("faq.md", FAQ_MD)], {},
                                         SUP)
        assert report["files"][0]["status"] == "error" and words in report["files"][0]["error"]
        assert report["files"][1]["status"] == "ok" and len(_articles(db)) == 1
        assert _articles(db)[0].status == "draft"  # publish defaults to false

    def test_bad_base64_is_reported(self, kb: Any) -> None:
        worker, _ = kb
        report = worker.import_documents([{"filename": "a.txt", "content_base64": "@@@"}], {},
                                         ADMIN)
        assert "base64" in report["files"][0]["error"]

    @pytest.mark.parametrize("files, options, field", [
        ([], {}, "files"), ([{"filename": "a.txt"}], {}, "files"),
        ([_file(f"{n}.txt", "x") for n in range(21)], {}, "files"),
        ([_file("a.txt", "x")], {"article_type": "poem"}, "article_type"),
        ([_file("a.txt", "x")], {"publish": "perhaps"}, "publish")])
    def test_bad_requests_name_the_field_and_write_nothing(self, kb: Any, files: Any,
                                                           options: Any, field: str) -> None:
        worker, db = kb
        with pytest.raises(Invalid) as err:
            worker.import_documents(files, options, ADMIN)
        assert field in err.value.details["fields"]
        assert _articles(db) == []

    def test_a_department_imports_drafts_of_its_own(self, kb: Any) -> None:
        worker, db = kb
        dept = {"name": "dept_shuiwu", "role": "department", "department_code": "shuiwu"}
        report = worker.import_documents([_file("faq.md", FAQ_MD)], {}, dept)
        assert report["files"][0]["status"] == "ok"
        assert [(r.department_code, r.status) for r in _articles(db)] == [("shuiwu", "draft")]
        with pytest.raises(Forbidden):
            worker.import_documents([_file("faq.md", FAQ_MD)], {"publish": True}, dept)
        with pytest.raises(Forbidden):
            worker.import_documents([_file("faq.md", FAQ_MD)],
                                    {"department_code": "chengguan"}, dept)

    def test_skip_existing_imports_a_file_once(self, kb: Any) -> None:
        worker, db = kb
        first = worker.import_documents([_file("water.txt", WATER)], {"skip_existing": True},
                                        ADMIN)
        again = worker.import_documents([_file("water.txt", WATER)], {"skip_existing": True},
                                        ADMIN)
        assert again["files"][0]["status"] == "skipped"
        assert [a["id"] for a in again["files"][0]["articles"]] == [
            a["id"] for a in first["files"][0]["articles"]]
        assert len(_articles(db)) == 2


@pytest.mark.skipif(seed_dir() is None, reason="../shared/seeds is not beside the repo")
def test_the_five_seeds_import_and_publish(kb: Any) -> None:
    worker, db = kb
    seeds = seed_dir()
    assert seeds is not None
    report = worker.import_documents(
        [_file(p.name, p.read_bytes()) for p in sorted(seeds.glob("*.txt"))],
        {"publish": True}, ADMIN)
    assert [len(f["articles"]) for f in report["files"]] == [4, 2, 4, 6, 5]
    assert all(r.status == "published" for r in _articles(db))


def test_demo_entries_load_once(kb: Any) -> None:
    worker, db = kb
    entries = knowledge_entries()
    first = worker.load_entries(entries, ADMIN)
    assert first["errors"] == [] and first["created"] == len(entries)
    again = worker.load_entries(entries, ADMIN)
    assert (again["created"], again["skipped"]) == (0, len(entries))
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Article)) == len(entries)
        types = dict(conn.execute(select(Article.article_type, func.count())
                                  .group_by(Article.article_type)).all())
    assert types["responsibility"] == 25 and types["guide"] >= 5 and types["faq"] >= 5
