"""Answers: citation parsing, mapping citations back to chunks, and the no-source path."""

from __future__ import annotations

import pytest

from rag.answer import NO_ROOM_REPLY, NO_SOURCES_REPLY, answer, finish, parse_citations, prepare
from rag.retrieval import Hit

HITS = [Hit(str(i), f"Fact number {i}.", f"doc{i}.md", None, 0, 1.0 - i / 10) for i in range(1, 4)]


@pytest.mark.parametrize(
    ("text", "n", "valid", "invalid"),
    [
        ("Alpha [1].", 3, [1], []),
        ("Alpha [2,3] and [1].", 3, [2, 3, 1], []),
        ("Alpha [1][2].", 3, [1, 2], []),
        ("Alpha [ 2 ; 3 ].", 3, [2, 3], []),
        ("Range [1-3].", 3, [1, 2, 3], []),
        ("Out [4] and [0] and [2].", 3, [2], [4, 0]),
        ("Repeat [1] [1] [1].", 3, [1], []),
        ("No citations, [a], [1a], [], a link [1](http://x).", 3, [], []),
        ("<think>maybe [3]</think>Answer [1].", 3, [1], []),  # citations inside reasoning do not count
        ("Huge range [1-9999].", 3, [1], [9999]),
    ],
)
def test_parse_citations(text: str, n: int, valid: list[int], invalid: list[int]) -> None:
    assert parse_citations(text, n) == (valid, invalid)


def test_answer_maps_citations_to_the_chunks_in_the_prompt() -> None:
    """The fake model cites [2] and [5]: source 2 is HITS[1]; 5 matches no source and is reported."""
    seen: list[list[dict]] = []

    def generate(messages: list[dict]) -> str:
        seen.append(messages)
        return "It is fact two [2], see also [5]."

    result = answer("Which fact?", lambda q: HITS, generate, count_tokens=len, budget_tokens=100_000)
    assert seen == [result.messages]  # called once with the prompt it reports
    assert result.generated
    assert [c.number for c in result.citations] == [2] and result.cited_hits == [HITS[1]]
    assert result.invalid_citations == [5]
    payload = result.to_dict()
    assert payload["answer"] == "It is fact two [2], see also [5]."
    assert [s["cited"] for s in payload["sources"]] == [False, True, False]
    assert payload["sources"][1]["source"] == "doc2.md" and payload["sources"][1]["number"] == 2


def test_retriever_objects_with_a_retrieve_method_are_accepted() -> None:
    class FakeRetriever:
        def retrieve(self, question: str) -> list[Hit]:
            return HITS[:1]

    result = answer("q?", FakeRetriever(), lambda m: "One [1].")
    assert result.cited_hits == HITS[:1]


def test_no_hits_means_no_model_call() -> None:
    """Asking a model without sources invites a made-up answer: it is not called at all."""

    def generate(messages: list[dict]) -> str:
        raise AssertionError("the model must not be called")

    result = answer("q?", lambda q: [], generate)
    assert (result.text, result.generated, result.citations) == (NO_SOURCES_REPLY, False, [])


def test_hits_that_do_not_fit_are_explained() -> None:
    big = [Hit("x", "word " * 5000, "big.txt", None, 0, 0.9)]
    result = answer("q?", lambda q: big, lambda m: "unused", budget_tokens=600)
    assert result.text == NO_ROOM_REPLY and not result.generated and result.hits == big


def test_prepare_and_finish_allow_streaming() -> None:
    """The UI streams between prepare and finish; the result equals a one-shot answer."""
    prepared = prepare("q?", lambda q: HITS)
    streamed = "".join(["Fact ", "one ", "[1]."])
    result = finish(prepared, streamed, metrics={"tokens": 3})
    assert result.cited_hits == [HITS[0]] and result.metrics == {"tokens": 3}
    assert result.messages == answer("q?", lambda q: HITS, lambda m: streamed).messages
