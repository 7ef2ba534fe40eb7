"""Where `inovasi serve` and `inovasi up` listen: loopback, unless INOVASI_HOST or --host
says otherwise (the image, compose and Kubernetes set INOVASI_HOST=0.0.0.0)."""

from __future__ import annotations

import pytest

from services.cli import build_parser

COMMANDS = [["serve", "scoring"], ["up"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_loopback_by_default(command, monkeypatch):
    monkeypatch.delenv("INOVASI_HOST", raising=False)
    assert build_parser().parse_args(command).host == "127.0.0.1"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_inovasi_host_is_the_default(command, monkeypatch):
    monkeypatch.setenv("INOVASI_HOST", "0.0.0.0")
    assert build_parser().parse_args(command).host == "0.0.0.0"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_flag_wins(command, monkeypatch):
    monkeypatch.setenv("INOVASI_HOST", "0.0.0.0")
    assert build_parser().parse_args([*command, "--host", "127.0.0.2"]).host == "127.0.0.2"


def test_an_invalid_configuration_leaves_the_other_commands_usable(monkeypatch):
    # `serve` reports the invalid setting itself; `score` does not read the settings at all.
    monkeypatch.setenv("INOVASI_MAX_DELIVERIES", "0")
    assert build_parser().parse_args(["score", "schema"]).format == "dataset"
