"""Notify's settings: its own fields come from the environment even when the CLI or the
platform hands it plain `Settings`."""

from __future__ import annotations

import pytest

from services.common.settings import Settings
from services.notify.settings import NotifySettings, notify_settings

ENV = "INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS"


def test_private_targets_are_refused_by_default(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert NotifySettings().notify_allow_private_targets is False
    assert notify_settings(Settings()).notify_allow_private_targets is False
    assert notify_settings(None).notify_allow_private_targets is False


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("false", False), ("0", False)])
def test_the_environment_reaches_notify_settings_built_from_plain_settings(monkeypatch, value, expected):
    monkeypatch.setenv(ENV, value)
    plain = Settings(stream_prefix="t1.", schema_prefix="t1_")
    resolved = notify_settings(plain)
    assert resolved.notify_allow_private_targets is expected
    # the common fields are the ones given, not the environment's
    assert resolved.stream_prefix == "t1." and resolved.schema_prefix == "t1_"
    assert notify_settings(None).notify_allow_private_targets is expected


def test_an_explicit_value_beats_the_environment(monkeypatch):
    monkeypatch.setenv(ENV, "true")
    explicit = NotifySettings(notify_allow_private_targets=False)
    assert explicit.notify_allow_private_targets is False
    assert notify_settings(explicit) is explicit
