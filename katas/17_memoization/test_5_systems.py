"""Systems view: what the KV cache costs in bytes and what it saves in time and work.

Every figure is measured on your code. The benchmark GPT has 2 layers, 4 heads, dim 128, a
vocabulary of 96 and max_len 300; it extends a batch of 4 prompts of 16 tokens by 256
tokens, greedily, so both ways of generating must produce the very same tokens.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, seconds
from tinytorch.nn import GPT
from tinytorch.systems.memoization import GPTCache, generate_cached, memoize

VOCAB, MAX_LEN, DIM, LAYERS, HEADS = 96, 300, 128, 2, 4
BATCH, PROMPT, NEW = 4, 16, 256
HEAD_DIM = DIM // HEADS


def benchmark_model():
    return GPT(VOCAB, MAX_LEN, DIM, LAYERS, HEADS, rng=0)


def prompts():
    return np.random.default_rng(0).integers(0, VOCAB, (BATCH, PROMPT))


def test_the_bytes_of_a_kv_cache(metrics):
    model = benchmark_model()
    cache = GPTCache(model, BATCH)
    measured = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    formula = 2 * LAYERS * BATCH * HEADS * MAX_LEN * HEAD_DIM * 4      # K and V, float32
    assert cache.nbytes == measured == formula
    weights = sum(p.nbytes for p in model.parameters())

    # the buffers are allocated once: generating does not add to them, whatever the length
    _, peak = peak_bytes(lambda: generate_cached(model, prompts(), 8, temperature=0.0))
    assert formula <= peak < 3 * formula, f"generating 8 tokens peaked at {peak:,} bytes"

    metrics.record(f"KV cache, {LAYERS} layers x batch {BATCH} x {MAX_LEN} positions, float32", formula, "bytes")
    metrics.record("KV cache bytes per position per sequence", formula / (BATCH * MAX_LEN), "bytes")
    metrics.record("KV cache / model weights", formula / weights, "ratio")
    metrics.record("peak memory of cached generation, 8 tokens", peak, "bytes")


def test_cached_generation_does_a_fraction_of_the_work_at_256_new_tokens(metrics, token_counter):
    model = benchmark_model()
    prompt = prompts()
    steps = token_counter(model)
    outputs, positions = {}, {}

    def run(name, generate):
        steps.clear()
        outputs[name] = generate().numpy()
        positions[name] = sum(steps)

    def full():
        run("full", lambda: model.generate(prompt, NEW, temperature=0.0))

    def cached():
        run("cached", lambda: generate_cached(model, prompt, NEW, temperature=0.0))

    # Interleaved: the cached side is timed before and after the full side. The full side
    # runs once (it takes seconds, and its 256 forward passes warm themselves up).
    cached_before = seconds(cached, repeat=3, warmup=1)
    full_time = seconds(full, repeat=1, warmup=0)
    cached_after = seconds(cached, repeat=3, warmup=0)
    cached_time = (cached_before + cached_after) / 2
    speedup = full_time / cached_time

    np.testing.assert_array_equal(outputs["cached"], outputs["full"])
    # The work, counted: each position runs through the model once with the cache, and the
    # whole context again at every step without it: 136 times as many positions here.
    # The time follows (about 25 to 36x on an idle core) and is shown, not asserted.
    assert positions["cached"] == PROMPT + NEW - 1
    assert positions["full"] == sum(range(PROMPT, PROMPT + NEW))

    metrics.record(f"generating {NEW} tokens x batch {BATCH}, recomputing", full_time, "seconds")
    metrics.record(f"generating {NEW} tokens x batch {BATCH}, KV cache", cached_time, "seconds")
    metrics.record(f"speed-up of the KV cache at {NEW} new tokens", speedup, "ratio")
    metrics.record("positions run through the model, recomputing", positions["full"], "count")
    metrics.record("positions run through the model, cached", positions["cached"], "count")
    metrics.record("work saved: positions recomputed / cached", positions["full"] / positions["cached"], "ratio")


def test_memoizing_a_recursion_turns_exponential_calls_into_linear(metrics):
    def naive(n):
        counter[0] += 1
        return n if n < 2 else naive(n - 1) + naive(n - 2)

    @memoize(maxsize=None)
    def memoized(n):
        return n if n < 2 else memoized(n - 1) + memoized(n - 2)

    counter = [0]
    assert naive(25) == memoized(25) == 75025
    assert memoized.misses == 26 and memoized.hits == 23
    metrics.record("calls of fib for fib(25), plain recursion", counter[0], "count")
    metrics.record("calls of fib for fib(25), memoized", memoized.misses + memoized.hits, "count")
