"""Gateway settings: environment parsing and boot-time validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from modgate.errors import ConfigError
from modgate.settings import ExecutionProvider, GatewaySettings, load_gateway_settings


def test_defaults_point_at_shipped_spam_model_and_policy() -> None:
    settings = load_gateway_settings()
    urls = settings.classifier_urls()
    assert urls["spam"].scheme == "onnx"
    assert Path(urls["spam"].location).is_file()
    assert settings.policy_path.is_file()
    assert settings.deadline_ms == 400.0


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODGATE_DEADLINE_MS", "250")
    monkeypatch.setenv("MODGATE_ONNX__PROVIDERS", '["cuda", "cpu"]')
    settings = GatewaySettings()
    assert settings.deadline_ms == 250
    assert settings.onnx.providers == (ExecutionProvider.CUDA, ExecutionProvider.CPU)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"classifiers": {"spam": "http://example/x"}}, "unknown backend"),
        ({"classifiers": {"spam": "onnx:///nonexistent/model.onnx"}}, "does not exist"),
        ({"policy_path": Path("/nonexistent/policy.yaml")}, "does not exist"),
        ({"deadline_ms": 0}, "greater than 0"),
        ({"log_level": "LOUD"}, "unknown log level"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_settings_fail_at_boot_with_clear_message(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_gateway_settings(**overrides)


def test_settings_are_frozen() -> None:
    settings = load_gateway_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
