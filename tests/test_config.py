"""Settings from a TOML file and the environment (environment wins); production guards."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickphone.config import ConfigError, load_settings


def test_file_tables_and_environment_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "clickphone.toml"
    cfg.write_text(
        'sip_realm = "acme"\n[http]\nport = 9090\n[sip]\nport = 5070\n'
        "[media]\nport_min = 30000\nport_max = 30100\n"
    )
    monkeypatch.setenv("CLICKPHONE_SIP_PORT", "5080")
    s = load_settings(cfg, data_dir=tmp_path)
    assert (s.http_port, s.sip_port, s.sip_realm) == (9090, 5080, "acme")
    assert (s.media_port_min, s.media_port_max) == (30000, 30100)
    monkeypatch.setenv("CLICKPHONE_CONFIG", str(cfg))
    assert load_settings(data_dir=tmp_path).http_port == 9090


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http_port = 'many'\n", "bad setting http_port"),
        ("media_port_min = 40000\nmedia_port_max = 30000\n", "media_port_min"),
        ("sip_transports = ['carrier-pigeon']\n", "unknown SIP transport"),
        ("not toml at all = = =\n", "config file"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, data_dir=tmp_path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_production_refuses_default_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLICKPHONE_ENV", "production")
    s = load_settings(data_dir=tmp_path)
    with pytest.raises(ConfigError):
        s.check_production()
    monkeypatch.setenv("CLICKPHONE_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("CLICKPHONE_ADMIN_PASSWORD", "admin")
    with pytest.raises(ConfigError, match="ADMIN_PASSWORD"):
        load_settings(data_dir=tmp_path).check_production()
    monkeypatch.setenv("CLICKPHONE_ADMIN_PASSWORD", "a-Strong-Admin-Password-1")
    load_settings(data_dir=tmp_path).check_production()
