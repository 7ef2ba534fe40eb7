"""The README stays true to the code: every setting is in its configuration table, every
`inovasi` command in its command list."""

from pathlib import Path

from services.cli import build_parser
from services.common.settings import Settings
from services.evidence.settings import EvidenceSettings
from services.notify.settings import NotifySettings
from services.web.settings import WebSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    names = set(Settings.model_fields) | set(EvidenceSettings.model_fields) | set(NotifySettings.model_fields)
    names |= set(WebSettings.model_fields)
    missing = sorted(f"INOVASI_{name.upper()}" for name in names if f"INOVASI_{name.upper()}" not in README)
    assert not missing, f"add to the README's configuration table: {missing}"


def test_every_command_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = sorted(name for name in commands if f"inovasi {name}" not in README)
    assert not missing, f"add to the README's command list: {missing}"
