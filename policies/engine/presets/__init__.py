"""Shipped policy presets: code → the dict ``PolicySpec.from_dict`` reads.

These dicts are what the Django side stores in ``Policy.rules`` for administrators to edit; copy
one (``copy.deepcopy``) before changing it. ``load_preset(code)`` gives the validated spec.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from ..types import PolicySpec
from . import beijing_2023, dongzhi_2022, national_2021, ningbo_2019, wuxi_2023

PRESETS: dict[str, dict[str, Any]] = {
    module.PRESET["code"]: module.PRESET
    for module in (beijing_2023, wuxi_2023, ningbo_2019, national_2021, dongzhi_2022)
}


@cache
def load_preset(code: str) -> PolicySpec:
    """The validated :class:`PolicySpec` of a shipped preset; ``KeyError`` for an unknown code."""
    if code not in PRESETS:
        raise KeyError(f"no policy preset {code!r}; presets: {', '.join(PRESETS)}")
    return PolicySpec.from_dict(PRESETS[code])


__all__ = ["PRESETS", "load_preset"]
