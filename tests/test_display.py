"""How the metrics table writes each unit."""

import pytest

from pytest_tinytorch.display import format_value


@pytest.mark.parametrize("value, unit, shown", [
    (4_000_000, "bytes", "4,000,000 bytes (4.00 MB)"),
    (512, "bytes", "512 bytes"),
    (0.0123, "seconds", "12.3 ms"),
    (850.24, "ratio", "850.2x"),
    (1.23e11, "FLOP/s", "123 GFLOP/s"),
    (3.44e10, "bytes/s", "34.4 GB/s"),
    (240_844_800, "MACs", "240,844,800 MACs"),
    (2.5, "nats", "2.5 nats"),
])
def test_each_unit_reads_as_a_person_would_write_it(value, unit, shown):
    assert format_value(value, unit) == shown
