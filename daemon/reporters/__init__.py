"""Reporters: result files, JUnit, webhook, GitHub status, dashboard. REPORTERS is the seam."""

from daemon.reporters.registry import REPORTERS, build_reporters

__all__ = ["REPORTERS", "build_reporters"]
