"""tune_gc: the serving process's collector settings (checked in a child process, so the
test run's own collector is left alone)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from clickphone.sipserver import SipServerConfig, tune_gc
assert SipServerConfig().tune_gc is False  # opt-in: tests start many servers per process
before = gc.get_freeze_count()
tune_gc(12345)
print(gc.get_threshold()[0], gc.get_threshold()[1] >= 20, gc.get_freeze_count() > before)
"""


def test_tune_gc_freezes_start_up_objects_and_raises_the_threshold() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["12345", "True", "True"]
