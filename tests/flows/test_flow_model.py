import json

import pytest
from flowgraphs import company_flow
from pydantic import ValidationError

from clickphone.flows.model import (
    Duration,
    FlowGraph,
    IvrMenuNode,
    RingGroupNode,
    dump_json,
    json_schema,
    load_json,
)


def test_json_round_trip_is_exact():
    g = company_flow()
    text = dump_json(g)
    again = load_json(text)
    assert again == g.canonical()
    assert dump_json(again) == text


def test_dump_is_canonical_whatever_the_order():
    g = company_flow()
    shuffled = g.model_copy(
        update={"nodes": tuple(reversed(g.nodes)), "edges": tuple(reversed(g.edges))}
    )
    assert dump_json(shuffled) == dump_json(g)
    data = json.loads(dump_json(g))
    assert [n["id"] for n in data["nodes"]] == sorted(n.id for n in g.nodes)
    assert data["version"] == 3 and data["schema_version"] == 1


def test_nodes_are_typed_by_discriminator():
    g = company_flow()
    menu = g.node("menu")
    assert isinstance(menu, IvrMenuNode)
    assert menu.outputs() == ("sales", "support", "invalid", "timeout")
    assert menu.required_outputs() == ("sales", "support")
    support = g.node("support")
    assert isinstance(support, RingGroupNode)
    assert support.ring_time.seconds == 20  # 4 rings x 5 s


def test_rings_and_seconds():
    assert Duration(value=3, unit="rings").seconds == 15
    assert Duration(value=7).seconds == 7


@pytest.mark.parametrize(
    "doc",
    [
        {"nodes": [{"id": "a", "type": "teleport"}]},
        {"nodes": [{"id": "a", "type": "start", "colour": "red"}]},
        {"nodes": [{"id": "r", "type": "ring_group", "strategy": "random"}]},
        {"nodes": [{"id": "m", "type": "ivr_menu", "timeout": 0}]},
        {"nodes": [{"id": "", "type": "hangup"}]},
        {"version": 0},
        {"schema_version": 2},
    ],
)
def test_malformed_shapes_are_refused(doc):
    with pytest.raises(ValidationError):
        FlowGraph.model_validate(doc)


def test_json_schema_names_every_node_type():
    schema = json.dumps(json_schema())
    for node_type in (
        "start",
        "time_condition",
        "play",
        "ivr_menu",
        "ring_group",
        "forward",
        "queue",
        "voicemail",
        "hangup",
        "module_switch",
    ):
        assert f'"{node_type}"' in schema
