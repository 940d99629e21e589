"""Systems engineering: measuring and optimizing the models you built (katas 14-20).

One module per kata, each importable on its own (``from tinytorch.systems.quantization import
quantize_model``); the main names of katas 14-19 are also available from here. The Olympics
(kata 20) is a command as well (``python -m tinytorch.systems.olympics``), so it is not
imported here: import ``tinytorch.systems.olympics`` itself.
"""

from .profiling import MemoryProfile, Profile, amdahl_speedup, memory_profile, profile, propagate
from .quantization import (QuantizedConv2d, QuantizedLinear, QuantizedTensor, model_bytes,
                           quantize_model, quantize_tensor)
from .compression import (MaskedTrainer, SparseTensor, compress_state_dict, decompress_state_dict,
                          distill, global_magnitude_prune, low_rank_factorize, prune_units, to_sparse)
from .memoization import GPTCache, KVCache, cached_forward, generate_cached, memoize
from .acceleration import acceleration_enabled, disable_acceleration, enable_acceleration
from .benchmarking import (Benchmark, BenchmarkResult, Comparison, Significance, Summary,
                           bootstrap_median_ci, capture_environment, mann_whitney_p_value,
                           mann_whitney_u, significance_test, summarize)

__all__ = ["profile", "propagate", "memory_profile", "amdahl_speedup", "Profile", "MemoryProfile",
           "QuantizedTensor", "quantize_tensor", "QuantizedLinear", "QuantizedConv2d",
           "quantize_model", "model_bytes",
           "global_magnitude_prune", "MaskedTrainer", "prune_units", "SparseTensor", "to_sparse",
           "compress_state_dict", "decompress_state_dict", "low_rank_factorize", "distill",
           "memoize", "KVCache", "GPTCache", "cached_forward", "generate_cached",
           "enable_acceleration", "disable_acceleration", "acceleration_enabled",
           "Benchmark", "BenchmarkResult", "Comparison", "Significance", "Summary", "summarize",
           "bootstrap_median_ci", "mann_whitney_u", "mann_whitney_p_value", "significance_test",
           "capture_environment"]
