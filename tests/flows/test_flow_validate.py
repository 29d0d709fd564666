import pytest
from flowgraphs import company_flow, graph

from clickphone.flows.model import Edge
from clickphone.flows.validate import publishable, validate

START = {"id": "s", "type": "start"}
BYE = {"id": "bye", "type": "hangup"}


def codes(g):
    return sorted((p.code, p.node_id) for p in validate(g))


def test_company_flow_has_no_problems():
    assert validate(company_flow()) == []
    assert publishable(validate(company_flow()))


def test_smallest_valid_flow():
    assert validate(graph([START, BYE], [("s", "next", "bye")])) == []


def test_missing_start():
    problems = validate(graph([BYE], []))
    assert [p.code for p in problems] == ["missing_start"]
    assert not publishable(problems)


def test_more_than_one_start():
    g = graph([START, {"id": "s2", "type": "start"}, BYE], [("s", "next", "bye")])
    assert ("multiple_starts", "s2") in codes(g)


def test_duplicate_node_id():
    g = graph([START, BYE, {"id": "bye", "type": "voicemail"}], [("s", "next", "bye")])
    assert ("duplicate_node_id", "bye") in codes(g)


def test_unreachable_node():
    g = graph([START, BYE, {"id": "lost", "type": "hangup"}], [("s", "next", "bye")])
    assert codes(g) == [("unreachable_node", "lost")]


def test_missing_branch():
    tc = {
        "id": "tc",
        "type": "time_condition",
        "hours": {"mon": [{"start": "09:00", "end": "18:00"}]},
    }
    g = graph([START, tc, BYE], [("s", "next", "tc"), ("tc", "open", "bye")])
    problems = validate(g)
    assert [(p.code, p.node_id) for p in problems] == [("missing_branch", "tc")]
    assert "'closed'" in problems[0].message


def test_optional_outputs_need_no_edge():
    ring = {"id": "r", "type": "ring_group", "employee_ids": [1]}
    fwd = {"id": "f", "type": "forward", "destination": "+79161234567"}
    g = graph([START, ring, fwd], [("s", "next", "r"), ("r", "no_answer", "f")])
    assert validate(g) == []


def test_edge_to_unknown_node():
    g = graph([START, BYE], [("s", "next", "bye")])
    g = g.model_copy(update={"edges": (*g.edges, Edge(source="bye", output="x", target="nope"))})
    found = {(p.code, p.edge) for p in validate(g)}
    assert ("unknown_target", Edge(source="bye", output="x", target="nope")) in found
    assert any(p.code == "unknown_output" for p in validate(g))


def test_edge_from_unknown_node_and_into_start():
    g = graph([START, BYE], [("s", "next", "bye"), ("ghost", "next", "bye"), ("bye", "x", "s")])
    found = [p.code for p in validate(g)]
    assert "unknown_source" in found
    assert "edge_to_start" in found


def test_output_wired_twice():
    g = graph(
        [START, BYE, {"id": "b2", "type": "hangup"}], [("s", "next", "bye"), ("s", "next", "b2")]
    )
    assert ("duplicate_edge", "s") in codes(g)


def _menu(**changes):
    menu = {
        "id": "m",
        "type": "ivr_menu",
        "prompt": {"text": "Press 1"},
        "choices": [{"digit": "1", "output": "one"}],
    }
    menu.update(changes)
    return graph([START, menu, BYE], [("s", "next", "m"), ("m", "one", "bye")])


def test_valid_menu():
    assert validate(_menu()) == []


def test_ivr_digit_used_twice():
    choices = [{"digit": "1", "output": "one"}, {"digit": "1", "output": "one"}]
    assert codes(_menu(choices=choices)) == [("duplicate_digit", "m")]


@pytest.mark.parametrize("digit", ["A", "12", "", "x"])
def test_ivr_digit_not_a_key(digit):
    choices = [{"digit": "1", "output": "one"}, {"digit": digit, "output": "one"}]
    assert codes(_menu(choices=choices)) == [("bad_digit", "m")]


def test_star_and_hash_are_keys():
    choices = [{"digit": "*", "output": "one"}, {"digit": "#", "output": "one"}]
    assert validate(_menu(choices=choices)) == []


def test_ivr_without_prompt_or_keys():
    assert codes(_menu(prompt={"text": "  "})) == [("missing_audio", "m")]
    g = graph(
        [START, {"id": "m", "type": "ivr_menu", "prompt": {"audio": "a.wav"}}], [("s", "next", "m")]
    )
    assert codes(g) == [("empty_menu", "m")]


def test_play_without_audio_or_text():
    g = graph([START, {"id": "p", "type": "play"}, BYE], [("s", "next", "p"), ("p", "next", "bye")])
    assert codes(g) == [("missing_audio", "p")]


def _tc(**changes):
    tc = {"id": "tc", "type": "time_condition", "timezone": "Europe/Berlin"}
    tc.update(changes)
    return graph(
        [START, tc, BYE], [("s", "next", "tc"), ("tc", "open", "bye"), ("tc", "closed", "bye")]
    )


@pytest.mark.parametrize(
    "ranges",
    [
        [{"start": "18:00", "end": "09:00"}],
        [{"start": "09:00", "end": "09:00"}],
        [{"start": "9am", "end": "18:00"}],
        [{"start": "09:00", "end": "24:30"}],
        [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}],
    ],
)
def test_bad_time_ranges(ranges):
    assert codes(_tc(hours={"mon": ranges})) == [("bad_time_range", "tc")]


def test_good_time_ranges():
    hours = {"sat": [{"start": "00:00", "end": "12:00"}, {"start": "12:00", "end": "24:00"}]}
    assert validate(_tc(hours=hours, holidays=["2026-12-31"])) == []


def test_unknown_timezone_and_bad_holiday():
    assert codes(_tc(timezone="Mars/Olympus")) == [("unknown_timezone", "tc")]
    assert codes(_tc(timezone="../etc/passwd")) == [("unknown_timezone", "tc")]
    assert codes(_tc(holidays=["31.12.2026"])) == [("bad_holiday", "tc")]


def test_ring_group_with_nobody():
    ring = {"id": "r", "type": "ring_group"}
    g = graph([START, ring, BYE], [("s", "next", "r"), ("r", "no_answer", "bye")])
    assert codes(g) == [("empty_ring_group", "r")]
    ring_dept = {"id": "r", "type": "ring_group", "department_id": 3, "ring_time": {"value": 0}}
    g = graph([START, ring_dept, BYE], [("s", "next", "r"), ("r", "no_answer", "bye")])
    assert codes(g) == [("empty_ring_time", "r")]


@pytest.mark.parametrize(
    ("destination", "code"),
    [("", "missing_destination"), ("  ", "missing_destination"), ("8 916 123", "bad_destination")],
)
def test_forward_destination(destination, code):
    g = graph(
        [START, {"id": "f", "type": "forward", "destination": destination}], [("s", "next", "f")]
    )
    assert codes(g) == [(code, "f")]


@pytest.mark.parametrize("destination", ["+79161234567", "101"])
def test_forward_to_number_or_extension(destination):
    g = graph(
        [START, {"id": "f", "type": "forward", "destination": destination}], [("s", "next", "f")]
    )
    assert validate(g) == []


def test_module_switch_without_module():
    ms = {"id": "ms", "type": "module_switch"}
    g = graph(
        [START, ms, BYE], [("s", "next", "ms"), ("ms", "enabled", "bye"), ("ms", "disabled", "bye")]
    )
    assert codes(g) == [("missing_module", "ms")]


def test_loop_without_wait_is_a_warning():
    play = {"id": "p", "type": "play", "prompt": {"text": "hi"}}
    g = graph([START, play], [("s", "next", "p"), ("p", "next", "p")])
    problems = validate(g)
    assert [(p.code, p.severity, p.node_id) for p in problems] == [
        ("unguarded_loop", "warning", "p")
    ]
    assert publishable(problems)


def test_longer_loop_through_ring_group_is_a_warning():
    ring = {"id": "r", "type": "ring_group", "employee_ids": [1]}
    fwd = {"id": "f", "type": "forward", "destination": "+79161234567"}
    g = graph(
        [START, ring, fwd], [("s", "next", "r"), ("r", "no_answer", "f"), ("f", "failed", "r")]
    )
    problems = validate(g)
    assert [(p.code, p.node_id) for p in problems] == [("unguarded_loop", "f")]
    assert "f, r" in problems[0].message


def test_loop_through_an_ivr_menu_is_fine():
    menu = {
        "id": "m",
        "type": "ivr_menu",
        "prompt": {"text": "Press 1 to hear this again"},
        "choices": [{"digit": "1", "output": "again"}],
    }
    play = {"id": "p", "type": "play", "prompt": {"text": "Info"}}
    g = graph([START, menu, play], [("s", "next", "m"), ("m", "again", "p"), ("p", "next", "m")])
    assert validate(g) == []
