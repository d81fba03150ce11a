"""The offline support checker: verdicts, reasons, evidence offsets, numbers, speed."""

from __future__ import annotations

import time

import pytest

from summarizer.checking.offline import DEFAULT_THRESHOLD, Sources, Verdict, check

PASSAGES = [
    "The interior minister said on Tuesday that 45,000 people had been evacuated from the "
    "coastal towns of Alden and Brill. Rescue teams from the Red Cross worked through the night "
    "to reach villages cut off by the water.",
    "Mr. Okafor, the mayor of Alden, did not resign after the flood. He told reporters the town "
    "would rebuild its sea wall before the winter storms.",
]


def test_copy_of_a_source_sentence_is_supported_with_verbatim_evidence():
    claim = "Mr. Okafor, the mayor of Alden, did not resign after the flood."
    verdict = check(claim, PASSAGES)
    assert verdict.supported
    assert verdict.reason is None
    assert verdict.evidence is not None
    span = verdict.evidence
    assert span.passage == 1
    assert span.text == claim
    assert PASSAGES[span.passage][span.start : span.end] == span.text


def test_unknown_entity_and_number_make_a_claim_unsupported_and_are_named():
    claim = "The UN Security Council said 90 people had been evacuated from the coastal towns."
    verdict = check(claim, PASSAGES)
    assert not verdict.supported
    assert verdict.score < DEFAULT_THRESHOLD
    assert "UN Security Council" in verdict.reason
    assert "'90'" in verdict.reason


def test_negated_claim_is_unsupported():
    claim = "The interior minister said on Tuesday that 45,000 people had not been evacuated."
    verdict = check(claim, PASSAGES)
    assert not verdict.supported
    assert verdict.reason == "negates the source"


def test_dropping_the_source_negation_is_unsupported():
    verdict = check("Mr. Okafor, the mayor of Alden, resigned after the flood.", PASSAGES)
    assert not verdict.supported
    assert "negation" in verdict.reason


def test_number_in_words_matches_digits_in_the_source():
    claim = ("The interior minister said on Tuesday that forty-five thousand people had been "
             "evacuated from the coastal towns of Alden and Brill.")
    verdict = check(claim, PASSAGES)
    assert verdict.supported, verdict


def test_one_bad_sentence_makes_a_summary_unsupported():
    good = "Rescue teams from the Red Cross worked through the night."
    bad = "The mayor of Brill resigned on Friday."
    sources = Sources(PASSAGES)
    assert sources.check(good).supported
    verdict = sources.check(f"{good} {bad}")
    assert not verdict.supported
    assert "Friday" in verdict.reason


def test_unrelated_claim_has_little_overlap():
    verdict = check("Scientists found water on a distant moon of the outer planet.", PASSAGES)
    assert not verdict.supported
    assert verdict.reason


def test_sentence_initial_common_word_and_titles_are_not_names():
    sources = Sources(["Police in Alden said the flood had passed. The mayor spoke later."])
    verdict = sources.check("Police said Mr. Okafor spoke later.")
    assert "'Police'" not in (verdict.reason or "")
    assert "Okafor" in (verdict.reason or "")


def test_verdict_is_frozen_and_threshold_is_respected():
    verdict = check(PASSAGES[0].split(". ")[0] + ".", PASSAGES, threshold=1.0)
    assert isinstance(verdict, Verdict)
    assert not verdict.supported  # no score reaches 1.0
    with pytest.raises(AttributeError):
        verdict.score = 1.0  # type: ignore[misc]


def test_empty_claim_and_empty_sources():
    assert not check("", PASSAGES).supported
    verdict = check("The mayor resigned.", [])
    assert not verdict.supported
    assert verdict.evidence is None


def test_rounded_claim_number_matches_a_precise_source_number():
    sources = Sources(["The company employs 1,234,567 people worldwide."])
    assert "number" not in (sources.check("The company employs 1.2 million people.").reason or "")
    assert "number" in (sources.check("The company employs 1.5 million people.").reason or "")


def test_month_not_in_sources_is_reported():
    sources = Sources(["The law came into force in March 2020 after a long debate."])
    verdict = sources.check("The law came into force in June 2020 after a long debate.")
    assert not verdict.supported
    assert "June" in verdict.reason


def test_check_is_fast_on_a_cached_article():
    words = ("The council said the new bridge over the river would open in 2026 and cost "
             "about 40 million pounds, according to the plans published on Monday. ").split()
    article = " ".join((words * 20)[:500])
    summary = " ".join(["The council said the bridge would open in 2026."] * 5)
    sources = Sources([article])
    start = time.perf_counter()
    for _ in range(20):
        sources.check(summary)
    per_check = (time.perf_counter() - start) / 20
    assert per_check < 0.05


SWAP_SOURCE = ["An American man died 35 years ago after a fall from a Sydney clifftop. Activists "
               "poured yellow and blue paint on the road. Prices rose sharply in March."]


@pytest.mark.parametrize(("claim", "reason"), [
    ("The American died 30 years ago after a fall from a Sydney clifftop.", "number '30 years'"),
    ("Activists poured yellow and white paint on the road.", "'white'"),
    ("Prices fell sharply in March.", "'fell' where the source has its opposite"),
])
def test_a_word_swapped_for_another_of_its_kind_is_unsupported(claim, reason):
    verdict = check(claim, SWAP_SOURCE)
    assert not verdict.supported
    assert reason in verdict.reason


def test_the_unswapped_sentences_are_supported():
    for claim in ("The American died 35 years ago after a fall from a Sydney clifftop.",
                  "Activists poured yellow and blue paint on the road.",
                  "Prices rose sharply in March."):
        assert check(claim, SWAP_SOURCE).supported, claim
