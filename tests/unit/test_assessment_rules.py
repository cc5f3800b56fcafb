"""The assessment rule set (部门考核规则): the shipped file, its validation errors, and the
computation on hand-built facts (no database)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.reporting import assessment as a
from services.reporting.domain import Rate
from services.reporting.periods import quarter

NOW = datetime(2026, 12, 7, tzinfo=UTC)
SHIPPED = a.RULES_DIR / "004-2011.yaml"


def doc() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def facts(**kw: Any) -> a.QuarterFacts:
    base: dict[str, Any] = {"department_code": "d1", "year": 2026, "quarter": 4,
                            "period": quarter(2026, 4), "completion": Rate(10, 10),
                            "satisfaction": Rate(0, 0)}
    base.update(kw)
    return a.QuarterFacts(**base)


def entry(rule: str, points: float, n: int = 1, i: int = 1, on: date | None = None
          ) -> a.ManualEntry:
    return a.ManualEntry(id=i, rule=rule, points=Decimal(str(points)), count=n, reason="r",
                         ticket_no=None, occurred_on=on, entered_by="s", entered_at=NOW)


def rules() -> a.RuleSet:
    return a.parse_rules(doc())


def test_the_shipped_rule_set() -> None:
    sets = a.load_rule_sets()
    assert [s.version for s in sets] == ["004-2011"]
    rs = sets[0]
    assert (rs.base, rs.bonus_cap, rs.effective_from) == (Decimal(100), Decimal(20),
                                                          date(2011, 4, 1))
    points = {c: float(r.points) for c, r in rs.rules.items()}
    assert points["on_time_completion"] == 9 and points["satisfaction"] == 6
    assert points["valid_complaints"] == 6 and points["overdue"] == -2
    assert points["rejected_return"] == -0.1 and points["banner"] == 0.1
    assert points["praise_letter"] == 0.1 and points["city_center_praise"] == 0.5
    assert points["provincial_center_praise"] == 1 and points["center_criticism"] == -0.5
    assert points["written_criticism"] == -2 and points["media_exposure"] == -2
    assert a.rules_for(sets, date(2026, 9, 1)).version == "004-2011"
    with pytest.raises(a.RuleError) as err:
        a.rules_for(sets, date(2010, 12, 1))
    assert err.value.field == "quarter"


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("version"), "version"),
    (lambda d: d.update(effective_from="2011-13-01"), "effective_from"),
    (lambda d: d.update(base=0), "base"),
    (lambda d: d.update(bonus_cap=-1), "bonus_cap"),
    (lambda d: d.update(rules=[]), "rules"),
    (lambda d: d["rules"][6].update(points="0.5"), "rules[6].points"),
    (lambda d: d["rules"][6].update(points=-2), "rules[6].points"),  # a bonus must be > 0
    (lambda d: d["rules"][4].update(points=2), "rules[4].points"),  # a deduction must be < 0
    (lambda d: d["rules"][6].update(kind="extra"), "rules[6].kind"),
    (lambda d: d["rules"][6].update(source="robot"), "rules[6].source"),
    (lambda d: d["rules"][7].update(code="Bad Code"), "rules[7].code"),
    (lambda d: d["rules"][7].update(code=d["rules"][6]["code"]), "rules[7].code"),
    (lambda d: d["rules"][7].update(name=""), "rules[7].name"),
    (lambda d: d["rules"][7].update(colour="red"), "rules[7].colour"),
    (lambda d: d["rules"].pop(4), "rules"),  # overdue is required
    (lambda d: d["rules"][0].update(kind="bonus"), "rules[0].kind"),
    (lambda d: d["rules"][1].update(params={"threshold": 95}), "rules[1].params.threshold"),
    (lambda d: d["rules"][2]["params"].update(nth=2.5), "rules[2].params.nth"),
    (lambda d: d["rules"][0].update(points=99), "rules"),  # base items above the base
    (lambda d: d["rules"][-1].pop("max_points"), f"rules[{len(doc()['rules']) - 1}]"
                                                 ".max_points"),
    (lambda d: d["rules"][6].update(max_points=2), "rules[6].max_points"),
])
def test_rule_file_errors_name_the_entry(change: Any, field: str) -> None:
    d = copy.deepcopy(doc())
    change(d)
    with pytest.raises(a.RuleError) as err:
        a.parse_rules(d)
    assert err.value.field == field


def test_a_bad_file_or_a_repeated_version_stops_loading(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(a.RuleError) as err:
        a.load_rule_sets(tmp_path)
    assert err.value.field == "version"
    (tmp_path / "b.yaml").write_text("version: [", encoding="utf-8")
    with pytest.raises(a.RuleError) as err:
        a.load_rule_sets(tmp_path)
    assert err.value.field.startswith("b.yaml:")
    with pytest.raises(a.RuleError):
        a.load_rule_sets(tmp_path / "empty")


def test_a_clean_quarter_scores_the_base() -> None:
    snap = a.compute(rules(), facts(), NOW)
    assert snap["score"] == 100.0
    assert sum(i["points"] for i in snap["items"]) == 0


def test_satisfaction_threshold_and_bonus() -> None:
    below = a.compute(rules(), facts(satisfaction=Rate(94, 100)), NOW)
    assert below["score"] == 94.0
    exactly = a.compute(rules(), facts(satisfaction=Rate(95, 100)), NOW)
    assert exactly["score"] == 100.0
    whole = a.compute(rules(), facts(satisfaction=Rate(979, 1000)), NOW)  # 97.9 % → 2 points
    assert whole["score"] == 100.2
    full = a.compute(rules(), facts(satisfaction=Rate(20, 20)), NOW)
    assert full["score"] == 100.5
    d = doc()
    d["rules"][3]["params"]["whole_points"] = False
    exact = a.compute(a.parse_rules(d), facts(satisfaction=Rate(979, 1000)), NOW)
    assert exact["score"] == 100.29


def test_complaints_cost_one_then_two_and_the_item_stops_at_zero() -> None:
    def score(*entries: a.ManualEntry) -> float:
        return float(a.compute(rules(), facts(entries=list(entries)), NOW)["score"])

    assert score(entry("valid_complaints", -1)) == 99.0
    assert score(entry("valid_complaints", -1, n=2)) == 98.0
    assert score(entry("valid_complaints", -1, n=2), entry("valid_complaints", -1, i=2)) == 96.0
    assert score(entry("valid_complaints", -1, n=4)) == 94.0  # 1 + 1 + 2 + 2 = 6: the item
    assert score(entry("valid_complaints", -1, n=9)) == 94.0  # no further
    d = doc()
    d["rules"][2]["params"]["floor_at_zero"] = False
    snap = a.compute(a.parse_rules(d), facts(entries=[entry("valid_complaints", -1, n=5)]), NOW)
    assert snap["score"] == 92.0


def test_one_overdue_order_zeroes_completion_and_costs_two() -> None:
    order = a.OverdueOrder("T1", 7, "lead", datetime(2026, 10, 1, tzinfo=UTC), None)
    snap = a.compute(rules(), facts(overdue=[order], completion=Rate(9, 10)), NOW)
    assert snap["score"] == 89.0  # −9 −2
    assert snap["items"][0]["orders"][0]["ticket_no"] == "T1"


def test_an_item_of_an_unknown_rule_is_shown_not_counted() -> None:
    snap = a.compute(rules(), facts(entries=[entry("gone_rule", 3)]), NOW)
    assert snap["score"] == 100.0
    assert snap["items"][-1]["code"] == "unknown_rules"


def test_ranks_share_ties() -> None:
    assert a.ranks({"a": 90.0, "b": 95.5, "c": 90.0, "d": 80.0}) == {
        "b": 1, "a": 2, "c": 2, "d": 4}
