import datetime as dt

import pytest
from flowgraphs import company_flow, graph

from clickphone.flows.interpreter import (
    Answered,
    Busy,
    CallerHangup,
    CallInfo,
    CollectDigits,
    Digit,
    Done,
    Enqueue,
    Failed,
    FlowError,
    FlowStateError,
    Forward,
    Hangup,
    NoAnswer,
    Play,
    PromptDone,
    Ring,
    Timeout,
    Voicemail,
    advance,
    is_open,
    run_simulation,
    simulate,
    start,
)
from clickphone.flows.model import Prompt, TimeConditionNode

UTC = dt.UTC
# 2026-11-23 is a Monday; Moscow is UTC+3 all year.
MON_OPEN = dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 10:00 MSK
MON_EVENING = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 19:00 MSK
SATURDAY = dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # 12:00 MSK
NEW_YEAR = dt.datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # Thursday, a holiday

START = {"id": "s", "type": "start"}


def _to_menu(when=MON_OPEN):
    g = company_flow()
    step = start(g, CallInfo(caller="+79160000000", called="+74950000000"), when)
    assert step.action == Play(Prompt(text="Welcome to Acme."))
    assert [(t.node_id, t.output) for t in step.trace] == [("start", "next"), ("hours", "open")]
    step = advance(step.state, PromptDone(when))
    assert step.action == CollectDigits(Prompt(audio="prompts/menu.wav"), max_digits=1, timeout=5)
    return step


# --- time conditions -------------------------------------------------------------------------


def _hours_node(tz, **extra):
    hours = {d: [{"start": "09:00", "end": "18:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
    return TimeConditionNode.model_validate({"id": "tc", "timezone": tz, "hours": hours, **extra})


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (MON_OPEN, True),
        (MON_EVENING, False),
        (SATURDAY, False),
        (dt.datetime(2026, 11, 25, 6, 0, tzinfo=UTC), True),  # 09:00 MSK: start is inclusive
        (dt.datetime(2026, 11, 25, 5, 59, tzinfo=UTC), False),
        (dt.datetime(2026, 11, 25, 15, 0, tzinfo=UTC), False),  # 18:00 MSK: end is exclusive
        (dt.datetime(2026, 11, 25, 14, 59, tzinfo=UTC), True),
        (dt.datetime(2026, 11, 25, 9, 0), True),  # naive is taken as UTC
    ],
)
def test_business_hours_in_the_nodes_timezone(now, expected):
    assert is_open(_hours_node("Europe/Moscow"), now) is expected


def test_same_instant_differs_by_timezone():
    now = dt.datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert is_open(_hours_node("Europe/Moscow"), now)  # 10:30
    assert not is_open(_hours_node("UTC"), now)  # 07:30
    assert not is_open(_hours_node("America/New_York"), now)  # 02:30
    # Friday 23:30 in New York is Saturday 04:30 UTC: the local weekday decides.
    assert not is_open(
        _hours_node("America/New_York"), dt.datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
    )


def test_holiday_is_closed_all_day_by_local_date():
    all_day = {d: [{"start": "00:00", "end": "24:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
    node = TimeConditionNode.model_validate(
        {"id": "tc", "timezone": "Asia/Tokyo", "hours": all_day, "holidays": ["2026-01-01"]}
    )
    assert is_open(node, dt.datetime(2025, 12, 31, 14, 0, tzinfo=UTC))  # 23:00 JST Dec 31
    assert not is_open(node, dt.datetime(2025, 12, 31, 16, 0, tzinfo=UTC))  # 01:00 JST Jan 1
    assert is_open(node, dt.datetime(2026, 1, 1, 15, 30, tzinfo=UTC))  # 00:30 JST Jan 2


def test_dst_change_shifts_opening_in_utc():
    berlin = _hours_node("Europe/Berlin")
    # Spring forward on Sunday 2026-03-29: 07:30 UTC is 08:30 CET before, 09:30 CEST after.
    assert not is_open(berlin, dt.datetime(2026, 3, 27, 7, 30, tzinfo=UTC))
    assert is_open(berlin, dt.datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    # Fall back on Sunday 2026-10-25: 16:30 UTC is 18:30 CEST before, 17:30 CET after.
    assert not is_open(berlin, dt.datetime(2026, 10, 23, 16, 30, tzinfo=UTC))
    assert is_open(berlin, dt.datetime(2026, 10, 26, 16, 30, tzinfo=UTC))


def test_after_hours_and_holidays_go_to_voicemail():
    for when in (MON_EVENING, SATURDAY, NEW_YEAR):
        step = start(company_flow(), CallInfo(), when)
        assert isinstance(step.action, Voicemail)
        assert step.action.emails == ("office@acme.example",)
        assert [(t.node_id, t.output) for t in step.trace] == [
            ("start", "next"),
            ("hours", "closed"),
            ("vm", None),
        ]
        assert step.state.finished
        assert all(t.at == when for t in step.trace)


# --- IVR ------------------------------------------------------------------------------------


def test_digit_routes_to_its_branch():
    at = MON_OPEN + dt.timedelta(seconds=4)
    step = advance(_to_menu().state, Digit("1", at))
    assert step.action == Ring((), 7, "all", 20)
    assert step.trace[-1].node_id == "menu" and step.trace[-1].output == "sales"
    assert step.trace[-1].at == at
    step = advance(_to_menu().state, Digit("2", at))
    assert step.action == Ring((11, 12), None, "in_order", 20)


def test_invalid_key_repeats_then_takes_invalid_branch():
    step = advance(_to_menu().state, Digit("9", MON_OPEN))
    assert isinstance(step.action, CollectDigits)  # played again (repeats=1)
    assert [(t.kind, t.output, t.detail) for t in step.trace] == [("retry", "invalid", "key '9'")]
    step = advance(step.state, Digit("#", MON_OPEN))
    assert step.action == Hangup("hangup_node")
    assert [(t.node_id, t.output) for t in step.trace] == [("menu", "invalid"), ("bye", None)]


def test_timeout_repeats_then_takes_timeout_branch():
    step = advance(_to_menu().state, Timeout(MON_OPEN))
    assert isinstance(step.action, CollectDigits)
    step = advance(step.state, Timeout(MON_OPEN))
    assert step.action == Ring((), 7, "all", 20)


def test_good_key_after_a_wrong_one():
    step = advance(_to_menu().state, Digit("5", MON_OPEN))
    step = advance(step.state, Digit("2", MON_OPEN))
    assert isinstance(step.action, Ring) and step.action.employee_ids == (11, 12)


def test_unwired_invalid_branch_hangs_up():
    menu = {
        "id": "m",
        "type": "ivr_menu",
        "prompt": {"text": "Press 1"},
        "choices": [{"digit": "1", "output": "one"}],
        "repeats": 0,
    }
    g = graph(
        [START, menu, {"id": "bye", "type": "hangup"}], [("s", "next", "m"), ("m", "one", "bye")]
    )
    step = start(g, CallInfo(), MON_OPEN)
    step = advance(step.state, Digit("3", MON_OPEN))
    assert step.action == Hangup("unwired_output")
    assert step.trace[-1].kind == "unwired"


# --- ring groups, forward, queue -------------------------------------------------------------


def test_ring_group_no_answer_falls_through_to_voicemail():
    step = advance(_to_menu().state, Digit("1", MON_OPEN))
    later = MON_OPEN + dt.timedelta(seconds=25)
    step = advance(step.state, NoAnswer(later))
    assert step.action == Voicemail(
        Prompt(text="Please leave a message."), True, ("office@acme.example",)
    )
    assert [(t.node_id, t.output, t.at) for t in step.trace] == [
        ("sales", "no_answer", later),
        ("vm", None, later),
    ]
    assert step.state.path == ("start", "hours", "greeting", "menu", "sales", "vm")


def test_busy_takes_busy_branch_or_falls_back_to_no_answer():
    step = advance(_to_menu().state, Digit("2", MON_OPEN))
    step = advance(step.state, Busy(MON_OPEN))  # support: busy is wired to sales
    assert step.action == Ring((), 7, "all", 20)
    step = advance(step.state, Busy(MON_OPEN))  # sales: busy not wired -> no_answer -> vm
    assert isinstance(step.action, Voicemail)


def test_answered_ends_the_flow():
    step = advance(_to_menu().state, Digit("1", MON_OPEN))
    step = advance(step.state, Answered(MON_OPEN))
    assert step.action == Done("answered")
    assert step.trace[-1].output == "answered"
    assert step.state.finished
    with pytest.raises(FlowStateError, match="finished"):
        advance(step.state, NoAnswer(MON_OPEN))


def test_forward_after_rings_and_failure_branch():
    fwd = {
        "id": "f",
        "type": "forward",
        "destination": "+79161234567",
        "delay": {"value": 4, "unit": "rings"},
    }
    vm = {"id": "vm", "type": "voicemail"}
    g = graph([START, fwd, vm], [("s", "next", "f"), ("f", "failed", "vm")])
    step = start(g, CallInfo(), MON_OPEN)
    assert step.action == Forward("+79161234567", after_seconds=20)
    for event in (Failed(MON_OPEN), NoAnswer(MON_OPEN), Busy(MON_OPEN)):
        assert isinstance(advance(step.state, event).action, Voicemail)
    assert advance(step.state, Answered(MON_OPEN)).action == Done("answered")


def test_queue_overflow():
    q = {
        "id": "q",
        "type": "queue",
        "department_id": 2,
        "music": "moh/jazz.mp3",
        "announce_position": True,
        "max_wait": 120,
    }
    g = graph(
        [START, q, {"id": "bye", "type": "hangup"}], [("s", "next", "q"), ("q", "overflow", "bye")]
    )
    step = start(g, CallInfo(), MON_OPEN)
    assert step.action == Enqueue((), 2, "moh/jazz.mp3", True, 120)
    step = advance(step.state, Timeout(MON_OPEN + dt.timedelta(seconds=120)))
    assert step.action == Hangup("hangup_node")
    assert [(t.node_id, t.output) for t in step.trace] == [("q", "overflow"), ("bye", None)]


def test_module_switch_reads_call_flags():
    ms = {"id": "ms", "type": "module_switch", "module": "ivr"}
    nodes = [START, ms, {"id": "on", "type": "hangup"}, {"id": "off", "type": "voicemail"}]
    g = graph(nodes, [("s", "next", "ms"), ("ms", "enabled", "on"), ("ms", "disabled", "off")])
    assert start(g, CallInfo(modules={"ivr": True}), MON_OPEN).action == Hangup("hangup_node")
    assert isinstance(start(g, CallInfo(modules={"ivr": False}), MON_OPEN).action, Voicemail)
    assert isinstance(start(g, CallInfo(), MON_OPEN).action, Voicemail)


# --- protocol errors and the loop cut --------------------------------------------------------


def test_unexpected_event_names_node_and_event():
    state = _to_menu().state
    with pytest.raises(FlowStateError, match="ivr_menu 'menu' does not expect PromptDone"):
        advance(state, PromptDone(MON_OPEN))


def test_caller_hangup_is_accepted_anywhere():
    step = advance(_to_menu().state, CallerHangup(MON_OPEN))
    assert step.action == Done("caller_hangup")
    assert [(t.node_id, t.kind) for t in step.trace] == [("menu", "caller_hangup")]
    assert advance(step.state, CallerHangup(MON_OPEN)).trace == ()


def test_graph_without_start_cannot_run():
    with pytest.raises(FlowError):
        start(graph([{"id": "bye", "type": "hangup"}], []), CallInfo(), MON_OPEN)


def test_loop_between_deciding_nodes_is_cut():
    ms = {"id": "ms", "type": "module_switch", "module": "x"}
    g = graph([START, ms], [("s", "next", "ms"), ("ms", "enabled", "ms"), ("ms", "disabled", "ms")])
    step = start(g, CallInfo(), MON_OPEN, max_steps=10)
    assert step.action == Hangup("loop_cut")
    assert step.trace[-1].kind == "loop_cut" and step.trace[-1].node_id == "ms"
    assert len(step.state.path) == 10
    assert step.state.finished


def test_loop_over_events_is_cut():
    play = {"id": "p", "type": "play", "prompt": {"text": "hold on"}}
    g = graph([START, play], [("s", "next", "p"), ("p", "next", "p")])
    step = start(g, CallInfo(), MON_OPEN, max_steps=6)
    plays = 0
    while isinstance(step.action, Play):
        plays += 1
        step = advance(step.state, PromptDone(MON_OPEN))
    assert plays == 5
    assert step.action == Hangup("loop_cut")
    assert step.trace[-1].kind == "loop_cut"


# --- simulate --------------------------------------------------------------------------------


def test_simulate_company_flow_paths():
    g = company_flow()
    head = ["start", "hours", "greeting", "menu"]
    assert simulate(g, MON_OPEN, "1", ["answered"]) == [*head, "sales"]
    assert simulate(g, MON_OPEN, "2", ["no_answer"]) == [*head, "support", "vm"]
    assert simulate(g, MON_OPEN, "2", ["busy", "no_answer"]) == [*head, "support", "sales", "vm"]
    assert simulate(g, MON_OPEN, "7*") == [*head, "bye"]
    assert simulate(g, MON_OPEN, [None, None]) == [*head, "sales", "vm"]
    assert simulate(g, MON_OPEN, "91", ["answered"]) == [*head, "sales"]
    assert simulate(g, MON_EVENING, "1") == ["start", "hours", "vm"]
    assert simulate(g, NEW_YEAR) == ["start", "hours", "vm"]


def test_run_simulation_gives_trace_and_end():
    result = run_simulation(company_flow(), MON_OPEN, "1", ["no_answer"])
    assert isinstance(result.end, Voicemail)
    assert [(t.node_id, t.output) for t in result.trace if t.kind == "node"] == [
        ("start", "next"),
        ("hours", "open"),
        ("greeting", "next"),
        ("menu", "sales"),
        ("sales", "no_answer"),
        ("vm", None),
    ]


def test_simulate_with_module_flags():
    ms = {"id": "ms", "type": "module_switch", "module": "ivr"}
    nodes = [START, ms, {"id": "on", "type": "hangup"}, {"id": "off", "type": "hangup"}]
    g = graph(nodes, [("s", "next", "ms"), ("ms", "enabled", "on"), ("ms", "disabled", "off")])
    assert simulate(g, MON_OPEN, modules={"ivr": True}) == ["s", "ms", "on"]
    assert simulate(g, MON_OPEN) == ["s", "ms", "off"]


def test_simulated_loop_terminates():
    play = {"id": "p", "type": "play", "prompt": {"text": "again"}}
    g = graph([START, play], [("s", "next", "p"), ("p", "next", "p")])
    result = run_simulation(g, MON_OPEN)
    assert result.end == Hangup("loop_cut")
