"""Errors of the dev stack: each message says what to do."""

from __future__ import annotations

from ..errors import DecentralMLError


class DevStackError(DecentralMLError):
    """The dev stack could not be started, seeded or stopped; the message says what to do."""


class PortTaken(DevStackError):
    """A port the stack needs is held by a program that is not part of this stack."""
