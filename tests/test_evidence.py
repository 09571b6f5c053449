"""Evidence ranking, reply verification and the decision between a generated, a quoted and no answer."""

from __future__ import annotations

import pytest

from answering.evidence import grounded, key_tokens, rank_evidence
from answering.pipeline import answer, retrieve
from answering.verify import locate, verify
from orgtune.defaults import CONFIDENT_RELEVANCE, NOT_COVERED_BELOW
from retrieval import BM25Index, DocumentText, SectionText, chunk_documents
from training.prompts import NOT_COVERED, Passage, Reply, parse_reply

PER_DIEMS = (
    "A per diem is a fixed daily allowance that covers meals, local transport and small incidental costs "
    "while travelling, so no individual meal receipts are needed.\n\n"
    "City | Per diem (GBP per day) | Hotel cap (GBP per night)\n\n"
    "London | 60 | 220\n\nNairobi | 40 | 140\n\nNew York | 75 | 300"
)
DOCS = [
    DocumentText(
        1, "travel.md", (SectionText("Per diems", PER_DIEMS), SectionText("Booking", "Book trips in Wayfarer."))
    ),
    DocumentText(2, "benefits.md", (SectionText("Vacation", "Every employee receives 27 days of paid vacation."),)),
]


def _evidence(question: str):  # type: ignore[no-untyped-def]
    index = BM25Index(chunk_documents(DOCS))
    return rank_evidence(question, index.search(question, k=2), index, DOCS)


def test_table_rows_are_read_with_their_header_and_the_header_alone_is_no_evidence() -> None:
    best = _evidence("What is the hotel cap per night in New York?")
    assert best[0].text == "City: New York; Per diem (GBP per day): 75; Hotel cap (GBP per night): 300"
    assert all(not e.text.startswith("City | Per diem") for e in best)
    assert (best[0].document, best[0].section) == ("travel.md", "Per diems")


def test_with_equal_support_the_denser_sentence_wins() -> None:
    assert _evidence("What is the daily per diem for Nairobi?")[0].text.startswith("City: Nairobi;")


def test_support_is_the_share_of_question_weight_found() -> None:
    [best, *_] = _evidence("How many vacation days do employees receive?")
    assert best.text.startswith("Every employee receives 27 days") and best.support > 0.9
    assert _evidence("What is the guest Wi-Fi password for Bristol?") == []  # no passage at all


def test_key_tokens_are_numbers_codes_and_names_not_sentence_starts() -> None:
    assert key_tokens("The hotline is +44 117. Call Kwame Asante or use NWL-TRV-2025 at 09:30.") == [
        "+44", "117", "Kwame", "Asante", "NWL-TRV-2025", "09:30",
    ]  # fmt: skip


def test_grounded_answers_state_only_what_the_evidence_says() -> None:
    evidence, question = "Every employee receives 27 days of paid vacation.", "How many vacation days do we get?"
    assert grounded("You get 27 days of paid vacation.", evidence, question)
    assert not grounded("You get 25 days of paid vacation.", evidence, question)  # invented number
    assert not grounded("How many vacation days do we get?", evidence, question)  # restates the question
    assert not grounded("The passage you provided is a reference to a file.", evidence, question)  # unrelated


def test_retrieve_finds_passages_and_evidence_from_the_given_documents_only() -> None:
    context = retrieve(DOCS[1:], "How many vacation days do employees receive?")
    assert [c.document for c, _ in context.passages] == ["benefits.md"] and context.evidence[0].support > 0.9
    assert context.evidence[0].text == "Every employee receives 27 days of paid vacation."


class _Said:
    """Stands in for the model's text only: the decision between generated and quoted is under test."""

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, messages, adapter, model_name):  # type: ignore[no-untyped-def]
        from answering.engine import Generation

        return Generation(self.text, 8, 0.01, model_name, None)


def _answer(said: str, question: str = "How many vacation days do employees receive?"):  # type: ignore[no-untyped-def]
    return answer(question, retrieve(DOCS, question), _Said(said), "smollm2")  # type: ignore[arg-type]


def test_a_verified_reply_is_posted_with_its_quote_as_source() -> None:
    got = _answer("Quote: every employee receives  27 days of paid vacation\nAnswer: Employees receive 27 days.")
    assert (got.text, got.grounding, got.covered) == ("Employees receive 27 days.", "generated", True)
    # the quote shown is the passage's own text, whatever case and spacing the model copied it with
    assert got.sources[0].quote == "Every employee receives 27 days of paid vacation"
    assert (got.sources[0].document, got.sources[0].section) == ("benefits.md", "Vacation")


@pytest.mark.parametrize(
    "said",
    [
        "Quote: Every employee receives 27 days of paid vacation.\nAnswer: Employees receive 30 days.",  # invented
        "Quote: Every employee receives 30 days of paid vacation.\nAnswer: Employees receive 30 days.",  # fake quote
        "Employees receive 27 days of paid vacation.",  # no quote: nothing to verify
        "Quote: 27 days\nAnswer: 27 days.",  # too short to show as evidence
    ],
)
def test_an_unverified_reply_falls_back_to_the_rankers_sentence(said: str) -> None:
    got = _answer(said)
    assert (got.text, got.grounding) == ("Every employee receives 27 days of paid vacation.", "quoted")


def test_a_refusal_is_not_believed_when_a_passage_plainly_answers() -> None:
    question = "How many vacation days do employees receive?"
    assert retrieve(DOCS, question).evidence[0].relevance >= CONFIDENT_RELEVANCE
    got = _answer("The documents don't cover this.")
    assert (got.text, got.grounding) == ("Every employee receives 27 days of paid vacation.", "quoted")


def test_a_refusal_stands_when_retrieval_is_uncertain() -> None:
    question = "Can employees sell unused paid vacation days?"
    context = retrieve(DOCS, question)
    assert NOT_COVERED_BELOW <= context.evidence[0].relevance < CONFIDENT_RELEVANCE
    got = answer(question, context, _Said("The documents don't cover this."), "smollm2")
    assert (got.covered, got.grounding, got.text) == (False, "declined", NOT_COVERED)


def test_an_irrelevant_question_is_not_covered_without_asking_the_model() -> None:
    got = _answer("Employees receive 27 days.", question="Who won the chess tournament?")
    assert (got.covered, got.grounding, got.generated) == (False, "", "")


def test_quote_only_answering_needs_no_model() -> None:
    question = "How many vacation days do employees receive?"
    got = answer(question, retrieve(DOCS, question), None, "smollm2")
    assert (got.text, got.grounding, got.model) == ("Every employee receives 27 days of paid vacation.", "quoted", "")


def test_replies_are_parsed_into_quote_and_answer() -> None:
    assert parse_reply('Quote: "Every employee gets 27 days."\nAnswer: 27 days.') == Reply(
        "Every employee gets 27 days.", "27 days.", False
    )
    assert parse_reply("27 days.\nSource: [1]") == Reply("", "27 days.", False)
    assert parse_reply("Quote: Every employee gets 27 days.") == Reply("Every employee gets 27 days.", "", False)
    assert parse_reply(NOT_COVERED).not_covered


def test_a_quote_is_located_across_spacing_case_and_curly_quotes() -> None:
    passages = [
        Passage("a.md", "A", "Nothing here."),
        Passage("b.md", "B", "Staff use the \u201cTunnel\u201d VPN\n  at home."),
    ]
    found = locate('staff use the "Tunnel" VPN at home', passages)
    assert found is not None and found.passage.document == "b.md"
    assert found.quote == "Staff use the \u201cTunnel\u201d VPN\n  at home"
    assert locate("Staff use the Tunnel VPN at the office", passages) is None
    assert verify(Reply("Staff use the Tunnel VPN", "Use Tunnel.", False), passages, "Which VPN?") is None  # curly
    assert verify(Reply('Staff use the "Tunnel" VPN', "Use the Tunnel VPN.", False), passages, "Which VPN?")


def test_list_items_are_quoted_without_their_bullets() -> None:
    docs = [DocumentText(3, "onboarding.md", (SectionText("Probation", "- Your probation period is 6 months."),))]
    index = BM25Index(chunk_documents(docs))
    question = "How long is the probation period?"
    [best] = rank_evidence(question, index.search(question, k=2), index, docs)
    assert best.text == "Your probation period is 6 months."


class _Picks:
    """Stands in for a local model's likelihoods: it 'prefers' one continuation, then answers as told."""

    def __init__(self, prefers: str, says: str) -> None:
        self.prefers, self.says, self.scored, self.prefix = prefers, says, [], ""

    def score(self, messages, continuations, adapter, model_name):  # type: ignore[no-untyped-def]
        self.scored = list(continuations)
        return [0.0 if self.prefers in c else -5.0 for c in continuations]

    def generate(self, messages, adapter, model_name, prefix=""):  # type: ignore[no-untyped-def]
        from answering.engine import Generation

        self.prefix = prefix
        return Generation(self.says, 4, 0.01, model_name, None)


def test_a_local_model_picks_its_quote_among_the_passages_sentences() -> None:
    question = "What is the hotel cap in New York?"
    model = _Picks("New York | 75 | 300", "The hotel cap in New York is 300 per night.")
    got = answer(question, retrieve(DOCS, question), model, "smollm2")
    # every sentence and table row of the passages was a candidate, and "not covered" too
    assert "Quote: London | 60 | 220\nAnswer:" in model.scored and model.scored[-1] == NOT_COVERED
    assert model.prefix == "Quote: New York | 75 | 300\nAnswer:"  # the model answers from the quote it chose
    assert (got.text, got.grounding, got.sources[0].quote) == (
        "The hotel cap in New York is 300 per night.",
        "generated",
        "New York | 75 | 300",
    )
    assert got.generated == "Quote: New York | 75 | 300\nAnswer: The hotel cap in New York is 300 per night."


def test_a_local_model_that_finds_not_covered_likeliest_declines_when_retrieval_is_unsure() -> None:
    question = "Can employees sell unused paid vacation days?"
    got = answer(question, retrieve(DOCS, question), _Picks(NOT_COVERED, "unused"), "smollm2")
    assert (got.covered, got.grounding) == (False, "declined")
