"""`conference schedule solve` on bad and impossible instances (issue 22): every fault is refused with what is
wrong and where (exit 2), a programme that cannot be scheduled says why, naming the real cause (exit 1), and
no input ends in a traceback. Also the certificate's guard and the false-bound case the issue found."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conference.server.cli import main
from sessions.schedule import scheduler
from sessions.schedule.instance import problem_from_json

Instance = dict[str, Any]


def base() -> Instance:
    """Two rooms, one day of three slots (all joinable), three one-slot talks and a two-slot workshop."""
    return {
        "schema": "conference-scheduling-instance/1",
        "name": "bad-input",
        "slots": [
            {"id": t, "day": 0, "start": f"{9 + t}:00", "end": f"{10 + t}:00", "joinable_with_next": t < 2}
            for t in range(3)
        ],
        "rooms": [{"id": "R1", "name": "Hall", "capacity": 50}, {"id": "R2", "name": "Room", "capacity": 20}],
        "themes": ["a"],
        "speakers": [{"id": f"P{k}", "unavailable_slots": []} for k in range(4)],
        "sessions": [
            {
                "id": f"S{k}",
                "duration": 2 if k == 3 else 1,
                "speakers": [f"P{k}"],
                "themes": ["a"],
                "stars": 3,
                "expected_audience": 10,
            }
            for k in range(4)
        ],
        "attendees": [{"id": "A1", "stars": ["S0", "S1", "S3"]}, {"id": "A2", "stars": ["S1", "S2"]}],
    }


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: Any, *, raw: str | None = None
) -> tuple[int, str]:
    path, out = tmp_path / "instance.json", tmp_path / "out.json"
    path.write_text(raw if raw is not None else json.dumps(data))
    code = main(["schedule", "solve", "--instance", str(path), "--time-limit", "2", "-o", str(out)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    return code, text


def changed(edit: Callable[[Instance], None]) -> Instance:
    data = base()
    edit(data)
    return data


def test_the_base_instance_solves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(tmp_path, capsys, base())
    assert code == 0 and "attendee clash pairs" in text


BAD: dict[str, tuple[Callable[[Instance], None], list[str]]] = {
    "duplicate session ids": (
        lambda d: d["sessions"][1].update(id="S0"),
        ["session id S0 is used by more than one session"],
    ),
    "duplicate room ids": (
        lambda d: d["rooms"][1].update(id="R1"),
        ["room id R1 is used by more than one room"],
    ),
    "slots out of order": (
        lambda d: d["slots"].reverse(),
        ["slots must be listed in time order", "position 0 has id 2"],
    ),
    "sessions null": (lambda d: d.update(sessions=None), ['"sessions" must be a list, got null']),
    "duration 0": (lambda d: d["sessions"][0].update(duration=0), ["session S0: duration 0"]),
    "duplicate speaker ids": (
        lambda d: d["speakers"].append({"id": "P0", "unavailable_slots": [1]}),
        ["speaker id P0 is listed more than once"],
    ),
    "unknown speakers": (
        lambda d: d["sessions"][2].update(speakers=["P2", "Nobody"]),
        ["sessions[2] (S2): speaker(s) Nobody are not in the speakers list"],
    ),
    "stars for unknown sessions": (
        lambda d: d["attendees"][0]["stars"].append("S99"),
        ["1 delegate(s) starred session S99, which is not in the programme"],
    ),
    "duplicate stars": (
        lambda d: d["attendees"][1]["stars"].append("S1"),
        ["delegate 2 starred session S1 more than once"],
    ),
    "unavailable slots outside the grid": (
        lambda d: d["speakers"][0].update(unavailable_slots=[1, 7]),
        ["speaker P0: unavailable slots [7] are not in the programme (slots 0-2)"],
    ),
    "no sessions": (
        lambda d: d.update(sessions=[], attendees=[]),
        ["there are no sessions: nothing to schedule"],
    ),
    "a mistyped field": (
        lambda d: d["sessions"][0].update(duration="two"),
        ["sessions[0] (S0): duration must be a whole number, got 'two'"],
    ),
    "wrong schema": (
        lambda d: d.update(schema="other/1"),
        ["not a conference-scheduling-instance/1 instance"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_instance_is_refused_with_what_is_wrong_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, messages = BAD[case]
    code, text = run(tmp_path, capsys, changed(edit))
    assert code == 2, text
    assert "not a usable instance" in text
    for message in messages:
        assert message in text
    assert not (tmp_path / "out.json").exists()


def test_every_fault_is_listed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def edit(d: Instance) -> None:
        d["sessions"][0]["duration"] = 0
        d["rooms"][1]["id"] = "R1"
        d["attendees"][0]["stars"].append("S99")

    code, text = run(tmp_path, capsys, changed(edit))
    assert code == 2
    assert "session S0: duration 0" in text and "room id R1" in text and "S99" in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", "the instance must be a JSON object"),
        ("null", "the instance must be a JSON object ({...}), got null"),
        ("{not json", "not valid JSON"),
        ('"text"', "got text"),
    ],
)
def test_a_file_that_is_not_an_instance_exits_2(
    raw: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(tmp_path, capsys, None, raw=raw)
    assert code == 2 and message in text


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["schedule", "solve", "--instance", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o.json")]
    )
    text = capsys.readouterr().err
    assert code == 2 and "nope.json: no such file" in text and "Traceback" not in text


def test_an_unwritable_output_folder_is_refused_before_solving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(base()))
    code = main(["schedule", "solve", "--instance", str(path), "-o", str(tmp_path / "missing" / "o.json")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def _no_joins(data: Instance) -> None:
    for slot in data["slots"]:
        slot["joinable_with_next"] = False


INFEASIBLE: dict[str, tuple[Callable[[Instance], None], str, str]] = {
    "no joinable slots": (
        _no_joins,
        "joinable slots: session S3 lasts 2 slots, but no 2 slots in a row are joinable",
        "speakers",  # the old message blamed the speakers
    ),
    "too few room-slots": (
        lambda d: d["sessions"].extend(
            {"id": f"X{k}", "duration": 1, "speakers": [], "themes": [], "expected_audience": 0}
            for k in range(2)
        ),
        "room-slots: the sessions last 7 room-slots in all, but 2 room(s) x 3 slot(s) offer 6",
        "capacity",  # it used to read as a capacity problem
    ),
    "a room too small": (
        lambda d: d["sessions"][0].update(expected_audience=80),
        "capacity: session S0 expects 80 but the biggest room (50 seats) is too small",
        "room-slots",
    ),
    "a speaker never free": (
        lambda d: d["speakers"][1].update(unavailable_slots=[0, 1, 2]),
        "speaker P1 is unavailable in every slot but speaks in session(s) S1",
        "room-slots",
    ),
}


@pytest.mark.parametrize("case", sorted(INFEASIBLE))
def test_an_infeasible_programme_exits_1_naming_the_real_cause(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, message, not_this = INFEASIBLE[case]
    code, text = run(tmp_path, capsys, changed(edit))
    assert code == 1, text
    assert "no schedule: the programme cannot keep every rule" in text
    assert message in text
    assert not_this not in text
    assert "optimal" not in text


def test_two_three_slot_sessions_are_not_falsely_certified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The smallest case: two 3-slot sessions in a 3-slot day, 2 rooms, 10 delegates starring both.
    # They must overlap: the optimum is 10, and the old bound claimed 15 ("gap -50%").
    data = base()
    data["sessions"] = [
        {"id": x, "duration": 3, "speakers": [f"P{k}"], "themes": ["a"], "stars": 10, "expected_audience": 5}
        for k, x in enumerate("AB")
    ]
    data["attendees"] = [{"id": f"A{k}", "stars": ["A", "B"]} for k in range(10)]
    result = scheduler.solve(problem_from_json(data), time_limit=2)
    assert result.objective == 10 and result.bound <= 10 and result.internal_errors == []
    code, text = run(tmp_path, capsys, data)
    assert code == 0 and "optimal: 10 attendee clash pairs, lower bound 10, gap 0.0%" in text


def test_a_bound_above_the_answer_is_never_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should the bound ever be wrong, the answer must not be called optimal, nor the gap negative.
    from sessions.schedule import scheduler as module

    real = module.lower_bound

    def too_high(
        c: Any, groups: Any, seconds: float, target: int | None = None, answer: Any = None
    ) -> tuple[int, dict[str, Any]]:
        _best, info = real(c, groups, seconds, target, answer)
        return (target or 0) + 5, info

    monkeypatch.setattr(module, "lower_bound", too_high)
    monkeypatch.setattr(module, "EXACT_SESSIONS", 0)  # only the (broken) bound may certify
    data = copy.deepcopy(base())
    result = scheduler.solve(problem_from_json(data), time_limit=2)
    assert result.objective is not None and result.objective > 0
    assert result.status == "feasible" and result.gap is not None and result.gap >= 0
    assert result.bound <= result.objective
    assert result.internal_errors and "exceeds" in result.internal_errors[0]


def test_the_build_sees_the_same_faults_as_a_problem_error() -> None:
    data = changed(lambda d: d["sessions"][0].update(duration=0))
    with pytest.raises(scheduler.ProblemError) as caught:
        problem_from_json(data)
    assert caught.value.problems == ["session S0: duration 0; a session lasts at least 1 slot"]
    problem = scheduler.Problem(
        slots=[scheduler.Slot(0, 0)],
        rooms=[scheduler.Room("R", 10), scheduler.Room("R", 10)],
        sessions=[scheduler.Session("A")],
        unavailable={},
        stars=[],
    )
    with pytest.raises(scheduler.ProblemError, match="room id R is used by more than one room"):
        scheduler.solve(problem, time_limit=1)
