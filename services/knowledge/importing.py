"""Bulk import (批量导入): plain text, Markdown and .docx documents split into entry drafts.

Plain Python: no nameko, no database. :func:`parse_document` is the contract the import RPC uses:
``(filename, bytes) → [EntryDraft]`` or :class:`DocumentError` with a reason a person can act on.

How a document becomes entries
------------------------------
1. **Read** into lines. ``.txt``/``.md``: UTF-8 (with or without BOM), else GB18030 (files saved
   by Chinese Windows tools); text with NULs or control characters is refused as not text.
   ``.docx``: paragraphs and table rows in document order, a paragraph styled ``Heading N`` /
   ``标题 N`` (or ``Title``) being a heading of depth N, like Markdown's ``#``×N.
   A very long line (text copied from a web page that lost its line breaks, seed 001) is broken
   before the heading markers it contains (``篇一:``, ``一、``, ``(一)``…).
2. **Drop web-page debris**: 收藏/下载/举报, ``第1页 / 共22页``, ``上一篇:…下一篇:…``, VIP and
   advertising lines, copyright and ICP lines.
3. **Recognise headings**, ranked from the top: Markdown/.docx headings by depth; 篇
   (``第一篇:…``, ``第1篇``, ``…实施方案 第1篇``); ``篇一:…``; 附件 (``附件1``); 章; 节; ``一、``;
   ``(一)``; ``第一条``.
4. **Split**. The document-dividing levels — Markdown/.docx headings, 篇 and 附件 — separate
   documents gathered in one file (a compilation, a notice and its attachments): each section
   at the top-most such level present is an entry. The text before the first of them is an
   entry too when it has a body of its own (seed 002: the 实施意见 before its 附件), and
   is dropped when it is only a cover (a compilation's title and date). The levels inside a
   document (章, 节, 一、, (一), 条) do not cut a policy into fragments that lose its title: a
   document without dividing headings is one entry, split only when it is too long.
5. **Cap**. An entry longer than ``max_chars`` is split by the next heading level present in it
   (titled ``<entry>——<section>``), recursively, and as a last resort by paragraphs
   (``<entry>(1)``, ``(2)``…); the text before its first sub-heading goes with the first part.
6. **Title**: the heading's own text (after the colon where there is one, ``第一篇:<title>``);
   for a bare marker (``第1篇``, ``附件1``) the next non-empty line when it reads as a title (short,
   no sentence punctuation; a wrapped second short line is joined to it); else the heading line
   itself (``政府采购服务实施方案 第2篇``). A title repeated within one file gets the heading's
   label (``政务服务工作调研汇报(篇二)``). Titles and bodies keep the document's own characters
   (traditional stays traditional: search treats both alike).
7. **Type**: 政策法规 (``policy``) when the title names a policy document (办法, 规定, 条例,
   通知, 规程, 制度, 意见, 方案, 细则, 决定, 规则, 规范, 公告, 通告, 标准; simplified or traditional),
   else what the importer said, else ``policy``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_CHARS = 8_000  # about five printed pages: still one read on a call; every seed piece fits
MAX_TITLE = 200  # article.title's column
MAX_FILE_BYTES = 5 * 1024 * 1024
EXTENSIONS = (".txt", ".md", ".markdown", ".docx")

_NUM = "一二三四五六七八九十百零〇两"
_ANY_NUM = _NUM + "0-9０-９"


class DocumentError(ValueError):
    """The file cannot be imported; ``reason`` says why, Chinese first."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EntryDraft:
    """One entry to create: ``source`` is ``import:<file>#<n>`` (n from 1, in document order)."""

    title: str
    body: str
    article_type: str
    source: str
    heading: str | None = None  # the heading line the entry came from, if any
    categories: tuple[str, ...] = ()


# -- headings --------------------------------------------------------------------------------

# kind → rank (smaller is higher). md1..md6: Markdown ``#``×N and .docx heading styles.
RANKS = {**{f"md{n}": n - 1 for n in range(1, 7)}, "part": 10, "part_alt": 11,
         "attachment": 12, "chapter": 20, "subchapter": 21, "item": 22, "subitem": 23,
         "article": 24}
DIVIDING = {k for k, r in RANKS.items() if r < 20}

_COLON = "[:：]"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("part", re.compile(rf"^(?P<label>第[{_ANY_NUM}]+篇)\s*(?:{_COLON}\s*)?(?P<rest>.*)$")),
    # ``政府采购服务实施方案 第1篇`` (a compilation's piece; ``详见第3篇`` is a sentence)
    ("part", re.compile(rf"^(?P<prefix>\S.{{0,40}}?)\s+(?P<label>第[{_ANY_NUM}]+篇)$")),
    ("part_alt", re.compile(rf"^(?P<label>篇[{_NUM}]+)\s*{_COLON}\s*(?P<rest>.*)$")),
    ("attachment", re.compile(rf"^(?P<label>附件\s*[{_ANY_NUM}]+)\s*(?:{_COLON}\s*)?(?P<rest>.{{0,60}})$")),
    ("chapter", re.compile(rf"^(?P<label>第[{_ANY_NUM}]+章)\s*(?P<rest>.{{0,60}})$")),
    ("subchapter", re.compile(rf"^(?P<label>第[{_ANY_NUM}]+节)\s*(?P<rest>.{{0,60}})$")),
    ("item", re.compile(rf"^(?P<label>[{_NUM}]+)[、]\s*(?P<rest>.+)$")),
    ("subitem", re.compile(rf"^(?P<label>[(（][{_NUM}]+[)）])\s*(?P<rest>.+)$")),
    ("article", re.compile(rf"^(?P<label>第[{_ANY_NUM}]+条)(?:\s+|$)(?P<rest>.*)$")),
]
_MD = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<rest>.+?)\s*#*\s*$")
# a run-in heading ends at the first sentence stop: ``(一)总体要求。深入贯彻…``
_RUN_IN = re.compile(r"^(.{1,40}?)[。;；:：]")
_SENTENCE_END = "。;；,，:：!！?？、"

# where a flattened web page hid its paragraph breaks: white space before a heading marker
_INLINE_BREAK = re.compile(
    rf"\s+(?=(?:篇[{_NUM}]+{_COLON}|第[{_ANY_NUM}]+[篇章条]|[{_NUM}]+、|[(（][{_NUM}]+[)）]"
    r"|\d{1,2}[.．、]\s*\S))")
LONG_LINE = 400

# lines a web page wraps a document in; a real sentence (相关部门要…, 投诉电话：12345) is not one
_NAV = r"(?:收藏|分销(?:\(赏\)|（赏）)?|下载|相关|举报|客服|资源描述|展开阅读全文|点击查看更多>*)"
_DEBRIS = re.compile(
    rf"^{_NAV}(?:\s+{_NAV})*$"
    r"|^第\s*\d+\s*页\s*/\s*共\s*\d+\s*页$"
    r"|^[^。，,]{1,60}\.docx?(?:_第\d+页)?$"
    r"|^上传人[:：]|文档编号[:：]|下载积分|开通\s*S?VIP|VIP会员|页脚广告|^©|ICP备|公网安备"
    r"|客服电话[:：].*投诉电话|^上一篇[:：]|下一篇[:：]|^当前位置[:：]|^关注我们"
    r"|^关于我们\s{2,}|^移动网页_"
    r"|^(?:访问次数|信息来源|发布时间|浏览次数|来源)[:：]?\s*$")


@dataclass
class _Heading:
    kind: str
    label: str  # 第一篇, 篇二, 附件1, 一, (一), ## …
    text: str  # the heading's own title ('' for a bare marker)
    line: str  # the heading line as written
    prefix: str = ""  # ``政府采购服务实施方案`` of ``政府采购服务实施方案 第1篇``
    run_in: str = ""  # body text that followed the title on the heading's line

    @property
    def rank(self) -> int:
        return RANKS[self.kind]


@dataclass
class _Line:
    text: str
    heading: _Heading | None = None


def classify(line: str, style_depth: int | None = None) -> _Heading | None:
    """The heading a line is, or None. ``style_depth``: the .docx heading style's depth."""
    text = line.strip()
    if not text:
        return None
    md = _MD.match(text) if style_depth is None else None
    if style_depth is not None or md:
        depth = style_depth if style_depth is not None else len(md["hashes"])  # type: ignore[index]
        inner = text if md is None else md["rest"]
        textual = classify(inner) if not _MD.match(inner) else None
        own = inner
        if textual is not None and textual.kind in ("part", "part_alt", "attachment"):
            own = textual.text or inner
        return _Heading(f"md{min(max(depth, 1), 6)}", "#" * depth, _clean_title(own), text)
    for kind, pattern in _PATTERNS:
        m = pattern.match(text)
        if m is None:
            continue
        groups = m.groupdict()
        rest = (groups.get("rest") or "").strip()
        if kind == "part" and len(rest) > 40 and not re.match(rf"^第[{_ANY_NUM}]+篇\s*{_COLON}", text):
            return None  # ``第一篇文章讲的是…``: a sentence, not a heading
        if kind in ("item", "subitem"):
            stop = _RUN_IN.match(rest)
            if stop:
                rest = stop.group(1)
            elif len(rest) > 40:
                rest = rest[:30] + "…"
        run_in = ""
        if kind == "article":
            rest, run_in = "", rest  # 第一条 has no title; its text is the body
        elif kind not in ("item", "subitem") and len(rest) > 40:
            # ``篇一:政务服务工作调研汇报 为全面理解…``: the title ends at the first space
            title, _, after = rest.partition(" ")
            if len(title) <= 40 and after.strip():
                rest, run_in = title, after.strip()
        return _Heading(kind, groups["label"], _clean_title(rest), text,
                        (groups.get("prefix") or "").strip(), run_in)
    return None


def _clean_title(text: str) -> str:
    """Spaces between two CJK characters are layout (``总 则``); others are kept."""
    text = re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", text.strip())
    return text.strip(" \t:：#")


# -- reading ---------------------------------------------------------------------------------

def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030; binary or undecodable bytes → :class:`DocumentError`."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DocumentError("无法识别文本编码（应为 UTF-8 或 GB18030） the text is neither UTF-8 "
                            "nor GB18030")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    if "\x00" in text or controls > max(3, len(text) // 100):
        raise DocumentError("文件内容不是文本 the file is not text (binary content)")
    return text


def read_docx(data: bytes) -> list[tuple[str, int | None]]:
    """(text, heading depth or None) of each paragraph and table row, in document order."""
    try:
        import docx  # python-docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
        out: list[tuple[str, int | None]] = []
        for block in document.element.body.iterchildren():
            tag = block.tag.rsplit("}", 1)[-1]
            if tag == "p":
                para = Paragraph(block, document)
                out.append((para.text, _style_depth(para)))
            elif tag == "tbl":
                for row in Table(block, document).rows:
                    cells: list[str] = []
                    for cell in row.cells:
                        value = cell.text.strip()
                        if value and (not cells or cells[-1] != value):  # merged cells repeat
                            cells.append(value)
                    out.append(("\t".join(cells), None))
        return out
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, XML and package errors all mean "unreadable"
        raise DocumentError(f"无法读取 .docx 文件（文件损坏或不是 Word 文档） cannot read the "
                            f".docx file: {type(exc).__name__}: {str(exc)[:120]}") from None


def _style_depth(paragraph: object) -> int | None:
    style = getattr(paragraph, "style", None)
    name = (getattr(style, "name", "") or "").strip()
    if name.lower() == "title":
        return 1
    m = re.match(r"^(?:heading|标题)\s*(\d)$", name, re.IGNORECASE)
    return int(m.group(1)) if m else None


def read_lines(filename: str, data: bytes) -> list[_Line]:
    """The document's non-empty, non-debris lines with the headings recognised."""
    ext = extension(filename)
    if not data:
        raise DocumentError("文件为空 the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(f"文件过大（上限 {MAX_FILE_BYTES // 1024 // 1024} MB） the file is "
                            f"larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    raw: list[tuple[str, int | None]]
    if ext == ".docx":
        raw = read_docx(data)
    else:
        raw = [(line, None) for line in decode_text(data).splitlines()]
    lines: list[_Line] = []
    for text, depth in raw:
        if depth is not None:
            heading = classify(text, depth) if text.strip() else None
            if heading:
                lines.append(_Line(text.strip(), heading))
            continue
        for piece in _unflatten(text):
            piece = piece.strip()
            if not piece or _DEBRIS.search(piece):
                continue
            lines.append(_Line(piece, classify(piece)))
    if not lines:
        raise DocumentError("文档中没有可导入的正文 the document has no text to import")
    return lines


def _unflatten(text: str) -> list[str]:
    if len(text) <= LONG_LINE:
        return [text]
    return _INLINE_BREAK.split(text)


def extension(filename: str) -> str:
    name = filename.lower().strip()
    for ext in EXTENSIONS:
        if name.endswith(ext):
            return ext
    dot = name.rfind(".")
    raise DocumentError(f"不支持的文件类型 {name[dot:] if dot >= 0 else '(无扩展名)'}（支持 "
                        f".txt、.md、.docx） unsupported file type; .txt, .md and .docx are")


# -- splitting -------------------------------------------------------------------------------

@dataclass
class _Section:
    heading: _Heading | None
    lines: list[_Line] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(line.text) + 1 for line in self.lines)


def _split_at(lines: list[_Line], rank: int) -> tuple[list[_Line], list[_Section]]:
    """(the lines before the first heading of ``rank``, the sections at ``rank``)."""
    before: list[_Line] = []
    sections: list[_Section] = []
    for line in lines:
        if line.heading is not None and line.heading.rank == rank:
            sections.append(_Section(line.heading))
            if line.heading.run_in and line.heading.kind in DIVIDING:
                sections[-1].lines.append(_Line(line.heading.run_in))
        elif sections:
            sections[-1].lines.append(line)
        else:
            before.append(line)
    return before, sections


def _top_rank(lines: Iterable[_Line], dividing_only: bool) -> int | None:
    ranks = [line.heading.rank for line in lines if line.heading is not None
             and (not dividing_only or line.heading.kind in DIVIDING)]
    return min(ranks) if ranks else None


_NUMBERED = re.compile(r"^\d+(?:[.．]\d+)*[\s.．、]")
_METADATA = re.compile(r"^[•·\s]*[\u4e00-\u9fff]{2,8}\s*[:：]")
_DOCUMENT_TITLE = re.compile(
    r"(?:关于|關于|關於).{2,}|(?:办法|辦法|规定|規定|条例|條例|通知|规程|規程|制度|意见|意見|方案"
    r"|细则|細則|决定|決定|规则|規則|公告|通告|报告|報告|汇报|匯報|总结|總結)$")


def _title_like(text: str, limit: int = 40) -> bool:
    return (0 < len(text) <= limit and text[-1] not in _SENTENCE_END
            and classify(text) is None and not _NUMBERED.match(text)
            and not _METADATA.match(text) and not re.match(r"^[\d\s:：./年月日-]+$", text))


def _title_at(lines: list[_Line], i: int) -> str:
    """The title starting at line ``i``, with a wrapped short second line joined to it
    (``…服务型政府工作`` / ``实施方案``)."""
    title = lines[i].text
    nxt = lines[i + 1] if i + 1 < len(lines) else None
    if (nxt is not None and nxt.heading is None and _title_like(nxt.text, 12)
            and not re.search(r"[:：\d]", nxt.text)):
        title += nxt.text
    return _clean_title(title)


def _title_from_lines(lines: list[_Line]) -> str | None:
    """A title written as the first line(s) of a section: short, no sentence punctuation."""
    if not lines or lines[0].heading is not None or not _title_like(lines[0].text):
        return None
    return _title_at(lines, 0)


def _document_title(lines: list[_Line]) -> str | None:
    """The title of a document without a dividing heading: among its first lines (past any
    metadata block of a government web page), one that reads as a document's title (关于…,
    …办法/通知/报告), else the first title-like line of some length."""
    window = lines[:30]
    for i, line in enumerate(window):
        if line.heading is None and _title_like(line.text, 60) \
                and _DOCUMENT_TITLE.search(line.text):
            return _title_at(window, i)
    for i, line in enumerate(window):
        if line.heading is None and len(line.text) >= 6 and _title_like(line.text):
            return _title_at(window, i)
    return None


def _section_title(section: _Section) -> str:
    heading = section.heading
    assert heading is not None
    if heading.text:
        lines = section.lines
        # ``第一篇:瀘州市人民政府政務服務中心`` / the same line / ``關于…的通知``: the whole title
        if (len(lines) > 1 and lines[0].text == heading.text and lines[1].heading is None
                and _title_like(lines[1].text, 60) and _DOCUMENT_TITLE.search(lines[1].text)):
            return _clean_title(heading.text + lines[1].text)
        return heading.text
    return _title_from_lines(section.lines) or heading.line.strip()


def _body(lines: list[_Line]) -> str:
    return "\n".join(line.text for line in lines).strip()


def _cover_only(lines: list[_Line]) -> bool:
    """Text before the first dividing heading that is a cover (titles, dates), not a document."""
    return sum(len(line.text) for line in lines if not _title_like(line.text)) < 100


@dataclass
class _Piece:
    title: str
    heading: _Heading | None
    lines: list[_Line]


def _cap(piece: _Piece, max_chars: int) -> list[_Piece]:
    """``piece`` as is when short enough, else split by its next heading level, recursively,
    and at last by paragraphs."""
    if sum(len(line.text) + 1 for line in piece.lines) <= max_chars:
        return [piece]
    rank = _top_rank(piece.lines, dividing_only=False)
    if rank is not None:
        before, sections = _split_at(piece.lines, rank)
        if sections and (len(sections) > 1 or before):
            out: list[_Piece] = []
            for i, section in enumerate(sections):
                lines = ([_Line(section.heading.line, section.heading)]  # type: ignore[union-attr]
                         + section.lines)
                if i == 0:
                    lines = before + lines
                out += _cap(_Piece(f"{piece.title}——{_section_title(section)}",
                                   section.heading, lines), max_chars)
            return out
    chunks: list[list[_Line]] = [[]]
    size = 0
    for line in piece.lines:
        if chunks[-1] and size + len(line.text) + 1 > max_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line.text) + 1
    return [_Piece(f"{piece.title}({n})", piece.heading if n == 1 else None, chunk)
            for n, chunk in enumerate(chunks, 1)]


def split_document(filename: str, lines: list[_Line], *, max_chars: int = MAX_CHARS,
                   article_type: str | None = None,
                   categories: Iterable[str] = ()) -> list[EntryDraft]:
    """The entry drafts of one document's lines (see the module's docstring for the rules)."""
    pieces: list[_Piece] = []
    rank = _top_rank(lines, dividing_only=True)
    if rank is None:
        title = _document_title(lines) or _fallback_title(filename)
        pieces.append(_Piece(title, None, lines))
    else:
        before, sections = _split_at(lines, rank)
        if before and not _cover_only(before):
            pieces.append(_Piece(_document_title(before) or _fallback_title(filename),
                                 None, before))
        for section in sections:
            pieces.append(_Piece(_section_title(section), section.heading, section.lines))
    drafts: list[EntryDraft] = []
    seen: dict[str, int] = {}
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    for piece in (p for whole in pieces for p in _cap(whole, max_chars)):
        body = _body(piece.lines)
        if not body:
            continue
        title = piece.title
        if title in seen:
            label = piece.heading.label if piece.heading else str(seen[title] + 1)
            title = f"{title}({label})"
        seen[piece.title] = seen.get(piece.title, 0) + 1
        title = title[:MAX_TITLE]
        drafts.append(EntryDraft(
            title=title, body=body, article_type=guess_type(title, article_type),
            source=f"import:{name}#{len(drafts) + 1}"[:200],
            heading=piece.heading.line if piece.heading else None,
            categories=tuple(categories)))
    if not drafts:
        raise DocumentError("文档中没有可导入的正文 the document has no text to import")
    return drafts


def _fallback_title(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] or name


POLICY_WORDS = ("办法", "辦法", "规定", "規定", "条例", "條例", "通知", "规程", "規程", "制度",
                "意见", "意見", "方案", "细则", "細則", "决定", "決定", "规则", "規則", "规范",
                "規範", "公告", "通告", "标准", "標準", "实施意见")


def guess_type(title: str, told: str | None = None) -> str:
    """``policy`` when the title names a policy document, else ``told``, else ``policy``."""
    if any(word in title for word in POLICY_WORDS):
        return "policy"
    return told or "policy"


def parse_document(filename: str, data: bytes, *, max_chars: int = MAX_CHARS,
                   article_type: str | None = None,
                   categories: Iterable[str] = ()) -> list[EntryDraft]:
    """The entry drafts of one file; :class:`DocumentError` when it cannot be imported."""
    return split_document(filename, read_lines(filename, data), max_chars=max_chars,
                          article_type=article_type, categories=categories)


__all__ = ["DocumentError", "EntryDraft", "parse_document", "guess_type", "classify",
           "decode_text", "MAX_CHARS", "MAX_FILE_BYTES", "EXTENSIONS"]
