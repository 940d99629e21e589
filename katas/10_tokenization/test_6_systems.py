"""Systems view of tokenization: vocabulary size against sequence length, and speed.

Measured on TinyTalks' validation split (23 KB) with your tokenizers: a character
tokenizer built from the train split, and BPE trained on its first 30,000 characters to
512 tokens, of which the first merges give the smaller vocabularies (a BPE of fewer merges
is exactly a prefix of the merge list).
"""

import numpy as np
import pytest

from pytest_tinytorch.measure import seconds
from tinytorch.data.tinytalks import tinytalks_pairs
from tinytorch.data.tokenization import BPETokenizer, CharTokenizer

SMALLER_VOCAB_SIZES = (320, 384)
D_MODEL = 128  # a TinyGPT width, to price the vocabulary in parameters


@pytest.fixture(scope="module")
def tokenizers(trained_bpe, tinytalks_train):
    """{name: tokenizer}: the character tokenizer and BPE at three vocabulary sizes."""
    specials = list(trained_bpe.special_tokens)
    first_merge = 256 + len(specials)
    bpe = {f"BPE-{size}": BPETokenizer(trained_bpe.merges[:size - first_merge], specials)
           for size in SMALLER_VOCAB_SIZES}
    return {"char": CharTokenizer(tinytalks_train), **bpe, "BPE-512": trained_bpe}


def test_a_smaller_vocabulary_is_a_prefix_of_the_merges(trained_bpe, bpe_training_text):
    smaller = BPETokenizer.train(bpe_training_text, 320)
    assert smaller.merges == trained_bpe.merges[:320 - 258]


def test_more_merges_give_shorter_sequences(tokenizers, tinytalks_validation, metrics):
    text_bytes = len(tinytalks_validation.encode("utf-8"))
    exchanges = len(tinytalks_pairs("validation"))
    lengths = {}
    for name, tokenizer in tokenizers.items():
        ids = tokenizer.encode(tinytalks_validation)
        assert tokenizer.decode(ids) == tinytalks_validation
        lengths[name] = len(ids)
        metrics.record(f"validation tokens, {name} (vocab {tokenizer.vocab_size})", len(ids), "count")
        metrics.record(f"bytes per token, {name}", text_bytes / len(ids), "ratio")
    metrics.record("mean tokens per exchange, char", lengths["char"] / exchanges, "count")
    metrics.record("mean tokens per exchange, BPE-512", lengths["BPE-512"] / exchanges, "count")

    assert lengths["char"] == len(tinytalks_validation)  # TinyTalks is ASCII: one byte a character
    assert lengths["char"] > lengths["BPE-320"] > lengths["BPE-384"] > lengths["BPE-512"]
    # 254 merges learned on 30 KB already halve the sequence.
    assert text_bytes / lengths["BPE-512"] > 1.8, f"BPE-512 made {lengths['BPE-512']:,} tokens"


def test_the_vocabulary_costs_parameters(tokenizers, metrics):
    # A GPT holds one embedding row and one output column of D_MODEL numbers per token.
    for name in ("char", "BPE-512"):
        parameters = 2 * tokenizers[name].vocab_size * D_MODEL
        metrics.record(f"embedding + output parameters at d_model {D_MODEL}, {name}", parameters,
                       "parameters")
    assert tokenizers["BPE-512"].vocab_size > 6 * tokenizers["char"].vocab_size


def test_encoding_throughput(tokenizers, tinytalks_validation, metrics):
    text_bytes = len(tinytalks_validation.encode("utf-8"))
    char_time = seconds(lambda: tokenizers["char"].encode(tinytalks_validation), repeat=3)
    bpe_time = seconds(lambda: tokenizers["BPE-512"].encode(tinytalks_validation), repeat=3)
    metrics.record("char encode throughput, bytes of text/s", text_bytes / char_time, "samples/s")
    metrics.record("BPE-512 encode throughput, bytes of text/s", text_bytes / bpe_time, "samples/s")
    metrics.record("BPE-512 / char encode time", bpe_time / char_time, "ratio")
    ids = tokenizers["BPE-512"].encode(tinytalks_validation)
    decode_time = seconds(lambda: tokenizers["BPE-512"].decode(ids), repeat=3)
    metrics.record("BPE-512 decode throughput, tokens/s", len(ids) / decode_time, "samples/s")
    # about 0.02 s on one idle core: a bound hundreds of times the time, there to stop an
    # encoder that rescans the whole text for every merge
    assert bpe_time < 5.0, f"encoding 23 KB took {bpe_time:.1f} s"


def test_training_time(tinytalks_train, metrics):
    text = tinytalks_train[:10_000]
    elapsed = seconds(lambda: BPETokenizer.train(text, 384), repeat=1, warmup=0)
    metrics.record("BPE training time, 126 merges on 10 KB", elapsed, "seconds")
    ids = np.array(BPETokenizer.train(text, 384).encode(text))
    assert ids.max() < 384 and len(ids) < len(text) / 1.8
