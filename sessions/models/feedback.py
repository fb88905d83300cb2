"""Session feedback (sessions/feedback/): tables written by the feedback work (migration 0023)."""

from __future__ import annotations
