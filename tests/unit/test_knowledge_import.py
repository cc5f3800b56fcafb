"""Bulk import's parser (services/knowledge/importing.py): formats, heading patterns, the cap,
the five seed documents. Plain Python: no broker, no database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hotline.demo import seed_dir
from services.knowledge.importing import (
    MAX_CHARS,
    DocumentError,
    classify,
    decode_text,
    guess_type,
    parse_document,
)

SEEDS = seed_dir()
needs_seeds = pytest.mark.skipif(SEEDS is None, reason="../shared/seeds is not beside the repo")


def _titles(name: str, text: str, **kwargs: object) -> list[str]:
    return [d.title for d in parse_document(name, text.encode(), **kwargs)]  # type: ignore[arg-type]


def _seed(prefix: str) -> list:  # type: ignore[type-arg]
    assert SEEDS is not None
    path = next(SEEDS.glob(prefix + "_*.txt"))
    return parse_document(path.name, path.read_bytes())


class TestHeadings:
    @pytest.mark.parametrize("line, kind, title", [
        ("第一篇:市政府办公厅领导批示件办理工作规程", "part", "市政府办公厅领导批示件办理工作规程"),
        ("第1篇", "part", ""),
        ("政府采购服务实施方案 第3篇", "part", ""),
        ("篇二:政务服务工作调研汇报", "part_alt", "政务服务工作调研汇报"),
        ("附件1", "attachment", ""),
        ("第一章 总 则", "chapter", "总则"),
        ("第二节 受理", "subchapter", "受理"),
        ("一、着力推进并联审批标准化建设", "item", "着力推进并联审批标准化建设"),
        ("(一)总体要求。深入贯彻落实党的十八大精神", "subitem", "总体要求"),
        ("（二）目标任务", "subitem", "目标任务"),
        ("第十二条 窗口工作人员应当文明服务。", "article", ""),
        ("## 办理流程", "md2", "办理流程"),
        ("# 第一篇:停水通知", "md1", "停水通知"),
    ])
    def test_recognised(self, line: str, kind: str, title: str) -> None:
        heading = classify(line)
        assert heading is not None and (heading.kind, heading.text) == (kind, title)

    @pytest.mark.parametrize("line", [
        "一是机关作风明显改进。", "上一篇:第七章改革开放下一篇:浅谈小学美术教学",
        "附件:1.柯桥区政府购买服务工作联席会议制度", "根据第一条的规定办理", "#hashtag", "",
        "具体要求详见第3篇"])
    def test_not_headings(self, line: str) -> None:
        assert classify(line) is None


class TestPlainText:
    def test_parts_become_entries_titled_after_the_colon(self) -> None:
        text = ("第一篇:泸州市停水通知\n因管网改造，江阳区部分区域停水。\n"
                "第二篇:供水报修\n拨打12345。\n")
        drafts = parse_document("water.txt", text.encode())
        assert [d.title for d in drafts] == ["泸州市停水通知", "供水报修"]
        assert [d.source for d in drafts] == ["import:water.txt#1", "import:water.txt#2"]
        assert drafts[0].body == "因管网改造，江阳区部分区域停水。"
        assert drafts[0].heading == "第一篇:泸州市停水通知"

    def test_bare_part_takes_the_next_title_line_joining_a_wrapped_one(self) -> None:
        text = ("汇编 第1篇\n\n城关区关于建设服务型政府工作\n\n实施方案\n\n为贯彻落实，制定本方案。\n"
                "汇编 第2篇\n第一章\n总则\n第一条\n为推进养老服务体系建设，制定本办法。\n")
        assert _titles("a.txt", text) == ["城关区关于建设服务型政府工作实施方案", "汇编 第2篇"]

    def test_a_single_document_is_one_entry_titled_by_its_title_line(self) -> None:
        text = ("索引号: 00258207-5/2015-47912\n"
                "泸州市人民政府办公室关于做好防汛工作的通知\n"
                "各区县人民政府：\n一、加强领导\n各地要落实责任。\n二、排查隐患\n全面排查。\n")
        drafts = parse_document("notice.txt", text.encode())
        assert len(drafts) == 1
        assert drafts[0].title == "泸州市人民政府办公室关于做好防汛工作的通知"
        assert "二、排查隐患" in drafts[0].body

    def test_a_document_with_attachments(self) -> None:
        text = ("泸州市关于规范窗口服务的意见\n" + "为规范窗口服务，提出如下意见。" * 10 + "\n"
                "附件1\n窗口服务规范\n一、着装整洁。\n附件2\n窗口服务\n考核细则\n一、按月考核。\n")
        assert _titles("att.txt", text) == ["泸州市关于规范窗口服务的意见", "窗口服务规范",
                                            "窗口服务考核细则"]

    def test_a_cover_before_the_first_part_is_dropped(self) -> None:
        text = "政策汇编\n2024-06-10\n政策汇编(精选2篇)\n汇编 第1篇\n停水通知\n明日停水。\n"
        assert _titles("c.txt", text) == ["停水通知"]

    def test_web_page_debris_is_skipped(self) -> None:
        text = ("收藏 分销(赏)\n报告.doc\n上传人:某某 文档编号:1\n下载 相关 举报\n报告.doc_第1页\n"
                "第1页 / 共22页\n点击查看更多>>\n资源描述\n第一篇:停水通知\n明日停水。\n展开阅读全文\n"
                "开通VIP\n©2010-2026 某公司 版权所有\n上一篇:甲下一篇:乙\n")
        [draft] = parse_document("d.txt", text.encode())
        assert (draft.title, draft.body) == ("停水通知", "明日停水。")

    def test_sentences_like_debris_are_kept(self) -> None:
        text = ("第一篇:窗口服务规范\n相关部门要加强监管。\n下载申请表后填写。\n投诉电话：0830-12345\n"
                "客服人员应当文明用语。\n")
        [draft] = parse_document("k.txt", text.encode())
        assert draft.body.count("\n") == 3

    def test_a_flattened_web_page_line_is_broken_at_its_headings(self) -> None:
        part = "为全面理解全市政务服务工作，形成本调研汇报。" * 10
        line = (f"政务服务工作调研汇报 篇一:政务服务工作调研汇报 {part} 一、基本现状 {part} "
                f"篇二:政务服务工作调研汇报 {part} 一、主要做法 {part}")
        drafts = parse_document("flat.txt", line.encode())
        assert [d.title for d in drafts] == ["政务服务工作调研汇报", "政务服务工作调研汇报(篇二)"]
        assert drafts[0].body.startswith("为全面理解") and "\n一、基本现状 为全面" in drafts[0].body

    def test_long_entries_are_split_by_their_next_heading_level(self) -> None:
        text = ("第一篇:窗口考核办法\n总体说明。\n一、考核内容\n" + "考核内容细则。" * 20 +
                "\n二、考核方式\n" + "考核方式细则。" * 20 + "\n")
        drafts = parse_document("long.txt", text.encode(), max_chars=200)
        assert [d.title for d in drafts] == ["窗口考核办法——考核内容", "窗口考核办法——考核方式"]
        assert drafts[0].body.startswith("总体说明。\n一、考核内容")  # the lead goes first
        assert all(len(d.body) <= 200 for d in drafts)

    def test_a_long_entry_without_sub_headings_is_split_by_paragraphs(self) -> None:
        text = "第一篇:长文\n" + "\n".join(["一段正文，没有标题。" * 5] * 10)
        drafts = parse_document("p.txt", text.encode(), max_chars=200)
        assert len(drafts) > 1 and drafts[0].title == "长文(1)" and drafts[1].title == "长文(2)"
        assert "\n".join(d.body for d in drafts).count("一段正文") == 50  # nothing lost

    def test_a_regulation_of_articles_only(self) -> None:
        [draft] = parse_document("供水条例.txt", "第一条 为加强城市供水管理。\n第二条 本办法适用于泸州。\n"
                                 .encode())
        assert draft.title == "供水条例" and draft.body.startswith("第一条 为加强")

    def test_gb18030_text_is_read(self) -> None:
        drafts = parse_document("gbk.txt", "第一篇:停水通知\n明日停水。\n".encode("gb18030"))
        assert drafts[0].title == "停水通知"


class TestMarkdownAndDocx:
    def test_markdown_headings(self) -> None:
        text = "# 停水通知\n\n明日停水。\n\n# 供水报修\n\n## 报修渠道\n\n拨打12345。\n"
        drafts = parse_document("kb.md", text.encode())
        assert [d.title for d in drafts] == ["停水通知", "供水报修"]
        assert drafts[1].body == "## 报修渠道\n拨打12345。"

    def test_docx_heading_styles_tables_and_textual_headings(self) -> None:
        import docx

        document = docx.Document()
        document.add_heading("供水服务汇编", 0)  # Title: the compilation's cover
        document.add_heading("泸州市城区计划停水通知", 1)
        document.add_paragraph("因管网改造，江阳区部分区域于12月5日停水。")
        document.add_heading("停水范围", 2)
        document.add_paragraph("大山坪片区。")
        document.add_heading("供水抢修服务指南", 1)
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "项目", "时限"
        table.cell(1, 0).text, table.cell(1, 1).text = "抢修", "4小时"
        document.add_paragraph("第三篇:用水咨询")  # a textual heading in a plain paragraph
        document.add_paragraph("工作日9:00-17:00。")
        buffer = io.BytesIO()
        document.save(buffer)
        drafts = parse_document("water.docx", buffer.getvalue(), article_type="faq")
        assert [d.title for d in drafts] == ["泸州市城区计划停水通知", "供水抢修服务指南"]
        assert drafts[0].body == "因管网改造，江阳区部分区域于12月5日停水。\n停水范围\n大山坪片区。"
        assert "项目\t时限\n抢修\t4小时" in drafts[1].body
        assert "第三篇:用水咨询" in drafts[1].body  # below the top level: stays in the entry
        assert [d.article_type for d in drafts] == ["policy", "faq"]  # 通知 → policy

    def test_docx_chinese_heading_style_names(self) -> None:
        import docx

        document = docx.Document()
        style = document.styles.add_style("标题 1", 1)  # a Chinese Word's own style name
        document.add_paragraph("窗口考核办法", style=style)
        document.add_paragraph("按月考核。")
        buffer = io.BytesIO()
        document.save(buffer)
        [draft] = parse_document("cn.docx", buffer.getvalue())
        assert (draft.title, draft.body) == ("窗口考核办法", "按月考核。")

    @pytest.mark.parametrize("data", [b"PK\x03\x04 not really a zip", b"plain text, not a docx",
                                      b"PK\x05\x06" + b"\0" * 18])
    def test_a_malformed_docx_is_a_clear_error(self, data: bytes) -> None:
        with pytest.raises(DocumentError) as err:
            parse_document("broken.docx", data)
        assert "无法读取 .docx" in err.value.reason


class TestRefused:
    @pytest.mark.parametrize("name, data, words", [
        ("empty.txt", b"", "文件为空"),
        ("blank.md", b"\n  \n", "没有可导入"),
        ("debris.txt", "收藏 分销(赏)\n下载 相关 举报\n".encode(), "没有可导入"),
        ("photo.jpg", b"\xff\xd8\xff", "不支持的文件类型"),
        ("noext", b"abc", "不支持的文件类型"),
        ("binary.txt", b"\x00\x01\x02\x03abc\x00", "不是文本"),
        ("bad.txt", b"\xff\xfe\xfd\x80\x81" * 3, "编码"),
    ])
    def test_reasons(self, name: str, data: bytes, words: str) -> None:
        with pytest.raises(DocumentError) as err:
            parse_document(name, data)
        assert words in err.value.reason

    def test_decode_text_prefers_utf8_with_bom(self) -> None:
        assert decode_text("\ufeff停水".encode()) == "停水"


def test_type_guess() -> None:
    assert guess_type("瀘州市人民政府政務服務中心考勤管理辦法", "faq") == "policy"
    assert guess_type("关于做好防汛工作的通知") == "policy"
    assert guess_type("停水了怎么办", "faq") == "faq"
    assert guess_type("停水了怎么办") == "policy"


@needs_seeds
class TestSeeds:
    """The five seed documents (``../shared/seeds``): 21 entries."""

    def test_000_its_four_parts(self) -> None:
        drafts = _seed("000")
        assert [d.title for d in drafts] == [
            "市政府办公厅领导批示件办理工作规程", "办理领导批示件需“五勤”", "领导批示办理",
            "领导批示办理情况总结汇报"]
        assert drafts[0].source == "import:000_a37f5b5c5e3f2c6b.txt#1"

    def test_001_the_web_page_two_reports(self) -> None:
        drafts = _seed("001")
        assert [d.title for d in drafts] == ["政务服务工作调研汇报", "政务服务工作调研汇报(篇二)"]
        text = "\n".join(d.body for d in drafts)
        assert "收藏" not in text and "VIP" not in text and "第1页" not in text
        assert drafts[0].body.startswith("为全面理解全市政务服务工作")

    def test_002_the_opinion_and_its_three_attachments(self) -> None:
        assert [d.title for d in _seed("002")] == [
            "绍兴市柯桥区人民政府办公室关于政府向社会力量购买服务的实施意见",
            "柯桥区政府购买服务工作联席会议制度", "柯桥区政府购买服务工作联席会议成员单位职责",
            "柯桥区政府购买服务工作联席会议成员名单"]

    def test_003_six_pieces_of_a_compilation(self) -> None:
        drafts = _seed("003")
        assert len(drafts) == 6
        assert drafts[0].title == "城关区招商局关于建设服务型政府工作实施方案"
        assert drafts[2].title == "政府采购服务实施方案 第3篇"  # the 12345 call-center design
        assert "12345热线呼叫中心方案设计" in drafts[2].body
        assert "上一篇" not in drafts[-1].body

    def test_004_traditional_characters_kept(self) -> None:
        drafts = _seed("004")
        assert [d.title for d in drafts] == [
            "瀘州市人民政府政務服務中心關于切實做好2011年并聯(lián)審批工作的通知",
            "瀘州市人民政府政務服務中心請假及考勤制度",
            "瀘州市人民政府政務服務中心考勤管理辦法",
            "瀘州市人民政府政務服務中心部門窗口考核辦法",
            "瀘州市人民政府政務服務中心公共資源交易網(wǎng)(最終版)"]

    def test_every_entry_within_the_cap_and_typed(self) -> None:
        assert SEEDS is not None
        drafts = [d for p in sorted(SEEDS.glob("*.txt"))
                  for d in parse_document(p.name, p.read_bytes())]
        assert len(drafts) == 21
        assert all(0 < len(d.body) <= MAX_CHARS and d.title for d in drafts)
        assert all(d.article_type == "policy" for d in drafts)


def test_seed_dir_is_none_without_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_SEEDS", raising=False)
    assert seed_dir(tmp_path / "repo") is None
    (tmp_path / "shared" / "seeds").mkdir(parents=True)
    (tmp_path / "shared" / "seeds" / "000_x.txt").write_text("第一篇:x\ny\n")
    assert seed_dir(tmp_path / "repo") == tmp_path / "shared" / "seeds"


def test_the_demo_without_seeds_logs_a_notice(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from unittest.mock import Mock

    from hotline import demo

    rpc = Mock()
    rpc.knowledge.load_entries.return_value = {"created": 37, "skipped": 0, "errors": []}
    monkeypatch.setattr(demo, "seed_dir", lambda: None)
    with caplog.at_level("WARNING"):
        assert demo.load_knowledge(rpc) == {"articles": 37}
    rpc.knowledge.import_documents.assert_not_called()
    assert "shared/seeds" in caplog.text
    entries, actor = rpc.knowledge.load_entries.call_args.args
    assert len([e for e in entries if e["article_type"] == "responsibility"]) == len(
        demo.DEPARTMENTS) == 25
    assert all(e["territories"] == [d["territory_code"]] for e, d in zip(
        entries, demo.DEPARTMENTS, strict=False) if d.get("territory_code"))
    assert actor["role"] == "admin"
