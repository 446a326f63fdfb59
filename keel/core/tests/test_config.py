"""Settings from the environment: safe laptop defaults, readable errors, and a refusal to run an
unsafe production server. ``keel.config.load`` is pure, so no Django settings are involved."""

from __future__ import annotations

import pytest

from keel.config import ConfigError, load

STRONG_SECRET = "q7V-pX2m9Lk4sZr8TbW1nYc6HdJ0fGa3eUiOo5RtPlKjQw9xEvBn2MhCz7"
SAFE_PRODUCTION = {
    "KEEL_ENV": "production",
    "KEEL_SECRET_KEY": STRONG_SECRET,
    "KEEL_ALLOWED_HOSTS": "keel.example.com",
    "DATABASE_URL": "postgres://keel:pw@db.example.com:5432/keel",
}


def production(**overrides: str | None) -> dict[str, str]:
    """The safe production environment with some variables changed (``None`` removes one)."""
    env = {**SAFE_PRODUCTION, **overrides}
    return {name: value for name, value in env.items() if value is not None}


# Defaults on a laptop


def test_default_database_is_sqlite_in_the_var_folder(tmp_path):
    config = load({}, tmp_path)

    assert config.database["ENGINE"] == "keel.db.sqlite3"
    assert config.database["NAME"] == str(tmp_path / "var" / "keel.sqlite3")


def test_default_sqlite_uses_wal_and_immediate_transactions(tmp_path):
    options = load({}, tmp_path).database["OPTIONS"]

    assert "PRAGMA journal_mode=WAL;" in options["init_command"]
    assert "PRAGMA foreign_keys=ON;" in options["init_command"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] == 20


def test_relative_sqlite_path_is_relative_to_the_project_folder(tmp_path):
    config = load({"DATABASE_URL": "sqlite:///data/keel.db"}, tmp_path)

    assert config.database["NAME"] == str(tmp_path / "data" / "keel.db")


def test_development_defaults_are_debug_off_and_local_hosts(tmp_path):
    config = load({}, tmp_path)

    assert config.production is False
    assert config.debug is False
    assert config.allowed_hosts == ["localhost", "127.0.0.1", "[::1]"]
    assert config.time_zone == "UTC"
    assert config.port == 8000


# Database


def test_postgres_url_is_parsed_into_its_parts(tmp_path):
    config = load({"DATABASE_URL": "postgres://keel:s3cret@db.example.com:5433/keel"}, tmp_path)

    db = config.database
    assert db["ENGINE"] == "keel.db.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("keel", "keel", "s3cret")
    assert (db["HOST"], db["PORT"]) == ("db.example.com", 5433)
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] == 600


def test_postgres_statements_are_prepared_after_a_few_runs_unless_turned_off(tmp_path):
    url = {"DATABASE_URL": "postgres://keel:s3cret@db.example.com:5433/keel"}

    on = load(url, tmp_path).database["OPTIONS"]
    off = load({**url, "KEEL_PG_PREPARE": "0"}, tmp_path).database.get("OPTIONS", {})

    assert on == {"server_side_binding": True, "prepare_threshold": 5}
    assert "prepare_threshold" not in off
    assert "server_side_binding" not in off


@pytest.mark.parametrize("url", ["mysql://u:p@host/keel", "oracle://u:p@host/keel", "nosuch://x/y"])
def test_unsupported_database_scheme_is_refused_naming_database_url(tmp_path, url):
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: "):
        load({"DATABASE_URL": url}, tmp_path)


# Values of the wrong kind


def test_bad_boolean_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^KEEL_DEBUG: expected one of .*got 'maybe'"):
        load({"KEEL_DEBUG": "maybe"}, tmp_path)


@pytest.mark.parametrize("word", ["1", "true", "YES", " on "])
def test_true_words_turn_a_switch_on(tmp_path, word):
    assert load({"KEEL_DEBUG": word}, tmp_path).debug is True


def test_non_number_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^KEEL_PORT: expected a whole number; got 'eighty'"):
        load({"KEEL_PORT": "eighty"}, tmp_path)


def test_number_out_of_range_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^KEEL_PORT: must be between 1 and 65535; got 70000"):
        load({"KEEL_PORT": "70000"}, tmp_path)


def test_unknown_time_zone_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^KEEL_TIME_ZONE: unknown time zone 'Mars/Olympus'"):
        load({"KEEL_TIME_ZONE": "Mars/Olympus"}, tmp_path)


def test_known_time_zone_is_kept(tmp_path):
    assert load({"KEEL_TIME_ZONE": "Asia/Shanghai"}, tmp_path).time_zone == "Asia/Shanghai"


def test_unknown_mode_is_refused_naming_keel_env(tmp_path):
    with pytest.raises(ConfigError, match=r"^KEEL_ENV: "):
        load({"KEEL_ENV": "staging"}, tmp_path)


# E-mail


def test_email_goes_to_the_console_by_default(tmp_path):
    email = load({}, tmp_path).email

    assert email == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


def test_smtp_url_with_starttls_is_parsed(tmp_path):
    email = load(
        {"KEEL_EMAIL_URL": "smtp://keel:pw@mail.example.com:587/?tls=True"}, tmp_path
    ).email

    assert email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (email["EMAIL_HOST"], email["EMAIL_PORT"]) == ("mail.example.com", 587)
    assert (email["EMAIL_HOST_USER"], email["EMAIL_HOST_PASSWORD"]) == ("keel", "pw")
    assert (email["EMAIL_USE_TLS"], email["EMAIL_USE_SSL"]) == (True, False)


def test_smtps_url_means_implicit_tls_on_port_465(tmp_path):
    email = load({"KEEL_EMAIL_URL": "smtps://keel:pw@mail.example.com"}, tmp_path).email

    assert email["EMAIL_PORT"] == 465
    assert (email["EMAIL_USE_TLS"], email["EMAIL_USE_SSL"]) == (False, True)


def test_bad_email_scheme_is_refused_naming_keel_email_url(tmp_path):
    with pytest.raises(ConfigError, match=r"^KEEL_EMAIL_URL: .*got scheme 'imap'"):
        load({"KEEL_EMAIL_URL": "imap://mail.example.com"}, tmp_path)


# Secret key on a laptop


def test_secret_key_is_generated_into_the_var_folder(tmp_path):
    config = load({}, tmp_path)

    assert config.secret_key_generated is True
    assert len(config.secret_key) >= 50
    assert (tmp_path / "var" / "secret_key").read_text() == config.secret_key


def test_generated_secret_key_is_kept_between_starts(tmp_path):
    first = load({}, tmp_path).secret_key

    second = load({}, tmp_path).secret_key

    assert second == first


def test_secret_key_file_is_readable_only_by_its_owner(tmp_path):
    load({}, tmp_path)

    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


# Production: refused unless safe


def test_safe_production_configuration_loads(tmp_path):
    config = load(production(), tmp_path)

    assert config.production is True
    assert config.secret_key == STRONG_SECRET
    assert config.allowed_hosts == ["keel.example.com"]
    assert config.ssl_redirect is True


def test_production_does_not_write_a_secret_key_file(tmp_path):
    load(production(), tmp_path)

    assert not (tmp_path / "var" / "secret_key").exists()


def test_production_refuses_debug(tmp_path):
    with pytest.raises(ConfigError, match="KEEL_DEBUG must be off in production"):
        load(production(KEEL_DEBUG="true"), tmp_path)


def test_production_refuses_a_missing_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="KEEL_SECRET_KEY must be set in production"):
        load(production(KEEL_SECRET_KEY=None), tmp_path)


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("short-but-random-Xy7", id="short"),
        pytest.param("a" * 80, id="one-character-repeated"),
        pytest.param("django-insecure-" + STRONG_SECRET, id="django-insecure"),
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path, secret):
    with pytest.raises(ConfigError, match="KEEL_SECRET_KEY is too weak"):
        load(production(KEEL_SECRET_KEY=secret), tmp_path)


def test_production_refuses_missing_allowed_hosts(tmp_path):
    with pytest.raises(ConfigError, match="KEEL_ALLOWED_HOSTS must name the host names"):
        load(production(KEEL_ALLOWED_HOSTS=None), tmp_path)


def test_production_refuses_empty_allowed_hosts(tmp_path):
    with pytest.raises(ConfigError, match="KEEL_ALLOWED_HOSTS must name the host names"):
        load(production(KEEL_ALLOWED_HOSTS=" , "), tmp_path)


def test_production_refuses_wildcard_allowed_hosts(tmp_path):
    with pytest.raises(ConfigError, match="KEEL_ALLOWED_HOSTS must not be '\\*' in production"):
        load(production(KEEL_ALLOWED_HOSTS="keel.example.com,*"), tmp_path)


def test_production_refusal_lists_every_problem_at_once(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load(production(KEEL_DEBUG="1", KEEL_SECRET_KEY=None, KEEL_ALLOWED_HOSTS="*"), tmp_path)

    message = str(refused.value)
    assert message.startswith("Refusing to start in production")
    assert "KEEL_DEBUG" in message
    assert "KEEL_SECRET_KEY" in message
    assert "KEEL_ALLOWED_HOSTS" in message
