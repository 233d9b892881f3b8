"""Helpers for the console's Pilot tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot


async def until(
    pilot: Pilot[None], condition: Callable[[], object], what: str, timeout: float = 90.0
) -> None:
    """Let the app run until ``condition()`` holds (a generous bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.1)


def screen_text(app: App[None]) -> str:
    """What the terminal shows now, as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)
