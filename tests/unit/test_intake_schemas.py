"""Unit tests for services.intake.schemas.RegistrationSchema, loaded the way entrypoints do
(shared.errors.load_or_invalid), so each bad field comes back named in ``Invalid``."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.schemas import MAX_CONTENT, RegistrationSchema
from shared.errors import Invalid, load_or_invalid
from shared.vocabulary import CATEGORIES


def load(**payload: Any) -> dict[str, Any]:
    return load_or_invalid(RegistrationSchema(), payload)


def invalid_fields(payload: Any) -> dict[str, list[str]]:
    with pytest.raises(Invalid) as info:
        load_or_invalid(RegistrationSchema(), payload)
    return info.value.details["fields"]


VALID = {"category": "complaint", "content": "楼下施工噪音扰民", "phone": "13812345678"}


class TestRequiredFields:
    def test_all_three_missing_are_named(self) -> None:
        fields = invalid_fields({})
        assert set(fields) == {"content", "phone", "category"}
        assert all(msgs == ["Missing data for required field."] for msgs in fields.values())

    @pytest.mark.parametrize("missing", ["content", "phone", "category"])
    def test_each_missing_field_alone(self, missing: str) -> None:
        payload = {k: v for k, v in VALID.items() if k != missing}
        assert list(invalid_fields(payload)) == [missing]

    def test_null_content(self) -> None:
        assert "content" in invalid_fields({**VALID, "content": None})

    def test_body_that_is_not_an_object(self) -> None:
        fields = invalid_fields(["not", "a", "dict"])
        assert list(fields) == ["_body"]


class TestContent:
    def test_content_at_the_limit_is_accepted(self) -> None:
        assert load(**{**VALID, "content": "字" * MAX_CONTENT})["content"] == "字" * MAX_CONTENT

    def test_content_over_4000_characters(self) -> None:
        assert MAX_CONTENT == 4000
        fields = invalid_fields({**VALID, "content": "x" * 4001})
        assert list(fields) == ["content"]
        assert "4000" in fields["content"][0]

    @pytest.mark.parametrize("blank", [" ", "\n\t ", "\u3000"])
    def test_blank_content(self, blank: str) -> None:
        fields = invalid_fields({**VALID, "content": blank})
        assert any("blank" in m for m in fields["content"])

    def test_empty_content(self) -> None:
        assert "content" in invalid_fields({**VALID, "content": ""})


class TestCategory:
    def test_unknown_category_message_lists_the_valid_ones(self) -> None:
        fields = invalid_fields({**VALID, "category": "gossip"})
        (message,) = fields["category"]
        assert "'gossip'" in message
        for code in CATEGORIES:
            assert code in message

    @pytest.mark.parametrize("category", list(CATEGORIES))
    def test_every_national_category_is_accepted(self, category: str) -> None:
        assert load(**{**VALID, "category": category})["category"] == category


class TestOtherFields:
    def test_unknown_extra_field_is_named(self) -> None:
        fields = invalid_fields({**VALID, "colour": "red"})
        assert fields == {"colour": ["未知字段 unknown field"]}

    def test_bad_phone_is_named_with_the_domain_message(self) -> None:
        fields = invalid_fields({**VALID, "phone": "12345"})
        assert list(fields) == ["phone"]
        assert "12345" in fields["phone"][0]

    def test_bad_enums_are_each_named(self) -> None:
        fields = invalid_fields({**VALID, "channel": "fax", "urgency": "asap"})
        assert set(fields) == {"channel", "urgency"}

    def test_several_errors_are_reported_together(self) -> None:
        fields = invalid_fields({"category": "gossip", "content": " ", "phone": "x", "extra": 1})
        assert set(fields) == {"category", "content", "phone", "extra"}

    def test_title_longer_than_200(self) -> None:
        assert "title" in invalid_fields({**VALID, "title": "t" * 201})


class TestDefaults:
    def test_defaults_of_a_minimal_form(self) -> None:
        form = load(**VALID)
        assert form["channel"] == "phone"
        assert form["urgency"] == "normal"
        assert form["confidential"] is False
        for optional in ("title", "caller_name", "address", "territory_code", "call_id",
                         "recording_ref"):
            assert form[optional] is None

    def test_given_values_win_over_defaults(self) -> None:
        form = load(**VALID, channel="web", urgency="critical", confidential=True)
        assert (form["channel"], form["urgency"], form["confidential"]) == ("web", "critical", True)

    def test_phone_is_validated_but_left_as_typed(self) -> None:
        # normalisation happens in the entrypoint (services/intake/service.py), not the schema
        assert load(**{**VALID, "phone": "+86 138 1234 5678"})["phone"] == "+86 138 1234 5678"
