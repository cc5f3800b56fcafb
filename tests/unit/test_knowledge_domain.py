"""Knowledge's plain rules: workflow, permissions, guide fields, validity, diffs, highlighting."""

from __future__ import annotations

from datetime import date

import pytest

from services.knowledge import domain
from services.knowledge.domain import Actor
from shared.errors import Conflict, Forbidden, Invalid

CENTER = Actor("supervisor1", "supervisor")
ADMIN = Actor("admin", "admin")
RENSHE = Actor("dept_renshe", "department", "renshe")
AGENT = Actor("agent1", "agent")
TODAY = date(2026, 12, 2)


class TestActor:
    def test_from_the_rpc_dict(self) -> None:
        assert Actor.of({"name": "dept_renshe", "role": "department",
                         "department_code": "renshe"}) == RENSHE
        assert Actor.of(RENSHE) is RENSHE
        assert Actor.of({"name": "a", "role": "admin"}).department_code is None

    @pytest.mark.parametrize("bad", [None, "admin", {"role": "admin"}, {"name": "x"},
                                     {"name": "d", "role": "department"}])
    def test_unfit_actors_are_invalid_naming_actor(self, bad: object) -> None:
        with pytest.raises(Invalid) as err:
            Actor.of(bad)  # type: ignore[arg-type]
        assert "actor" in err.value.details["fields"]


class TestWorkflow:
    @pytest.mark.parametrize("status, action, target", [
        ("draft", "submit", "in_review"), ("in_review", "reject", "draft"),
        ("in_review", "publish", "published"), ("draft", "publish", "published"),
        ("published", "archive", "archived"), ("draft", "archive", "archived"),
        ("published", "edit", "draft"), ("in_review", "edit", "draft"),
        ("archived", "edit", "draft"),
    ])
    def test_allowed_transitions(self, status: str, action: str, target: str) -> None:
        assert domain.next_status(status, action) == target

    @pytest.mark.parametrize("status, action", [
        ("in_review", "submit"), ("published", "submit"), ("draft", "reject"),
        ("published", "publish"), ("archived", "publish"), ("archived", "archive"),
    ])
    def test_wrong_state_is_a_conflict_naming_state_and_action(self, status: str,
                                                               action: str) -> None:
        with pytest.raises(Conflict) as err:
            domain.next_status(status, action)
        assert err.value.details == {"action": action, "state": status}


class TestPermissions:
    @pytest.mark.parametrize("action", ["edit", "submit", "reject", "publish", "archive"])
    def test_the_center_may_do_anything_to_any_entry(self, action: str) -> None:
        for who in (CENTER, ADMIN):
            domain.check_allowed(who, action, "renshe")
            domain.check_allowed(who, action, None)

    @pytest.mark.parametrize("action", ["edit", "submit"])
    def test_a_department_edits_and_submits_its_own_entries_only(self, action: str) -> None:
        domain.check_allowed(RENSHE, action, "renshe")
        for owner in ("shuiwu", None):
            with pytest.raises(Forbidden) as err:
                domain.check_allowed(RENSHE, action, owner)
            assert err.value.details["reason"] == "not_owner"

    @pytest.mark.parametrize("action", ["reject", "publish", "archive"])
    def test_reviewing_is_the_centers(self, action: str) -> None:
        with pytest.raises(Forbidden) as err:
            domain.check_allowed(RENSHE, action, "renshe")
        assert "热线中心" in err.value.message

    def test_others_may_not_write(self) -> None:
        with pytest.raises(Forbidden):
            domain.check_allowed(AGENT, "edit", None)
        with pytest.raises(Forbidden):
            domain.owner_for_create(AGENT, None)

    def test_owner_of_a_new_entry(self) -> None:
        assert domain.owner_for_create(RENSHE, None) == "renshe"
        assert domain.owner_for_create(RENSHE, "renshe") == "renshe"
        with pytest.raises(Forbidden):
            domain.owner_for_create(RENSHE, "shuiwu")
        assert domain.owner_for_create(CENTER, "shuiwu") == "shuiwu"
        assert domain.owner_for_create(CENTER, None) is None

    def test_who_sees_drafts(self) -> None:
        assert domain.may_see_working(CENTER, "renshe")
        assert domain.may_see_working(RENSHE, "renshe")
        assert not domain.may_see_working(RENSHE, "shuiwu")
        assert not domain.may_see_working(AGENT, None)


class TestLiveAndValid:
    def test_live_means_published_not_archived_and_valid_today(self) -> None:
        assert domain.is_live("published", 1, None, None, TODAY)
        assert domain.is_live("draft", 1, None, None, TODAY)  # a new version being drafted
        assert not domain.is_live("draft", None, None, None, TODAY)
        assert not domain.is_live("archived", 1, None, None, TODAY)
        assert domain.is_live("published", 1, TODAY, TODAY, TODAY)  # both ends inclusive
        assert not domain.is_live("published", 1, date(2026, 12, 3), None, TODAY)
        assert not domain.is_live("published", 1, None, date(2026, 12, 1), TODAY)

    def test_expired_the_day_after_the_last_valid_day(self) -> None:
        assert not domain.expired(TODAY, TODAY)
        assert domain.expired(date(2026, 12, 1), TODAY)
        assert not domain.expired(None, TODAY)


class TestGuides:
    def test_labelled_parts_of_the_body_become_fields(self) -> None:
        body = ("项目名称：居住证办理。申报材料：身份证、居住证明；办事程序: 到派出所办理。"
                "承诺期限：15个工作日。收费标准：不收费。")
        assert domain.guide_fields_from_body(body) == {
            "project_name": "居住证办理。", "materials": "身份证、居住证明",
            "procedure": "到派出所办理。", "time_limit": "15个工作日。", "fee_standard": "不收费。"}
        assert domain.guide_fields_from_body("没有标签的正文") == {}

    def test_given_fields_win_over_the_body(self) -> None:
        fields = domain.complete_fields("guide", "申报材料：身份证", {"materials": "户口簿"})
        assert fields == {"materials": "户口簿"}
        assert domain.complete_fields("faq", "申报材料：身份证", None) == {}

    def test_publishing_a_guide_needs_its_required_fields(self) -> None:
        with pytest.raises(Invalid) as err:
            domain.check_publishable({"article_type": "guide", "fields": {
                "project_name": "居住证", "materials": "  "}}, TODAY)
        assert set(err.value.details["fields"]) == {
            "fields.materials", "fields.procedure", "fields.time_limit", "fields.fee_standard"}
        domain.check_publishable({"article_type": "faq"}, TODAY)

    def test_an_expired_version_cannot_be_published(self) -> None:
        with pytest.raises(Invalid) as err:
            domain.check_publishable({"article_type": "faq",
                                      "valid_until": date(2026, 12, 1)}, TODAY)
        assert "valid_until" in err.value.details["fields"]

    def test_content_errors_name_the_field(self) -> None:
        errors = domain.content_errors({
            "article_type": "guide", "fields": {"colour": "red", "basis": 3},
            "valid_from": TODAY, "valid_until": date(2026, 1, 1)})
        assert set(errors) == {"fields.colour", "fields.basis", "valid_until"}
        assert set(domain.content_errors({"article_type": "faq", "fields": {"basis": "x"}})) \
            == {"fields"}

    def test_document_text_adds_fields_not_in_the_body(self) -> None:
        text = domain.document_text("申报材料：身份证", {"materials": "身份证",
                                                     "time_limit": "即办"})
        assert text == "申报材料：身份证\n承诺期限：即办"


class TestQuery:
    def test_empty_is_invalid_naming_q(self) -> None:
        for q in ("", "  \t", None, 5):
            with pytest.raises(Invalid) as err:
                domain.clean_query(q)
            assert "q" in err.value.details["fields"]

    def test_long_is_truncated(self) -> None:
        assert domain.clean_query(" 社保" + "长" * 300) == ("社保" + "长" * 198)


class TestDiff:
    def test_fields_and_body(self) -> None:
        old = {"title": "停水通知", "body": "第一行\n提前三天发布。\n末行\n", "categories": [],
               "fields": {"materials": "身份证"}, "valid_until": None}
        new = {"title": "停水通知", "body": "第一行\n提前五天发布。\n末行\n新增一行\n",
               "categories": ["consultation"], "fields": {"materials": "身份证、户口簿"},
               "valid_until": "2027-01-01"}
        diff = domain.diff_versions(old, new)
        changed = {c["field"]: c for c in diff["changes"]}
        assert set(changed) == {"categories", "fields.materials", "valid_until"}
        assert changed["fields.materials"]["chars"] == [
            {"op": "equal", "text": "身份证"}, {"op": "insert", "text": "、户口簿"}]
        assert [op["op"] for op in diff["body"]] == ["equal", "replace", "equal", "insert"]
        replace = diff["body"][1]
        assert replace["from"] == "提前三天发布。\n" and replace["to"] == "提前五天发布。\n"
        assert replace["chars"] == [{"op": "equal", "text": "提前"}, {"op": "delete", "text": "三"},
                                    {"op": "insert", "text": "五"},
                                    {"op": "equal", "text": "天发布。\n"}]
        assert diff["body_changed"]

    def test_same_version_has_no_changes(self) -> None:
        v = {"title": "t", "body": "b", "fields": {}}
        assert domain.diff_versions(v, v) == {"changes": [], "body_changed": False,
                                              "body": [{"op": "equal", "text": "b"}]}

    def test_long_texts_fall_back_to_delete_and_insert(self) -> None:
        old, new = "甲" * 30_000, "乙" * 30_000
        assert domain.text_ops(old, new) == [{"op": "delete", "text": old},
                                             {"op": "insert", "text": new}]


class TestHighlight:
    def test_escapes_then_marks(self) -> None:
        assert domain.highlight_html("<b>停水</b>通知", [(3, 5)]) == \
            "&lt;b&gt;<mark>停水</mark>&lt;/b&gt;通知"

    def test_overlapping_and_out_of_range_spans(self) -> None:
        assert domain.highlight_html("城市管理执法", [[0, 2], [1, 4], [5, 99], [3, 3]]) == \
            "<mark>城市管理</mark>执<mark>法</mark>"
