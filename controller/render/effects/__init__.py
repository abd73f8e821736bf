"""L3 the effect catalogue: every effect's spec and implementation."""

from __future__ import annotations

from controller.effects_api import EffectRegistry
from controller.render.effects import aim, color, mapping, motion, texture

__all__ = ["default_registry"]


def default_registry() -> EffectRegistry:
    """A fresh registry holding every built-in effect."""
    return EffectRegistry((*color.SPECS, *motion.SPECS, *texture.SPECS, *mapping.SPECS, *aim.SPECS))
