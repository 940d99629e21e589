"""TinyTalks (tinytorch/data/tinytalks.py): the shipped files, their guarantees, their build.

Most checks read the shipped text itself; the split guarantees that need to know which fact a
question asks also use the generator's records (``generate()``), after checking that they
render to exactly the shipped files.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from string import Formatter

import pytest

import tinytorch
from tinytorch.data import ChecksumError, load_tinytalks, parse_tinytalks, tinytalks, tinytalks_pairs

SPLITS = ("train", "validation", "test")
DATASHEET = tinytalks.DEFAULT_DIR / "DATASHEET.md"


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {split: load_tinytalks(split) for split in SPLITS}


@pytest.fixture(scope="module")
def blocks(texts) -> dict[str, list[list[tuple[str, str]]]]:
    return {split: parse_tinytalks(text) for split, text in texts.items()}


@pytest.fixture(scope="module")
def generated() -> dict[str, list[tuple[tinytalks.Exchange, ...]]]:
    return tinytalks.generate()


def exchanges_of(split_blocks) -> list:
    return [exchange for block in split_blocks for exchange in block]


# -- the shipped files -------------------------------------------------------------------------

def test_files_match_their_recorded_digests():
    for split in SPLITS:
        data = tinytalks.split_path(split).read_bytes()
        assert hashlib.sha256(data).hexdigest() == tinytalks.TINYTALKS_SHA256[split], split


def test_about_three_thousand_exchanges(blocks):
    counts = {split: len(exchanges_of(blocks[split])) for split in SPLITS}
    assert counts == {"train": 2012, "validation": 544, "test": 544}
    assert 2800 <= sum(counts.values()) <= 3300


def test_files_are_small_plain_text(texts):
    sizes = {split: tinytalks.split_path(split).stat().st_size for split in SPLITS}
    assert sum(sizes.values()) < 300_000, sizes
    for split, text in texts.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), split
        assert "\r" not in text and "\t" not in text
        assert text.isascii()
    assert len(set("".join(texts.values()))) < 80, "a small character vocabulary"


def test_format_is_alternating_question_and_answer_lines(texts):
    for text in texts.values():
        for block in text[:-1].split("\n\n"):
            lines = block.split("\n")
            assert len(lines) % 2 == 0, block
            assert all(line.startswith("Q: ") for line in lines[0::2]), block
            assert all(line.startswith("A: ") for line in lines[1::2]), block


def test_answers_are_short_and_consistently_punctuated(blocks):
    for split_blocks in blocks.values():
        for question, answer in exchanges_of(split_blocks):
            assert answer[-1] in ".!?" and len(answer) <= 70, answer
            assert len(question) <= 100 and question[-1] in ".!?", question


def test_dialogues_exist_in_every_split_and_follow_ups_never_open_a_block(blocks):
    follow_up = re.compile(r"(And|What about|How about|And what about) [^,]*\?")
    for split, split_blocks in blocks.items():
        dialogues = [block for block in split_blocks if len(block) > 1]
        assert len(dialogues) >= 40, split
        assert not any(follow_up.fullmatch(block[0][0]) for block in split_blocks), split
        assert sum(follow_up.fullmatch(q) is not None for q, _ in exchanges_of(split_blocks)) >= 80


# -- the split guarantees ------------------------------------------------------------------------

def test_no_held_out_question_appears_in_train(blocks):
    train = {question for question, _ in exchanges_of(blocks["train"])}
    for split in ("validation", "test"):
        questions = [question for question, _ in exchanges_of(blocks[split])]
        assert not train.intersection(questions), split
    validation = {question for question, _ in exchanges_of(blocks["validation"])}
    assert not validation.intersection(q for q, _ in exchanges_of(blocks["test"]))


def test_every_question_string_occurs_once(blocks):
    questions = [q for split_blocks in blocks.values() for q, _ in exchanges_of(split_blocks)]
    assert len(questions) == len(set(questions))


def test_a_prompt_has_one_answer_across_the_data_set():
    answers: dict[str, set[str]] = defaultdict(set)
    for split in SPLITS:
        for pair in tinytalks_pairs(split):
            answers[pair.prompt].add(pair.answer)
    assert all(len(found) == 1 for found in answers.values())


def test_the_generator_records_render_to_the_shipped_files(generated, texts):
    for split in SPLITS:
        assert tinytalks.render(generated[split]) == texts[split]
        assert all(exchange.split == split for block in generated[split] for exchange in block), \
            "a dialogue must never be cut across splits"


def fact_words(topic: tinytalks.Topic, exchange: tinytalks.Exchange) -> list[str]:
    """The words of ``exchange``'s question that name its fact, in lower case: the values of
    the slots its phrasing fills that differ between the topic's facts (the country, the two
    numbers, ...; not "number" in "Which number is larger, 7 or 12?")."""
    phrasing = topic.follow_ups[exchange.form] if exchange.follow_up else topic.forms[exchange.form][0]
    fact = next(f for f in topic.facts if tuple(f.values()) == exchange.fact)
    return [fact[name].lower() for _, name, _, _ in Formatter().parse(phrasing)
            if name and len({f[name] for f in topic.facts}) > 1]


def test_every_fact_asked_in_test_is_taught_in_train(generated):
    topics = {topic.name: topic for topic in tinytalks.TOPICS}
    train = defaultdict(list)
    for exchange in exchanges_of(generated["train"]):
        train[exchange.topic, exchange.fact].append(exchange)
    for split in ("validation", "test"):
        for exchange in exchanges_of(generated[split]):
            taught = train[exchange.topic, exchange.fact]
            topic = topics[exchange.topic]
            assert len([e for e in taught if not e.follow_up]) == len(topic.forms) - 2, exchange
            # Every word that names the fact here is also in a train question about it.
            words = fact_words(topic, exchange)
            assert words and all(w in exchange.question.lower() for w in words), exchange
            for word in words:
                assert any(word in e.question.lower() for e in taught), (word, exchange)
            if len({answer for _, answer in topic.forms}) == 1:  # the answer names the fact
                assert exchange.answer in {e.answer for e in taught}, exchange


def test_every_held_out_phrasing_is_used_in_train_with_other_facts(generated):
    train_forms = {(e.topic, e.form, e.follow_up) for e in exchanges_of(generated["train"])}
    for exchange in exchanges_of(generated["test"]):
        assert (exchange.topic, exchange.form, exchange.follow_up) in train_forms, exchange


def test_every_category_and_topic_is_in_every_split(generated):
    for split in SPLITS:
        exchanges = exchanges_of(generated[split])
        assert {e.category for e in exchanges} == {"greetings", "facts", "arithmetic", "reasoning"}
        assert {e.topic for e in exchanges} == {topic.name for topic in tinytalks.TOPICS}
    test_share = len(exchanges_of(generated["test"])) / sum(
        len(exchanges_of(generated[split])) for split in SPLITS)
    assert 0.15 < test_share < 0.2


# -- the answers are right -------------------------------------------------------------------------

ARITHMETIC = [
    (r"(?:What is|Calculate) (\d+) \+ (\d+)[?.]", lambda a, b: a + b),
    (r"(?:What|How much) is (\d+) plus (\d+)\?", lambda a, b: a + b),
    (r"(?:Add|What is the sum of) (\d+) and (\d+)[?.]", lambda a, b: a + b),
    (r"(?:What is|Calculate) (\d+) - (\d+)[?.]", lambda a, b: a - b),
    (r"(?:What|How much) is (\d+) minus (\d+)\?", lambda a, b: a - b),
    (r"What is the difference between (\d+) and (\d+)\?", lambda a, b: a - b),
    (r"Subtract (\d+) from (\d+)\.", lambda b, a: a - b),
    (r"(?:What is|Calculate) (\d+) \* (\d+)[?.]", lambda a, b: a * b),
    (r"(?:What|How much) is (\d+) times (\d+)\?", lambda a, b: a * b),
    (r"(?:Multiply (\d+) by|What is the product of (\d+) and) (\d+)[?.]",
     lambda a, b, c: (a or b) * c),
]


def parse_arithmetic(question: str) -> int | None:
    for pattern, compute in ARITHMETIC:
        match = re.fullmatch(pattern, question)
        if match:
            return compute(*(int(g) if g else 0 for g in match.groups()))
    return None


def test_arithmetic_answers_are_correct(blocks):
    checked = 0
    for split_blocks in blocks.values():
        for question, answer in exchanges_of(split_blocks):
            expected = parse_arithmetic(question)
            if expected is not None:
                assert answer == f"{expected}.", question
                assert 0 <= expected <= 99
                checked += 1
    assert checked == 600, "every addition, subtraction and multiplication was recognised"


def test_number_comparisons_sorting_and_sequences_are_correct(blocks):
    checked = 0
    for split_blocks in blocks.values():
        for question, answer in exchanges_of(split_blocks):
            numbers = [int(n) for n in re.findall(r"\d+", question)]
            if m := re.fullmatch(r"Which (?:number )?is (bigger|larger|smaller), (\d+) or (\d+)\?",
                                 question):
                pick = max if m[1] != "smaller" else min
                expected = f"{pick(numbers)}."
            elif m := re.fullmatch(r"Is (\d+) (bigger|smaller) than (\d+)\?", question):
                larger = numbers[0] > numbers[1]
                expected = "Yes." if larger == (m[2] == "bigger") else "No."
            elif re.fullmatch(r"(Sort|Put|Order) .*", question):
                descending = "largest to smallest" in question
                expected = ", ".join(map(str, sorted(numbers, reverse=descending))) + "."
            elif m := re.fullmatch(r"Which is the (largest|smallest) of .*", question):
                expected = f"{(max if m[1] == 'largest' else min)(numbers)}."
            elif "number" in question and len(numbers) == 1:
                step = 1 if ("after" in question.lower() or "follows" in question) else -1
                expected = f"{numbers[0] + step}."
            else:
                continue
            assert answer == expected, question
            checked += 1
    assert checked == 240 + 144 + 2 * 60, checked  # comparisons, sorting, number sequences


def test_reasoning_in_the_question_is_answered_right(blocks):
    relation = re.compile(r"(?:If )?(\w+) is (\w+) than (\w+)[.,] [Ww]ho is (\w+)\?")
    opposite_words = dict(tinytalks.RELATIONS)
    opposite_words.update({less: more for more, less in tinytalks.RELATIONS})
    checked = 0
    for split_blocks in blocks.values():
        for question, answer in exchanges_of(split_blocks):
            if m := relation.fullmatch(question):
                first, said, second, asked = m.groups()
                assert asked in (said, opposite_words[said])
                assert answer == f"{first if asked == said else second}.", question
                checked += 1
            elif question.startswith(("All ", "If all ")) or " All " in question:
                assert answer == ("No." if " not " in question else "Yes."), question
                checked += 1
    assert checked == 180 + 120


# -- reading the files ----------------------------------------------------------------------------

def test_pairs_give_prompts_with_the_dialogue_so_far():
    pairs = tinytalks_pairs("test")
    assert len(pairs) == 544
    first_turns = [p for p in pairs if not p.context]
    assert len(first_turns) == 430
    for pair in pairs:
        assert pair.prompt.endswith(f"Q: {pair.question}\nA:")
        assert pair.completion == f" {pair.answer}\n"
        assert pair.prompt.startswith(pair.context)
    text = load_tinytalks("test")
    assert all(pair.prompt + pair.completion in text for pair in pairs)
    follow = next(p for p in pairs if p.context.count("Q: ") >= 2)
    assert follow.context.endswith("\n") and follow.context.startswith("Q: ")


def test_parse_names_a_malformed_block():
    assert parse_tinytalks("Q: Hi!\nA: Hello!\n\nQ: a\nA: b\nQ: c\nA: d\n") == [
        [("Hi!", "Hello!")], [("a", "b"), ("c", "d")]]
    with pytest.raises(ValueError, match=r"block 2 is not alternating 'Q: ' and 'A: ' lines"):
        parse_tinytalks("Q: Hi!\nA: Hello!\n\nQ: one\nQ: two\n")


def test_an_unknown_split_is_named():
    with pytest.raises(ValueError, match=r"unknown TinyTalks split 'dev'; choose one of train, "
                                         r"validation, test"):
        load_tinytalks("dev")


def test_a_changed_shipped_file_fails_its_checksum(tmp_path, monkeypatch):
    for split in SPLITS:
        (tmp_path / f"{split}.txt").write_bytes(tinytalks.split_path(split).read_bytes())
    (tmp_path / "test.txt").write_text(load_tinytalks("test").replace("Paris.", "Rome."))
    monkeypatch.setattr(tinytalks, "DEFAULT_DIR", tmp_path)
    assert load_tinytalks("train")
    with pytest.raises(ChecksumError, match=r"test.txt is damaged or was changed"):
        load_tinytalks("test")
    assert "Rome." in load_tinytalks("test", directory=tmp_path)  # your own folder: no digest


def test_the_datasheet_states_the_real_counts(generated):
    sheet = DATASHEET.read_text(encoding="utf-8")
    assert tinytalks.count_table(generated) in sheet
    for split in SPLITS:
        path = tinytalks.split_path(split)
        exchanges = len(exchanges_of(generated[split]))
        row = (f"| `{path.name}` | {path.stat().st_size:,} | {exchanges:,} | "
               f"{len(generated[split]):,} |")
        assert row in sheet, row
    assert "Licence" in sheet and "CC0" in sheet


# -- determinism -----------------------------------------------------------------------------------

def test_build_is_deterministic_and_reproduces_the_shipped_files(tmp_path):
    first = tinytalks.build_tinytalks(tmp_path / "first")
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-m", "tinytorch.data.tinytalks", "build", "--out", str(tmp_path / "second")],
        cwd=Path(tinytorch.__file__).parents[1], capture_output=True, text=True, env=environment,
        check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "identical to the shipped TinyTalks, byte for byte" in result.stdout
    for split in SPLITS:
        built = first[split].read_bytes()
        assert built == (tmp_path / "second" / f"{split}.txt").read_bytes(), split
        assert built == tinytalks.split_path(split).read_bytes(), split
