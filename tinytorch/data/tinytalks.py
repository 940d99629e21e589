"""TinyTalks: about 3,100 short questions and answers for a tiny chat model, made by this script.

::

    from tinytorch.data import load_tinytalks, tinytalks_pairs
    text = load_tinytalks("train")      # a split as one string, ready for a tokenizer
    pairs = tinytalks_pairs("test")     # [QAPair(question, answer, context), ...]
    pairs[0].prompt                     # e.g. "Q: Name the capital of Peru.\\nA:"
    pairs[0].completion                 # " Lima.\\n": what a model should generate

The format
    A split is plain UTF-8 text made of blocks separated by one empty line. A block is one
    exchange, or a dialogue of several exchanges kept together; every exchange is two lines::

        Q: What is 23 + 45?
        A: 68.

        Q: Hi there!
        A: Hello! How can I help you?
        Q: Which city is the capital of Peru?
        A: Lima.
        Q: And Chile?
        A: Santiago.

    Questions and answers are single lines; every file ends with one newline. Each answer
    is short and ends with ".", "!" or "?", and is the only correct one: the same prompt
    never has two different answers anywhere in the data set.

What is in it (``TOPICS`` in this file is the whole knowledge base)
    - greetings: hellos, small talk about the bot, thanks and goodbyes;
    - facts: capitals of 32 countries, colours of 30 things, sounds of 20 animals, the
      opposites of 40 words;
    - arithmetic: 100 sums, differences and products of one- and two-digit numbers;
    - reasoning: comparing numbers and sizes, the day/month/number before or after another,
      sorting three numbers, syllogisms ("All roses are flowers. ...") and relations
      ("Ann is taller than Bob. Who is shorter?");
    - dialogues: a question followed by elliptical follow-ups ("And Chile?") that only the
      earlier turn explains, often opened with a greeting and closed with thanks.

How the splits are made
    Every topic asks each of its facts in several phrasings (``forms``), a grid of
    fact x phrasing. Cell (fact i, phrasing j) of a topic with n phrasings goes to the test
    split when (i + j) % n == 0, to validation when it is 1, and to train otherwise: a
    Latin square. So every fact is asked in train in n - 2 phrasings (4 of 6, or 2 of the 4
    follow-up phrasings), every phrasing is used in train for most facts, and each test
    question is a NEW combination of a phrasing and a fact that train holds, never a copy:
    every question string occurs once in the whole data set. A dialogue is built from cells
    of one split only, so it is never cut across splits.

Deterministic by construction
    No random number generator is used. Where the script must choose (which numbers to add,
    the order of the blocks, which names to use) it sorts candidates by
    sha256("tinytalks-v1/<purpose>/<candidate>") and takes them in that order. The output
    therefore depends on nothing but this file: ``python -m tinytorch.data.tinytalks build
    [--out DIR]`` writes train.txt, validation.txt and test.txt byte for byte as shipped in
    ``tinytalks/`` next to this module, on any machine and Python version (from 3.10).
    ``load_tinytalks`` checks the shipped files' sha256 before returning them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .mnist import ChecksumError, atomic_output

SPLITS = ("train", "validation", "test")
DEFAULT_DIR = Path(__file__).with_name("tinytalks")
SELECTION_KEY = "tinytalks-v1"
QUESTION_PREFIX = "Q: "
ANSWER_PREFIX = "A: "

# sha256 of the shipped files (check them with `sha256sum tinytalks/*.txt`).
TINYTALKS_SHA256 = {
    "train": "3cf8f2b15f23f6a2a3c27bcf250f0d3409e9f79dc45b47dc8692d7dd2d91fc27",
    "validation": "b074093ce1e91893b490fed2d52d17935ac897d33107b5ef214e41fa130d77ff",
    "test": "0a2b013d550757cb9a93533e8342db89b81680ea1dacbaf121f1ce693eef4b10",
}


class Exchange(NamedTuple):
    """One generated question and its answer, with where it came from."""

    question: str
    answer: str
    category: str          # greetings, facts, arithmetic or reasoning
    topic: str             # e.g. "capitals"; see TOPICS
    fact: tuple[str, ...]  # the slot values that identify the fact, e.g. ("France", "Paris")
    form: int              # index of the phrasing in the topic's forms (or follow_ups)
    follow_up: bool        # an elliptical question that needs the previous turn
    split: str


class QAPair(NamedTuple):
    """An exchange read back from a split's text, for evaluation.

    ``context`` holds the earlier turns of the same dialogue in the file's format ("" for
    the first turn of a block). ``prompt`` is what a model is given, and the model answers
    correctly when it continues it with exactly ``completion``: a space, ``answer`` and a
    newline. The prompt stops at "A:", before the space, on purpose: a BPE tokenizer that
    pre-splits words keeps a space with the word after it (" Lima"), so a prompt ending in
    a space would end with a token the model never met in that place.
    """

    question: str
    answer: str
    context: str

    @property
    def prompt(self) -> str:
        return f"{self.context}{QUESTION_PREFIX}{self.question}\n{ANSWER_PREFIX.rstrip()}"

    @property
    def completion(self) -> str:
        return f" {self.answer}\n"


# -- the knowledge base -------------------------------------------------------------------

@dataclass(frozen=True)
class Topic:
    """Facts asked in several phrasings; see the module docstring for the split rule.

    ``forms`` are (question, answer) format strings filled with a fact's slots (a dict);
    ``follow_ups`` are elliptical questions asked after another question of the topic and
    answered like ``forms[0]``. ``role`` places greetings in dialogues: "opener" or "closer".
    """

    name: str
    category: str
    forms: tuple[tuple[str, str], ...]
    facts: tuple[dict[str, str], ...]
    follow_ups: tuple[str, ...] = ()
    role: str = ""


def stable_key(*parts: object) -> bytes:
    """A fixed pseudo-random key for ``parts``: sha256 of "tinytalks-v1/part/part/..."."""
    return hashlib.sha256("/".join([SELECTION_KEY, *map(str, parts)]).encode()).digest()


def ranked(items: Iterable, purpose: str) -> list:
    """``items`` in a fixed shuffled order: sorted by ``stable_key(purpose, item)``."""
    return sorted(items, key=lambda item: stable_key(purpose, item))


def split_of(fact_index: int, form_index: int, form_count: int) -> str:
    """The Latin-square rule: which split asks fact ``fact_index`` in phrasing ``form_index``."""
    rest = (fact_index + form_index) % form_count
    return "test" if rest == 0 else "validation" if rest == 1 else "train"


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def with_article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


EXCLAMATION_FORMS = (("{G}!", "{answer}"), ("{G}.", "{answer}"), ("{G}, Tiny!", "{answer}"),
                     ("{G}, Tiny.", "{answer}"), ("Oh, {g}!", "{answer}"), ("Oh, {g}.", "{answer}"))
QUESTION_FORMS = (("{G}?", "{answer}"), ("{G}, Tiny?", "{answer}"), ("Tiny, {g}?", "{answer}"),
                  ("Hey Tiny, {g}?", "{answer}"), ("Hi, {g}?", "{answer}"), ("So, {g}?", "{answer}"))

GREETINGS = {  # answer: the phrases that mean it
    "Hello! How can I help you?": ("Hello", "Hi", "Hey", "Hi there", "Hello there", "Good day"),
    "Good morning! How can I help you?": ("Good morning",),
    "Good evening! How can I help you?": ("Good evening",),
}
SMALL_TALK = {
    "I am fine, thank you!": ("How are you", "How are you doing", "How is it going",
                              "How do you do"),
    "My name is Tiny.": ("What is your name", "Who are you", "What are you called",
                         "What should I call you"),
    "Yes, of course. What do you want to know?": ("Can you help me", "Could you help me",
                                                  "Will you help me", "Can you answer a question"),
    "I can answer simple questions about facts, numbers and words.": ("What can you do",
                                                                      "What do you know"),
}
FAREWELLS = {
    "You are welcome!": ("Thank you", "Thanks", "Thanks a lot", "Thank you very much",
                         "Many thanks"),
    "Goodbye! Have a nice day!": ("Bye", "Goodbye", "See you", "See you later", "Bye for now"),
}

CAPITALS = (
    ("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Germany", "Berlin"),
    ("Japan", "Tokyo"), ("China", "Beijing"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"),
    ("Peru", "Lima"), ("Chile", "Santiago"), ("Canada", "Ottawa"), ("Russia", "Moscow"),
    ("Greece", "Athens"), ("Portugal", "Lisbon"), ("Ireland", "Dublin"), ("Norway", "Oslo"),
    ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Poland", "Warsaw"),
    ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Cuba", "Havana"),
    ("Mexico", "Mexico City"), ("Argentina", "Buenos Aires"), ("Thailand", "Bangkok"),
    ("India", "New Delhi"), ("England", "London"), ("Denmark", "Copenhagen"),
    ("Belgium", "Brussels"), ("Ghana", "Accra"), ("Australia", "Canberra"),
    ("Brazil", "Brasilia"),
)
COLOURS = (
    ("the sky", "blue"), ("the sea", "blue"), ("grass", "green"), ("a leaf", "green"),
    ("a lime", "green"), ("snow", "white"), ("milk", "white"), ("a cloud", "white"),
    ("a polar bear", "white"), ("a banana", "yellow"), ("a lemon", "yellow"),
    ("the sun", "yellow"), ("a canary", "yellow"), ("a strawberry", "red"),
    ("a tomato", "red"), ("a cherry", "red"), ("blood", "red"), ("an orange", "orange"),
    ("a carrot", "orange"), ("a pumpkin", "orange"), ("coal", "black"), ("ink", "black"),
    ("chocolate", "brown"), ("a tree trunk", "brown"), ("a plum", "purple"),
    ("an aubergine", "purple"), ("a flamingo", "pink"), ("an elephant", "grey"),
    ("ash", "grey"), ("a zebra", "black and white"),
)
SOUNDS = (
    ("cow", "moo"), ("dog", "woof"), ("cat", "meow"), ("duck", "quack"), ("sheep", "baa"),
    ("pig", "oink"), ("horse", "neigh"), ("owl", "hoot"), ("lion", "roar"), ("snake", "hiss"),
    ("bee", "buzz"), ("frog", "ribbit"), ("mouse", "squeak"), ("donkey", "hee-haw"),
    ("crow", "caw"), ("wolf", "howl"), ("goat", "maa"), ("turkey", "gobble"), ("dove", "coo"),
    ("rooster", "cock-a-doodle-doo"),
)
OPPOSITES = (
    ("hot", "cold"), ("up", "down"), ("fast", "slow"), ("happy", "sad"), ("wet", "dry"),
    ("full", "empty"), ("early", "late"), ("loud", "quiet"), ("rich", "poor"),
    ("strong", "weak"), ("clean", "dirty"), ("day", "night"), ("push", "pull"),
    ("win", "lose"), ("first", "last"), ("open", "closed"), ("north", "south"),
    ("big", "small"), ("light", "dark"), ("young", "old"),
)
SIZES = (  # smallest first; things are compared only within their own list
    ("an ant", "a mouse", "a rabbit", "a dog", "a horse", "an elephant", "a whale"),
    ("a coin", "a book", "a chair", "a car", "a house", "a mountain"),
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
CATEGORIES = (  # (kind, kinds, class, classes) for syllogisms: every kind is a class
    ("cat", "cats", "animal", "animals"), ("rose", "roses", "flower", "flowers"),
    ("oak", "oaks", "tree", "trees"), ("robin", "robins", "bird", "birds"),
    ("apple", "apples", "fruit", "fruits"), ("car", "cars", "machine", "machines"),
    ("hammer", "hammers", "tool", "tools"), ("piano", "pianos", "instrument", "instruments"),
    ("ant", "ants", "insect", "insects"), ("carrot", "carrots", "vegetable", "vegetables"),
)
RELATIONS = (("taller", "shorter"), ("older", "younger"), ("faster", "slower"),
             ("stronger", "weaker"), ("heavier", "lighter"))
NAMES = ("Ann", "Bob", "Tom", "Eve", "Sam", "Max", "Lily", "Mia", "Leo", "Zoe", "Ivy",
         "Noah", "Emma", "Jack", "Ruby", "Finn")

FOLLOW_UPS = ("And {subject}?", "What about {subject}?", "How about {subject}?",
              "And what about {subject}?")
COMPARISON_FORMS = (
    ("Which is bigger, {x} or {y}?", "{Larger}."),
    ("Which is smaller, {x} or {y}?", "{Smaller}."),
    ("Which {kind} is larger, {x} or {y}?", "{Larger}."),
    ("Which {kind} is smaller, {x} or {y}?", "{Smaller}."),
    ("Is {x} bigger than {y}?", "{x_is_larger}."),
    ("Is {x} smaller than {y}?", "{x_is_smaller}."),
)
ARITHMETIC_FORMS = {
    "+": (("What is {a} + {b}?", "{result}."), ("What is {a} plus {b}?", "{result}."),
          ("How much is {a} plus {b}?", "{result}."), ("Calculate {a} + {b}.", "{result}."),
          ("Add {a} and {b}.", "{result}."), ("What is the sum of {a} and {b}?", "{result}.")),
    "-": (("What is {a} - {b}?", "{result}."), ("What is {a} minus {b}?", "{result}."),
          ("How much is {a} minus {b}?", "{result}."), ("Calculate {a} - {b}.", "{result}."),
          ("Subtract {b} from {a}.", "{result}."),
          ("What is the difference between {a} and {b}?", "{result}.")),
    "*": (("What is {a} * {b}?", "{result}."), ("What is {a} times {b}?", "{result}."),
          ("How much is {a} times {b}?", "{result}."), ("Calculate {a} * {b}.", "{result}."),
          ("Multiply {a} by {b}.", "{result}."),
          ("What is the product of {a} and {b}?", "{result}.")),
}


def _phrase_facts(groups: Mapping[str, Sequence[str]]) -> tuple[dict[str, str], ...]:
    return tuple({"G": phrase, "g": phrase.lower(), "answer": answer}
                 for answer, phrases in groups.items() for phrase in phrases)


def _arithmetic_facts(operator: str) -> tuple[dict[str, str], ...]:
    """Distinct one- and two-digit problems with results from 0 to 99, chosen by rank."""
    if operator == "+":
        small = [(a, b) for a in range(10) for b in range(10)]
        large = [(a, b) for a in range(10, 90) for b in range(1, 90) if a + b < 100]
        chosen = ranked(small, "add-small")[:15] + ranked(large, "add-large")[:20]
        compute = int.__add__
    elif operator == "-":
        small = [(a, b) for a in range(10) for b in range(a + 1)]
        large = [(a, b) for a in range(10, 100) for b in range(1, a + 1)]
        chosen = ranked(small, "subtract-small")[:15] + ranked(large, "subtract-large")[:20]
        compute = int.__sub__
    else:
        small = [(a, b) for a in range(2, 10) for b in range(2, 10)]
        large = [(a, b) for a in range(10, 21) for b in range(2, 5)]
        chosen = ranked(small, "multiply-small")[:20] + ranked(large, "multiply-large")[:10]
        compute = int.__mul__
    return tuple({"a": str(a), "op": operator, "b": str(b), "result": str(compute(a, b))}
                 for a, b in chosen)


def _comparison(x: str, y: str, x_is_larger: bool, kind: str, answer_x: str,
                answer_y: str) -> dict[str, str]:
    return {"x": x, "y": y, "kind": kind,
            "Larger": answer_x if x_is_larger else answer_y,
            "Smaller": answer_y if x_is_larger else answer_x,
            "x_is_larger": "Yes" if x_is_larger else "No",
            "x_is_smaller": "No" if x_is_larger else "Yes"}


def _number_comparisons() -> tuple[dict[str, str], ...]:
    small = [(x, y) for x in range(10) for y in range(10) if x != y]
    large = [(x, y) for x in range(10, 100) for y in range(10, 100) if x != y]
    pairs = ranked(small, "compare-small")[:15] + ranked(large, "compare-large")[:25]
    return tuple(_comparison(str(x), str(y), x > y, "number", str(x), str(y)) for x, y in pairs)


def _size_comparisons() -> tuple[dict[str, str], ...]:
    facts = []
    for things in SIZES:
        for i, small in enumerate(things):
            for large in things[i + 1:]:
                x, y = ranked([small, large], f"size/{small}/{large}")
                facts.append(_comparison(x, y, x == large, "one", capitalized(x), capitalized(y)))
    return tuple(facts)


def _sequence_facts(items: Sequence[str], noun: str, step: int) -> tuple[dict[str, str], ...]:
    return tuple({"noun": noun, "x": item, "answer": items[(i + step) % len(items)]}
                 for i, item in enumerate(items))


def _number_sequence_facts(step: int) -> tuple[dict[str, str], ...]:
    numbers = ranked(range(1, 99), f"number-step/{step}")[:10]
    return tuple({"noun": "number", "x": str(n), "answer": str(n + step)} for n in numbers)


def _sorting_facts() -> tuple[dict[str, str], ...]:
    triples = [(x, y, z) for x in range(10) for y in range(10) for z in range(10)
               if len({x, y, z}) == 3]
    facts = []
    for triple in ranked(triples, "sort")[:24]:
        ascending = sorted(triple)
        facts.append({"x": str(triple[0]), "y": str(triple[1]), "z": str(triple[2]),
                      "ascending": ", ".join(map(str, ascending)),
                      "descending": ", ".join(map(str, ascending[::-1])),
                      "smallest": str(ascending[0]), "largest": str(ascending[-1])})
    return tuple(facts)


def _two_names(purpose: str) -> tuple[str, str]:
    first, second = ranked(NAMES, purpose)[:2]
    return first, second


def _syllogism_facts() -> tuple[dict[str, str], ...]:
    facts = []
    for kind, kinds, group, groups in CATEGORIES:
        for name in _two_names(f"syllogism/{kind}"):
            facts.append({"name": name, "kinds": kinds, "a_kind": with_article(kind),
                          "groups": groups, "a_group": with_article(group)})
    return tuple(facts)


def _relation_facts() -> tuple[dict[str, str], ...]:
    facts = []
    for more, less in RELATIONS:
        for index in range(6):
            first, second = _two_names(f"relation/{more}/{index}")
            facts.append({"A": first, "B": second, "more": more, "less": less})
    return tuple(facts)


def _sequence_forms(direction: str) -> tuple[tuple[str, str], ...]:
    verb = "follows" if direction == "after" else "is just before"
    return ((f"What {{noun}} comes {direction} {{x}}?", "{answer}."),
            (f"Which {{noun}} comes {direction} {{x}}?", "{answer}."),
            (f"What is the {{noun}} {direction} {{x}}?", "{answer}."),
            (f"Which {{noun}} {verb} {{x}}?", "{answer}."),
            (f"Name the {{noun}} {direction} {{x}}.", "{answer}."),
            (f"{capitalized(direction)} {{x}} comes which {{noun}}?", "{answer}."))


def _topics() -> tuple[Topic, ...]:
    return (
        Topic("hello", "greetings", EXCLAMATION_FORMS, _phrase_facts(GREETINGS), role="opener"),
        Topic("small talk", "greetings", QUESTION_FORMS, _phrase_facts(SMALL_TALK),
              role="opener"),
        Topic("thanks and goodbye", "greetings", EXCLAMATION_FORMS, _phrase_facts(FAREWELLS),
              role="closer"),
        Topic("capitals", "facts", (
            ("What is the capital of {subject}?", "{city}."),
            ("Which city is the capital of {subject}?", "{city}."),
            ("What city is the capital of {subject}?", "{city}."),
            ("Name the capital of {subject}.", "{city}."),
            ("Tell me the capital of {subject}.", "{city}."),
            ("The capital of {subject} is which city?", "{city}.")),
            tuple({"subject": country, "city": city} for country, city in CAPITALS),
            follow_ups=FOLLOW_UPS),
        Topic("colours", "facts", (
            ("What colour is {subject}?", "{Colour}."),
            ("What is the colour of {subject}?", "{Colour}."),
            ("Which colour is {subject}?", "{Colour}."),
            ("Tell me the colour of {subject}.", "{Colour}."),
            ("What color is {subject}?", "{Colour}."),
            ("{Subject} is what colour?", "{Colour}.")),
            tuple({"subject": thing, "Subject": capitalized(thing), "Colour": capitalized(colour)}
                  for thing, colour in COLOURS),
            follow_ups=FOLLOW_UPS),
        Topic("animal sounds", "facts", (
            ("What sound does {subject} make?", "{Sound}."),
            ("What does {subject} say?", "{Sound}."),
            ("What noise does {subject} make?", "{Sound}."),
            ("Which sound does {subject} make?", "{Sound}."),
            ("Tell me the sound of {subject}.", "{Sound}."),
            ("How does {subject} sound?", "{Sound}.")),
            tuple({"subject": with_article(animal), "Sound": capitalized(sound)}
                  for animal, sound in SOUNDS),
            follow_ups=FOLLOW_UPS),
        Topic("opposites", "facts", (
            ("What is the opposite of {word}?", "{Opposite}."),
            ("What is the opposite of the word {word}?", "{Opposite}."),
            ("Tell me the opposite of {word}.", "{Opposite}."),
            ("Give me the opposite of {word}.", "{Opposite}."),
            ("What word means the opposite of {word}?", "{Opposite}."),
            ("The opposite of {word} is what?", "{Opposite}.")),
            tuple({"word": word, "Opposite": capitalized(opposite)}
                  for pair in OPPOSITES for word, opposite in (pair, pair[::-1]))),
        Topic("addition", "arithmetic", ARITHMETIC_FORMS["+"], _arithmetic_facts("+")),
        Topic("subtraction", "arithmetic", ARITHMETIC_FORMS["-"], _arithmetic_facts("-")),
        Topic("multiplication", "arithmetic", ARITHMETIC_FORMS["*"], _arithmetic_facts("*")),
        Topic("number comparisons", "reasoning", COMPARISON_FORMS, _number_comparisons()),
        Topic("size comparisons", "reasoning", COMPARISON_FORMS, _size_comparisons()),
        Topic("what comes after", "reasoning", _sequence_forms("after"),
              _sequence_facts(DAYS, "day", 1) + _sequence_facts(MONTHS, "month", 1)
              + _number_sequence_facts(1)),
        Topic("what comes before", "reasoning", _sequence_forms("before"),
              _sequence_facts(DAYS, "day", -1) + _sequence_facts(MONTHS, "month", -1)
              + _number_sequence_facts(-1)),
        Topic("sorting", "reasoning", (
            ("Sort {x}, {y} and {z}.", "{ascending}."),
            ("Put {x}, {y} and {z} in order.", "{ascending}."),
            ("Order {x}, {y} and {z} from smallest to largest.", "{ascending}."),
            ("Order {x}, {y} and {z} from largest to smallest.", "{descending}."),
            ("Which is the largest of {x}, {y} and {z}?", "{largest}."),
            ("Which is the smallest of {x}, {y} and {z}?", "{smallest}.")),
            _sorting_facts()),
        Topic("syllogisms", "reasoning", (
            ("All {kinds} are {groups}. {name} is {a_kind}. Is {name} {a_group}?", "Yes."),
            ("{name} is {a_kind}. All {kinds} are {groups}. Is {name} {a_group}?", "Yes."),
            ("If all {kinds} are {groups} and {name} is {a_kind}, is {name} {a_group}?", "Yes."),
            ("All {kinds} are {groups}. {name} is not {a_group}. Is {name} {a_kind}?", "No."),
            ("{name} is not {a_group}. All {kinds} are {groups}. Is {name} {a_kind}?", "No."),
            ("If all {kinds} are {groups} and {name} is not {a_group}, is {name} {a_kind}?",
             "No.")),
            _syllogism_facts()),
        Topic("relations", "reasoning", (
            ("{A} is {more} than {B}. Who is {more}?", "{A}."),
            ("{A} is {more} than {B}. Who is {less}?", "{B}."),
            ("{B} is {less} than {A}. Who is {more}?", "{A}."),
            ("{B} is {less} than {A}. Who is {less}?", "{B}."),
            ("If {A} is {more} than {B}, who is {less}?", "{B}."),
            ("If {B} is {less} than {A}, who is {more}?", "{A}.")),
            _relation_facts()),
    )


TOPICS = _topics()


# -- from the knowledge base to blocks ----------------------------------------------------

def exchanges(topic: Topic) -> list[Exchange]:
    """Every cell of the topic's grid (facts x forms, then facts x follow-ups), with its split."""
    cells = []
    for i, fact in enumerate(topic.facts):
        key = tuple(fact.values())
        for j, (question, answer) in enumerate(topic.forms):
            cells.append(Exchange(question.format(**fact), answer.format(**fact), topic.category,
                                  topic.name, key, j, False, split_of(i, j, len(topic.forms))))
        for j, question in enumerate(topic.follow_ups):
            cells.append(Exchange(question.format(**fact), topic.forms[0][1].format(**fact),
                                  topic.category, topic.name, key, j, True,
                                  split_of(i, j, len(topic.follow_ups))))
    return cells


Block = tuple[Exchange, ...]


def _dialogues(main: list[Exchange], follow_ups: list[Exchange]) -> tuple[list[Block], list[Exchange]]:
    """Each dialogue: a question, then two follow-ups on two other facts of the same topic.

    Returns the dialogues and the questions of ``main`` they did not use.
    """
    pending, unused, dialogues = list(follow_ups), list(main), []
    while pending:
        first = pending.pop(0)
        second = next((f for f in pending if f.fact != first.fact), None)
        turns = [first] if second is None else [first, second]
        if second is not None:
            pending.remove(second)
        opening = next(m for m in unused if all(m.fact != t.fact for t in turns))
        unused.remove(opening)
        dialogues.append((opening, *turns))
    return dialogues, unused


def generate() -> dict[str, list[Block]]:
    """The blocks of every split, in file order."""
    blocks: dict[str, list[Block]] = {}
    for split in SPLITS:
        singles: list[Exchange] = []
        dialogues: list[Block] = []
        openers: list[Exchange] = []
        closers: list[Exchange] = []
        for topic in TOPICS:
            cells = [cell for cell in exchanges(topic) if cell.split == split]
            if topic.role:
                (openers if topic.role == "opener" else closers).extend(cells)
                continue
            main = ranked([c for c in cells if not c.follow_up], f"{split}/{topic.name}/main")
            follow_ups = ranked([c for c in cells if c.follow_up], f"{split}/{topic.name}/follow")
            made, rest = _dialogues(main, follow_ups) if follow_ups else ([], main)
            dialogues += made
            singles += rest
        dialogues = ranked(dialogues, f"{split}/dialogues")
        openers = ranked(openers, f"{split}/openers")
        closers = ranked(closers, f"{split}/closers")
        greeted = [(*openers[k:k + 1], *dialogue, *closers[k:k + 1])
                   for k, dialogue in enumerate(dialogues)]
        singles += openers[len(dialogues):] + closers[len(dialogues):]
        blocks[split] = ranked(greeted + [(single,) for single in singles], f"{split}/order")
    return blocks


def render(blocks: Iterable[Block]) -> str:
    """The text of a split: blocks of "Q: ...\\nA: ...\\n" lines, separated by empty lines."""
    return "\n".join("".join(f"{QUESTION_PREFIX}{e.question}\n{ANSWER_PREFIX}{e.answer}\n"
                             for e in block) for block in blocks)


def count_table(blocks: dict[str, list[Block]]) -> str:
    """Exchanges per category and topic and split, as the Markdown table of the datasheet."""
    counts = Counter((e.category, e.topic, split) for split, split_blocks in blocks.items()
                     for block in split_blocks for e in block)
    rows = ["| category | topic | " + " | ".join(SPLITS) + " | total |",
            "|---|---|" + "---:|" * (len(SPLITS) + 1)]
    for topic in TOPICS:
        values = [counts[topic.category, topic.name, split] for split in SPLITS]
        rows.append(f"| {topic.category} | {topic.name} | "
                    + " | ".join(f"{v:,}" for v in values) + f" | {sum(values):,} |")
    totals = [sum(len(b) for b in blocks[split]) for split in SPLITS]
    rows.append("| **all** | exchanges | " + " | ".join(f"{v:,}" for v in totals)
                + f" | {sum(totals):,} |")
    dialogues = [sum(len(b) > 1 for b in blocks[split]) for split in SPLITS]
    rows.append("| | of which dialogues (blocks) | " + " | ".join(f"{v:,}" for v in dialogues)
                + f" | {sum(dialogues):,} |")
    return "\n".join(rows) + "\n"


# -- files ----------------------------------------------------------------------------------

def split_path(split: str, directory: str | os.PathLike | None = None) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown TinyTalks split {split!r}; choose one of {', '.join(SPLITS)}")
    return Path(directory if directory is not None else DEFAULT_DIR) / f"{split}.txt"


def build_tinytalks(out: str | os.PathLike = DEFAULT_DIR) -> dict[str, Path]:
    """Write train.txt, validation.txt and test.txt into the folder ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, blocks in generate().items():
        paths[split] = split_path(split, folder)
        with atomic_output(paths[split]) as file:
            file.write(render(blocks).encode("utf-8"))
    return paths


def load_tinytalks(split: str = "train", directory: str | os.PathLike | None = None) -> str:
    """The text of one split ("train", "validation" or "test") as a string.

    With ``directory=None`` the shipped file is read and its sha256 checked against
    ``TINYTALKS_SHA256`` (ChecksumError names both digests); a folder you built yourself
    is read as it is.
    """
    path = split_path(split, directory)
    if not path.is_file():
        raise FileNotFoundError(f"TinyTalks file {path} not found; rebuild it with "
                                f"`python -m tinytorch.data.tinytalks build`")
    data = path.read_bytes()
    if directory is None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != TINYTALKS_SHA256[split]:
            raise ChecksumError(f"{path} is damaged or was changed: its sha256 is {actual}, "
                                f"expected {TINYTALKS_SHA256[split]}. Restore it or rebuild it "
                                f"with `python -m tinytorch.data.tinytalks build`.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text: {error}") from None


_BLOCK_LINE = re.compile(r"(Q|A): (.+)")


def parse_tinytalks(text: str, source: str = "TinyTalks text") -> list[list[tuple[str, str]]]:
    """The blocks of a split's text, each a list of (question, answer) turns.

    Raises ValueError naming ``source`` (the file) and the first block that breaks the format.
    """
    blocks: list[list[tuple[str, str]]] = []
    for number, block in enumerate(text.rstrip("\n").split("\n\n"), start=1):
        lines = block.split("\n")
        kinds = [(_BLOCK_LINE.fullmatch(line) or [None, None])[1] for line in lines]
        if len(lines) % 2 or kinds != ["Q", "A"] * (len(lines) // 2):
            raise ValueError(f"{source}: block {number} is not alternating 'Q: ' and 'A: ' lines: "
                             f"{block[:200]!r}")
        blocks.append([(lines[i][3:], lines[i + 1][3:]) for i in range(0, len(lines), 2)])
    return blocks


def tinytalks_pairs(split: str = "train",
                    directory: str | os.PathLike | None = None) -> list[QAPair]:
    """Every exchange of a split, in file order, for evaluation: see ``QAPair``."""
    return qa_pairs(load_tinytalks(split, directory), str(split_path(split, directory)))


def qa_pairs(text: str, source: str = "TinyTalks text") -> list[QAPair]:
    """Every exchange of ``text`` in TinyTalks' format, in order (``parse_tinytalks``, whose
    ValueError names ``source``), each with the earlier turns of its dialogue as context."""
    pairs = []
    for block in parse_tinytalks(text, source):
        context = ""
        for question, answer in block:
            pairs.append(QAPair(question, answer, context))
            context += f"{QUESTION_PREFIX}{question}\n{ANSWER_PREFIX}{answer}\n"
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.data.tinytalks build [--out DIR]``.

    Prints the files' digests and the count table of DATASHEET.md; exits with 1 if the files
    differ from the shipped TinyTalks.
    """
    parser = argparse.ArgumentParser(prog="python -m tinytorch.data.tinytalks",
                                     description="Generate the TinyTalks question-answer data set.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write train.txt, validation.txt and test.txt")
    build.add_argument("--out", type=Path, default=DEFAULT_DIR, metavar="DIR",
                       help=f"folder to write into (default: {DEFAULT_DIR})")
    arguments = parser.parse_args(argv)
    paths = build_tinytalks(arguments.out)
    different = []
    for split, path in paths.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"wrote {path} ({path.stat().st_size:,} bytes, sha256 {digest})")
        if digest != TINYTALKS_SHA256[split]:
            different.append(split)
    print(count_table(generate()), end="")
    if different:
        print(f"the {', '.join(different)} split(s) DIFFER from the shipped TinyTalks",
              file=sys.stderr)
        return 1
    print("identical to the shipped TinyTalks, byte for byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
