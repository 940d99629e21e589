"""The TinyTalks task: a TinyGPT answers questions, exactly, and is timed per generated token
with and without the KV cache.

Most tests use a GPT whose answers are known in advance: its token table is zero and its
block adds nothing, so what it writes depends only on the position, and its head maps
position ``t`` to a token chosen by the test (``script[t]``). Nothing is left to rounding:
the chosen token leads the others by about the square root of the width. A spy on the
head records how many positions each forward pass ran, which tells a prefill from a step
with the KV cache (one new position) and counts the tokens generated. The timings come
from a fake clock (kata 19's injectable timer), so every figure has an exact expected value.
"""

import tracemalloc

import numpy as np
import pytest

from tinytorch.data import BPETokenizer
from tinytorch.nn import GPT
from tinytorch.systems.olympics import (
    SHIPPED_TALKS_SHA256,
    SHIPPED_TEST_SET_SHA256,
    TALKS_LATENCY_PROMPTS,
    TALKS_LATENCY_TOKENS,
    TINYTALKS,
    RejectedSubmission,
    TinyTalker,
    count_exact_answers,
    exact_answers,
    load_talks_test_set,
    measure,
    read_submission,
    save_model,
    shipped_talks,
    shipped_test_set,
    submit,
    token_latencies,
    verify,
    verify_on,
    write_submission,
)

SPECIAL = "<|endoftext|>"
STEP = 2.0 ** -14
OTHER_STEP = 2.0 ** -12
PROMPT = 5          # tokens in the prompts of the scripted tests
WIDTH = 32          # the scripted GPT's context and width (one position, one dimension)


def tokenizer_with(*words: bytes) -> BPETokenizer:
    """A byte-level BPE tokenizer with the special token and one token for each of ``words``,
    built by merges from left to right."""
    merges: list[tuple[int, int]] = []
    ids: dict[bytes, int] = {}
    for word in words:
        current = word[0]
        for end in range(2, len(word) + 1):
            if word[:end] not in ids:
                ids[word[:end]] = 256 + 1 + len(merges)
                merges.append((current, word[end - 1]))
            current = ids[word[:end]]
    return BPETokenizer(merges, [SPECIAL])


def ids_of(tokenizer: BPETokenizer, *pieces: bytes) -> list[int]:
    """The id of the token that stands for each of ``pieces``."""
    by_bytes = {tokenizer.token_bytes(i): i for i in range(tokenizer.vocab_size)}
    return [by_bytes[piece] for piece in pieces]


def scripted(tokenizer: BPETokenizer, writes: dict[int, list[int]], width: int = WIDTH) -> TinyTalker:
    """A GPT that writes ``script[t]`` after a context of ``t + 1`` tokens, whatever they are.

    ``writes`` maps a position to the tokens written from there on; every other position
    writes "?". The token table is zero and the block's two output layers are zero, so the
    residual stream is the position's one-hot vector; the head maps position ``t`` to
    ``script[t]``."""
    script = np.full(width, ids_of(tokenizer, b"?")[0])
    for start, tokens in writes.items():
        script[start:start + len(tokens)] = tokens
    model = GPT(tokenizer.vocab_size, width, width, num_layers=1, num_heads=1, mlp_ratio=1, rng=0)
    model.token_embedding.weight.data[:] = 0
    model.position_embedding.weight.data[:] = np.eye(width, dtype=np.float32)
    block = model.blocks[0]
    for layer in (block.attn.out_proj, block.mlp.proj):
        layer.weight.data[:] = 0
        layer.bias.data[:] = 0
    head = np.zeros((width, tokenizer.vocab_size), dtype=np.float32)
    head[np.arange(width), script] = 1.0
    model.head.weight.data[:] = head
    model.eval()
    return TinyTalker(model, tokenizer)


def head_calls(talker: TinyTalker) -> list[int]:
    """Record, for every forward pass from now on, how many positions reached the head."""
    lengths: list[int] = []
    head = talker.model.head
    forward = head.forward

    def spy(x):
        lengths.append(x.shape[1])
        return forward(x)

    head.forward = spy
    return lengths


def prompts(count: int, length: int = PROMPT) -> np.ndarray:
    return np.arange(count * length, dtype=np.int64).reshape(count, length) % 200


# -- exact answers ----------------------------------------------------------------------------

def test_right_when_the_new_tokens_start_with_the_completion():
    tokenizer = tokenizer_with(b" yes", b".\n")
    talker = scripted(tokenizer, {PROMPT - 1: ids_of(tokenizer, b" yes", b".\n")})
    right = exact_answers(talker, prompts(4), [b" yes.\n", b" no.\n", b" yes!\n", b" yes.\n"])
    assert right.dtype == bool and right.shape == (4,)
    # " yes", ".\n", then "?": what comes after the newline does not count
    assert right.tolist() == [True, False, False, True]


def test_a_model_that_stops_short_of_the_newline_is_wrong():
    tokenizer = tokenizer_with(b" yes")
    talker = scripted(tokenizer, {PROMPT - 1: ids_of(tokenizer, b" yes", b".", b" ")})
    assert exact_answers(talker, prompts(1), [b" yes.\n"]).tolist() == [False]


def test_generation_goes_on_chunk_by_chunk_with_the_cache_until_every_row_is_decided():
    tokenizer = tokenizer_with()
    answer = b" The capital is Lima.\n"               # 22 bytes, 22 byte tokens
    talker = scripted(tokenizer, {PROMPT - 1: ids_of(tokenizer, *[bytes([b]) for b in answer])})
    calls = head_calls(talker)
    right = exact_answers(talker, prompts(2), [answer, answer[:-2] + b"!\n"], chunk=4)
    assert right.tolist() == [True, False]
    # Six calls of generate_cached, each continuing the tokens so far: a prefill of the whole
    # context, then one position per new token (the KV cache), four tokens per call. The
    # first row is decided after 22 tokens: the sixth call, and no seventh.
    expected = [length for call in range(6) for length in (PROMPT + 4 * call, 1, 1, 1)]
    assert calls == expected, f"positions per forward pass: {calls}"


def test_a_batch_that_goes_wrong_at_once_stops_after_one_chunk():
    tokenizer = tokenizer_with(b" no")
    talker = scripted(tokenizer, {PROMPT - 1: ids_of(tokenizer, b" no")})
    calls = head_calls(talker)
    assert exact_answers(talker, prompts(3), [b" yes.\n", b" maybe.\n", b" yes, the capital is Lima.\n"],
                         chunk=8).tolist() == [False] * 3
    assert calls == [PROMPT] + [1] * 7, "one chunk of 8 tokens decides every row"


def test_nothing_is_generated_for_rows_decided_before_the_first_token():
    talker = scripted(tokenizer_with(), {})
    calls = head_calls(talker)
    assert exact_answers(talker, prompts(2), [b"", b""]).tolist() == [True, True]
    assert calls == []


def test_one_completion_per_prompt():
    talker = scripted(tokenizer_with(), {})
    with pytest.raises(ValueError, match=r"\(3, 5\).*2 completions"):
        exact_answers(talker, prompts(3), [b" a.\n", b" b.\n"])


# -- latency per token, with and without the cache ---------------------------------------------

def test_latencies_per_token_interleave_the_cache_and_no_cache(lab_benchmark):
    talker = scripted(tokenizer_with(), {})
    bench = lab_benchmark(STEP)
    bench.warmup = 3
    queries = [np.zeros((1, 3), np.int64), np.zeros((1, 5), np.int64)]
    calls = head_calls(talker)
    cached, uncached = token_latencies(talker, queries, 4, bench)

    assert cached.timings == (STEP / 4,) * 2 and uncached.timings == (STEP / 4,) * 2, (
        "one timing per prompt, each call's time divided by the tokens it generated")
    assert (cached.name, uncached.name) == ("latency per token, KV cache", "latency per token, no cache")
    assert cached.scenario == uncached.scenario == "single_stream"
    assert cached.batch_size == uncached.batch_size == 1
    assert cached.throughput == uncached.throughput == 4 / STEP, "tokens per second of one stream"
    assert cached.summary.median == STEP / 4

    def pair(length):   # with the cache (a prefill, then one position per token), then without
        return [length, 1, 1, 1] + [length, length + 1, length + 2, length + 3]

    warmup = pair(3) + pair(5) + pair(3)            # three untimed pairs, cycling over the prompts
    assert calls == warmup + pair(3) + pair(5), f"positions per forward pass: {calls}"


def test_latencies_refuse_to_run_when_they_cannot_measure(lab_benchmark):
    talker = scripted(tokenizer_with(), {})
    calls = head_calls(talker)
    with pytest.raises(ValueError, match="new_tokens"):
        token_latencies(talker, [np.zeros((1, 3), np.int64)], 0, lab_benchmark())
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="tracemalloc"):
            token_latencies(talker, [np.zeros((1, 3), np.int64)], 2, lab_benchmark())
    finally:
        tracemalloc.stop()
    assert calls == [], "refused before the model ran"


# -- a TinyTalks model through the rules -------------------------------------------------------

@pytest.fixture(scope="module")
def talker():
    """An untrained TinyGPT over bytes: small, and long enough for every shipped question
    with its answer (no context is cropped). Its accuracy is whatever it is; the rules must
    count it the same way twice."""
    model = GPT(257, 288, 16, num_layers=1, num_heads=2, mlp_ratio=2, rng=20)
    model.eval()
    return TinyTalker(model, BPETokenizer([], [SPECIAL]))


@pytest.fixture(scope="module")
def talks_submission(talker, tmp_path_factory, lab_benchmark):
    """The TinyGPT submitted on the submitter's fake clock (written once)."""
    return submit(talker, "tal", tmp_path_factory.mktemp("talks"), benchmark=lab_benchmark(STEP))


def test_measuring_a_talker_counts_the_shipped_questions_and_times_tokens(talks_submission, lab_benchmark):
    measured = measure(talks_submission.model_path, lab_benchmark(OTHER_STEP))
    assert measured.task == TINYTALKS and measured.test_set_sha256 == SHIPPED_TALKS_SHA256
    assert measured.test_images == 544 and measured.accuracy == talks_submission.claims.accuracy
    assert measured.latency.timings == (OTHER_STEP / TALKS_LATENCY_TOKENS,) * TALKS_LATENCY_PROMPTS
    assert measured.uncached.timings == (OTHER_STEP / TALKS_LATENCY_TOKENS,) * TALKS_LATENCY_PROMPTS
    assert measured.offline is None


def test_a_talkers_claims_are_recomputed_and_its_latencies_measured_again(talks_submission, lab_benchmark):
    claims = read_submission(talks_submission.path).claims
    assert claims.latency_seconds == STEP / TALKS_LATENCY_TOKENS
    assert claims.throughput == TALKS_LATENCY_TOKENS / STEP, "tokens per second, with the cache"

    entry = verify(talks_submission.path, lab_benchmark(OTHER_STEP))
    assert entry.task == TINYTALKS and entry.test_set_sha256 == SHIPPED_TALKS_SHA256
    assert (entry.accuracy, entry.model_bytes) == (claims.accuracy, claims.model_bytes)
    assert entry.latency_seconds == entry.uncached_latency_seconds == OTHER_STEP / TALKS_LATENCY_TOKENS
    assert entry.claimed_latency_seconds == STEP / TALKS_LATENCY_TOKENS
    assert entry.combined is None and not entry.qualified, "an untrained model does not qualify"


def test_each_task_verifies_on_its_own_test_set(talks_submission, lab_benchmark, tmp_path, trained_mlp):
    with pytest.raises(RejectedSubmission, match="tinytalks task") as rejection:
        verify_on(talks_submission.path, shipped_test_set(), lab_benchmark())
    assert rejection.value.field == "task"

    save_model(tmp_path / "mlp.npz", trained_mlp)
    digits = write_submission(tmp_path / "mlp.npz", "ada", benchmark=lab_benchmark())
    with pytest.raises(RejectedSubmission, match="digits task") as rejection:
        verify_on(digits.path, shipped_talks(), lab_benchmark())
    assert rejection.value.field == "task"


def test_an_instructors_questions_replace_the_shipped_ones(talks_submission, lab_benchmark, tmp_path, talker):
    held = tmp_path / "held.txt"
    held.write_text("Q: What is 2 + 2?\nA: 4.\n\nQ: Hi!\nA: Hello!\nQ: And the capital of Peru?\nA: Lima.\n")
    questions = load_talks_test_set(held)
    assert len(questions) == 3 and questions.pairs[2].context == "Q: Hi!\nA: Hello!\n"
    entry = verify_on(talks_submission.path, questions, lab_benchmark())
    assert entry.test_set_sha256 == questions.sha256 not in (SHIPPED_TALKS_SHA256, SHIPPED_TEST_SET_SHA256)
    assert entry.accuracy == count_exact_answers(talker, questions.pairs) / 3
