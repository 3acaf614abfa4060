"""Multiple Hypothesis Tracking with a lookback window (paper III-B), exact and fast."""

from .tracker import track_mht

__all__ = ["track_mht"]
