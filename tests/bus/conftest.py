"""Fixtures that run real mosquitto brokers (see `tests.bus.broker`); marker `network`.

- `broker`: one started broker with a generated config (anonymous clients allowed).
- `brokers`: a factory for more, or different ones: `brokers.new(name, **options)` and
  `brokers.from_config(path)` (a config someone else wrote, e.g. `citypulse bus init`'s);
  each is started unless `start=False`, and every one is stopped at teardown.
- `bridged`: city A's broker and city B's, B bridging `citypulse/v1/#` both ways to A,
  returned once a message has crossed in each direction.

mosquitto missing is a failure that says to run scripts/setup, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bus.broker import Broker, bridge_lines, require_mosquitto, wait_route


class Brokers:
    """Makes brokers in their own directories under `root` and stops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[Broker] = []

    def _directory(self, name: str) -> Path:
        directory = self.root / name
        directory.mkdir(exist_ok=False)
        return directory

    def new(self, name: str = "broker", *, start: bool = True, **options: Any) -> Broker:
        broker = Broker(self._directory(name), name=name, **options)
        self.made.append(broker)
        if start:
            broker.start()
        return broker

    def from_config(self, config: Path, name: str = "broker", *, start: bool = True) -> Broker:
        broker = Broker.from_config(config, self._directory(name), name=name)
        self.made.append(broker)
        if start:
            broker.start()
        return broker

    def stop_all(self) -> None:
        for broker in self.made:
            broker.stop()


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[Brokers]:
    require_mosquitto()
    pool = Brokers(tmp_path / "brokers")
    pool.root.mkdir()
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def broker(brokers: Brokers) -> Broker:
    return brokers.new()


@pytest.fixture
async def bridged(brokers: Brokers) -> tuple[Broker, Broker]:
    city_a = brokers.new("city-a")
    city_b = brokers.new("city-b", extra=bridge_lines(city_a, name="city-b-to-a"))
    await wait_route(city_a, city_b)
    await wait_route(city_b, city_a)
    return city_a, city_b
