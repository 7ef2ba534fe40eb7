"""AsyncAPI 3.0 document generated from the event contract in `events.py`.

`docs/asyncapi.json` is the committed output of `write_asyncapi()`; a unit test fails when
it differs from what the code generates, so the document cannot drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from services.common.events import DATA_FIELD, EVENT_CLASSES, STREAMS, dlq_of, stream_of

# 1.1: score.updated carries the whole RegionScore read model; 1.2: `actor` on every event,
# and web.events (account.created|updated|disabled, token.revoked), of no cycle.
CONTRACT_VERSION = "1.2.0"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "docs" / "asyncapi.json"

_DESCRIPTION = f"""\
Events of the inovasi platform. One Redis stream per producing service; each consuming
service reads it in its own consumer group; dashboards read `scoring.events` without a group,
and every service reads `web.events` (accounts: disabled accounts and revoked tokens are
refused within seconds) without a group, from its first entry (it is never trimmed).
`actor` is the account behind a change a person made (null on derived events).
Every entry carries the envelope as UTF-8 JSON in the field `{DATA_FIELD}` (plus informational
copies `type` and `event_id`). Events carry the new state of their subject; apply one only when
its `version` is newer than the one held. Entries that keep failing move to `<stream>.dlq`
with fields `dlq_reason`, `dlq_original_id`, `dlq_group`, `dlq_deliveries`, `dlq_at`."""


def _channel_key(stream: str) -> str:
    head, _, tail = stream.partition(".")
    return head + tail.title().replace(".", "")  # "intake.events" -> "intakeEvents"


def asyncapi_document() -> dict[str, Any]:
    """Build the document; deterministic (no timestamps), so it can be compared in CI."""
    _, top = models_json_schema(
        [(cls, "serialization") for cls in EVENT_CLASSES],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = top["$defs"]

    messages: dict[str, Any] = {}
    by_stream: dict[str, list[str]] = {stream: [] for stream in STREAMS}
    for cls in EVENT_CLASSES:
        name = cls.__name__
        event_type = cls.model_fields["type"].default
        producer = cls.model_fields["producer"].default
        messages[name] = {
            "name": event_type,
            "title": name,
            "summary": (cls.__doc__ or f"{event_type} event").strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        by_stream[stream_of(producer)].append(name)

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for stream in STREAMS:
        key = _channel_key(stream)
        names = by_stream[stream]
        channels[key] = {
            "address": stream,
            "title": stream,
            "description": f"Events published by {stream.split('.')[0]} through its outbox.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        channels[key + "Dlq"] = {
            "address": dlq_of(stream),
            "title": dlq_of(stream),
            "description": f"Dead letters of {stream}: entries that kept failing in a group.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        operations["publish" + key[0].upper() + key[1:]] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{n}"} for n in names],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "inovasi events",
            "version": CONTRACT_VERSION,
            "description": _DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "redis": {
                "host": "127.0.0.1:6379",
                "protocol": "redis",
                "description": "Redis Streams; stream names get INOVASI_STREAM_PREFIX prepended.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render_asyncapi() -> str:
    return json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n"


def write_asyncapi(path: Path = DEFAULT_PATH) -> Path:
    """Write the document (the CLI and `docs/asyncapi.json` use this)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_asyncapi(), encoding="utf-8")
    return path

