"""Any graph the editor might save: validation never raises, a test call always ends."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from clickphone.flows.interpreter import run_simulation
from clickphone.flows.model import Edge, FlowGraph
from clickphone.flows.validate import validate

IDS = ["s", "a", "b", "c", "d"]
OUTPUTS = ["next", "open", "closed", "one", "invalid", "timeout", "no_answer", "busy", "failed"]
OUTPUTS += ["overflow", "answered", "enabled", "disabled"]

NODE_BODIES = [
    {"type": "time_condition", "hours": {"mon": [{"start": "09:00", "end": "18:00"}]}},
    {"type": "play", "prompt": {"text": "hi"}},
    {"type": "ivr_menu", "prompt": {"text": "p"}, "choices": [{"digit": "1", "output": "one"}]},
    {"type": "ring_group", "employee_ids": [1]},
    {"type": "forward", "destination": "101"},
    {"type": "queue", "department_id": 1},
    {"type": "voicemail"},
    {"type": "hangup"},
    {"type": "module_switch", "module": "m"},
]

nodes = st.lists(st.sampled_from(NODE_BODIES), min_size=1, max_size=4).map(
    lambda bodies: (
        [{"id": "s", "type": "start"}] + [{"id": IDS[i + 1], **b} for i, b in enumerate(bodies)]
    )
)
edges = st.lists(
    st.builds(
        Edge,
        source=st.sampled_from(IDS),
        output=st.sampled_from(OUTPUTS),
        target=st.sampled_from([*IDS, "zz"]),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    nodes=nodes,
    edges=edges,
    digits=st.lists(st.sampled_from(["1", "2", None]), max_size=5),
    outcomes=st.lists(
        st.sampled_from(["answered", "no_answer", "busy", "failed", "overflow"]), max_size=5
    ),
    hour=st.integers(0, 23),
)
def test_any_graph_validates_and_any_test_call_ends(nodes, edges, digits, outcomes, hour):
    g = FlowGraph.model_validate({"nodes": nodes, "edges": [e.model_dump() for e in edges]})
    validate(g)
    when = dt.datetime(2026, 11, 23, hour, tzinfo=dt.UTC)
    result = run_simulation(g, when, digits, outcomes, max_steps=30)
    assert result.path[0] == "s"
    assert len(result.path) <= 30
