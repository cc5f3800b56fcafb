"""Unit tests for shared.config: ``${VAR:default}`` interpolation and database URL precedence.

Every test passes an explicit ``env`` mapping, so the process environment never leaks in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import SERVICES, database_url, interpolate, load_config


class TestInterpolate:
    def test_default_used_when_unset(self) -> None:
        assert interpolate("amqp://${HOST:localhost}:5672/", {}) == "amqp://localhost:5672/"

    def test_environment_wins_over_default(self) -> None:
        assert interpolate("amqp://${HOST:localhost}/", {"HOST": "mq.local"}) == "amqp://mq.local/"

    def test_empty_environment_value_still_wins(self) -> None:
        assert interpolate("x${A:default}y", {"A": ""}) == "xy"

    def test_empty_default(self) -> None:
        assert interpolate("${TEMPLATE:}", {}) == ""

    def test_missing_variable_without_default_names_it(self) -> None:
        with pytest.raises(KeyError, match="SECRET_KEY"):
            interpolate("${SECRET_KEY}", {})

    def test_missing_variable_inside_a_longer_string(self) -> None:
        with pytest.raises(KeyError, match="DB_HOST"):
            interpolate("postgresql://${DB_HOST}/x", {})

    def test_several_placeholders(self) -> None:
        assert interpolate("${A:1}:${B:2}", {"B": "9"}) == "1:9"

    @pytest.mark.parametrize("text, env, expected", [
        ("${PORT:8000}", {}, 8000),
        ("${PORT:8000}", {"PORT": "9000"}, 9000),
        ("${POLL:1.0}", {}, 1.0),
        ("${DEBUG:false}", {}, False),
        ("${DEBUG:false}", {"DEBUG": "true"}, True),
        ("${NAME:hotline}", {}, "hotline"),
    ])
    def test_whole_placeholder_keeps_yaml_typing(self, text: str, env: dict[str, str],
                                                 expected: object) -> None:
        value = interpolate(text, env)
        assert value == expected and type(value) is type(expected)

    def test_partial_placeholder_stays_a_string(self) -> None:
        assert interpolate("port ${PORT:8000}", {}) == "port 8000"

    def test_nested_structures_and_non_strings(self) -> None:
        value = {"a": ["${X:1}", {"b": "${Y:two}"}], "c": 3, "d": None, "e": True}
        assert interpolate(value, {"Y": "2"}) == {"a": [1, {"b": 2}], "c": 3, "d": None,
                                                  "e": True}

    def test_text_without_placeholders_is_untouched(self) -> None:
        assert interpolate("$HOME and {braces} and $", {}) == "$HOME and {braces} and $"

    @pytest.mark.parametrize("secret", ["pa ss #word", "a: b", "[abc", "@start"])
    def test_environment_string_values_survive_verbatim(self, secret: str) -> None:
        assert interpolate("${HOTLINE_SECRET_KEY:dev}", {"HOTLINE_SECRET_KEY": secret}) == secret


class TestLoadConfig:
    def test_packaged_defaults(self) -> None:
        config = load_config(env={})
        assert config["AMQP_URI"] == "amqp://guest:guest@127.0.0.1:5672/"
        assert config["max_workers"] == 10
        assert config["TOKEN_TTL_SECONDS"] == 28800
        assert config["TIMEZONE"] == "Asia/Shanghai"
        assert config["DATABASE_URL_TEMPLATE"] == ""

    def test_default_sqlite_file_per_service_under_data_dir(self, tmp_path: Path) -> None:
        config = load_config(env={"HOTLINE_DATA_DIR": str(tmp_path)})
        assert config["DATA_DIR"] == str(tmp_path)
        assert set(config["DATABASES"]) == set(SERVICES)
        for service in SERVICES:
            assert config["DATABASES"][service] == f"sqlite:///{tmp_path / service}.db"
            assert database_url(config, service) == config["DATABASES"][service]

    def test_relative_default_data_dir(self) -> None:
        config = load_config(env={})
        assert config["DATA_DIR"] == "var"
        assert config["DATABASES"]["intake"] == "sqlite:///var/intake.db"

    def test_template_for_every_service(self) -> None:
        template = "postgresql+pg8000://postgres@127.0.0.1/hotline_{service}"
        config = load_config(env={"HOTLINE_DATABASE_URL_TEMPLATE": template})
        for service in SERVICES:
            assert config["DATABASES"][service] == (
                f"postgresql+pg8000://postgres@127.0.0.1/hotline_{service}")

    def test_per_service_url_wins_over_template(self) -> None:
        config = load_config(env={
            "HOTLINE_DATABASE_URL_TEMPLATE": "postgresql://db/hotline_{service}",
            "REPORTING_DATABASE_URL": "postgresql://analytics/reporting"})
        assert config["DATABASES"]["reporting"] == "postgresql://analytics/reporting"
        assert config["DATABASES"]["intake"] == "postgresql://db/hotline_intake"

    def test_per_service_url_wins_over_sqlite_default(self, tmp_path: Path) -> None:
        config = load_config(env={"HOTLINE_DATA_DIR": str(tmp_path),
                                  "INTAKE_DATABASE_URL": "sqlite:///elsewhere.db"})
        assert config["DATABASES"]["intake"] == "sqlite:///elsewhere.db"
        assert config["DATABASES"]["dispatch"] == f"sqlite:///{tmp_path / 'dispatch'}.db"

    def test_explicit_file_with_its_own_databases(self, tmp_path: Path) -> None:
        path = tmp_path / "city.yaml"
        path.write_text(
            "AMQP_URI: ${AMQP_URI}\n"
            "DATA_DIR: ${DATA:/srv/hotline}\n"
            "DATABASES:\n  gateway: sqlite:///gateway-from-file.db\n"
            "SLA_POLICY:\n  handle: {complaint: \"10wd\"}\n", "utf-8")
        config = load_config(path, env={"AMQP_URI": "amqp://mq/"})
        assert config["AMQP_URI"] == "amqp://mq/"
        assert config["SLA_POLICY"] == {"handle": {"complaint": "10wd"}}
        assert config["DATABASES"]["gateway"] == "sqlite:///gateway-from-file.db"
        assert config["DATABASES"]["intake"] == "sqlite:////srv/hotline/intake.db"

    def test_config_path_from_environment(self, tmp_path: Path) -> None:
        path = tmp_path / "c.yaml"
        path.write_text("MARKER: ${M:from-file}\n", "utf-8")
        assert load_config(env={"HOTLINE_CONFIG": str(path)})["MARKER"] == "from-file"

    def test_missing_variable_in_the_file_names_it(self, tmp_path: Path) -> None:
        path = tmp_path / "c.yaml"
        path.write_text("AMQP_URI: ${AMQP_URI}\n", "utf-8")
        with pytest.raises(KeyError, match="AMQP_URI"):
            load_config(path, env={})

    def test_empty_file(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.yaml"
        path.write_text("", "utf-8")
        config = load_config(path, env={})
        assert config["DATA_DIR"] == "var"
        assert set(config["DATABASES"]) == set(SERVICES)


class TestDatabaseUrl:
    def test_unknown_service_names_it(self) -> None:
        with pytest.raises(KeyError, match="billing"):
            database_url({"DATABASES": {}}, "billing")

    def test_no_databases_section(self) -> None:
        with pytest.raises(KeyError, match="intake"):
            database_url({}, "intake")
