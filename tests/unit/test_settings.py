"""Gateway settings: environment parsing and boot-time validation."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from modgate.errors import ConfigError
from modgate.settings import (
    ARTIFACTS_DIR,
    DEFAULT_POLICY,
    ClassifierUrl,
    ExecutionProvider,
    GatewaySettings,
    is_loopback,
    load_gateway_settings,
    load_slowpath_settings,
)


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


def _env_file(path: Path) -> dict[str, str]:
    """The variables a shell gets from ``set -a; . path`` (quotes and comments as sh reads them)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        for word in shlex.split(line, comments=True):
            key, _, value = word.partition("=")
            env[key] = value
    return env


@pytest.mark.parametrize(
    ("name", "load"),
    [("gateway.env", load_gateway_settings), ("slowpath.env", load_slowpath_settings)],
)
def test_reference_env_files_load_and_state_the_defaults(
    name: str, load: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env_file(DEFAULT_POLICY.parent / name)
    assert len(env) > 10, f"{name} sets almost nothing"
    monkeypatch.chdir(DEFAULT_POLICY.parents[1])  # the files' policy path is relative
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from_file = load()
    for key in env:
        monkeypatch.delenv(key)
    assert from_file == load(policy_path=Path("configs/policy.yaml"))


def test_a_triton_url_names_server_model_version_and_local_artifact() -> None:
    url = ClassifierUrl.parse("text", "triton://triton.internal:8001/text?version=3")
    assert (url.scheme, url.location, url.model) == ("triton", "triton.internal:8001", "text")
    assert url.options == {"version": "3", "artifact": str(ARTIFACTS_DIR / "text")}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("triton://triton.internal/text", "host:port"),
        ("triton://triton.internal:8001/", "one Triton model name"),
        ("triton://triton.internal:8001/a/b", "one Triton model name"),
        ("triton://triton.internal:8001/text?versions=2", "unknown option"),
        ("triton://triton.internal:8001/text?version=latest", "positive integer"),
        ("triton://triton.internal:8001/toxicity-v9", "no local artifact"),
        ("triton://triton.internal:8001/text?artifact=/nowhere", "no local artifact"),
        ("grpc://triton.internal:8001/text", "known schemes: onnx, triton"),
    ],
)
def test_a_malformed_triton_url_is_refused_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassifierUrl.parse("text", url)


def test_urls_are_redacted_in_logs_and_setting_errors() -> None:
    from modgate.errors import ConfigError
    from modgate.settings import load_gateway_settings, redact_url

    assert redact_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("rediss://bob:s3cret@h:6380/1") == "rediss://bob:***@h:6380/1"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    for bad in (
        {"redis": {"url": "http://:s3cret@example"}},
        {"stream": {"kafka_url": "kafka://user:s3cret@"}},
    ):
        with pytest.raises(ConfigError) as caught:
            load_gateway_settings(**bad)
        assert "s3cret" not in str(caught.value)
        assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("gateway.internal", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert GatewaySettings(host=host).reflection_enabled is loopback


def test_metrics_stay_on_loopback_when_the_grpc_port_is_public() -> None:
    settings = GatewaySettings(host="0.0.0.0")
    assert settings.metrics_host == "127.0.0.1"
    assert GatewaySettings(host="0.0.0.0", reflection=True).reflection_enabled
