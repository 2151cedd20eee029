"""Shared Hypothesis settings for the fuzz tests of artreg's readers of hostile input.

Bounded by default so the suite stays quick; set ARTREG_FUZZ_EXAMPLES to run more.
"""

from __future__ import annotations

import os

import hypothesis
from hypothesis import HealthCheck

EXAMPLES = int(os.environ.get("ARTREG_FUZZ_EXAMPLES", "60"))


def fuzz() -> hypothesis.settings:
    """Settings for a fuzz test: EXAMPLES examples, no deadline (inputs can be large)."""
    return hypothesis.settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
