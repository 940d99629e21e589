"""Kata 20's second task: a TinyGPT answers the TinyTalks test questions.

The 2017 milestone trains a GPT (kata 13) with a BPE tokenizer (kata 10) on TinyTalks and
asks it the 544 questions of the test split. The prompt is the question after the earlier
turns of its dialogue, ``Q: <question>\\nA:`` (``QAPair.prompt``), and the answer is right
when the model continues it with exactly ``QAPair.completion``: a space, the answer and a
newline. This task ranks such models under the digits' rules: a model file without pickle,
checked before anything is built, accuracy and bytes recomputed exactly, latency measured
again on the verifier's machine, one board per task. Its rules are ``TASKS["tinytalks"]``
in ``olympics_rules``:

=================  ===============================================================  ======
event              what is measured                                                 better
=================  ===============================================================  ======
accuracy           share of the test questions answered exactly, greedily           higher
latency            median seconds per generated token, with the KV cache (kata 17)  lower
latency_no_cache   the same without it: each new token runs the whole context       lower
bytes              size of the model file on disk                                   lower
combined           the digits' score against this task's baseline                   higher
=================  ===============================================================  ======

**Exact answers, greedily.** Every prompt is ``TALKS_PROMPT_PREFIX + pair.prompt`` (the
token that opens every conversation in the milestone's training), encoded by the model's
own tokenizer. The model extends it with the most likely token at each step (temperature
0): no randomness, so the same file on the same machine gives the same answers and the
accuracy can be recomputed exactly. The answer is compared as bytes: right when the bytes
of the new tokens start with the completion's. Since every token stands for at least one
byte, at most as many tokens as the completion has bytes decide it, whatever the tokenizer
(:func:`exact_answers`). A batch generates together (``generate_cached`` extends prompts of
one length), so :func:`count_exact_answers` groups the prompts by their number of tokens.

**Latency per generated token, with and without the cache.** Without a KV cache, each new
token runs the whole context through the model again; with it, only the new token
(kata 17). Per token is the unit that compares models whose tokenizers cut the same text
into different numbers of tokens, and what a user waiting for text feels. The two are
timed prompt by prompt, alternately (:func:`token_latencies`), on the first
``TALKS_LATENCY_PROMPTS`` test prompts, each extended by ``TALKS_LATENCY_TOKENS`` tokens,
one sequence at a time, with the BLAS on one thread (the command pins it). The cached
latency is the one the combined score weighs: it is how such a model is served.

**The model file** is the digits' format (``olympics_files``) with one layer, the GPT::

    "architecture"   {"format": MODEL_FORMAT, "version": 1, "task": "tinytalks",
                      "layers": [{"type": "GPT", "config": {"vocab_size": 1393, "max_len": 128,
                                  "dim": 64, "num_layers": 2, "num_heads": 4, "mlp_ratio": 4}}],
                      "tokenizer": {"type": "BPETokenizer", "special_tokens": ["<|endoftext|>", ...]}}
    "0/token_embedding.weight", "0/blocks.0.attn.q_proj.weight", ...   the GPT's state_dict
    "tokenizer/merges"   (M, 2) integers: the BPE merges, in the order they were learned

Arrays keep their dtype, so float16 weights take half the bytes (they load back into the
float32 GPT) and pruned zeros compress. Before anything is built (:func:`load_talker`), the
configuration is checked field by field and what it implies is counted
(:func:`plan_gpt`, ``check_architecture`` with this task's :data:`TALKS_LIMITS`): the
parameters, the largest array of a forward pass over one full context, and the
multiply-adds of generating one token without the cache at full context, which bounds the
time a verification takes. The tokenizer is checked on paper too: its special tokens, its
merges' ids, and the bytes its tokens add up to (each merge joins two tokens, so twenty
merges can make a token of a megabyte), and its vocabulary must be the GPT's.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..data.tinytalks import QAPair, qa_pairs, tinytalks_pairs
from ..data.tokenization import BYTE_VOCAB_SIZE, BPETokenizer
from ..nn.transformers import GPT
from .benchmarking import Benchmark, BenchmarkResult
from .memoization import generate_cached, transformer_blocks
from .olympics_files import read_architecture, read_bytes, short_repr, write_model_file
from .olympics_layers import Footprint, LayerType, Limits, Shape, check_architecture, size
from .olympics_rules import (
    MAX_LAYERS,
    MAX_OPERATIONS_PER_TOKEN,
    MAX_PARAMETERS,
    MAX_SPECIAL_TOKEN_CHARS,
    MAX_SPECIAL_TOKENS,
    MAX_TALKS_TEST_SET_BYTES,
    MAX_TOKENIZER_BYTES,
    MAX_VALUES_PER_SEQUENCE,
    MODEL_FORMAT,
    MODEL_VERSION,
    SHIPPED_TALKS_SHA256,
    TALKS_BATCH_SIZE,
    TALKS_GENERATION_CHUNK,
    TALKS_MAX_ANSWER_BYTES,
    TALKS_PROMPT_PREFIX,
    TASK_KEY,
    TINYTALKS,
)
from .profiling import refuse_under_tracemalloc

MERGES_KEY = "tokenizer/merges"
TOKENIZER_KEY = "tokenizer"


@dataclass(frozen=True)
class TinyTalker:
    """A TinyTalks model: the GPT and the tokenizer that turns text into its token ids."""

    model: GPT
    tokenizer: BPETokenizer

    def prompt_ids(self, pair: QAPair) -> np.ndarray:
        """The token ids ``(T,)`` of ``TALKS_PROMPT_PREFIX + pair.prompt``, int64."""
        return np.array(self.tokenizer.encode(TALKS_PROMPT_PREFIX + pair.prompt), dtype=np.int64)


# -- the GPT as a layer of a model file -------------------------------------------------------

def gpt_config(model: GPT) -> dict[str, Any]:
    """The arguments that rebuild ``model`` (its dropout is left out: a loaded model evaluates)."""
    blocks = transformer_blocks(model)
    dim = model.token_embedding.embedding_dim
    return {"vocab_size": model.vocab_size, "max_len": model.max_len, "dim": dim,
            "num_layers": len(blocks), "num_heads": blocks[0].attn.num_heads if blocks else 1,
            "mlp_ratio": blocks[0].mlp.fc.out_features // dim if blocks else 1}


def plan_gpt(config: dict[str, Any], shape: Shape, arrays: Mapping[str, Shape]) -> Footprint:
    """What a GPT of ``config`` implies, counted on paper (the input ``shape`` is unused: a
    GPT reads token ids, up to its ``max_len``).

    - parameters: the token table (``vocab x dim``) and the positions (``max_len x dim``);
      per block two LayerNorms (``2 x dim`` each), four ``dim x dim`` projections with
      biases and the MLP (``dim x hidden`` and back, with biases, ``hidden = mlp_ratio x dim``);
      the final LayerNorm and the head (``dim x vocab``, no bias);
    - the largest array of a forward pass over one full context (``T = max_len``): the
      logits ``T x vocab``, the attention scores of all heads ``heads x T x T``, or the
      MLP's hidden layer ``T x hidden``;
    - the multiply-adds of generating one token without the cache at full context: per
      block ``T x (4 dim^2 + 2 dim hidden)`` for the matrix products and ``2 T^2 dim`` for
      attention, then ``T x dim x vocab`` for the head, which ``forward`` runs at every position.

    ``ValueError`` if ``dim`` is not a multiple of ``num_heads``.
    """
    vocab, context, dim = config["vocab_size"], config["max_len"], config["dim"]
    layers, heads = config["num_layers"], config["num_heads"]
    if dim % heads:
        raise ValueError(f"config 'dim' = {dim} is not a multiple of 'num_heads' = {heads}")
    hidden = config["mlp_ratio"] * dim
    block = 2 * 2 * dim + 4 * (dim * dim + dim) + (dim * hidden + hidden) + (hidden * dim + dim)
    parameters = vocab * dim + context * dim + layers * block + 2 * dim + dim * vocab
    values = max(context * vocab, heads * context * context, context * hidden)
    operations = (layers * (context * (4 * dim * dim + 2 * dim * hidden) + 2 * context * context * dim)
                  + context * dim * vocab)
    return Footprint((context, vocab), parameters, values, operations)


GPT_TYPE = LayerType(
    GPT, gpt_config,
    {"vocab_size": size(BYTE_VOCAB_SIZE), "max_len": size(), "dim": size(), "num_layers": size(1, MAX_LAYERS),
     "num_heads": size(), "mlp_ratio": size()},
    plan_gpt)
TALKS_LAYER_TYPES: dict[str, LayerType] = {"GPT": GPT_TYPE}
TALKS_LIMITS = Limits(MAX_PARAMETERS, MAX_VALUES_PER_SEQUENCE, MAX_OPERATIONS_PER_TOKEN,
                      "one sequence of its full context", "generated token")


# -- the tokenizer, checked on paper ----------------------------------------------------------

def check_tokenizer(declared: Any, merges: np.ndarray | None, vocab_size: int, where: str) -> list[str]:
    """The special tokens of the tokenizer a file declares, once it is known to be buildable.

    ``declared`` is the architecture's ``"tokenizer"`` object and ``merges`` the array
    ``MERGES_KEY`` (None if the file has none). Refused, each a ``ValueError`` starting with
    ``where``: another type than ``{"type": "BPETokenizer", "special_tokens": [...]}``; more
    than ``MAX_SPECIAL_TOKENS`` special tokens, or one that is not a string of 1 to
    ``MAX_SPECIAL_TOKEN_CHARS`` characters; merges that are not integers ``(M, 2)``; a
    vocabulary (256 bytes, the special tokens and the merges) other than the GPT's
    ``vocab_size``; a merge of an id that does not exist before it or is a special token;
    tokens whose bytes add up to more than ``MAX_TOKENIZER_BYTES``.
    """
    if (not isinstance(declared, dict) or set(declared) != {"type", "special_tokens"}
            or declared["type"] != "BPETokenizer"):
        raise ValueError(f"{where}: field {TOKENIZER_KEY!r} must be {{\"type\": \"BPETokenizer\", "
                         f"\"special_tokens\": [...]}}, got {short_repr(declared)}")
    specials = declared["special_tokens"]
    if (not isinstance(specials, list) or len(specials) > MAX_SPECIAL_TOKENS
            or not all(isinstance(token, str) and 1 <= len(token) <= MAX_SPECIAL_TOKEN_CHARS
                       for token in specials)):
        raise ValueError(f"{where}: tokenizer field 'special_tokens' must be a list of at most "
                         f"{MAX_SPECIAL_TOKENS} strings of 1 to {MAX_SPECIAL_TOKEN_CHARS} characters, "
                         f"got {short_repr(specials)}")
    if merges is None:
        raise ValueError(f"{where}: no array {MERGES_KEY!r}, the tokenizer's merges")
    if merges.dtype.kind not in "iu" or merges.ndim != 2 or merges.shape[1] != 2:
        raise ValueError(f"{where}: array {MERGES_KEY!r} must hold integer pairs (M, 2), got "
                         f"{merges.dtype} {merges.shape}")
    first = BYTE_VOCAB_SIZE + len(specials)
    if first + len(merges) != vocab_size:
        raise ValueError(f"{where}: the tokenizer has {first + len(merges):,} tokens ({BYTE_VOCAB_SIZE} "
                         f"bytes, {len(specials)} special, {len(merges):,} merges), the GPT's "
                         f"'vocab_size' is {vocab_size:,}")
    pairs = merges.tolist()
    lengths = [1] * BYTE_VOCAB_SIZE + [len(token.encode("utf-8")) for token in specials]
    total = sum(lengths)
    for index, (a, b) in enumerate(pairs):
        created = first + index
        if not all(0 <= i < created and not BYTE_VOCAB_SIZE <= i < first for i in (a, b)):
            raise ValueError(f"{where}: array {MERGES_KEY!r}: merge {index} {(a, b)} must be two ids "
                             f"below {created} that are not special tokens")
        lengths.append(lengths[a] + lengths[b])
        total += lengths[-1]
        if total > MAX_TOKENIZER_BYTES:
            raise ValueError(f"{where}: array {MERGES_KEY!r}: merge {index} brings the tokens to "
                             f"{total:,} bytes, more than the {MAX_TOKENIZER_BYTES:,} a tokenizer may have")
    return specials


# -- model files ------------------------------------------------------------------------------

def save_talker(path: str | Path, talker: TinyTalker) -> int:
    """Write ``talker`` to ``path`` as a TinyTalks model file (module docstring); its size.

    ``TypeError`` for a model that is not exactly a ``GPT`` or a tokenizer that is not a
    ``BPETokenizer``, ``ValueError`` if their vocabularies differ; both before writing.
    """
    model, tokenizer = talker.model, talker.tokenizer
    if type(model) is not GPT or type(tokenizer) is not BPETokenizer:
        raise TypeError(f"a TinyTalks model file holds a GPT and a BPETokenizer, got a "
                        f"{type(model).__name__} and a {type(tokenizer).__name__}")
    if model.vocab_size != tokenizer.vocab_size:
        raise ValueError(f"the GPT has vocab_size {model.vocab_size}, its tokenizer {tokenizer.vocab_size} tokens")
    spec = {"format": MODEL_FORMAT, "version": MODEL_VERSION, TASK_KEY: TINYTALKS,
            "layers": [{"type": "GPT", "config": gpt_config(model)}],
            TOKENIZER_KEY: {"type": "BPETokenizer", "special_tokens": list(tokenizer.special_tokens)}}
    arrays = {f"0/{name}": array for name, array in GPT_TYPE.arrays(model).items()}
    arrays[MERGES_KEY] = np.array(tokenizer.merges, dtype=np.uint16).reshape(-1, 2)
    return write_model_file(path, spec, arrays)


def load_talker(path: str | Path) -> TinyTalker:
    """The TinyTalker :func:`save_talker` wrote to ``path``, its GPT in ``eval()`` mode.

    Nothing is built before everything declared has been checked: ``read_architecture``
    (a TinyTalks file, read without pickle and within the limits), one layer of type GPT,
    ``check_architecture`` with :data:`TALKS_LAYER_TYPES` and :data:`TALKS_LIMITS`, then
    :func:`check_tokenizer`. Then the tokenizer and the GPT are built and the GPT's arrays
    (``"0/..."``) loaded (``load_state_dict`` names missing keys and wrong shapes). Every
    problem is a ``ValueError`` starting with the path.
    """
    where = str(path)
    spec, arrays = read_architecture(path, TINYTALKS)
    layers = spec.get("layers")
    if (not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict)
            or layers[0].get("type") != "GPT"):
        raise ValueError(f"{where}: a TinyTalks model is one layer of type GPT, got {short_repr(layers)}")
    merges = arrays.pop(MERGES_KEY, None)
    check_architecture(layers, arrays, where, input_shape=(), registry=TALKS_LAYER_TYPES, limits=TALKS_LIMITS)
    config = layers[0]["config"]
    specials = check_tokenizer(spec.get(TOKENIZER_KEY), merges, config["vocab_size"], where)
    try:
        tokenizer = BPETokenizer([tuple(pair) for pair in np.asarray(merges).tolist()], specials)
    except ValueError as error:
        raise ValueError(f"{where}: tokenizer: {error}") from None
    own = {key.removeprefix("0/"): arrays.pop(key) for key in list(arrays) if key.startswith("0/")}
    if arrays:
        raise ValueError(f"{where}: arrays that belong to no layer: {short_repr(sorted(arrays))}")
    try:
        model = GPT_TYPE.rebuild(config, own)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{where}: layer 0 (GPT): {error}") from None
    model.eval()
    return TinyTalker(model, tokenizer)


# -- test sets --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TalksTestSet:
    """Questions a TinyTalks model is scored on, and the digest that names them (the sha256
    of the file they were read from)."""

    pairs: tuple[QAPair, ...]
    sha256: str
    task: ClassVar[str] = TINYTALKS

    def __len__(self) -> int:
        return len(self.pairs)

    def count(self, model_path: str | Path) -> int:
        """How many of the questions the model file at ``model_path`` answers exactly."""
        return count_exact_answers(load_talker(model_path), self.pairs)


@functools.lru_cache(maxsize=1)
def shipped_talks() -> TalksTestSet:
    """The 544 test questions that ship with TinyTalks (``tinytalks_pairs("test")``, whose
    file is checked against its sha256)."""
    return TalksTestSet(tuple(tinytalks_pairs("test")), SHIPPED_TALKS_SHA256)


def load_talks_test_set(path: str | Path) -> TalksTestSet:
    """An instructor's questions: a UTF-8 text file in TinyTalks' format (``test.txt``'s).

    Everyone has the shipped test questions, so a model can store their answers; a class
    verifies on questions nobody trained on (``verify --task tinytalks --test-set PATH``).
    At most ``MAX_TALKS_TEST_SET_BYTES``, and no completion longer than
    ``TALKS_MAX_ANSWER_BYTES`` (it bounds the tokens generated per question). Every problem
    is a ``ValueError`` naming the file (and the block or the question).
    """
    data = read_bytes(path, MAX_TALKS_TEST_SET_BYTES, "TinyTalks test set")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error}), so not a TinyTalks test set") from None
    pairs = qa_pairs(text, str(path))
    for pair in pairs:
        if len(pair.completion.encode("utf-8")) > TALKS_MAX_ANSWER_BYTES:
            raise ValueError(f"{path}: the answer to {short_repr(pair.question)} is longer than the "
                             f"{TALKS_MAX_ANSWER_BYTES} bytes an answer may have")
    return TalksTestSet(tuple(pairs), hashlib.sha256(data).hexdigest())


# -- answering and timing ---------------------------------------------------------------------

def exact_answers(talker: TinyTalker, prompts: np.ndarray, completions: Sequence[bytes],
                  chunk: int = TALKS_GENERATION_CHUNK) -> np.ndarray:
    """Which prompts the model continues with exactly their completion: bools ``(B,)``.

    ``prompts`` holds ``B`` prompts of one length as token ids ``(B, T)``, and
    ``completions[i]`` the bytes prompt ``i`` must be continued with
    (``pair.completion.encode("utf-8")``: a space, the answer, a newline). Generate
    greedily with the KV cache, ``generate_cached(talker.model, tokens, chunk,
    temperature=0.0)`` (kata 17), each call continuing the tokens so far (prompts and new
    tokens), until every row is decided.

    A row's answer is the bytes of its new tokens, joined (``talker.tokenizer.token_bytes``).
    It is decided once it is at least as long as its completion, or no longer the start of
    it; it is right when it starts with its completion (what follows the newline does not
    count). Check before each call, the first time before any: stop as soon as every row is
    decided. Every token stands for at least one byte, so that takes at most
    ``len(completion)`` new tokens. ``ValueError`` if ``prompts`` is not 2-D or there is
    not one completion per prompt (name both counts).
    """
    # BEGIN SOLUTION
    tokens = np.asarray(prompts)
    if tokens.ndim != 2 or len(tokens) != len(completions):
        raise ValueError(f"exact_answers takes prompts (B, T) and one completion per prompt, got "
                         f"prompts of shape {tokens.shape} and {len(completions)} completions")
    start = tokens.shape[1]
    while True:
        answers = [b"".join(map(talker.tokenizer.token_bytes, row[start:].tolist())) for row in tokens]
        if all(len(answer) >= len(expected) or not expected.startswith(answer)
               for answer, expected in zip(answers, completions)):
            return np.array([answer.startswith(expected) for answer, expected in zip(answers, completions)],
                            dtype=bool)
        tokens = generate_cached(talker.model, tokens, chunk, temperature=0.0).data
    # END SOLUTION


def count_exact_answers(talker: TinyTalker, pairs: Sequence[QAPair], batch_size: int = TALKS_BATCH_SIZE) -> int:
    """How many of ``pairs`` the model answers exactly (:func:`exact_answers`).

    ``generate_cached`` extends prompts of one length together, so the prompts
    (:meth:`TinyTalker.prompt_ids`) are grouped by their number of tokens, in order of
    first appearance, and each group is answered in batches of at most ``batch_size``, in
    file order. The rules fix this order: a row of a batch may come out a last bit
    differently in another batch, so the verifier answers exactly as the submitter did.
    """
    prompts = [talker.prompt_ids(pair) for pair in pairs]
    groups: dict[int, list[int]] = {}
    for index, ids in enumerate(prompts):
        groups.setdefault(len(ids), []).append(index)
    correct = 0
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            batch = members[start:start + batch_size]
            right = exact_answers(talker, np.stack([prompts[i] for i in batch]),
                                  [pairs[i].completion.encode("utf-8") for i in batch])
            correct += int(np.count_nonzero(right))
    return correct


def token_latencies(talker: TinyTalker, prompts: Sequence[np.ndarray], new_tokens: int,
                    benchmark: Benchmark) -> tuple[BenchmarkResult, BenchmarkResult]:
    """Seconds per generated token with the KV cache, and without it, prompt by prompt.

    Each prompt is one query of one sequence, token ids ``(1, T)``. For each, in order,
    time (``benchmark.time``) extending it by ``new_tokens`` greedy tokens WITH the cache,
    ``generate_cached(talker.model, prompt, new_tokens, temperature=0.0)``, then WITHOUT,
    ``talker.model.generate(prompt, new_tokens, temperature=0.0)``, and divide each time by
    ``new_tokens``. Alternating the two, as kata 19's ``compare`` does, spreads whatever the
    machine does meanwhile (a neighbour's job starting) over both alike. Before timing,
    ``benchmark.warmup`` untimed pairs of the same two calls (prompts 0, 1, ... cycling).

    Refused before anything runs: ``new_tokens`` below 1 (``ValueError`` naming it), and
    timing while tracemalloc traces (``refuse_under_tracemalloc()``).

    Returns two results, ``benchmark.result(name, "single_stream", per_token,
    batch_size=1, throughput=1 / median)``: first the cached timings, named ``"latency per
    token, KV cache"``, then the others, ``"latency per token, no cache"``. The median is
    the latency; the throughput, tokens per second of one stream.
    """
    # BEGIN SOLUTION
    if new_tokens < 1:
        raise ValueError(f"token_latencies needs new_tokens >= 1, got new_tokens={new_tokens}")
    refuse_under_tracemalloc()
    model = talker.model

    def cached(prompt: np.ndarray) -> Any:
        return generate_cached(model, prompt, new_tokens, temperature=0.0)

    def uncached(prompt: np.ndarray) -> Any:
        return model.generate(prompt, new_tokens, temperature=0.0)

    for index in range(benchmark.warmup):
        cached(prompts[index % len(prompts)])
        uncached(prompts[index % len(prompts)])
    with_cache, without = [], []
    for prompt in prompts:
        with_cache.append(benchmark.time(functools.partial(cached, prompt)) / new_tokens)
        without.append(benchmark.time(functools.partial(uncached, prompt)) / new_tokens)

    def result(name: str, timings: list[float]) -> BenchmarkResult:
        return benchmark.result(name, "single_stream", timings, batch_size=1,
                                throughput=1.0 / float(np.median(timings)))

    return result("latency per token, KV cache", with_cache), result("latency per token, no cache", without)
    # END SOLUTION
