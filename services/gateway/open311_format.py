"""Open311 GeoReport v2 (docs/OPEN311.md): the wire rules, apart from any transport.

Plain Python: no nameko, no database session, no RPC. What is here: the services (our
categories) and their definitions, the checks of every parameter (each failure an
:class:`Open311Error` with the spec's status: 400 missing or bad parameter, 403 key, 404 unknown
resource), the mapping of the citizen progress view to a GeoReport request, and the JSON and XML
serialisations (XML is the spec's required format; JSON is offered too).

mySociety's servicerequestupdates extension (open311-adapter / FixMyStreet) is here as well:
its ``GET`` and ``POST`` parameters and its ``request_update`` element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from shared.vocabulary import CATEGORIES

FORMATS = {"json": "application/json", "xml": "text/xml"}
MAX_DESCRIPTION = 4000
MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when the services or this interface last changed


class Open311Error(Exception):
    """An answer in the spec's error format: ``status`` and one or more descriptions."""

    def __init__(self, status: int, descriptions: tuple[str, ...]):
        super().__init__(status, descriptions)
        self.status, self.descriptions = status, descriptions

    @classmethod
    def one(cls, status: int, description: str) -> Open311Error:
        return cls(status, (description,))

    def payload(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": d} for d in self.descriptions]


def bad(description: str) -> Open311Error:
    return Open311Error.one(400, description)


# -- configuration (OPEN311 in the YAML) -----------------------------------------------------------

LISTINGS = ("all", "open311")
TEXT_POLICIES = ("open311", "all", "none")


def settings(raw: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The OPEN311 settings with their defaults, and what was wrong with them. An unknown
    ``LISTING`` or ``TEXT`` falls back to the most private choice, never to a wider one."""
    def get(name: str, default: str) -> str:
        value = raw.get(name, raw.get(name.lower()))
        return str(value) if value not in (None, "") else default

    out = {"jurisdiction_id": get("JURISDICTION_ID", "12345"),
           "contact": get("CONTACT", "12345 政务服务便民热线"),
           "listing": get("LISTING", "all"), "text": get("TEXT", "open311")}
    problems = []
    if out["listing"] not in LISTINGS:
        problems.append(f"LISTING {out['listing']!r} is not one of {LISTINGS}; using open311")
        out["listing"] = "open311"
    if out["text"] not in TEXT_POLICIES:
        problems.append(f"TEXT {out['text']!r} is not one of {TEXT_POLICIES}; using none")
        out["text"] = "none"
    return out, problems


# -- services: our categories (shared/vocabulary.py) --------------------------------------------

_SERVICE_TEXT: dict[str, tuple[str, str, str]] = {  # description, keywords, group
    "consultation": ("政策、办事流程等咨询 Questions about policies and procedures",
                     "咨询,政策,办事指南", "咨询求助"),
    "help": ("生活中遇到困难需要帮助 Help with a difficulty", "求助,帮助,困难", "咨询求助"),
    "complaint": ("对单位或个人行为的投诉 A complaint about a body or a person's conduct",
                  "投诉,占道经营,噪音,污染", "投诉举报"),
    "report": ("举报违法违规行为 Reporting a breach of law or rules", "举报,违法,违规",
               "投诉举报"),
    "suggestion": ("对政府工作的意见建议 A suggestion for the government's work", "建议,意见",
                   "建议表扬"),
    "praise": ("对单位或个人的表扬 Praise for a body or a person", "表扬,感谢", "建议表扬"),
    "other": ("其他诉求 Anything else", "其他", "其他"),
}

# The attributes of every service. ``urgency`` picks 一般/紧急 (特急 is the center's call, not a
# citizen's); ``subject`` — who or what is complained about or reported — is required for
# complaints and reports (a 12345 center cannot route them without it); ``occurred_at`` dates
# the matter; ``caller_privacy`` is 保密 (the departments do not learn who reported).
_URGENCY = {"variable": True, "code": "urgency", "datatype": "singlevaluelist",
            "required": False, "datatype_description": "一般 normal (default) or 紧急 urgent",
            "order": 1, "description": "紧急程度 Urgency",
            "values": [{"key": "normal", "name": "一般"}, {"key": "urgent", "name": "紧急"}]}
_SUBJECT = {"variable": True, "code": "subject", "datatype": "string", "required": True,
            "datatype_description": "≤ 100 字 characters", "order": 2,
            "description": "被投诉/被举报对象（随诉求公开） Who or what the complaint or "
                           "report is about (published with the request)",
            "values": []}
_OCCURRED = {"variable": True, "code": "occurred_at", "datatype": "datetime", "required": False,
             "datatype_description": "ISO-8601 with time zone, e.g. 2026-12-01T08:00:00+08:00",
             "order": 3, "description": "发生时间 When it happened", "values": []}
_PRIVACY = {"variable": True, "code": "caller_privacy", "datatype": "singlevaluelist",
            "required": False, "datatype_description": "true or false (default)", "order": 4,
            "description": "保密：不向承办单位透露提交人身份 Keep the submitter's identity "
                           "from the departments",
            "values": [{"key": "false", "name": "不保密"}, {"key": "true", "name": "保密"}]}
_WITH_SUBJECT = {"complaint", "report"}
_TERRITORY = {"variable": True, "code": "territory", "datatype": "singlevaluelist",
              "required": False, "datatype_description": "区县、街道或社区的代码 the code of a "
              "district, street or community", "order": 2,
              "description": "所在属地（用于按属地派单） Where it is (orders are routed by "
                             "territory)", "values": []}


def territory_values(territories: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The ``territory`` attribute's values from dispatch's territories: every district, street
    and community, named with its parents below the city (``江阳区南城街道``)."""
    by_code = {t["code"]: t for t in territories}

    def name(t: Mapping[str, Any]) -> str:
        parent = by_code.get(t.get("parent_code") or "")
        if parent is None or parent.get("level") == "city":
            return str(t["name"])
        return name(parent) + str(t["name"])

    return [{"key": str(t["code"]), "name": name(t)} for t in territories
            if t.get("level") != "city"]


def services() -> list[dict[str, Any]]:
    """``GET services``: one per category, Chinese names."""
    return [{"service_code": code, "service_name": name, "description": _SERVICE_TEXT[code][0],
             "metadata": True, "type": "realtime", "keywords": _SERVICE_TEXT[code][1],
             "group": _SERVICE_TEXT[code][2]} for code, name in CATEGORIES.items()]


def service_name(code: str) -> str:
    return CATEGORIES.get(code, code)


def attributes_of(code: str, territories: list[dict[str, str]] | None = None
                  ) -> list[dict[str, Any]]:
    """The service's attributes in their order; ``territory`` when territories are known."""
    if code not in CATEGORIES:
        raise Open311Error.one(404, f"服务不存在 unknown service_code {code}")
    chosen = [_URGENCY, *([{**_TERRITORY, "values": territories}] if territories else []),
              *([_SUBJECT] if code in _WITH_SUBJECT else []), _OCCURRED, _PRIVACY]
    return [{**a, "order": n} for n, a in enumerate(chosen, start=1)]


def service_definition(code: str, territories: list[dict[str, str]] | None = None
                       ) -> dict[str, Any]:
    """``GET services/{code}``."""
    return {"service_code": code, "attributes": attributes_of(code, territories)}


# -- parameters ----------------------------------------------------------------------------------

def present(params: Mapping[str, str], name: str) -> str | None:
    """A parameter's value; an empty one counts as absent (the spec: null = not sent)."""
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def parse_datetime(value: str, name: str) -> datetime:
    """ISO-8601 (the w3 note's subset) with a mandatory time zone, else 400 naming ``name``."""
    if not _W3C.match(value):
        raise bad(f"{name} 日期时间格式有误，须含时区 must be ISO-8601 with a time zone "
                  f"(e.g. 2026-12-01T08:00:00+08:00): {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise bad(f"{name} 日期时间无效 is not a valid date-time: {value!r}") from None


def check_jurisdiction(params: Mapping[str, str], jurisdiction_id: str) -> None:
    got = present(params, "jurisdiction_id")
    if got is not None and got != jurisdiction_id:
        raise Open311Error.one(404, f"辖区不存在 unknown jurisdiction_id {got}")


def parse_submission(form: Mapping[str, str],
                     territories: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """``POST requests`` (without ``api_key``, checked by the route) → intake's Open311
    submission. 400 for a missing or unknown ``service_code``, a missing location, a missing
    required attribute, a bad value, a description over 4,000 characters."""
    code = present(form, "service_code")
    if code is None:
        raise bad("缺少参数 service_code is required")
    if code not in CATEGORIES:
        raise bad(f"服务不存在 unknown service_code {code}")
    errors: list[str] = []
    lat, long = _coordinate(form, "lat", 90, errors), _coordinate(form, "long", 180, errors)
    address = present(form, "address_string")
    address_id = present(form, "address_id")
    if (lat is None) != (long is None) and not errors:
        errors.append("lat 与 long 须同时提供 lat and long go together")
    if lat is None and long is None and address is None and address_id is None and not errors:
        errors.append("须提供位置：lat+long、address_string 或 address_id "
                      "a location is required: lat+long, address_string or address_id")
    description = form.get("description")
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors.append(f"description 超过{MAX_DESCRIPTION}字 is longer than {MAX_DESCRIPTION} "
                      f"characters ({len(description)})")
    _limit(errors, form, {"address_string": 200, "address_id": 64, "media_url": 500,
                          "account_id": 64, "email": 254, "device_id": 100, "first_name": 25,
                          "last_name": 25, "phone": 30})
    media = present(form, "media_url")
    if media is not None and not re.match(r"^https?://\S+$", media):
        errors.append(f"media_url 须为 http(s) 地址 must be an http(s) URL: {media!r}")
    email = present(form, "email")
    if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        errors.append(f"email 格式有误 is not an e-mail address: {email!r}")
    attrs = _attributes(form, code, territories, errors)
    if errors:
        raise Open311Error(400, tuple(errors))
    text = (description or "").strip()
    parts = [f"被投诉/被举报对象：{attrs['subject']}"] if attrs.get("subject") else []
    if attrs.get("occurred_at"):
        parts.append(f"发生时间：{attrs['occurred_at']}")
    content = "\n".join([*parts, text]) if text else "\n".join(
        [*parts, f"{service_name(code)}（Open311 提交，未填写描述）"])
    name = " ".join(n for n in (present(form, "last_name"), present(form, "first_name")) if n)
    first = text.splitlines()[0] if text else service_name(code)
    title = first[:30] + ("…" if len(first) > 30 else "")
    return {"category": code, "urgency": attrs.get("urgency", "normal"), "content": content,
            "title": title, "caller_name": name or None, "phone": present(form, "phone"),
            "address": address, "territory_code": attrs.get("territory"),
            "caller_privacy": attrs.get("caller_privacy") == "true",
            "lat": lat, "long": long, "address_id": address_id, "media_url": media,
            "account_id": present(form, "account_id"), "email": email,
            "device_id": present(form, "device_id")}


def _coordinate(form: Mapping[str, str], name: str, bound: float, errors: list[str]) -> float | None:
    raw = present(form, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"{name} 须为数字 must be a number: {raw!r}")
        return None
    if not -bound <= value <= bound:
        errors.append(f"{name} 超出范围 out of range ±{bound:g}: {raw}")
        return None
    return value


def _limit(errors: list[str], form: Mapping[str, str], limits: dict[str, int]) -> None:
    for name, n in limits.items():
        value = present(form, name)
        if value is not None and len(value) > n:
            errors.append(f"{name} 超过{n}字 is longer than {n} characters")


def _attributes(form: Mapping[str, str], code: str, territories: list[dict[str, str]] | None,
                errors: list[str]) -> dict[str, str]:
    """``attribute[code]=value`` for the service's attributes; unknown codes are ignored."""
    got: dict[str, str] = {}
    for attr in attributes_of(code, territories):
        value = present(form, f"attribute[{attr['code']}]")
        if value is None:
            if attr["required"]:
                errors.append(f"缺少必填属性 attribute[{attr['code']}] is required "
                              f"({attr['description']})")
            continue
        if attr["datatype"] == "singlevaluelist" and value not in {v["key"] for v in attr["values"]}:
            keys = ", ".join(v["key"] for v in attr["values"][:12]) + (
                " …" if len(attr["values"]) > 12 else "")
            errors.append(f"attribute[{attr['code']}] 取值无效 must be one of {keys}: {value!r}")
            continue
        if attr["datatype"] == "datetime":
            try:
                value = parse_datetime(value, f"attribute[{attr['code']}]").isoformat()
            except Open311Error as exc:
                errors.extend(exc.descriptions)
                continue
        if attr["datatype"] == "string" and len(value) > 100:
            errors.append(f"attribute[{attr['code']}] 超过100字 is longer than 100 characters")
            continue
        got[attr["code"]] = value
    return got


def _paging(params: Mapping[str, str]) -> tuple[int, int]:
    page, size = present(params, "page"), present(params, "page_size")
    try:
        p = int(page) if page is not None else 1
        s = int(size) if size is not None else MAX_REQUESTS
    except ValueError:
        raise bad("page 与 page_size 须为整数 page and page_size must be integers") from None
    if p < 1 or not 1 <= s <= MAX_REQUESTS:
        raise bad(f"page ≥ 1，page_size 须在 1..{MAX_REQUESTS} page must be ≥ 1 and "
                  f"page_size 1..{MAX_REQUESTS}")
    return p, s


def date_window(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """``start_date`` / ``end_date``: at most 90 days apart; without both, the 90 days up to
    ``end_date`` (or now), or the 90 days from ``start_date``."""
    raw_start, raw_end = present(params, "start_date"), present(params, "end_date")
    start = parse_datetime(raw_start, "start_date") if raw_start else None
    end = parse_datetime(raw_end, "end_date") if raw_end else None
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise bad("end_date 早于 start_date end_date is before start_date")
    if end - start > MAX_SPAN:
        raise bad("start_date 与 end_date 相隔不能超过90天 the span of start_date and end_date "
                  "may not exceed 90 days")
    return start, end


def parse_requests_query(params: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """``GET requests`` → the progress query: ``service_request_id`` (a comma list) overrides
    every other filter; else ``service_code`` (comma list), the date window, ``status``."""
    page, size = _paging(params)
    ids = present(params, "service_request_id")
    if ids is not None:
        listed = [i.strip() for i in ids.split(",") if i.strip()]
        if len(listed) > MAX_REQUESTS:
            raise bad(f"service_request_id 最多{MAX_REQUESTS}个 at most {MAX_REQUESTS} ids")
        return {"ticket_nos": listed, "page": page, "page_size": size}
    query: dict[str, Any] = {"page": page, "page_size": size}
    codes = present(params, "service_code")
    if codes is not None:
        listed = [c.strip() for c in codes.split(",") if c.strip()]
        unknown = [c for c in listed if c not in CATEGORIES]
        if unknown:
            raise bad(f"服务不存在 unknown service_code {', '.join(unknown)}")
        query["categories"] = listed
    start, end = date_window(params, now)
    query.update(start=start.isoformat(), end=end.isoformat())
    status = present(params, "status")
    if status is not None:
        states = sorted({s.strip().lower() for s in status.split(",") if s.strip()})
        if not states or not set(states) <= {"open", "closed"}:
            raise bad(f"status 须为 open 或 closed must be open and/or closed: {status!r}")
        query["states"] = states
    return query


def parse_updates_query(params: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """servicerequestupdates ``GET``: the same date window rules, and paging."""
    page, size = _paging(params)
    start, end = date_window(params, now)
    return {"start": start.isoformat(), "end": end.isoformat(), "page": page, "page_size": size}


UPDATE_STATUSES = {"open": "open", "closed": "closed", "in_progress": "open",
                   "action_scheduled": "open", "investigating": "open", "fixed": "closed"}


def parse_update_post(form: Mapping[str, str]) -> dict[str, Any]:
    """servicerequestupdates ``POST`` from a department's own system: ``service_request_id``,
    ``update_id`` (theirs), ``status`` (OPEN/CLOSED, any case; mySociety's finer open states
    count as open, ``fixed`` as closed), ``updated_datetime``, ``description`` (≤ 2,000: a
    progress note's limit), optional ``media_url``."""
    errors = [f"缺少参数 {name} is required" for name in
              ("service_request_id", "update_id", "status", "updated_datetime", "description")
              if present(form, name) is None]
    if errors:
        raise Open311Error(400, tuple(errors))
    status = str(present(form, "status")).lower()
    if status not in UPDATE_STATUSES:
        raise bad(f"status 取值无效 must be OPEN or CLOSED: {present(form, 'status')!r}")
    at = parse_datetime(str(present(form, "updated_datetime")), "updated_datetime")
    description = str(present(form, "description"))
    if len(description) > 2000:
        raise bad(f"description 超过2000字 is longer than 2000 characters ({len(description)})")
    update_id = str(present(form, "update_id"))
    if len(update_id) > 64:
        raise bad("update_id 超过64字 is longer than 64 characters")
    return {"service_request_id": str(present(form, "service_request_id")),
            "update_id": update_id, "closed": UPDATE_STATUSES[status] == "closed",
            "updated_datetime": at, "description": description,
            "media_url": present(form, "media_url")}


# -- answers -------------------------------------------------------------------------------------

def w3c(value: str | None) -> str | None:
    """Our ISO-8601 (``+00:00``) as the w3 note's ``…Z``."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url")


def service_request(view: Mapping[str, Any], departments: Mapping[str, str]) -> dict[str, Any]:
    """One citizen progress view (intake ``citizen_progress``) as a GeoReport request: exactly
    the spec's fields, in its order; no personal field exists in the view to leak."""
    lead = view.get("lead_department")
    out = {
        "service_request_id": view["ticket_no"],
        "status": "closed" if view["closed"] else "open",
        "status_notes": view["stage"],
        "service_name": service_name(view["category"]),
        "service_code": view["category"],
        "description": view.get("description"),
        "agency_responsible": departments.get(lead, lead) if lead else None,
        "service_notice": view.get("reply"),
        "requested_datetime": w3c(view["registered_at"]),
        "updated_datetime": w3c(view["updated_at"]),
        "expected_datetime": w3c(view.get("expected_at")),
        "address": view.get("address"),
        "address_id": view.get("address_id"),
        "zipcode": None,
        "lat": view.get("lat"),
        "long": view.get("long"),
        "media_url": view.get("media_url"),
    }
    assert tuple(out) == REQUEST_FIELDS
    return out


def request_update(item: Mapping[str, Any]) -> dict[str, Any]:
    """One public progress step as mySociety's ``request_update``."""
    return {"update_id": str(item["update_id"]), "service_request_id": item["ticket_no"],
            "status": item["status"], "updated_datetime": w3c(item["at"]),
            "description": item.get("description"), "media_url": item.get("media_url")}


SUBMITTED_NOTICE = ("已受理，工单号 {no}；将按规定时限派单办理，可凭工单号查询办理进度。"
                    "Received as order {no}; it is dispatched and handled within the "
                    "hotline's time limits.")


def submitted(ticket: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The answer to ``POST requests``: the order number at once (realtime), and the token."""
    return [{"service_request_id": ticket["ticket_no"],
             "service_notice": SUBMITTED_NOTICE.format(no=ticket["ticket_no"]),
             "account_id": ticket.get("account_id"), "token": ticket.get("token")}]


def discovery(base_url: str, contact: str) -> dict[str, Any]:
    formats = ["text/xml", "application/json"]
    return {"changeset": CHANGESET, "contact": contact,
            "key_service": "API 密钥由热线管理员签发 API keys are issued by the hotline's "
                           "administrators (scope open311)",
            "endpoints": [{"specification": SPECIFICATION, "url": base_url.rstrip("/"),
                           "changeset": CHANGESET, "type": "production", "formats": formats}]}


# -- serialisation -------------------------------------------------------------------------------

# root element, item element of each answer (XML); JSON is the list or object itself
ROOTS = {"services": ("services", "service"), "requests": ("service_requests", "request"),
         "errors": ("errors", "error"),
         "updates": ("service_request_updates", "request_update")}
# list-valued fields and the element of each of their items
_ITEMS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
          "formats": "format"}


def fmt_of(path: str) -> str:
    """The answer's format from the resource's suffix; XML (the required one) otherwise."""
    return "json" if path.rstrip("/").endswith(".json") else "xml"


def render(fmt: str, kind: str, payload: Any) -> tuple[bytes, str]:
    """``payload`` (a list of items, or for ``service_definition`` and ``discovery`` one
    object) as the body and its content type."""
    if fmt == "json":
        return (json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                "application/json; charset=utf-8")
    if kind in ROOTS:
        root_tag, item_tag = ROOTS[kind]
        root = ET.Element(root_tag)
        for item in payload:
            _fill(ET.SubElement(root, item_tag), item)
    else:
        root = ET.Element(kind)
        _fill(root, payload)
    body = ET.tostring(root, encoding="unicode")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'.encode(),
            "text/xml; charset=utf-8")


def _fill(element: ET.Element, item: Mapping[str, Any]) -> None:
    for key, value in item.items():
        child = ET.SubElement(element, key)
        if isinstance(value, list):
            for v in value:
                sub = ET.SubElement(child, _ITEMS.get(key, "item"))
                if isinstance(v, Mapping):
                    _fill(sub, v)
                else:
                    sub.text = _text(v)
        elif isinstance(value, Mapping):
            _fill(child, value)
        else:
            child.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
