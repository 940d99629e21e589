"""Shared data for kata 10: TinyTalks text and a BPE tokenizer trained once on part of it.

``tinytorch`` is imported inside the fixtures, never at the top: pytest can load this file
before the plugin has chosen which ``tinytorch`` (yours or the reference) the run tests.
"""

from __future__ import annotations

import pytest

# Training on the first 30,000 characters of TinyTalks' train split keeps the tests fast;
# the naive algorithm (recount every pair after each merge) takes well under a second.
TRAIN_CHARACTERS = 30_000
TRAINED_VOCAB_SIZE = 512


@pytest.fixture(scope="session")
def tinytalks_train() -> str:
    from tinytorch.data.tinytalks import load_tinytalks

    return load_tinytalks("train")


@pytest.fixture(scope="session")
def tinytalks_validation() -> str:
    from tinytorch.data.tinytalks import load_tinytalks

    return load_tinytalks("validation")


@pytest.fixture(scope="session")
def bpe_training_text(tinytalks_train) -> str:
    return tinytalks_train[:TRAIN_CHARACTERS]


@pytest.fixture(scope="session")
def trained_bpe(bpe_training_text):
    """Your BPETokenizer trained to 512 tokens, with the default special tokens."""
    from tinytorch.data.tokenization import BPETokenizer

    return BPETokenizer.train(bpe_training_text, TRAINED_VOCAB_SIZE)
