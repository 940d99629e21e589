"""``tinytorch.profiling``: the TinyTorch paper's path to the profiler of kata 14.

The profiler lives in :mod:`tinytorch.systems.profiling`, with the other systems katas
(14-20). The paper imports it as ``from tinytorch.profiling import profile_memory``, so this
module hands out the same functions under that path; ``profile_memory`` is
:func:`~tinytorch.systems.profiling.memory_profile` (the memory of one training step:
parameters, gradients, optimizer state and activations). Write your code in
``tinytorch/systems/profiling.py``, not here.
"""

from .systems.profiling import MemoryProfile, Profile, amdahl_speedup, memory_profile, profile, propagate

profile_memory = memory_profile

__all__ = ["MemoryProfile", "Profile", "amdahl_speedup", "memory_profile", "profile",
           "profile_memory", "propagate"]
