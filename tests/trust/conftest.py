"""Fixtures for the trust tests (helpers live in ``_trust_helpers``)."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_fsync(monkeypatch):
    """In-process checkpoint tests exercise what is written, not durability across a power
    cut; skipping fsync makes each write ~20x faster here. The kill test keeps it."""
    import scratchnet.fileio as fileio

    monkeypatch.setattr(fileio.os, "fsync", lambda fd: None)
