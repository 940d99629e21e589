"""Saving a tokenizer as JSON (never pickle) and loading it back, with clear errors."""

import json

import pytest

from tinytorch.data.tokenization import BPETokenizer


def test_round_trip_gives_the_same_tokenizer(tmp_path, trained_bpe, tinytalks_validation):
    path = tmp_path / "tokenizer.json"
    trained_bpe.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.merges == trained_bpe.merges
    assert loaded.special_tokens == trained_bpe.special_tokens
    assert loaded.vocab_size == trained_bpe.vocab_size
    sample = tinytalks_validation[:3000] + "<|endoftext|> déjà 😀"
    assert loaded.encode(sample) == trained_bpe.encode(sample)
    assert loaded.decode(loaded.encode(sample)) == sample


def test_the_file_is_plain_json(tmp_path):
    tokenizer = BPETokenizer.train("aaa aab", 260, special_tokens=("<pad>",))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document == {"format": "tinytorch-bpe", "version": 1, "special_tokens": ["<pad>"],
                        "merges": [[97, 97], [32, 257], [257, 97]]}


def test_load_refuses_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(b"\x80\x04\x95 a pickle, not JSON")
    with pytest.raises(ValueError, match=f"{path} is not a tinytorch-bpe tokenizer file"):
        BPETokenizer.load(path)


def test_load_refuses_another_format(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"format": "other", "version": 1, "merges": []}))
    with pytest.raises(ValueError, match=r"is not a tinytorch-bpe tokenizer file version 1 "
                                         r"\(found format 'other'\)"):
        BPETokenizer.load(path)
    path.write_text(json.dumps([[97, 98]]))
    with pytest.raises(ValueError, match=r"found format 'list'"):
        BPETokenizer.load(path)


def test_load_checks_the_merges(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"format": "tinytorch-bpe", "version": 1, "special_tokens": [],
                                "merges": [[97, 98], [256, 999]]}))
    with pytest.raises(ValueError, match=r"merge 1 \[256, 999\] must be two ids below 257"):
        BPETokenizer.load(path)
