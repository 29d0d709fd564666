"""Settings: environment variables ``CLICKPHONE_*`` and/or a TOML file.

Precedence (highest first): explicit keyword arguments (the CLI), environment variables,
the TOML file named by ``--config`` / ``CLICKPHONE_CONFIG``, defaults.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEYS = frozenset({"", "change-me", "changeme", "secret", "dev"})
DEFAULT_ADMIN_PASSWORDS = frozenset({"", "admin", "password", "change-me", "changeme"})


class ConfigError(Exception):
    """The configuration is unusable (bad value, or unsafe for production)."""


def parse_hostport(value: str, default_host: str) -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``:PORT`` or ``PORT``; IPv6 hosts in brackets."""
    value = value.strip()
    host = default_host
    port_s = value
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError(f"bad address {value!r}: missing ']'")
        host = value[1:end]
        port_s = value[end + 2 :] if value[end + 1 : end + 2] == ":" else ""
    elif ":" in value:
        h, _, port_s = value.rpartition(":")
        host = h or default_host
    try:
        port = int(port_s)
    except ValueError:
        raise ConfigError(f"bad address {value!r}: expected HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"bad address {value!r}: port out of range")
    return host, port


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLICKPHONE_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str = ""

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    sip_host: str = "0.0.0.0"
    sip_port: int = 5060
    sip_transports: list[str] = Field(default_factory=lambda: ["udp", "tcp"])
    sip_realm: str = "clickphone"
    public_ip: str | None = None
    media_ip: str | None = None
    media_port_min: int = 20000
    media_port_max: int = 30000
    media_mode: Literal["worker", "inprocess", "rtpengine"] = "worker"
    # media_mode=rtpengine: its --listen-ng address, and where it sends DTMF (--dtmf-log-dest)
    rtpengine_ng: str = "127.0.0.1:2223"
    rtpengine_dtmf_listen: str | None = None
    sip_tls_port: int | None = None  # SIP over TLS on this port when a certificate is given
    sip_tls_cert: Path | None = None
    sip_tls_key: Path | None = None
    # SIP over WebSocket (RFC 7118: browsers, WebRTC softphones), off unless a port is set or
    # sip_transports names "ws" (port 5066) / "wss" (7443); WSS uses the TLS files above
    sip_ws_port: int | None = None
    sip_wss_port: int | None = None
    sip_ws_origins: str = ""  # comma-separated Origins browsers may connect from; "": any
    sip_enabled: bool = True
    rtp_timeout: float = 60.0
    ring_timeout: float = 60.0
    max_call_duration: float = 4 * 3600.0
    # call recordings: files under recordings_dir (default <data_dir>/recordings)
    recordings_dir: Path | None = None
    recording_format: Literal["ogg", "mp3", "wav"] = "ogg"
    recording_retention_interval: float = 3600.0  # seconds between retention sweeps
    recording_share_ttl: int = 7 * 24 * 3600  # longest lifetime of a share link
    # recordings in S3-compatible storage (production) when a bucket is set; else the folder
    recordings_s3_endpoint: str = ""  # e.g. http://minio:9000; "" for AWS itself
    recordings_s3_bucket: str = ""
    recordings_s3_access_key: str = ""
    recordings_s3_secret_key: str = ""
    recordings_s3_region: str = "us-east-1"
    recordings_s3_prefix: str = ""

    secret_key: str = ""
    admin_email: str = "admin@clickphone.local"
    admin_password: str = ""

    session_max_age: int = 14 * 24 * 3600
    cookie_secure: bool | None = None  # None: on in production, off in development
    login_max_failures: int = 5
    login_window_seconds: int = 300
    # password reset by e-mail: on when smtp_host and smtp_from are set
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"  # tls: implicit TLS (port 465)
    public_url: str = ""  # the cabinet's address in e-mailed links (default: http_url)
    password_reset_ttl: int = 3600
    web_dist: Path | None = None
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.media_port_min > self.media_port_max:
            raise ValueError("media_port_min must not exceed media_port_max")
        for t in self.sip_transports:
            if t not in {"udp", "tcp", "tls", "ws", "wss"}:
                raise ValueError(f"unknown SIP transport {t!r}")
        return self

    # -- derived values -------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'clickphone.db'}"

    @property
    def ws_listen_port(self) -> int | None:
        if self.sip_ws_port is not None:
            return self.sip_ws_port
        return 5066 if "ws" in self.sip_transports else None

    @property
    def wss_listen_port(self) -> int | None:
        if self.sip_wss_port is not None:
            return self.sip_wss_port
        return 7443 if "wss" in self.sip_transports else None

    @property
    def ws_origins(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.sip_ws_origins.split(",") if o.strip())

    @property
    def recordings_root(self) -> Path:
        return (self.recordings_dir or self.data_dir / "recordings").resolve()

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or self.http_url).rstrip("/")

    @property
    def effective_cookie_secure(self) -> bool:
        return self.is_production if self.cookie_secure is None else self.cookie_secure

    @property
    def http_url(self) -> str:
        host = self.http_host
        if host in {"0.0.0.0", "::"}:
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.http_port}"

    def ensure_secret_key(self) -> str:
        """Return the secret key; in development create ``<data_dir>/secret_key`` once.

        Production refuses a missing or well-known secret.
        """
        if self.secret_key and self.secret_key not in DEFAULT_SECRET_KEYS:
            if self.is_production and len(self.secret_key) < 32:
                raise ConfigError("CLICKPHONE_SECRET_KEY must be at least 32 characters")
            return self.secret_key
        if self.is_production:
            raise ConfigError(
                "production mode needs CLICKPHONE_SECRET_KEY set to a random value "
                "of at least 32 characters"
            )
        path = self.data_dir / "secret_key"
        if path.exists():
            key = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key + "\n")
        self.secret_key = key
        return key

    def check_production(self) -> None:
        """Raise ConfigError when production mode would run with default secrets."""
        if not self.is_production:
            return
        self.ensure_secret_key()
        if not self.admin_password or self.admin_password in DEFAULT_ADMIN_PASSWORDS:
            raise ConfigError(
                "production mode needs CLICKPHONE_ADMIN_PASSWORD set to a non-default value"
            )
        if len(self.admin_password) < 12:
            raise ConfigError("CLICKPHONE_ADMIN_PASSWORD must be at least 12 characters")


def _flatten_toml(data: dict[str, Any]) -> dict[str, Any]:
    """Accept flat keys and ``[http]``/``[sip]``/``[media]`` tables (``[http] port = 80``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subval in value.items():
                out[f"{key}_{sub}"] = subval
        else:
            out[key] = value
    return out


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from the TOML file (if any), the environment and ``overrides``."""
    file_values: dict[str, Any] = {}
    path = config_file or os.environ.get("CLICKPHONE_CONFIG")
    if path:
        p = Path(path)
        try:
            file_values = _flatten_toml(tomllib.loads(p.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"config file {p} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: {exc}") from None
    env_names = {
        name for name in Settings.model_fields if f"CLICKPHONE_{name.upper()}" in os.environ
    }
    # Environment beats the file: drop file values the environment sets.
    init = {k: v for k, v in file_values.items() if k not in env_names}
    init.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**init)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "settings"
        raise ConfigError(f"bad setting {where}: {err['msg']}") from None
