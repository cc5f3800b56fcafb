"""Unit tests of services.gateway.open311_format: GeoReport v2's parameters, errors, the
request view and both serialisations (plain Python: nothing started)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway import open311_format as o311
from shared.vocabulary import CATEGORIES

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
FORM = {"service_code": "complaint", "attribute[subject]": "某烧烤店", "lat": "28.87",
        "long": "105.44", "description": "夜间油烟扰民"}


def error_of(fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(o311.Open311Error) as info:
        fn(*args)
    return info.value


class TestServices:
    def test_one_service_per_category_with_its_chinese_name(self) -> None:
        services = o311.services()
        assert [s["service_code"] for s in services] == list(CATEGORIES)
        assert {s["service_code"]: s["service_name"] for s in services} == CATEGORIES
        assert all(s["metadata"] is True and s["type"] == "realtime" for s in services)

    def test_complaints_and_reports_require_the_subject(self) -> None:
        for code in ("complaint", "report"):
            attrs = {a["code"]: a for a in o311.service_definition(code)["attributes"]}
            assert attrs["subject"]["required"] is True
        attrs = {a["code"]: a for a in o311.service_definition("consultation")["attributes"]}
        assert "subject" not in attrs and not any(a["required"] for a in attrs.values())
        orders = [a["order"] for a in o311.service_definition("help")["attributes"]]
        assert orders == sorted(orders) and len(set(orders)) == len(orders)

    def test_unknown_service_is_404(self) -> None:
        assert error_of(o311.service_definition, "nosuch").status == 404


class TestSubmission:
    def test_maps_to_an_intake_submission(self) -> None:
        got = o311.parse_submission({**FORM, "attribute[urgency]": "urgent", "first_name": "小明",
                                     "last_name": "王", "email": "a@b.cn",
                                     "attribute[caller_privacy]": "true"})
        assert (got["category"], got["urgency"], got["lat"], got["long"]) == (
            "complaint", "urgent", 28.87, 105.44)
        assert got["content"] == "被投诉/被举报对象：某烧烤店\n夜间油烟扰民"
        assert got["title"] == "夜间油烟扰民"
        assert (got["caller_name"], got["email"], got["caller_privacy"]) == ("王 小明", "a@b.cn",
                                                                             True)

    @pytest.mark.parametrize("change, text", [
        ({"service_code": None}, "service_code"),
        ({"service_code": ""}, "service_code"),  # an empty parameter counts as absent
        ({"service_code": "nosuch"}, "nosuch"),
        ({"lat": None, "long": None}, "location"),
        ({"long": None}, "lat and long"),
        ({"lat": "north"}, "lat"),
        ({"lat": "91"}, "lat"),
        ({"description": "字" * 4001}, "4000"),
        ({"attribute[subject]": None}, "attribute[subject]"),
        ({"attribute[urgency]": "critical"}, "attribute[urgency]"),
        ({"attribute[occurred_at]": "2026-12-01"}, "attribute[occurred_at]"),
        ({"media_url": "ftp://x"}, "media_url"),
        ({"email": "nobody"}, "email"),
    ])
    def test_bad_input_is_400_naming_it(self, change: dict[str, str | None], text: str) -> None:
        form = {k: v for k, v in {**FORM, **change}.items() if v is not None}
        err = error_of(o311.parse_submission, form)
        assert err.status == 400 and any(text in d for d in err.descriptions), err.descriptions

    def test_a_description_of_4000_is_accepted_and_an_address_alone_locates(self) -> None:
        assert o311.parse_submission({**FORM, "description": "字" * 4000})
        got = o311.parse_submission({"service_code": "help", "address_id": "A-17"})
        assert got["address_id"] == "A-17" and "未填写描述" in got["content"]

    def test_every_problem_at_once(self) -> None:
        err = error_of(o311.parse_submission, {"service_code": "complaint",
                                               "description": "字" * 4001})
        assert len(err.descriptions) == 3  # location, description, subject


class TestQueries:
    def test_default_window_is_the_last_90_days(self) -> None:
        q = o311.parse_requests_query({}, NOW)
        assert (q["start"], q["end"]) == ((NOW - timedelta(days=90)).isoformat(), NOW.isoformat())
        assert (q["page"], q["page_size"]) == (1, 1000)

    def test_one_bound_gives_90_days_from_it(self) -> None:
        q = o311.parse_requests_query({"start_date": "2026-06-01T00:00:00+08:00"}, NOW)
        start = datetime(2026, 5, 31, 16, tzinfo=UTC)
        assert (q["start"], q["end"]) == (start.isoformat(),
                                          (start + timedelta(days=90)).isoformat())

    def test_service_request_id_overrides_everything(self) -> None:
        q = o311.parse_requests_query({"service_request_id": "a, b,,c", "status": "bogus",
                                       "start_date": "bad"}, NOW)
        assert q == {"ticket_nos": ["a", "b", "c"], "page": 1, "page_size": 1000}

    def test_codes_and_states(self) -> None:
        q = o311.parse_requests_query({"service_code": "complaint,report",
                                       "status": "Open,closed"}, NOW)
        assert q["categories"] == ["complaint", "report"] and q["states"] == ["closed", "open"]

    @pytest.mark.parametrize("params, text", [
        ({"start_date": "2026-11-01"}, "time zone"),
        ({"end_date": "2026-11-01T00:00:00"}, "time zone"),
        ({"start_date": "2026-13-01T00:00:00Z"}, "valid"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-01T00:00:01Z"}, "90"),
        ({"start_date": "2026-04-01T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"}, "before"),
        ({"status": "pending"}, "status"),
        ({"service_code": "nosuch"}, "nosuch"),
        ({"page": "0"}, "page"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "many"}, "integers"),
        ({"service_request_id": ",".join(str(i) for i in range(1001))}, "1000"),
    ])
    def test_bad_query_is_400(self, params: dict[str, str], text: str) -> None:
        err = error_of(o311.parse_requests_query, params, NOW)
        assert err.status == 400 and text in err.descriptions[0], err.descriptions

    def test_exactly_90_days_is_allowed(self) -> None:
        q = o311.parse_requests_query({"start_date": "2026-01-01T00:00:00Z",
                                       "end_date": "2026-04-01T00:00:00Z"}, NOW)
        assert q["end"] == datetime(2026, 4, 1, tzinfo=UTC).isoformat()

    def test_jurisdiction(self) -> None:
        o311.check_jurisdiction({}, "12345")
        o311.check_jurisdiction({"jurisdiction_id": "12345"}, "12345")
        assert error_of(o311.check_jurisdiction, {"jurisdiction_id": "x"}, "12345").status == 404


class TestUpdatePost:
    FORM = {"service_request_id": "20261201000001", "update_id": "u1", "status": "CLOSED",
            "updated_datetime": "2026-12-01T10:00:00+08:00", "description": "已处理"}

    def test_maps_status(self) -> None:
        assert o311.parse_update_post(self.FORM)["closed"] is True
        assert o311.parse_update_post({**self.FORM, "status": "open"})["closed"] is False
        assert o311.parse_update_post({**self.FORM, "status": "FIXED"})["closed"] is True

    @pytest.mark.parametrize("change, text", [
        ({"status": None}, "status"), ({"status": "maybe"}, "status"),
        ({"service_request_id": None}, "service_request_id"),
        ({"updated_datetime": "today"}, "updated_datetime"),
        ({"description": "字" * 2001}, "2000"),
    ])
    def test_bad_update_is_400(self, change: dict[str, str | None], text: str) -> None:
        form = {k: v for k, v in {**self.FORM, **change}.items() if v is not None}
        err = error_of(o311.parse_update_post, form)
        assert err.status == 400 and any(text in d for d in err.descriptions)


VIEW = {"ticket_no": "20261201000007", "category": "complaint", "closed": False,
        "stage": "延期中", "lead_department": "chengguan",
        "expected_at": "2026-12-20T16:00:00+00:00", "registered_at": "2026-12-01T02:03:04.5+00:00",
        "updated_at": "2026-12-02T02:03:04+00:00", "description": "油烟", "address": "滨江路",
        "address_id": None, "lat": 28.8, "long": 105.4, "media_url": None, "reply": None}


class TestAnswers:
    def test_service_request_has_exactly_the_spec_fields(self) -> None:
        got = o311.service_request(VIEW, {"chengguan": "市综合行政执法局"})
        assert tuple(got) == o311.REQUEST_FIELDS
        assert (got["status"], got["status_notes"], got["agency_responsible"]) == (
            "open", "延期中", "市综合行政执法局")
        assert got["requested_datetime"] == "2026-12-01T02:03:04Z"
        assert got["expected_datetime"] == "2026-12-20T16:00:00Z"
        closed = o311.service_request({**VIEW, "closed": True, "lead_department": None}, {})
        assert (closed["status"], closed["agency_responsible"]) == ("closed", None)

    def test_xml_of_requests(self) -> None:
        body, mimetype = o311.render("xml", "requests",
                                     [o311.service_request(VIEW, {}), o311.service_request(VIEW, {})])
        assert mimetype.startswith("text/xml") and body.startswith(
            b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(body)
        assert root.tag == "service_requests" and [c.tag for c in root] == ["request"] * 2
        assert [c.tag for c in root[0]] == list(o311.REQUEST_FIELDS)
        assert root[0].findtext("address_id") == "" and root[0].findtext("lat") == "28.8"

    def test_xml_of_a_definition_nests_attributes_and_values(self) -> None:
        body, _ = o311.render("xml", "service_definition", o311.service_definition("complaint"))
        root = ET.fromstring(body)
        attrs = root.findall("attributes/attribute")
        assert root.tag == "service_definition" and len(attrs) == 4
        assert attrs[0].findtext("variable") == "true"
        assert [v.findtext("name") for v in attrs[0].findall("values/value")] == ["一般", "紧急"]

    def test_errors_in_both_formats(self) -> None:
        err = o311.Open311Error(400, ("缺少 service_code", "须提供位置"))
        body, mimetype = o311.render("json", "errors", err.payload())
        assert mimetype.startswith("application/json")
        assert json.loads(body) == [{"code": 400, "description": "缺少 service_code"},
                                    {"code": 400, "description": "须提供位置"}]
        root = ET.fromstring(o311.render("xml", "errors", err.payload())[0])
        assert root.tag == "errors"
        assert [(e.findtext("code"), e.findtext("description")) for e in root] == [
            ("400", "缺少 service_code"), ("400", "须提供位置")]

    def test_format_of_a_path(self) -> None:
        assert o311.fmt_of("/open311/v2/requests.json") == "json"
        assert o311.fmt_of("/open311/v2/requests.xml") == "xml"
        assert o311.fmt_of("/open311/v2/requests.html") == "xml"  # the required format

    def test_submitted_answer(self) -> None:
        [item] = o311.submitted({"ticket_no": "N1", "token": "t", "account_id": None})
        assert set(item) == {"service_request_id", "service_notice", "account_id", "token"}
        assert "N1" in item["service_notice"]


class TestSettings:
    def test_defaults(self) -> None:
        assert o311.settings({}) == ({"jurisdiction_id": "12345",
                                      "contact": "12345 政务服务便民热线", "listing": "all",
                                      "text": "open311"}, [])

    def test_a_bad_value_falls_back_to_the_most_private(self) -> None:
        got, problems = o311.settings({"LISTING": "everything", "TEXT": "some",
                                       "JURISDICTION_ID": "luzhou"})
        assert (got["listing"], got["text"], got["jurisdiction_id"]) == ("open311", "none",
                                                                         "luzhou")
        assert len(problems) == 2

    def test_the_default_config_has_the_section(self) -> None:
        from shared.config import load_config

        got, problems = o311.settings(load_config(env={})["OPEN311"])
        assert problems == [] and got["text"] == "open311"


TERRITORIES = [{"code": "510500", "name": "泸州市", "level": "city"},
               {"code": "510502", "name": "江阳区", "level": "district", "parent_code": "510500"},
               {"code": "510502001", "name": "南城街道", "level": "street",
                "parent_code": "510502"}]


class TestTerritory:
    def test_values_are_named_below_the_city(self) -> None:
        assert o311.territory_values(TERRITORIES) == [
            {"key": "510502", "name": "江阳区"}, {"key": "510502001", "name": "江阳区南城街道"}]

    def test_offered_and_checked_when_known(self) -> None:
        values = o311.territory_values(TERRITORIES)
        attrs = o311.service_definition("complaint", values)["attributes"]
        assert [a["code"] for a in attrs] == ["urgency", "territory", "subject", "occurred_at",
                                              "caller_privacy"]
        assert [a["order"] for a in attrs] == [1, 2, 3, 4, 5]
        got = o311.parse_submission({**FORM, "attribute[territory]": "510502001"}, values)
        assert got["territory_code"] == "510502001"
        err = error_of(o311.parse_submission, {**FORM, "attribute[territory]": "999"}, values)
        assert "attribute[territory]" in err.descriptions[0]
        assert "territory" not in {a["code"] for a in o311.attributes_of("complaint")}
