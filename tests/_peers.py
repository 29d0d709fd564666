"""Gate for tests that need a real third-party peer or service.

On a laptop without sipp, pjsua2, baresip, chromium or PostgreSQL such a test skips with a
visible reason. With ``CLICKPHONE_REQUIRE_ALL=1`` (set by ``.ci/run``) a missing peer fails
the test instead, so CI can never go green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ALL = os.environ.get("CLICKPHONE_REQUIRE_ALL") == "1"


def require(available: bool, what: str) -> None:
    """Skip (or, in CI, fail) the calling test when ``what`` is not available."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (CLICKPHONE_REQUIRE_ALL=1) but not available")
    pytest.skip(f"{what} not available on this machine")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"the {name!r} program")
    assert path is not None
    return path
