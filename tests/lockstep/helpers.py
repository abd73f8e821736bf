"""Shared bits of the lockstep tests: a small show's facts and the operator's command kinds."""

from __future__ import annotations

from controller.runtime.conductor_core import ShowInfo
from controller.runtime.content import ShowContent

SHOW = "mini"
FPS = 40
CUES: tuple[tuple[str, float, bool], ...] = (
    ("start", 0.0, False),
    ("go", 5.0, True),
    ("later", 10.0, False),
)
OPERATOR_KINDS = frozenset({"arm", "go", "resume", "hold", "goto", "seek", "blackout", "master"})
CONTENT = ShowContent(digest="0" * 64, parts={"mini.yaml": "0" * 64})


def show_info() -> ShowInfo:
    return ShowInfo(show_id=SHOW, fps=FPS, frame_count=20 * FPS, cues=CUES, content=CONTENT)
