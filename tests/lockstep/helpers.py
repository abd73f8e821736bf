"""Shared bits of the lockstep tests: a small show's facts, the operator's command kinds, and a
copy of the Trio show to change."""

from __future__ import annotations

import shutil
from pathlib import Path

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


TRIO = Path(__file__).resolve().parents[1] / "data" / "lockstep" / "trio.yaml"


def copy_trio(directory: Path) -> Path:
    """The Trio show, its rigs and their profiles copied under `directory`; its show file."""
    shutil.copytree(TRIO.parent, directory / "lockstep")
    shutil.copytree(TRIO.parent.parent / "venue", directory / "venue")  # the rigs' profiles
    return directory / "lockstep" / TRIO.name
