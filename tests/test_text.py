"""The text library every stage reads with: sentences, words, numbers, dates and names."""

from __future__ import annotations

import re

import pytest

from summarizer.checking.offline import Sources
from summarizer.text import (
    ABBREVIATIONS,
    MONTH,
    claim_body,
    conditions,
    extract_dates,
    extract_numbers,
    figure,
    find_entities,
    find_names,
    initials,
    is_content,
    is_figure,
    is_hedged,
    is_verb_like,
    join_split_numbers,
    normalise,
    number_found,
    number_units,
    parse_number,
    plain_word,
    roles,
    speaker_of,
    split_polarity,
    split_sentences,
    stem,
    tokenize,
)

# ---------------------------------------------------------------------------------------------
# Sentences


def test_sentences_split_around_abbreviations_and_keep_offsets():
    text = "Mr. Smith went to the U.S. on Jan. 5. He said no.It rained. the end . done"
    spans = split_sentences(text)
    pieces = [text[a:b] for a, b in spans]
    assert pieces == ["Mr. Smith went to the U.S. on Jan. 5.", "He said no.",
                      "It rained. the end .", "done"]


def test_a_month_abbreviation_does_not_end_a_sentence_but_may_does():
    text = "The vote is due in Sept. 2027, officials said. It was held in May. Turnout was low."
    pieces = [text[a:b] for a, b in split_sentences(text)]
    assert pieces == ["The vote is due in Sept. 2027, officials said.", "It was held in May.",
                      "Turnout was low."]
    assert {"sept", "sep", "dec"} <= ABBREVIATIONS and "may" not in ABBREVIATIONS


def test_line_breaks_end_sentences_and_spans_leave_out_the_whitespace():
    text = "  Bridge closed\n\nThe county shut the bridge on Monday.  \n- Traffic was diverted  "
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["Bridge closed", "The county shut the bridge on "
                                             "Monday.", "- Traffic was diverted"]
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


def test_a_text_with_no_letters_or_digits_has_no_sentences():
    assert split_sentences(" ... \n -- ") == []


# ---------------------------------------------------------------------------------------------
# Words


def test_tokens_keep_their_offsets_and_read_contractions_possessives_and_initialisms():
    text = "Mr. O’Brien didn’t see the U.S. Army’s 3rd unit."
    tokens = tokenize(text)
    assert [t.lower for t in tokens] == ["mr", "o'brien", "did", "not", "see", "the", "us",
                                         "army", "3rd", "unit"]
    us = tokens[6]
    assert (us.text, text[us.start:us.end]) == ("US", "U.S.")
    negation = tokens[3]
    assert text[negation.start:negation.end] == "n’t"


@pytest.mark.parametrize(("words", "meet"), [
    (("killed", "kills", "killing"), True),
    (("fell", "fall", "falling"), True),  # an irregular past form meets its base
    (("running", "run"), True),
    (("make", "making", "made"), True),
    (("fall", "fail"), False),
])
def test_stems_join_the_forms_of_one_word(words, meet):
    assert (len({stem(w) for w in words}) == 1) is meet


def test_a_negation_bears_on_the_content_word_after_it_and_no_on_the_verb_before():
    negated, plain = split_polarity(tokenize("The mayor did not resign after the vote."))
    assert negated == {stem("resign")} and stem("mayor") in plain
    negated, _ = split_polarity(tokenize("Inspectors found no evidence of fraud."))
    assert {stem("found"), stem("evidence")} <= negated


def test_content_words_leave_out_stopwords_and_stray_letters_but_not_digits():
    tokens = tokenize("The council said a 5 per cent rise is s due")
    assert [t.lower for t in tokens if is_content(t)] == ["council", "5", "per", "cent", "rise",
                                                          "due"]


def test_normalise_ignores_case_quote_style_and_whitespace():
    assert normalise("He said “Stop”  now,\nit’s late.") == normalise("he said \"stop\" now, "
                                                                     "it's LATE.")


# ---------------------------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("45", 45),
        ("forty-five", 45),
        ("forty five", 45),
        ("45,000", 45_000),
        ("45 000", 45_000),
        ("45%", 45),
        ("45 per cent", 45),
        ("3.5m", 3_500_000),
        ("$1.2 billion", 1_200_000_000),
        ("two million", 2_000_000),
        ("one hundred and twenty", 120),
        ("a dozen", 12),
        ("1990s", 1990),
        ("21st", 21),
    ],
)
def test_numbers_are_normalised(text, value):
    assert parse_number(text) == value


def test_lone_one_is_not_a_number_but_years_and_several_numbers_are_read():
    assert extract_numbers("one of the officers") == []
    values = [q.value for q in extract_numbers("In May 2015, 3 of the 12 boats sank.")]
    assert values == [2015, 3, 12]


def test_numbers_keep_the_words_they_were_written_in():
    found = extract_numbers("Forty-five thousand people left, and 1.2 million euros were paid.")
    assert [(q.value, q.text) for q in found] == [(45_000, "Forty-five thousand"),
                                                   (1_200_000, "1.2 million")]


def test_a_rounded_number_is_found_in_a_precise_one_and_a_different_one_is_not():
    assert number_found(1_200_000, [1_234_567])
    assert not number_found(1_500_000, [1_234_567])
    assert number_found(45, [45.0])


def test_a_number_is_paired_with_the_noun_it_counts():
    text = "He died 35 years ago; 20 to 30 of the crew were hurt."
    assert number_units(tokenize(text), text) == [(35, stem("years"), "35 years")]


@pytest.mark.parametrize(("word", "value"), [
    ("forty", "40"), ("twelve", "12"), ("dozen", "12"), ("thousand", "1000"),
    ("1,200", "1200"), ("3rd", "3rd"), ("hundreds", "hundreds"),
])
def test_figures_compare_number_words_as_digits(word, value):
    assert is_figure(word)
    assert figure(word) == value


@pytest.mark.parametrize("word", ["one", "people", "first", ""])
def test_one_and_other_words_are_not_figures(word):
    assert not is_figure(word)


# ---------------------------------------------------------------------------------------------
# Dates


def test_months_and_weekdays_are_read_with_their_keys():
    tokens = tokenize("On Sept. 3 and on Monday, officials met; they met again in May.")
    assert extract_dates(tokens) == [("month:9", "Sept"), ("day:mon", "Monday"),
                                     ("month:5", "May")]


def test_may_the_verb_and_a_bare_abbreviation_are_not_months():
    assert extract_dates(tokenize("Officials may meet in the Mar valley.")) == []
    assert extract_dates(tokenize("Talks may resume on Mar 14.")) == [("month:3", "Mar")]


@pytest.mark.parametrize(("text", "found"), [
    ("Sept. 3", "Sept."), ("3 March", "March"), ("dec", "dec"), ("Mayor", None),
])
def test_the_month_pattern_matches_names_and_abbreviations(text, found):
    match = re.search(rf"\b{MONTH}(?!\w)", text, re.IGNORECASE)
    assert (match.group(0) if match else None) == found


# ---------------------------------------------------------------------------------------------
# Names


def _entities(text: str, lowercase: set[str] | None = None) -> list[str]:
    tokens = tokenize(text)
    return [text[tokens[run[0]].start:tokens[run[-1]].end]
            for run in find_entities(tokens, text, lowercase or set())]


def test_entities_are_capitalised_runs_without_titles_or_sentence_initial_common_words():
    assert _entities("Police said Mr. Tomas Reyle met the Bank of England on Monday.",
                     {stem("police")}) == ["Tomas Reyle", "Bank of England"]


def test_a_sentence_initial_name_counts_when_a_capitalised_word_follows():
    assert _entities("Pierre Poilievre spoke. Shares fell.") == ["Pierre Poilievre"]


def test_a_comma_ends_a_name():
    assert _entities("Troops from Ukraine, U.K. forces") == ["Ukraine", "U.K."]


def test_names_are_found_without_tokens_and_spelt_one_way():
    text = ("Police said the river rose. Tomas Reyle said officials in the U.K. and Britain, "
            "Russia and Syria met on Monday in Aldermoor County.")
    assert find_names(text, {stem("police")}) == ["tomas reyle", "uk", "uk", "russia", "syria",
                                                  "aldermoor county"]


def test_initials_and_plain_words():
    assert initials(["united", "nations"]) == "un"
    assert initials(["bank", "of", "england"]) == "be"
    assert plain_word("U.S.") == "us"
    assert plain_word("Reyle’s") == "reyle"


# ---------------------------------------------------------------------------------------------
# What a claim says: list markers, words about the text, split numbers


def test_a_list_marker_does_not_end_a_sentence_but_a_number_at_a_sentence_end_does():
    text = "Summary:\n1. The mayor closed the road. 2. Prices rose by 2. Then they fell.\n3) Done."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Summary:", "1. The mayor closed the road.", "2. Prices rose by 2.", "Then they fell.",
        "3) Done."]


@pytest.mark.parametrize(("sentence", "body"), [
    ("1. The mayor closed the road.", "The mayor closed the road."),
    ("- Prices rose.", "Prices rose."),
    ("The passage discusses the flood in Alden.", "the flood in Alden."),
    ("The article reports that 45 people died.", "45 people died."),
    ("According to the article, the river rose.", "the river rose."),
    ("The river rose, according to the report.", "The river rose"),
    ("The report was published on Monday.", "The report was published on Monday."),
])
def test_claim_body_leaves_out_list_markers_and_words_about_the_text(sentence, body):
    start, end = claim_body(sentence)
    assert sentence[start:end] == body


@pytest.mark.parametrize(("text", "values"), [
    ("some 735, 000 people", [735_000]),
    ("1. 1 million people", [1_100_000]),
    ("a 3. 5 % rise", [3.5]),
    ("in 2015, 300 people", [2015, 300]),  # a year and a count stay two numbers
])
def test_numbers_split_by_a_tokeniser_are_joined_in_place(text, values):
    joined = join_split_numbers(text)
    assert len(joined) == len(text)
    assert [q.value for q in extract_numbers(joined)] == values


def test_a_one_letter_scale_may_be_a_unit():
    (quantity,) = extract_numbers("The river rose to 6.2 m on Sunday.")
    assert quantity.readings() == (6_200_000, 6.2)
    (million,) = extract_numbers("It cost 6.2 million.")
    assert million.readings() == (6_200_000,)


def test_a_name_after_a_title_with_a_period_is_a_name():
    assert _entities("Police said Mr. Okafor spoke later.", {stem("police")}) == ["Okafor"]


# ---------------------------------------------------------------------------------------------
# Who does what


def _roles(text: str, verb: str) -> tuple[set[str], set[str]]:
    tokens = tokenize(text)
    i = next(i for i, t in enumerate(tokens) if t.lower == verb)
    assert is_verb_like(tokens, i)
    return roles(tokens, text, i)


@pytest.mark.parametrize(("text", "verb", "agent", "patient"), [
    ("The mayor closed both approaches.", "closed", {"mayor"}, {"approach"}),
    ("Both approaches were closed by the mayor.", "closed", {"mayor"}, {"approach"}),
    ("Mr Okafor, the mayor of Alden, closed the bridge.", "closed",
     {"mr", "okafor", "mayor", "alden"}, {stem("bridge")}),
    ("Forces backed by Russia advanced.", "backed", {"russia"}, {stem("forces")}),
    ("Police arrested the driver, who had fled.", "fled", {"driver"}, set()),
])
def test_roles_are_read_from_word_order_with_the_passive_undone(text, verb, agent, patient):
    assert _roles(text, verb) == (agent, patient)


def test_the_speaker_is_read_before_or_after_the_word_of_speech():
    for text in ("The minister said the levy was fair.", "The levy was fair, said the minister.",
                 "According to the minister, the levy was fair."):
        assert speaker_of(tokenize(text), text) == {"minister"}
    assert speaker_of(tokenize("He said it was fair."), "He said it was fair.") == set()


def test_conditions_carry_their_content_and_polarity():
    text = "They will join if there is a consensus, but not unless coal is phased out."
    assert conditions(tokenize(text), text) == [({"consensus"}, False),
                                                ({"coal", "phas"}, True)]
    text = "She asked if the road was open."
    assert conditions(tokenize(text), text) == []


def test_a_hedge_governs_the_verb_after_it():
    tokens = tokenize("The storm may well reach the coast.")
    assert is_hedged(tokens, 4)
    tokens = tokenize("The storm will reach the coast.")
    assert not is_hedged(tokens, 3)


def test_calendar_words_of_other_languages_are_dates_but_names_stay_names():
    assert extract_dates(tokenize("Le feu a repris le 3 mars et mardi, puis en mai.")) == [
        ("month:3", "mars"), ("day:tue", "mardi"), ("month:5", "mai")]
    assert extract_dates(tokenize("Die Brücke öffnet im Oktober, am Montag.")) == [
        ("month:10", "Oktober"), ("day:mon", "Montag")]
    # Written as names in English text: names, not dates, unless beside a number.
    assert extract_dates(tokenize("Julio Iglesias sang in Santo Domingo for Mei Lin.")) == []
    assert extract_dates(tokenize("The probe reached Mars.")) == []
    verdict = Sources(["The probe will reach the red planet in 2026."]).check(
        "The probe will reach Mars in 2026.")
    assert verdict.label == "unsupported" and "Mars" in (verdict.reason or "")
