"""Systems engineering: measuring and optimizing the models you built (katas 14-20)."""

from .benchmarking import (Benchmark, BenchmarkResult, Comparison, Significance, Summary,
                           bootstrap_median_ci, capture_environment, mann_whitney_p_value,
                           mann_whitney_u, significance_test, summarize)

__all__ = ["Benchmark", "BenchmarkResult", "Comparison", "Significance", "Summary", "summarize",
           "bootstrap_median_ci", "mann_whitney_u", "mann_whitney_p_value", "significance_test",
           "capture_environment"]
