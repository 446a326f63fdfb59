"""Settings read from the environment, with safe defaults for one laptop.

Pure functions, so the parsing and the refusal of unsafe production settings are testable
without importing Django's settings. ``keel.settings`` calls :func:`load` once.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import dj_email_url

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
MIN_SECRET_LENGTH = 50
INSECURE_PREFIX = "django-insecure"


class ConfigError(ValueError):
    """An environment variable holds a value Keel cannot run with; the message names it."""


@dataclass(frozen=True)
class Config:
    base_dir: Path
    var_dir: Path
    production: bool
    debug: bool
    secret_key: str
    secret_key_generated: bool
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    database: dict[str, Any]
    email: dict[str, Any]
    default_from_email: str
    time_zone: str
    redis_url: str | None
    port: int
    session_hours: int
    ssl_redirect: bool
    proxy_ssl_header: bool
    media_root: Path
    extra: dict[str, Any] = field(default_factory=dict)


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}: expected one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def parse_int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number; got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}; got {value}")
    return value


def parse_list(env: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_time_zone(env: Mapping[str, str], name: str = "KEEL_TIME_ZONE") -> str:
    raw = (env.get(name) or "UTC").strip()
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}: unknown time zone {raw!r} (use an IANA name such as Asia/Shanghai)"
        ) from None
    return raw


PG_PREPARE_AFTER = 5  # runs of a statement on one connection before PostgreSQL prepares it


def parse_database(env: Mapping[str, str], base_dir: Path, var_dir: Path) -> dict[str, Any]:
    raw = (env.get("DATABASE_URL") or "").strip() or f"sqlite:///{var_dir / 'keel.sqlite3'}"
    if raw.startswith("sqlite:///") and not raw.startswith("sqlite:////"):
        # A relative SQLite path is relative to the project folder, not to wherever keel runs.
        raw = f"sqlite:///{base_dir / raw.removeprefix('sqlite:///')}"
    try:
        db: dict[str, Any] = dict(dj_database_url.parse(raw))
    except Exception as exc:
        raise ConfigError(f"DATABASE_URL: cannot be read ({exc})") from None
    engine = db.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        db["ENGINE"] = "keel.db.sqlite3"
        db["OPTIONS"] = {
            # IMMEDIATE transactions take the write lock up front, so two writers queue on the
            # busy timeout instead of failing with "database is locked" when one upgrades.
            "transaction_mode": "IMMEDIATE",
            "timeout": parse_int(env, "KEEL_SQLITE_TIMEOUT", 20, low=1, high=600),
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA cache_size=-64000;"
                "PRAGMA mmap_size=268435456;"
                # Statement journals and RETURNING's buffers in memory: on disk, every write
                # transaction created, wrote and deleted a file under /var/tmp.
                "PRAGMA temp_store=MEMORY;"
            ),
        }
        db["CONN_MAX_AGE"] = None
    elif engine in {"django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"}:
        db["ENGINE"] = "keel.db.postgresql"
        db["CONN_MAX_AGE"] = parse_int(env, "KEEL_DB_CONN_MAX_AGE", 600, low=0, high=86400)
        db["CONN_HEALTH_CHECKS"] = True
        if parse_bool(env, "KEEL_PG_PREPARE", default=True):
            # Values go apart from the statement text, and a statement run PG_PREPARE_AFTER times
            # on a connection is prepared: planned once per connection, not on every run (the
            # incident list spent 2 of its 10 ms in PostgreSQL's planner). Off for connection
            # poolers that cannot keep prepared statements (PgBouncer before 1.21).
            db["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": PG_PREPARE_AFTER}
    else:
        raise ConfigError(
            f"DATABASE_URL: Keel runs on SQLite or PostgreSQL; {raw.split(':', 1)[0]!r} is not supported"
        )
    db.setdefault("TEST", {})
    return db


def parse_email(env: Mapping[str, str]) -> dict[str, Any]:
    raw = (env.get("KEEL_EMAIL_URL") or "console:").strip()
    if raw in {"console:", "console://"}:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    scheme = raw.split(":", 1)[0]
    if scheme not in {"smtp", "submission", "smtps", "submit"}:
        raise ConfigError(
            f"KEEL_EMAIL_URL: use smtp://user:password@host:port (or smtps://, submission://) or console:; got scheme {scheme!r}"
        )
    try:
        with warnings.catch_warnings():
            # dj-email-url reads smtps:// as STARTTLS and warns; Keel reads it as TLS on 465.
            warnings.simplefilter("ignore", UserWarning)
            parsed = dj_email_url.parse(raw)
    except Exception as exc:
        raise ConfigError(f"KEEL_EMAIL_URL: cannot be read ({exc})") from None
    use_ssl = scheme == "smtps" or bool(parsed["EMAIL_USE_SSL"])
    default_port = 465 if use_ssl else 587 if scheme in {"submission", "submit"} else 25
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed["EMAIL_HOST"] or "localhost",
        "EMAIL_PORT": parsed["EMAIL_PORT"] or default_port,
        "EMAIL_HOST_USER": parsed["EMAIL_HOST_USER"] or "",
        "EMAIL_HOST_PASSWORD": parsed["EMAIL_HOST_PASSWORD"] or "",
        "EMAIL_USE_TLS": bool(parsed["EMAIL_USE_TLS"]) and not use_ssl,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": parse_int(env, "KEEL_EMAIL_TIMEOUT", 20, low=1, high=300),
    }


def read_or_create_secret(var_dir: Path) -> str:
    """The laptop's secret key: generated once and kept in var/, never committed."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(env: Mapping[str, str], base_dir: Path) -> Config:
    var_dir = Path(env.get("KEEL_VAR_DIR") or base_dir / "var")
    if not var_dir.is_absolute():
        var_dir = base_dir / var_dir
    mode = (env.get("KEEL_ENV") or "development").strip().lower()
    if mode not in {"development", "production"}:
        raise ConfigError(f"KEEL_ENV: expected 'development' or 'production'; got {mode!r}")
    production = mode == "production"
    debug = parse_bool(env, "KEEL_DEBUG", default=False)

    raw_secret = (env.get("KEEL_SECRET_KEY") or "").strip()
    if raw_secret:
        secret, generated = raw_secret, False
    elif production:
        secret, generated = "", True
    else:
        secret, generated = read_or_create_secret(var_dir), True

    allowed_hosts = parse_list(env, "KEEL_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
    config = Config(
        base_dir=base_dir,
        var_dir=var_dir,
        production=production,
        debug=debug,
        secret_key=secret,
        secret_key_generated=generated,
        allowed_hosts=allowed_hosts,
        csrf_trusted_origins=parse_list(env, "KEEL_CSRF_TRUSTED_ORIGINS", []),
        database=parse_database(env, base_dir, var_dir),
        email=parse_email(env),
        default_from_email=(env.get("KEEL_DEFAULT_FROM_EMAIL") or "keel@localhost").strip(),
        time_zone=parse_time_zone(env),
        redis_url=(env.get("REDIS_URL") or "").strip() or None,
        port=parse_int(env, "KEEL_PORT", 8000, low=1, high=65535),
        session_hours=parse_int(env, "KEEL_SESSION_HOURS", 10, low=1, high=24 * 30),
        ssl_redirect=parse_bool(env, "KEEL_SSL_REDIRECT", default=production),
        proxy_ssl_header=parse_bool(env, "KEEL_BEHIND_PROXY", default=False),
        media_root=Path(env.get("KEEL_MEDIA_ROOT") or var_dir / "media"),
    )
    if production:
        check_production(config, env)
    return config


def check_production(config: Config, env: Mapping[str, str]) -> None:
    """Refuse to start a production server that is not safe to expose."""
    problems = []
    if config.debug:
        problems.append("KEEL_DEBUG must be off in production")
    secret = config.secret_key
    if config.secret_key_generated or not secret:
        problems.append("KEEL_SECRET_KEY must be set in production (a long random string)")
    elif (
        secret.startswith(INSECURE_PREFIX)
        or len(secret) < MIN_SECRET_LENGTH
        or len(set(secret)) < 5
    ):
        problems.append(
            f"KEEL_SECRET_KEY is too weak: use at least {MIN_SECRET_LENGTH} random characters"
        )
    if "KEEL_ALLOWED_HOSTS" not in env or not config.allowed_hosts:
        problems.append("KEEL_ALLOWED_HOSTS must name the host names Keel is served on")
    elif "*" in config.allowed_hosts:
        problems.append("KEEL_ALLOWED_HOSTS must not be '*' in production")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")
