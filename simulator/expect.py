"""Show-test expectation files (`*.expect.yaml`): what the simulator must see, and when.

```yaml
show: digital-night.yaml      # relative to this file
venue: beijing
output: rig                   # rig | artnet | sacn | osc | enttec: how frames reach the simulator
until: end                    # stop time (seconds or cue[+-s]); default: the show's end
auto_go: true                 # continue past hold cues (after hold_wait seconds)
checks:
  - name: nothing lit before ignition
    between: [0, ignition-0.1]
    target: {exclude: {tag: preshow}}
    dark: true
  - name: towers go red in the finale
    at: finale+2
    target: tower-a           # a group name, or a target mapping as in shows
    color: red                # "at least 80% red": mean light along red >= min_level
    min_level: 0.8
  - at: pulse+1
    target: facades
    lit: 0.5                  # at least half the elements visibly lit
stream:
  fps: 40                     # measured frame rate within 1 %
  max_sequence_gaps: 0
  max_torn_frames: 0
  max_malformed: 0
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.show.timeline import Target

__all__ = ["Check", "ExpectFile", "LevelRange", "StreamCheck"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LevelRange(Strict):
    min: float = Field(0.0, ge=0.0, le=1.0)
    max: float = Field(1.0, ge=0.0, le=1.0)


class Check(Strict):
    """One expectation at a time (`at`) or over a range (`between`), on a target."""

    name: str | None = None
    at: float | str | None = None
    between: tuple[float | str, float | str] | None = None
    target: Target | str = Field(default_factory=lambda: Target(all=True))
    dark: bool | None = Field(None, description="true: every target element is off (< 1/255)")
    lit: float | None = Field(None, ge=0.0, le=1.0, description="fraction of elements lit at least")
    color: str | list[float] | None = Field(None, description="colour the targets show")
    min_level: float = Field(0.5, ge=0.0, le=1.0, description="mean light along `color`")
    tolerance: float = Field(0.25, gt=0.0, le=2.0, description="max colour distance (chromaticity)")
    level: LevelRange | None = Field(None, description="mean brightness range")

    @model_validator(mode="after")
    def _one_time_one_test(self) -> Check:
        if (self.at is None) == (self.between is None):
            msg = "give exactly one of 'at' (a time) or 'between' ([start, end])"
            raise ValueError(msg)
        tests = [
            self.dark is not None,
            self.lit is not None,
            self.color is not None,
            self.level is not None,
        ]
        if sum(tests) != 1:
            msg = "give exactly one test: 'dark', 'lit', 'color' or 'level'"
            raise ValueError(msg)
        return self


class StreamCheck(Strict):
    fps: float | None = Field(None, gt=0, le=1000)
    fps_tolerance: float = Field(0.01, gt=0, le=0.5, description="relative")
    max_sequence_gaps: int = Field(0, ge=0)
    max_torn_frames: int = Field(0, ge=0)
    max_malformed: int = Field(0, ge=0)


class ExpectFile(Strict):
    show: str | None = None
    venue: str | None = None
    output: Literal["rig", "artnet", "sacn", "osc", "enttec"] = "rig"
    start: float | str = 0.0
    until: float | str | None = None
    auto_go: bool = True
    hold_wait: float = Field(0.5, ge=0.0, le=600.0)
    checks: list[Check] = Field(default_factory=list)
    stream: StreamCheck | None = None
