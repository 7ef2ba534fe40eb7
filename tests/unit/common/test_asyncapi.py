"""docs/asyncapi.json is generated from the event models and must not drift from them."""

from __future__ import annotations

import json
from typing import Any

from services.common import events as ev
from services.common.asyncapi import DEFAULT_PATH, asyncapi_document, render_asyncapi


def test_committed_document_matches_the_models() -> None:
    assert DEFAULT_PATH.exists(), "docs/asyncapi.json missing: run services.common.asyncapi.write_asyncapi()"
    committed = DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == render_asyncapi(), (
        "docs/asyncapi.json is out of date with services/common/events.py: "
        "regenerate it: python -c "
        "'from services.common.asyncapi import write_asyncapi; write_asyncapi()'"
    )


def test_generation_is_deterministic() -> None:
    assert render_asyncapi() == render_asyncapi()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_document_is_asyncapi_3_with_every_event_on_its_producers_channel() -> None:
    doc = json.loads(render_asyncapi())
    assert doc["asyncapi"] == "3.0.0"
    for ref in _refs(doc):
        _resolve(doc, ref)  # KeyError = dangling reference
    addresses = {channel["address"]: channel for channel in doc["channels"].values()}
    assert set(addresses) == set(ev.STREAMS) | {ev.dlq_of(s) for s in ev.STREAMS}
    for event_type, cls in ev.EVENT_TYPES.items():
        channel = addresses[ev.stream_of(cls.model_fields["producer"].default)]
        names = [_resolve(doc, m["$ref"])["name"] for m in channel["messages"].values()]
        assert event_type in names
        schema = doc["components"]["schemas"][cls.__name__]
        assert schema["properties"]["type"]["const"] == event_type
        assert {"event_id", "type", "occurred_at", "producer", "region", "subject",
                "version", "correlation_id", "causation_id", "actor", "data"} <= set(schema["required"])
        # Events of a cycle and region carry both; account events (web.events) no cycle.
        assert ("cycle" in schema["required"]) == issubclass(cls, ev.Envelope)


def test_document_matches_the_dict_builder() -> None:
    assert json.loads(render_asyncapi()) == asyncapi_document()
