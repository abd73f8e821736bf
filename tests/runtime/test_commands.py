"""Commands as values: validated once, and round-tripped through plain dicts from peers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.runtime.commands import Command, CommandError, CommandKind


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        (CommandKind.ARM, ()),
        (CommandKind.GO, ()),
        (CommandKind.RESUME, ()),
        (CommandKind.HOLD, ()),
        (CommandKind.GOTO, ("finale",)),
        (CommandKind.SEEK, (12.5,)),
        (CommandKind.BLACKOUT, (True,)),
        (CommandKind.MASTER, (0.25,)),
        (CommandKind.ADOPT, ("running", 120, 7)),
    ],
)
def test_every_kind_round_trips_through_a_dict(
    kind: CommandKind, args: tuple[str | float | bool, ...]
) -> None:
    command = Command(kind=kind, args=args, origin="console", exec_at=1234.5)
    assert Command.from_dict(command.as_dict()) == command


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a command is an object, got list"),
        ({"kind": "dance", "id": "a", "origin": "o"}, "kind='dance' is not one of arm, go,"),
        ({"kind": "go", "id": "a", "origin": "o", "extra": 1}, "unknown field 'extra'"),
        ({"kind": "go", "id": "a", "origin": "o", "args": [1]}, "go takes no arguments, got 1"),
        ({"kind": "goto", "id": "a", "origin": "o", "args": [3]}, "goto takes a cue name, got 3"),
        ({"kind": "blackout", "id": "a", "origin": "o", "args": [1]}, "blackout takes true or"),
        ({"kind": "master", "id": "a", "origin": "o", "args": [2]}, "master=2 out of range 0..1"),
        ({"kind": "master", "id": "a", "origin": "o", "args": [True]}, "master takes a number"),
        ({"kind": "seek", "id": "a", "origin": "o", "args": [-1]}, "seek=-1 must not be negative"),
        ({"kind": "go", "id": "a", "origin": "o", "args": "x"}, "args must be a list, got str"),
        ({"kind": "adopt", "id": "a", "origin": "o", "args": ["dancing", 1, 1]}, "adopt: state="),
        ({"kind": "adopt", "id": "a", "origin": "o", "args": ["held", 1.5, 1]}, "adopt: frame=1.5"),
        ({"kind": "adopt", "id": "a", "origin": "o", "args": ["held", 1]}, "adopt takes a state"),
        ({"kind": "go", "id": 3, "origin": "o"}, "id and origin must be strings"),
        ({"kind": "go", "id": "", "origin": "o"}, "a command needs a non-empty id and origin"),
        ({"kind": "go", "id": "a", "origin": "o", "exec_at": "soon"}, "exec_at must be a number"),
        (
            {"kind": "go", "id": "a", "origin": "o", "exec_at": float("inf")},
            "exec_at=inf must be a finite",
        ),
    ],
)
def test_a_bad_command_from_a_peer_names_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(CommandError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Command.from_dict(data)


def test_output_overrides_do_not_move_the_show() -> None:
    moving = {k for k in CommandKind if Command(kind=k, args=_args(k)).moves_position}
    assert moving == {
        CommandKind.ARM,
        CommandKind.GO,
        CommandKind.RESUME,
        CommandKind.HOLD,
        CommandKind.GOTO,
        CommandKind.SEEK,
        CommandKind.ADOPT,
    }


def _args(kind: CommandKind) -> tuple[str | float | bool, ...]:
    return {
        CommandKind.GOTO: ("x",),
        CommandKind.SEEK: (0.0,),
        CommandKind.BLACKOUT: (True,),
        CommandKind.MASTER: (1.0,),
        CommandKind.ADOPT: ("held", 0, 0),
    }.get(kind, ())


@given(st.dictionaries(st.sampled_from(["kind", "args", "id", "origin", "exec_at", "x"]),
                       st.none() | st.booleans() | st.integers() | st.floats() | st.text()
                       | st.lists(st.integers() | st.text(), max_size=2)))  # fmt: skip
def test_anything_a_peer_sends_is_a_command_or_a_command_error(data: dict[str, object]) -> None:
    try:
        command = Command.from_dict(data)
    except CommandError as exc:
        message = str(exc)  # says what is wrong
        assert message
    else:  # accepted: then it is exactly what was sent
        assert Command.from_dict(command.as_dict()) == command
        assert command.kind.value == data["kind"]


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (Command(kind=CommandKind.GO), "GO"),
        (Command(kind=CommandKind.BLACKOUT, args=(True,)), "BLACKOUT on"),
        (Command(kind=CommandKind.BLACKOUT, args=(False,)), "BLACKOUT off"),
        (Command(kind=CommandKind.GOTO, args=("finale",)), "GOTO finale"),
        (Command(kind=CommandKind.MASTER, args=(0.5,)), "MASTER 0.5"),
    ],
)
def test_a_command_describes_itself_as_an_operator_types_it(command: Command, text: str) -> None:
    assert command.describe() == text
