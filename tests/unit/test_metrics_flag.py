"""serve --metrics-listen, or STOPAY_METRICS_LISTEN, becomes Settings.metrics_listen."""

from __future__ import annotations

import pytest

from stopay.cli.main import build_parser
from stopay.cli.serve import settings_from_args


def settings(*args: str):
    return settings_from_args(build_parser().parse_args(["serve", "--insecure", *args]))


def test_no_metrics_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STOPAY_METRICS_LISTEN", raising=False)
    assert settings().metrics_listen is None


def test_the_flag_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings("--metrics-listen", "127.0.0.1:9464").metrics_listen == "127.0.0.1:9464"
    monkeypatch.setenv("STOPAY_METRICS_LISTEN", "[::1]:0")
    assert settings().metrics_listen == "[::1]:0"
    assert settings("--metrics-listen", "0.0.0.0:9464").metrics_listen == "0.0.0.0:9464"  # the flag wins


def test_a_bad_address_is_a_usage_error_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        settings("--metrics-listen", "127.0.0.1")
    assert exit_.value.code == 2
    assert "--metrics-listen" in capsys.readouterr().err
