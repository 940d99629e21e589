"""pytest-tinytorch: the engine that turns TinyTorch's test suite into a curriculum.

Modules, one concern each:

- :mod:`.manifest`       the ordered curriculum in ``katas/manifest.toml``
- :mod:`.progress`       the student's progress file and kata statuses
- :mod:`.selection`      the gate: which katas a run may collect
- :mod:`.implementation` which ``tinytorch`` package is imported (student's or reference)
- :mod:`.outcomes`       stubs and timeouts turned into guidance
- :mod:`.timeouts`       per-test time limits that stop slow code on every platform
- :mod:`.metrics`        the ``metrics`` fixture; :mod:`.measure` the measuring helpers
- :mod:`.results`        per-kata tallies; :mod:`.report` the JSON report
- :mod:`.display`        what the student reads
- :mod:`.stubs`          generating ``tinytorch/`` from ``reference/tinytorch/``
- :mod:`.plugin`         the pytest hooks that tie them together
"""
