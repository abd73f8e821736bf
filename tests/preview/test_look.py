"""Look layouts: at most N cells, every element in one, the brightest wins, the master applies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.attributes import Attribute
from controller.preview.appearance import mix_light
from controller.preview.look import LIGHT_ROWS, LookLayout
from controller.runtime.job import load_venue

ROOT = Path(__file__).resolve().parents[2]


def rows_for(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((len(LIGHT_ROWS), n), dtype=np.float32) * 0.5


def test_a_small_venue_gets_one_cell_per_element_in_order() -> None:
    rng = np.random.default_rng(1)
    positions = rng.random((50, 3)) * 100
    layout = LookLayout(positions, max_cells=64)
    assert (layout.identity, layout.cells) == (True, 50)
    np.testing.assert_allclose(layout.centres, positions[:, :2], atol=1e-4)
    rows = rows_for(50, rng)
    expected = np.rint(mix_light(rows) * 0.5 * 255).astype(np.uint8)
    np.testing.assert_array_equal(layout.colours(rows, 0.5), expected)


def test_a_large_venue_is_binned_into_at_most_max_cells_and_the_brightest_wins() -> None:
    rng = np.random.default_rng(2)
    positions = rng.random((5000, 3)) * [400.0, 100.0, 30.0]
    layout = LookLayout(positions, max_cells=256)
    assert layout.side_m is not None
    assert 200 <= layout.cells <= 256  # fine enough to use most of the budget
    assert len(np.unique(layout.cell_of)) == layout.cells
    rows = np.zeros((len(LIGHT_ROWS), 5000), np.float32)
    one = 1234
    rows[0, one] = 1.0  # one red element in a dark venue
    colours = layout.colours(rows, 1.0)
    lit = np.flatnonzero(colours.max(axis=1))
    assert lit.tolist() == [layout.cell_of[one]]
    assert colours[lit[0]].tolist() == [255, 0, 0]
    centre = layout.centres[layout.cell_of[one]]
    assert np.abs(centre - positions[one, :2]).max() <= layout.side_m


def test_a_blackout_master_makes_every_cell_black() -> None:
    rng = np.random.default_rng(3)
    layout = LookLayout(rng.random((3000, 3)) * 50, max_cells=100)
    assert not layout.colours(rows_for(3000, rng) + 0.5, 0.0).any()


def test_the_layout_depends_on_the_positions_only() -> None:
    rng = np.random.default_rng(4)
    positions = rng.random((4000, 3)) * 300
    a, b = LookLayout(positions, max_cells=500), LookLayout(positions.copy(), max_cells=500)
    assert a.side_m == b.side_m
    np.testing.assert_array_equal(a.cell_of, b.cell_of)


def test_light_rows_are_the_colour_attributes() -> None:
    assert [Attribute(r).key for r in LIGHT_ROWS] == [
        "red",
        "green",
        "blue",
        "white",
        "amber",
        "uv",
    ]


@pytest.mark.parametrize("venue", ["beijing", "lhasa", "singapore"])
def test_every_city_of_the_demo_fits_the_bus_budget(venue: str) -> None:
    plan = load_venue(ROOT / "shows" / "digital-night.yaml", venue).plan
    layout = LookLayout.of_plan(plan, max_cells=1024)
    assert 0 < layout.cells <= 1024
    frame = plan.new_frame()
    assert layout.colours(frame[LIGHT_ROWS], 1.0).shape == (layout.cells, 3)
