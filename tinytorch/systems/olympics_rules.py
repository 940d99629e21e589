"""The Olympics' rules as constants: the events, the score, the file formats and the limits.

One place for every number a classmate's machine must agree on. ``tinytorch.systems.olympics``
explains them (its module docstring) and re-exports every name, so
``from tinytorch.systems.olympics import MIN_ACCURACY`` works as before.

There are two tasks (:data:`TASKS`): the digits (TinyDigits, the first events) and
TinyTalks (a TinyGPT answering questions, ``olympics_talks``). Each has its own baseline,
qualifying accuracy and events; files, submissions and boards follow the same rules for both.

The limits at the end are what a public leaderboard needs: every file a verifier reads was
written by a stranger, and a 419-byte model file can declare a layer of 1.6 GB, a 2 MB zip a
member of 4 GB, a JSON text a nesting 100,000 deep. Each limit is checked from what a file
*declares* (a zip directory, an array header, a layer's configuration) before anything is
allocated (the archives' and JSON's own limits are ``tinytorch.untrusted``'s, shared with
checkpoints), and is generous for the competition: the 100 kB baseline model is 300 times
smaller than the largest model file allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

RULES_VERSION = 1
PIXEL_SCALE = 255.0               # inputs are x_test[:, None] / 255.0, float32
INPUT_SHAPE = (1, 28, 28)         # one image: (channels, height, width)
NUM_CLASSES = 10
EVAL_BATCH_SIZE = 100             # accuracy and offline throughput run in batches of 100
LATENCY_QUERIES = 200             # single-stream latency: the first 200 test images
LATENCY_WARMUP = 10               # untimed queries (and batches) before timing
OFFLINE_REPEATS = 5               # timed passes over the 1,000 images
MIN_ACCURACY = 0.90               # to be ranked in any event but accuracy
ERROR_FLOOR = 0.0005              # half a test image: a perfect model's error for the score
BASELINE_ERROR = 0.05             # the baseline scores 0: 95 % accurate,
BASELINE_LATENCY_SECONDS = 1e-4   # 100 microseconds per image,
BASELINE_MODEL_BYTES = 100_000    # a 100 kB file
WEIGHT_ACCURACY = 2.0             # points per halving of the error
WEIGHT_LATENCY = 1.0              # points per halving of the latency
WEIGHT_BYTES = 1.0                # points per halving of the file

# event -> (Entry attribute, True if higher is better)
EVENTS: dict[str, tuple[str, bool]] = {
    "combined": ("combined", True),
    "accuracy": ("accuracy", True),
    "latency": ("latency_seconds", False),
    "throughput": ("throughput", True),
    "bytes": ("model_bytes", False),
}
# The TinyTalks events: "accuracy" is the share of test questions answered exactly, "latency"
# the median seconds per generated token with the KV cache (kata 17), "latency_no_cache" the
# same without it. (Entries also hold a throughput, tokens per second of one stream with the
# cache: the latency's inverse, so it is no event of its own.)
TALKS_EVENTS: dict[str, tuple[str, bool]] = {
    "combined": ("combined", True),
    "accuracy": ("accuracy", True),
    "latency": ("latency_seconds", False),
    "latency_no_cache": ("uncached_latency_seconds", False),
    "bytes": ("model_bytes", False),
}
# Environment entries (kata 19) that must agree before latencies can be ranked together.
MACHINE_KEYS = ("cpu_model", "cpu_count", "python", "numpy", "blas", "blas_thread_env",
                "blas_threads_in_use")
# The environment entry naming the test set a board's accuracies were measured on: two
# boards measured on different test sets cannot be ranked together either.
TEST_SET_KEY = "test_set_sha256"
# checkpoint_digest of the shipped test split, {"x_test": uint8 pixels, "y_test": int64 labels}.
SHIPPED_TEST_SET_SHA256 = "335c60423c74054539f034ee88b28aec9fbaff888ab9d147dafd9e7344938416"

# -- TinyTalks: a TinyGPT answers the test questions of TinyTalks ----------------------------

TALKS_PROMPT_PREFIX = "<|endoftext|>"     # before every prompt, as the 2017 milestone trains
TALKS_BATCH_SIZE = 32                     # prompts of one token length answered together
TALKS_GENERATION_CHUNK = 4                # new tokens per generate_cached call when answering
TALKS_LATENCY_PROMPTS = 10                # latency: the first 10 test prompts, one at a time,
TALKS_LATENCY_TOKENS = 16                 # each extended by 16 tokens
TALKS_MAX_ANSWER_BYTES = 256              # an answer of a test set, with its space and newline
TALKS_MIN_ACCURACY = 0.50                 # to be ranked in any event but accuracy
TALKS_BASELINE_ERROR = 0.20               # the baseline scores 0: 80 % exactly right (the
TALKS_BASELINE_LATENCY_SECONDS = 1e-3     # milestone's bar), a millisecond per token,
TALKS_BASELINE_MODEL_BYTES = 1_000_000    # a 1 MB file
# sha256 of TinyTalks' test.txt as shipped (TINYTALKS_SHA256["test"]): the questions counted on.
SHIPPED_TALKS_SHA256 = "0a2b013d550757cb9a93533e8342db89b81680ea1dacbaf121f1ce693eef4b10"

# -- the tasks ---------------------------------------------------------------------------------

DIGITS = "digits"
TINYTALKS = "tinytalks"
TASK_KEY = "task"   # in a model file's architecture, a board's environment and an entry


@dataclass(frozen=True)
class Task:
    """One task's rules: what scores 0 (the baseline), what qualifies, which events rank.

    ``item`` names what the accuracy counts ("digits", "questions"); ``shipped_test_set_sha256``
    names the test set a submitter measures on, everyone's copy.
    """

    name: str
    item: str
    min_accuracy: float
    baseline_error: float
    baseline_latency_seconds: float
    baseline_model_bytes: int
    events: Mapping[str, tuple[str, bool]]
    shipped_test_set_sha256: str


TASKS: dict[str, Task] = {
    DIGITS: Task(DIGITS, "digits", MIN_ACCURACY, BASELINE_ERROR, BASELINE_LATENCY_SECONDS,
                 BASELINE_MODEL_BYTES, EVENTS, SHIPPED_TEST_SET_SHA256),
    TINYTALKS: Task(TINYTALKS, "questions", TALKS_MIN_ACCURACY, TALKS_BASELINE_ERROR,
                    TALKS_BASELINE_LATENCY_SECONDS, TALKS_BASELINE_MODEL_BYTES, TALKS_EVENTS,
                    SHIPPED_TALKS_SHA256),
}

MODEL_FORMAT = "tinytorch-olympics-model"
MODEL_VERSION = 1
SPEC_KEY = "architecture"
SUBMISSION_SCHEMA = "tinytorch-olympics-submission"
SUBMISSION_VERSION = 1
LEADERBOARD_SCHEMA = "tinytorch-olympics-leaderboard"
LEADERBOARD_VERSION = 3           # 2: every entry names the test set it was verified on;
#                                   3: and its task, with the TinyTalks figures
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@ -]{0,63}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

# -- limits on files from strangers ------------------------------------------------------

MIB = 2 ** 20
MAX_MODEL_FILE_BYTES = 32 * MIB         # a model file on disk, and its arrays unpacked
MODEL_ARRAY_KINDS = "biuf"              # what a model file's arrays hold: bools, integers, floats
MAX_TEST_SET_BYTES = 16 * MIB           # a test set file, and its arrays unpacked (20,000 digits)
MAX_SUBMISSION_BYTES = MIB              # a submission JSON file
MAX_LEADERBOARD_BYTES = 64 * MIB        # a leaderboard JSON file (about 100,000 entries)
MAX_LAYERS = 256                        # layers in one architecture
MAX_DIMENSION = 65_536                  # any size in a layer's config: features, channels, kernel...
MAX_PARAMETERS = 2 ** 22                # numbers a model may hold: 16 MiB as float32
MAX_VALUES_PER_IMAGE = 2 ** 17          # numbers a layer may make from one image (its output or
#                                         a convolution's windows): 50 MiB per batch of 100 as float32
MAX_OPERATIONS_PER_IMAGE = 2 ** 22      # multiply-adds (and elementwise steps) for one image, 4 times
#                                         the 1998 milestone's CNN: a verification runs ~7,000 images
# TinyTalks: a GPT's sizes are checked with MAX_DIMENSION and MAX_PARAMETERS too, and
MAX_VALUES_PER_SEQUENCE = 2 ** 19       # numbers in one array of a forward pass over one full
#                                         context (logits, attention scores, the MLP's hidden
#                                         layer): 64 MiB per batch of 32 prompts as float32
MAX_OPERATIONS_PER_TOKEN = 2 ** 28      # multiply-adds to generate one token without the cache at
#                                         full context, twice the 2017 milestone's TinyGPT
MAX_SPECIAL_TOKENS = 16                 # a tokenizer's special tokens, each of
MAX_SPECIAL_TOKEN_CHARS = 64            # 1 to 64 characters
MAX_TOKENIZER_BYTES = MIB               # the bytes of all a tokenizer's tokens together (a merge
#                                         joins two tokens: 20 merges can make a token of 1 MiB)
MAX_TALKS_TEST_SET_BYTES = 4 * MIB      # a TinyTalks test set file (the shipped one is 23 kB)
