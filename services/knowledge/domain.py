"""Knowledge rules (资料库, DOMAIN.md §7): who may do what to an entry, in which state; what a
publishable 办事指南 needs; what is live; the difference between two versions; highlighting.

Plain Python: no nameko, no database session. The entrypoints (``entrypoints/articles.py``,
``entrypoints/search.py``) load input with marshmallow, ask these functions, persist, emit.

The workflow (录入 → 送审 → 发布 → 归档)::

    draft ──submit──▶ in_review ──publish──▶ published ──archive──▶ archived
      ▲                  │ reject (with a comment)
      └──────────────────┘
    edit: from any state, a new version; the entry goes (back) to draft
    publish: also straight from draft, by the center (its own entries need no second reviewer)

``article.status`` is the state of the *working* version (``current_version``); the *live*
version (``published_version``) stays searchable while a newer one is drafted and reviewed,
until that one is published or the entry is archived.

Who (DOMAIN.md §1, gateway ``kb.write`` / ``kb.review``): the center (督办 supervisor, 管理员
admin) edits any entry, reviews, publishes, rejects, archives. A department (承办单位) drafts,
edits and submits its own department's entries only. Everyone else reads live entries.
What an actor may not see is "not found" (404); what it sees but may not change is forbidden
(403, naming the reason); a right action in the wrong state is a conflict (409, naming the
state and the action); bad content is invalid (422, naming the fields).
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.knowledge.search import MAX_QUERY  # one limit: the search engine's
from shared.errors import Conflict, Forbidden, Invalid

ARTICLE_TYPES = {
    "policy": "政策法规",
    "guide": "办事指南",
    "responsibility": "部门职能",
    "faq": "常见问答",
}


STATUSES = {
    "draft": "草稿",
    "in_review": "审核中",
    "published": "已发布",
    "archived": "已归档",
}

# 办事指南's fields (seed 003 第3篇), in the order a guide is read
GUIDE_FIELDS = {
    "project_name": "项目名称",
    "basis": "设立依据",
    "materials": "申报材料",
    "procedure": "办事程序",
    "time_limit": "承诺期限",
    "fee_basis": "收费依据",
    "fee_standard": "收费标准",
    "window_authority": "窗口权限",
}
# What a citizen must be told to get the service done; 设立依据, 收费依据 and 窗口权限 are often
# not written down for simple services, so they do not block publication. A free service says
# so in 收费标准 ("不收费").
REQUIRED_GUIDE_FIELDS = ("project_name", "materials", "procedure", "time_limit", "fee_standard")
GUIDE_FIELD_MAX = 4000

CENTER_ROLES = frozenset({"supervisor", "admin"})
DEPARTMENT_ROLE = "department"

ACTIONS = {
    "create": "录入",
    "edit": "修改",
    "submit": "送审",
    "reject": "退回",
    "publish": "发布",
    "archive": "归档",
}
# action → (states it may be taken in, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "edit": (frozenset({"draft", "in_review", "published", "archived"}), "draft"),
    "submit": (frozenset({"draft"}), "in_review"),
    "reject": (frozenset({"in_review"}), "draft"),
    "publish": (frozenset({"draft", "in_review"}), "published"),
    "archive": (frozenset({"draft", "in_review", "published"}), "archived"),
}
# the center only; a department may create, edit and submit its own entries
REVIEW_ACTIONS = frozenset({"reject", "publish", "archive"})


# -- who ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actor:
    """Who acts on the knowledge base, as the gateway passes it on every RPC:
    ``{"name": "dept_chengguan", "role": "department", "department_code": "chengguan"}``.
    ``department_code`` is set for department users (and their systems' keys) only."""

    name: str
    role: str
    department_code: str | None = None

    @classmethod
    def of(cls, value: Actor | Mapping[str, Any] | None) -> Actor:
        """An :class:`Actor` from the RPC's dict; :class:`Invalid` naming ``actor`` if unfit."""
        if isinstance(value, Actor):
            return value
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) \
                or not value.get("name") or not isinstance(value.get("role"), str):
            raise Invalid.fields({"actor": ["须为 {name, role, department_code} the actor must "
                                            "be {name, role, department_code}"]})
        code = value.get("department_code")
        if value["role"] == DEPARTMENT_ROLE and not code:
            raise Invalid.fields({"actor": ["部门用户须有部门 a department actor needs its "
                                            "department_code"]})
        return cls(str(value["name"]), str(value["role"]), str(code) if code else None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "department_code": self.department_code}

    @property
    def is_center(self) -> bool:
        return self.role in CENTER_ROLES

    def owns(self, department_code: str | None) -> bool:
        return self.role == DEPARTMENT_ROLE and department_code is not None \
            and self.department_code == department_code


SYSTEM = Actor("system", "system")  # the expiry timer (有效期届满自动归档)


def may_see_working(actor: Actor, department_code: str | None) -> bool:
    """Drafts, versions under review, history and diffs: the center and the owner department."""
    return actor.is_center or actor.owns(department_code)


def is_live(status: str, published_version: int | None, valid_from: date | None,
            valid_until: date | None, today: date) -> bool:
    """Whether agents and the public may read and find the entry today: a published version,
    not archived, within its validity (both ends inclusive, business dates)."""
    return published_version is not None and status != "archived" \
        and valid_on(valid_from, valid_until, today)


def valid_on(valid_from: date | None, valid_until: date | None, today: date) -> bool:
    return (valid_from is None or valid_from <= today) and \
        (valid_until is None or today <= valid_until)


def expired(valid_until: date | None, today: date) -> bool:
    """Past its validity (valid_until is the last valid day): archived automatically."""
    return valid_until is not None and valid_until < today


def owner_for_create(actor: Actor, requested: str | None) -> str | None:
    """The owner department of a new entry. A department writes for itself only (its own code
    when none is given); the center for any department, or for none (the center's own
    entries). Anyone else: :class:`Forbidden`."""
    if actor.is_center:
        return requested
    if actor.role == DEPARTMENT_ROLE:
        if requested is not None and requested != actor.department_code:
            raise Forbidden(f"部门只能录入本部门的资料 a department adds entries for itself only, "
                            f"not for {requested}",
                            {"action": "create", "department_code": requested})
        return actor.department_code
    raise Forbidden(f"无权录入资料 role {actor.role} may not add entries",
                    {"action": "create", "role": actor.role})


def check_allowed(actor: Actor, action: str, department_code: str | None) -> None:
    """:class:`Forbidden` unless ``actor`` may take ``action`` on an entry of
    ``department_code`` (state aside: see :func:`next_status`)."""
    if actor.is_center:
        return
    if action in REVIEW_ACTIONS:
        raise Forbidden(f"只有热线中心可以{ACTIONS[action]} only the center (supervisor, admin) "
                        f"may {action} entries", {"action": action, "role": actor.role})
    if actor.role != DEPARTMENT_ROLE:
        raise Forbidden(f"无权{ACTIONS.get(action, action)}资料 role {actor.role} may not "
                        f"{action} entries", {"action": action, "role": actor.role})
    if not actor.owns(department_code):
        raise Forbidden(f"只能{ACTIONS.get(action, action)}本部门的资料 a department may {action} "
                        f"only its own entries; this one belongs to {department_code or '热线中心'}",
                        {"action": action, "department_code": department_code,
                         "reason": "not_owner"})


def next_status(status: str, action: str) -> str:
    """The state ``action`` leads to from ``status``, or :class:`Conflict` naming both."""
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise Conflict(f"资料{STATUSES.get(status, status)}，不能{ACTIONS[action]} {action} is not "
                       f"allowed in state {status}", {"action": action, "state": status})
    return target


# -- content -----------------------------------------------------------------------------------
_LABELS = re.compile("(" + "|".join(GUIDE_FIELDS.values()) + r")\s*[:：]")
_NAME_OF_LABEL = {label: name for name, label in GUIDE_FIELDS.items()}


def guide_fields_from_body(body: str) -> dict[str, str]:
    """The labelled parts of a guide's text (``申报材料：身份证、户口簿。办事程序：…``) as guide
    fields: each label's text runs to the next label or the end. The first of a repeated label
    counts. A guide written as prose, with its fields labelled, needs no separate form."""
    found: dict[str, str] = {}
    matches = list(_LABELS.finditer(body or ""))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        value = body[m.end():end].strip().rstrip("；;，,").strip()
        name = _NAME_OF_LABEL[m.group(1)]
        if value and name not in found:
            found[name] = value
    return found


def complete_fields(article_type: str, body: str, fields: Mapping[str, str] | None
                    ) -> dict[str, str]:
    """A guide's fields: those given, then those labelled in the body (given ones win).
    Other types have no fields."""
    if article_type != "guide":
        return dict(fields or {})
    return {**guide_fields_from_body(body), **{k: v for k, v in (fields or {}).items() if v}}


def content_errors(content: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with an entry's content beyond each field's own type (which marshmallow
    checks): guide fields on another type, unknown or over-long guide fields, validity dates
    in the wrong order. Keys name the field (``fields.materials``)."""
    errors: dict[str, list[str]] = {}
    fields = content.get("fields") or {}
    if fields and content.get("article_type") != "guide":
        errors["fields"] = ["只有办事指南有这些字段 only a guide (办事指南) has fields"]
    for name, value in fields.items():
        if name not in GUIDE_FIELDS:
            errors[f"fields.{name}"] = [f"未知字段 unknown guide field; one of "
                                        f"{', '.join(GUIDE_FIELDS)}"]
        elif not isinstance(value, str):
            errors[f"fields.{name}"] = ["须为文本 must be text"]
        elif len(value) > GUIDE_FIELD_MAX:
            errors[f"fields.{name}"] = [f"不超过{GUIDE_FIELD_MAX}字 at most {GUIDE_FIELD_MAX} "
                                        "characters"]
    start, end = content.get("valid_from"), content.get("valid_until")
    if start is not None and end is not None and end < start:
        errors["valid_until"] = ["失效日期早于生效日期 valid_until is before valid_from"]
    return errors


def check_content(content: Mapping[str, Any]) -> None:
    errors = content_errors(content)
    if errors:
        raise Invalid.fields(errors)


def check_publishable(content: Mapping[str, Any], today: date) -> None:
    """:class:`Invalid` naming what stops the version from going live: a guide's required
    fields (``fields.materials``…), a validity that has already ended."""
    errors = content_errors(content)
    if content.get("article_type") == "guide":
        fields = content.get("fields") or {}
        for name in REQUIRED_GUIDE_FIELDS:
            value = fields.get(name)
            if not isinstance(value, str) or not value.strip():
                errors[f"fields.{name}"] = [f"发布办事指南须填写{GUIDE_FIELDS[name]} required "
                                            f"to publish a guide"]
    if expired(content.get("valid_until"), today):
        errors["valid_until"] = [f"有效期已过 the entry expired on {content['valid_until']}"]
    if errors:
        raise Invalid.fields(errors, "不能发布 cannot publish")


def document_text(body: str, fields: Mapping[str, str] | None) -> str:
    """The text the index reads: the body, then each guide field (labelled) not already in it."""
    parts = [body or ""]
    for name, label in GUIDE_FIELDS.items():
        value = (fields or {}).get(name)
        if value and value not in (body or ""):
            parts.append(f"{label}：{value}")
    return "\n".join(p for p in parts if p)


def clean_query(q: object) -> str:
    """The query as searched: white space trimmed, at most :data:`MAX_QUERY` characters (a
    longer one is truncated, not refused); :class:`Invalid` naming ``q`` when empty."""
    text = q.strip() if isinstance(q, str) else ""
    if not text:
        raise Invalid.fields({"q": ["查询内容不能为空 query must not be empty"]})
    return text[:MAX_QUERY].strip()


# -- versions and their differences ------------------------------------------------------------
# the parts of a version compared field by field (the body separately, by lines and characters)
VERSION_FIELDS = ("title", "article_type", "department_code", "categories", "territories",
                  "valid_from", "valid_until", "review_due")
CHAR_DIFF_LIMIT = 20_000  # longer texts are compared by lines only (difflib is quadratic)


def text_ops(old: str, new: str) -> list[dict[str, str]]:
    """Character-level edit operations turning ``old`` into ``new``:
    ``[{"op": "equal" | "delete" | "insert", "text": …}]`` (a console renders them as-is)."""
    if len(old) > CHAR_DIFF_LIMIT or len(new) > CHAR_DIFF_LIMIT:
        return [op for op in ({"op": "delete", "text": old}, {"op": "insert", "text": new})
                if op["text"]]
    ops: list[dict[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append({"op": "equal", "text": old[i1:i2]})
            continue
        if i2 > i1:
            ops.append({"op": "delete", "text": old[i1:i2]})
        if j2 > j1:
            ops.append({"op": "insert", "text": new[j1:j2]})
    return ops


def body_ops(old: str, new: str) -> list[dict[str, Any]]:
    """Line-level operations turning ``old`` into ``new``; a replaced run of lines also carries
    its character-level ``chars`` (Chinese paragraphs are long single lines)::

        [{"op": "equal", "text": "…"}, {"op": "delete", "text": "…"},
         {"op": "insert", "text": "…"},
         {"op": "replace", "from": "…", "to": "…", "chars": [{"op": …, "text": …}]}]
    """
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    ops: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "replace":
            ops.append({"op": "replace", "from": before, "to": after,
                        "chars": text_ops(before, after)})
        else:
            ops.append({"op": tag, "text": before if tag != "insert" else after})
    return ops


def diff_versions(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from version ``old`` to ``new`` (each a version as a dict: the keys of
    :data:`VERSION_FIELDS`, ``body`` and ``fields``).

    ``changes``: one item per changed field, ``{"field", "from", "to"}`` (text fields also
    ``chars``; a guide field is named ``fields.<name>``); ``body``: :func:`body_ops`;
    ``body_changed``. Dates are compared as given (ISO strings or dates).
    """
    changes: list[dict[str, Any]] = []
    for name in VERSION_FIELDS:
        if name in old or name in new:
            _compare(changes, name, old.get(name), new.get(name))
    old_fields, new_fields = old.get("fields") or {}, new.get("fields") or {}
    for name in [*GUIDE_FIELDS, *sorted(set(old_fields) | set(new_fields) - set(GUIDE_FIELDS))]:
        _compare(changes, f"fields.{name}", old_fields.get(name), new_fields.get(name))
    old_body, new_body = old.get("body") or "", new.get("body") or ""
    return {"changes": changes, "body_changed": old_body != new_body,
            "body": body_ops(old_body, new_body)}


def _compare(changes: list[dict[str, Any]], name: str, before: Any, after: Any) -> None:
    if before == after or (not before and not after):
        return
    change: dict[str, Any] = {"field": name, "from": before, "to": after}
    if isinstance(before, str) and isinstance(after, str):
        change["chars"] = text_ops(before, after)
    changes.append(change)


# -- highlighting ------------------------------------------------------------------------------
def _spans(spans: Iterable[Sequence[int]], length: int) -> list[tuple[int, int]]:
    clean = sorted((max(0, int(s[0])), min(length, int(s[1]))) for s in spans
                   if len(s) >= 2 and int(s[1]) > int(s[0]))
    merged: list[tuple[int, int]] = []
    for start, end in clean:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_html(text: str, spans: Iterable[Sequence[int]]) -> str:
    """``text`` with the ``[start, end)`` character spans wrapped in ``<mark>``, everything
    HTML-escaped first (an entry's text never becomes markup). Overlapping spans merge; spans
    outside the text are clipped."""
    out, pos = [], 0
    for start, end in _spans(spans, len(text)):
        out.append(html.escape(text[pos:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)
