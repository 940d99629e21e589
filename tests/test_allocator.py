"""enable_acceleration() keeps freed memory for the next array: counted in page faults.

The figure that matters is not a time (it moves with the machine's load) but the page faults
the operating system counts for the process: a fresh page costs one on its first write,
a reused one none. Each check runs in a fresh interpreter, whose allocator starts from
glibc's defaults.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Ten rounds of a GELU-backward-like computation on a (768, 512) float32 array: four
# temporaries of 1.5 MB alive at once, freed at the end of every round.
FAULTS = """
import resource, sys
import numpy as np
sys.path.insert(0, {root!r})
if {keep}:
    from tinytorch.systems.acceleration import enable_acceleration
    enable_acceleration()
x = np.ones((768, 512), dtype=np.float32)
def work():
    t = np.tanh(x * 0.7)
    d = x * x
    d *= 3.0
    return x * (1 - t * t) * d + t
work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    work()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(keep: bool) -> int:
    code = FAULTS.format(root=str(ROOT), keep=keep)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_enable_acceleration_keeps_freed_memory_for_the_next_array():
    pages = 10 * 4 * 768 * 512 * 4 // 4096           # the rounds' temporaries, in 4 KiB pages
    default, kept = page_faults(keep=False), page_faults(keep=True)
    assert default > pages / 2, f"glibc's defaults took only {default} page faults: nothing to show"
    assert kept < pages / 100, f"{kept} page faults with memory kept (glibc's defaults: {default})"


def test_keep_freed_memory_says_whether_it_could():
    from tinytorch.systems.acceleration import keep_freed_memory

    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
