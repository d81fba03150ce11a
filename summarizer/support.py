"""Offline support checker: is a claim backed by the source passages? No model, no network.

A claim is split into sentences; each sentence is aligned with the source sentence sharing most
of its content words and scored from lexical evidence (unigram and bigram precision against that
sentence, and the share of its words a token alignment finds in place of other words there) and
from the errors summaries typically make (a name, number or date found in no passage, a negation
the source does not have, a number, colour, kin word... swapped for another of its kind, or a
word for its opposite). The weights come
from a small logistic regression fitted on dev rows of FRANK and SummEdits (evals/fit_support.py,
figures in evals/README.md); a claim scores as its weakest sentence, because one bad sentence
makes it unsupported.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .text import split_sentences

# Fitted by evals/fit_support.py on dev rows only; the order of FEATURES is the order of WEIGHTS.
FEATURES = (
    "uni_sent",  # share of its content words found in the best-aligned source sentence
    "bi_sent",  # share of its bigrams found in the best-aligned source sentence
    "replaced",  # share of its content words standing where that sentence has other words
    "errors",  # 1 if any detector fires: a name, number or date no passage has, a negation
    #            clash, or a swap (a number, colour, kin word... where the source has another)
)
WEIGHTS = (0.686, 0.038, -1.081, -1.308)
BIAS = 0.131
DEFAULT_THRESHOLD = 0.555

# Below this unigram precision the "little overlap" reason is given when nothing sharper applies.
LOW_OVERLAP = 0.5


@dataclass(frozen=True)
class Span:
    """A quotable piece of one passage: `passages[passage][start:end] == text`."""

    passage: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Verdict:
    supported: bool  # score >= threshold
    score: float  # 0..1, higher = better supported
    evidence: Span | None  # source sentence best aligned with the claim (its weakest sentence)
    reason: str | None  # why not supported; None when supported


# ---------------------------------------------------------------------------------------------
# Words

STOPWORDS = frozenset(
    """a an the of in on at to for and or but nor so yet is are was were be been being am by with
    from as that this these those it its it's their theirs his her hers him they them he she we us
    our you your i me my mine who whom whose which what when where why how than then there here
    has have had having do does did done will would shall should can could may might must also
    just only very more most much many some any all each every both such own same other into onto
    about above after before over under again further once up down out off s t if while because
    until against between through during said says say told according one""".split()
)
NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot unable".split())
# "found no evidence" negates the verb before the cue as much as the noun after it.
DETERMINER_NEGATIONS = frozenset("no none nothing nobody".split())
NEGATION_REACH = 3  # a negation bears on the first content word within this many tokens
TITLES = frozenset(
    """mr mrs ms miss dr prof sir dame lord lady rev st jr sr gen col capt lt sgt sen rep gov
    president minister prime chancellor king queen prince princess pope mayor""".split()
)
MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
WEEKDAYS = {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun",
}
# Closed word classes whose members exclude each other: a claim word of a class that the sources
# never use, where they use another member ("white paint" for "blue paint"), is a swap.
EXCLUSIVE_CLASSES = (
    "red orange yellow green blue purple pink white black brown grey gray silver gold violet",
    "man woman men women boy girl husband wife son daughter father mother brother sister uncle "
    "aunt nephew niece grandson granddaughter grandfather grandmother boyfriend girlfriend male "
    "female",
    "minute hour day week month year decade century",
    "first second third fourth fifth sixth seventh eighth ninth tenth last",
    "north south east west northern southern eastern western",
    "spring summer autumn winter",
    "morning afternoon evening night midnight noon",
    "cat dog horse cow pig sheep bird fish lion tiger bear wolf",
    "car bus train plane truck boat ship bicycle motorcycle helicopter",
    "gold silver bronze",
    "murder manslaughter assault robbery theft fraud rape",
    "arrested charged convicted acquitted sentenced released jailed fined",
    "died killed injured wounded hurt survived",
    "won lost drew beat defeated",
    "increase decrease rise fall drop gain loss",
    "million billion thousand hundred trillion",
    "dollar pound euro yen",
)
# Opposites: a claim word whose opposite the aligned source passage uses, and not the word itself.
OPPOSITES = """increase:decrease increase:drop increase:fall rise:fall rise:drop rise:decline
    up:down higher:lower more:less more:fewer most:least before:after earlier:later win:lose
    won:lost victory:defeat guilty:innocent convicted:acquitted accept:reject accepted:rejected
    approve:reject approved:rejected allow:ban allowed:banned support:oppose supported:opposed
    open:closed open:close start:end began:ended first:last largest:smallest biggest:smallest
    large:small big:small old:young old:new rich:poor top:bottom maximum:minimum public:private
    domestic:foreign positive:negative legal:illegal true:false alive:dead survived:died
    arrive:depart buy:sell bought:sold hire:fire hired:fired gain:loss profit:loss strong:weak
    high:low best:worst better:worse success:failure succeeded:failed inside:outside above:below
    over:under early:late male:female man:woman men:women husband:wife son:daughter
    father:mother brother:sister boy:girl agree:disagree always:never all:none
    increased:decreased raised:lowered cut:raised expand:shrink lead:trail ahead:behind
    import:export north:south east:west conservative:liberal republican:democrat
    minority:majority junior:senior upper:lower full:empty safe:dangerous easy:difficult
    cheap:expensive fast:slow rose:fell rose:dropped""".split()

TOKEN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # initialisms: U.S., U.K.
    r"|\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s)?"  # numbers, 3rd, 1990s
    r"|[^\W\d_]+(?:['’][^\W\d_]+)*"  # words, with their apostrophes
)
CONTRACTION = re.compile(r"(?:['’](?:s|ll|re|ve|d|m))$", re.I)


@dataclass(frozen=True)
class Token:
    text: str  # as written, initialism dots removed
    lower: str
    stem: str
    start: int
    end: int


# Irregular past forms, so that "did not fall" meets "fell" and a negation clash can show.
IRREGULAR = {
    past: base
    for base, forms in {
        "fall": "fell fallen", "take": "took taken", "leave": "left", "run": "ran",
        "begin": "began begun", "die": "died dying", "go": "went gone", "come": "came",
        "say": "said", "tell": "told", "make": "made", "give": "gave given", "hold": "held",
        "keep": "kept", "send": "sent", "spend": "spent", "stand": "stood", "see": "saw seen",
        "find": "found", "bring": "brought", "buy": "bought", "build": "built",
        "catch": "caught", "choose": "chose chosen", "drive": "drove driven", "eat": "ate",
        "fight": "fought", "fly": "flew flown", "get": "got gotten", "grow": "grew grown",
        "know": "knew known", "lead": "led", "lose": "lost", "pay": "paid",
        "rise": "rose risen", "sink": "sank sunk", "sell": "sold", "shoot": "shot",
        "speak": "spoke spoken", "strike": "struck stricken", "sweep": "swept",
        "think": "thought", "throw": "threw thrown", "win": "won", "write": "wrote written",
        "break": "broke broken", "cancel": "cancelled canceled cancelling", "meet": "met",
        "wear": "wore worn", "tear": "tore torn", "freeze": "froze frozen", "hide": "hid hidden",
        "ride": "rode ridden", "feel": "felt", "flee": "fled", "seek": "sought",
        "teach": "taught", "lie": "lay lain", "lay": "laid", "sit": "sat", "hang": "hung",
    }.items()
    for past in forms.split()
}


def stem(word: str) -> str:
    """A light suffix-stripping stem, so 'killed', 'kills' and 'killing' meet."""
    word = IRREGULAR.get(word, word)
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # running -> run, but not fall -> fal
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]  # make / making / made-up meet at "mak"
    return word


def tokenize(text: str) -> list[Token]:
    """Word and number tokens with offsets; "n't" becomes "not", possessives are dropped."""
    tokens: list[Token] = []
    for match in TOKEN.finditer(text):
        raw = match.group(0)
        start, end = match.span()
        if "." in raw and raw[0].isalpha():
            raw = raw.replace(".", "")
        raw = CONTRACTION.sub("", raw)
        lower = raw.lower().replace("’", "'")
        if lower.endswith("n't"):
            if len(lower) > 3:
                base = lower[:-3]
                tokens.append(Token(raw[: len(base)], base, stem(base), start, end - 3))
            tokens.append(Token("not", "not", "not", end - 3, end))
            continue
        if lower in ("s", "'"):
            continue
        tokens.append(Token(raw, lower, stem(lower), start, end))
    return tokens


def split_polarity(tokens: Sequence[Token]) -> tuple[set[str], set[str]]:
    """Stems of the content words a negation bears on ('not guilty'), and of the others."""
    negated: set[str] = set()
    plain: set[str] = set()
    reach = 0
    previous: str | None = None
    for token in tokens:
        if token.lower in NEGATIONS or token.stem == "fail":  # "failed to get" = "did not get"
            reach = NEGATION_REACH
            if token.lower in DETERMINER_NEGATIONS and previous:
                negated.add(previous)
            continue
        if is_content(token):
            previous = token.stem
            (negated if reach else plain).add(token.stem)
            reach = 0
        elif reach:
            reach -= 1
    return negated, plain


def is_content(token: Token) -> bool:
    """Words that carry the claim: not stopwords, not punctuation-like single letters."""
    return token.lower not in STOPWORDS and (len(token.lower) > 1 or token.lower.isdigit())


def ngrams(stems: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The set of n-grams of a stem sequence."""
    return {tuple(stems[i : i + n]) for i in range(len(stems) - n + 1)}


CLASS_MEMBERS = [frozenset(stem(w) for w in members.split()) for members in EXCLUSIVE_CLASSES]
CLASSES_OF: dict[str, list[frozenset[str]]] = {}
for _members in CLASS_MEMBERS:
    for _word in _members:
        CLASSES_OF.setdefault(_word, []).append(_members)
OPPOSITE: dict[str, set[str]] = {}
for _pair in OPPOSITES:
    _a, _b = (stem(w) for w in _pair.split(":"))
    OPPOSITE.setdefault(_a, set()).add(_b)
    OPPOSITE.setdefault(_b, set()).add(_a)


# ---------------------------------------------------------------------------------------------
# Sentences

# ---------------------------------------------------------------------------------------------
# Numbers and dates

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "dozen": 12,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
ORDINALS = {
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20, "hundredth": 100,
}
SCALES = {
    "hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
    "k": 1e3, "m": 1e6, "mn": 1e6, "bn": 1e9, "b": 1e9, "tn": 1e12,
}
NUMERAL = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:(?:,|\s|\u202f|\u00a0)\d{3})+(?![\d.])|\d+(?:\.\d+)?)"
    r"(?:(?:st|nd|rd|th|s)\b)?"
    r"(?:\s*-?\s*(hundred|thousand|million|billion|trillion|bn|mn|tn|k|m|b)\b)?"
    r"(?:\s*(?:%|per\s?cent\b|percent\b))?",
    re.I,
)
NUMBER_WORD = re.compile(
    r"\b(?:(?:" + "|".join(sorted({*UNITS, *TENS, *ORDINALS, "hundred", "thousand", "million",
                                    "billion", "trillion", "and", "a"}, key=len, reverse=True))
    + r")(?:[\s-]+|\b))+",
    re.I,
)


@dataclass(frozen=True)
class Quantity:
    value: float
    text: str


def parse_number(text: str) -> float | None:
    """The value of one number as written: '45', '45,000', '45 000', 'forty-five', '4.5m'."""
    found = extract_numbers(text)
    return found[0].value if len(found) == 1 else None


def extract_numbers(text: str) -> list[Quantity]:
    """Every number in a text, in digits or words, scaled by 'million', 'bn' and the like."""
    found: list[tuple[int, Quantity]] = []
    taken: list[tuple[int, int]] = []  # "1.2 million" is one number, not 1.2 and a million
    for match in NUMERAL.finditer(text):
        taken.append(match.span())
        digits = re.sub(r"[,\s\u202f\u00a0]", "", match.group(1))
        value = float(digits)
        if match.group(2):
            value *= SCALES[match.group(2).lower()]
        found.append((match.start(), Quantity(_tidy(value), match.group(0).strip())))
    for match in NUMBER_WORD.finditer(text):
        if any(start <= match.start() < end for start, end in taken):
            continue
        quantity = _words_to_quantity(match.group(0))
        if quantity is not None:
            found.append((match.start(), quantity))
    return [quantity for _, quantity in sorted(found, key=lambda item: item[0])]


def _words_to_quantity(phrase: str) -> Quantity | None:
    """'forty-five' -> 45, 'two million' -> 2e6; lone 'one' and 'a' are not quantities."""
    words = [w for w in re.split(r"[\s-]+", phrase.lower()) if w]
    while words and words[-1] in ("and", "a"):
        words.pop()
    while words and words[0] in ("and", "a"):
        words.pop(0)
    if not words or words == ["one"]:
        return None  # "one of the", "no one": a pronoun far more often than a count
    total, current = 0.0, 0.0
    for word in words:
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word in ORDINALS:
            current += ORDINALS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in SCALES:
            total += (current or 1) * SCALES[word]
            current = 0
    text = re.sub(r"^(?:(?:a|and)[\s-]+)+|(?:[\s-]+(?:a|and))+$", "", phrase.strip(" -"),
                  flags=re.I)
    return Quantity(_tidy(total + current), text)


def _tidy(value: float) -> float:
    return float(round(value, 6))


def number_found(value: float, known: Iterable[float]) -> bool:
    """A claim number is backed if a source number equals it, or rounds to it ('about 1.2m')."""
    for other in known:
        if value == other:
            return True
        if value and other and _rounds_to(other, value):
            return True
    return False


def _rounds_to(precise: float, rounded: float) -> bool:
    """Whether `precise` rounds to `rounded` at the precision `rounded` is written with."""
    mantissa = f"{abs(rounded):.15g}".split("e")[0]
    significant = len(mantissa.replace(".", "").strip("0")) or 1
    if significant >= 6 or abs(precise - rounded) > abs(rounded) * 0.1:
        return False
    magnitude = 10 ** (math.floor(math.log10(abs(rounded))) - significant + 1)
    return abs(precise - rounded) <= magnitude / 2


def number_units(tokens: Sequence[Token], text: str) -> list[tuple[float, str, str]]:
    """(value, stem of the noun counted, text) for numbers a noun closely follows: '35 years'."""
    pairs = []
    i = 0
    while i < len(tokens):
        if not _is_number_token(tokens[i]) or tokens[i].lower in SCALES:
            i += 1
            continue
        j = i + 1  # "1.2 million", "forty-five thousand": one number
        while j < len(tokens) and _is_number_token(tokens[j]):
            j += 1
        value = parse_number(text[tokens[i].start : tokens[j - 1].end])
        for unit in tokens[j : j + 3] if value is not None else ():
            if is_content(unit):
                pairs.append((value, unit.stem, text[tokens[i].start : unit.end]))
                break
            if unit.lower in ("of", "and", "to", "or"):  # "30 of the", "20 to 30": no unit
                break
        i = j
    return pairs


def _is_number_token(token: Token) -> bool:
    word = token.lower
    return word[:1].isdigit() or word in UNITS or word in TENS or word in SCALES \
        or word == "hundred"


def extract_dates(tokens: Sequence[Token]) -> list[tuple[str, str]]:
    """Month and weekday mentions as (key, text): 'Sept.' -> ('month:9', 'Sept')."""
    dates = []
    for i, token in enumerate(tokens):
        if token.lower in WEEKDAYS:
            dates.append((f"day:{WEEKDAYS[token.lower]}", token.text))
        elif token.lower in MONTHS and _is_month(tokens, i):
            dates.append((f"month:{MONTHS[token.lower]}", token.text))
    return dates


def _is_month(tokens: Sequence[Token], i: int) -> bool:
    """'May' the month, not 'may' the verb; 'mar'/'dec' only beside a number."""
    token = tokens[i]
    ambiguous = token.lower in ("may", "mar", "jan", "sep", "dec", "oct", "nov", "aug", "jun")
    if not ambiguous:
        return True
    near = [t.lower for t in tokens[max(0, i - 1) : i + 2] if t is not token]
    beside_number = any(t[:1].isdigit() for t in near)
    return beside_number or (token.lower == "may" and token.text == "May" and i > 0
                             and near[0] in ("in", "since", "until", "of", "early", "late"))


# ---------------------------------------------------------------------------------------------
# Names


def find_entities(tokens: Sequence[Token], text: str, lowercase_vocab: set[str]) -> list[list[int]]:
    """Runs of capitalised tokens (indexes) that look like names; titles left out.

    A sentence-initial word counts only when a capitalised word follows it and the sources never
    write it in lower case: "Police said" and "Shares fell" are not names, "Pierre Poilievre" is.
    """
    runs: list[list[int]] = []
    current: list[int] = []
    for i, token in enumerate(tokens):
        if _is_name_token(tokens, i, text, lowercase_vocab):
            current.append(i)
        elif current and token.lower in ("of", "de", "the", "&", "and") and i + 1 < len(tokens) \
                and tokens[i + 1].text[:1].isupper() and tokens[i + 1].lower not in STOPWORDS:
            continue  # "Bank of England": keep the run open across "of"
        else:
            if current:
                runs.append(current)
            current = []
            continue
        if len(current) > 1 and _punctuated(text, tokens[current[-2]], tokens[i]):
            runs.append(current[:-1])  # "Ukraine, U.K.": a comma ends a name
            current = [i]
    if current:
        runs.append(current)
    return runs


def _punctuated(text: str, before: Token, after: Token) -> bool:
    """Punctuation between two capitalised words; the period of an initial ('J. K.') is not."""
    between = text[before.end : after.start]
    if "." in between and len(before.text) > 1:
        return True
    return bool(re.search(r"[,;:()\"“”!?/|]", between))


def _is_name_token(tokens: Sequence[Token], i: int, text: str, lowercase_vocab: set[str]) -> bool:
    token = tokens[i]
    if not token.text[:1].isupper() or token.lower in TITLES or token.lower in STOPWORDS:
        return False
    if token.lower in MONTHS or token.lower in WEEKDAYS or token.lower in NEGATIONS:
        return False
    if _starts_sentence(tokens, i, text):
        # "Shares fell", "Previously, ...": a common word capitalised by its position. Alone,
        # an unknown first word is more often that than a name; "Pierre Poilievre said" is kept.
        followed = i + 1 < len(tokens) and tokens[i + 1].text[:1].isupper() \
            and not _punctuated(text, token, tokens[i + 1])
        return followed and token.stem not in lowercase_vocab and not token.lower.endswith("ly")
    return True


def _starts_sentence(tokens: Sequence[Token], i: int, text: str) -> bool:
    if i == 0:
        return True
    between = text[tokens[i - 1].end : tokens[i].start]
    return any(ch in between for ch in ".!?:\"“‘\n")


# Names news writes several ways that share no letters: a word of one group stands for the others.
ALIAS_GROUPS = (
    ("us", "usa", "america", "american", "americans", "united states"),
    ("uk", "britain", "british", "briton", "britons", "united kingdom"),
    ("un", "united nations"),
    ("eu", "european union"),
    ("uae", "emirates", "emirati"),
    ("nhs", "national health service"),
    ("fbi", "federal bureau of investigation"),
    ("cia", "central intelligence agency"),
    ("nasa", "space agency"),
    # Demonyms that share too short a prefix with their country to be matched by spelling.
    ("france", "french"), ("spain", "spanish"), ("poland", "polish"), ("turkey", "turkish"),
    ("netherlands", "holland", "dutch"), ("switzerland", "swiss"), ("wales", "welsh"),
    ("ireland", "irish"), ("scotland", "scottish", "scot", "scots"), ("england", "english"),
    ("denmark", "danish", "dane"), ("sweden", "swedish", "swede"), ("finland", "finnish"),
    ("norway", "norwegian"), ("philippines", "filipino"), ("thailand", "thai"),
    ("new zealand", "kiwi"), ("germany", "german"), ("china", "chinese"),
)
ALIASES = {name: group for group in ALIAS_GROUPS for name in group}


def initials(words: Sequence[str]) -> str:
    """'United Nations' -> 'un': the acronym a name is often shortened to."""
    return "".join(w[0] for w in words if w and w not in ("of", "the", "and", "for", "&"))


# ---------------------------------------------------------------------------------------------
# The sources


@dataclass
class _SourceSentence:
    passage: int
    start: int
    end: int
    index: int  # position in Sources.sentences
    stems: list[str]
    is_content: list[bool]  # per stem
    content: set[str]
    bigrams: set[tuple[str, ...]]
    negated: set[str]  # stems a negation bears on
    plain: set[str]  # content stems asserted without negation


@dataclass
class SentenceCheck:
    """What one claim sentence was measured against, and what went wrong."""

    text: str
    features: dict[str, float]
    evidence: _SourceSentence | None
    novel_entities: list[str] = field(default_factory=list)
    novel_numbers: list[str] = field(default_factory=list)
    novel_dates: list[str] = field(default_factory=list)
    novel_words: list[str] = field(default_factory=list)
    swaps: list[str] = field(default_factory=list)  # "'30 years' where the source has ..."
    negation: str | None = None  # "negates the source" or "drops a negation in the source"
    score: float = 0.0


class Sources:
    """Passages analysed once, so that many claims can be checked against them cheaply."""

    def __init__(self, passages: Sequence[str]) -> None:
        self.passages = list(passages)
        self.sentences: list[_SourceSentence] = []
        self.stems: set[str] = set()
        self.lower: set[str] = set()
        self.numbers: set[float] = set()
        self.dates: set[str] = set()
        self.acronyms: set[str] = set()
        self.name_prefixes: dict[str, set[str]] = {}
        self.lowercase_vocab: set[str] = set()
        self.units: dict[str, set[float]] = {}  # noun stem -> the numbers counting it
        self.text_lower = "\n".join(" ".join(p.lower().split()) for p in self.passages)
        self._index: dict[str, list[int]] = {}
        for number, passage in enumerate(self.passages):
            self._add_passage(number, passage)

    def _add_passage(self, number: int, passage: str) -> None:
        tokens = tokenize(passage)
        for token in tokens:
            if token.text[:1].islower():
                self.lowercase_vocab.add(token.stem)
        for start, end in split_sentences(passage) or [(0, len(passage))]:
            self._add_sentence(number, start, end, [t for t in tokens
                                                    if start <= t.start < end], passage)
        self.numbers.update(quantity.value for quantity in extract_numbers(passage))
        for value, unit, _ in number_units(tokens, passage):
            self.units.setdefault(unit, set()).add(value)
        # Every month-like word counts in the sources: a missed month would be a false alarm.
        self.dates.update(f"month:{MONTHS[t.lower]}" for t in tokens if t.lower in MONTHS)
        self.dates.update(f"day:{WEEKDAYS[t.lower]}" for t in tokens if t.lower in WEEKDAYS)

    def _add_sentence(self, number: int, start: int, end: int, tokens: list[Token],
                      passage: str) -> None:
        stems = [t.stem for t in tokens]
        content = {t.stem for t in tokens if is_content(t)}
        negated, plain = split_polarity(tokens)
        index = len(self.sentences)
        sentence = _SourceSentence(number, start, end, index, stems,
                                   [is_content(t) for t in tokens], content, ngrams(stems, 2),
                                   negated, plain)
        self.sentences.append(sentence)
        for word in content:
            self._index.setdefault(word, []).append(index)
        self.stems.update(stems)
        self.lower.update(t.lower for t in tokens)
        for run in find_entities(tokens, passage, set()):
            words = [tokens[i].lower for i in run]
            if len(words) > 1:
                self.acronyms.add(initials(words))
            for word in words:
                self.name_prefixes.setdefault(word[:4], set()).add(word)

    # -- claims ------------------------------------------------------------------------------

    def check(self, claim: str, threshold: float = DEFAULT_THRESHOLD) -> Verdict:
        """Whether the claim is supported by these passages, with evidence or a reason."""
        checks = self.analyse(claim)
        if not checks:
            return Verdict(supported=False, score=0.0, evidence=None, reason="empty claim")
        weakest = min(checks, key=lambda c: c.score)
        supported = weakest.score >= threshold
        return Verdict(
            supported=supported,
            score=weakest.score,
            evidence=self._span(weakest.evidence),
            reason=None if supported else explain(weakest),
        )

    def analyse(self, claim: str) -> list[SentenceCheck]:
        """One scored SentenceCheck per sentence of the claim."""
        checks = []
        for start, end in split_sentences(claim):
            sentence = self.measure(claim[start:end])
            if sentence is not None:
                sentence.score = score(sentence.features)
                checks.append(sentence)
        return checks

    def measure(self, sentence: str) -> SentenceCheck | None:
        """Feature values of one claim sentence against the sources."""
        tokens = tokenize(sentence)
        if not tokens:
            return None
        stems = [t.stem for t in tokens]
        content = [t for t in tokens if is_content(t)]
        content_stems = {t.stem for t in content}
        best, close = self._align(content_stems)
        check = SentenceCheck(text=sentence, features={}, evidence=best)
        check.novel_words = _unique(t.text for t in content if t.stem not in self.stems
                                    and t.lower not in self.lower)
        check.novel_entities = self._novel_entities(tokens, sentence)
        check.novel_numbers = _unique(q.text for q in extract_numbers(sentence)
                                      if not number_found(q.value, self.numbers))
        check.novel_dates = _unique(text for key, text in extract_dates(tokens)
                                    if key not in self.dates)
        check.negation = self._polarity_clash(tokens, content_stems, best, close)
        check.swaps = self._swaps(tokens, sentence, best)
        bigrams = ngrams(stems, 2)
        # The detectors share one weight: each alone fires too rarely in dev rows to be fitted.
        errors = (check.novel_entities or check.novel_numbers or check.novel_dates
                  or check.negation or check.swaps)
        check.features = {
            "uni_sent": _share(content_stems, best.content if best else set()),
            "bi_sent": _share(bigrams, best.bigrams if best else set()),
            "replaced": _replaced_share(tokens, best),
            "errors": float(bool(errors)),
        }
        return check

    def _swaps(self, tokens: list[Token], sentence: str,
               best: _SourceSentence | None) -> list[str]:
        """Words standing for another of their kind in the sources: '30 years' for '35 years',
        'white' for 'blue', 'rise' where the aligned passage says 'fall'."""
        swaps = []
        for value, unit, text in number_units(tokens, sentence):
            known = self.units.get(unit)
            if known and not number_found(value, known):
                swaps.append(f"number '{text}' differs from the sources")
        near: set[str] = set()
        if best is not None:  # the aligned sentence and its neighbours
            for source in self.sentences[max(0, best.index - 1) : best.index + 2]:
                near.update(source.stems)
        for token in tokens:
            word = token.stem
            if word not in near and OPPOSITE.get(word, set()) & near:
                # the more telling reason first: "fell" for "rose" is an opposite, not a kin
                swaps.append(f"'{token.text}' where the source has its opposite")
                continue
            for members in CLASSES_OF.get(word, ()):
                others = members - {word}
                if (word not in self.stems and others & self.stems) or (word not in near
                                                                       and others & near):
                    swaps.append(f"'{token.text}' where the source has another of its kind")
                    break
        return _unique(swaps)

    def _align(self, content: set[str]) -> tuple[_SourceSentence | None, list[_SourceSentence]]:
        """The source sentence sharing most claim words, and those nearly as close to it."""
        overlap: dict[int, int] = {}
        for word in content:
            for index in self._index.get(word, ()):
                overlap[index] = overlap.get(index, 0) + 1
        if not overlap:
            return (self.sentences[0] if self.sentences else None), []
        ranked = sorted(overlap, key=lambda i: (-overlap[i], i))
        best = self.sentences[ranked[0]]
        close = [self.sentences[i] for i in ranked[:5] if overlap[i] >= 0.75 * overlap[ranked[0]]]
        return best, close

    def _polarity_clash(self, tokens: list[Token], content: set[str], best: _SourceSentence | None,
                        close: list[_SourceSentence]) -> str | None:
        """Whether the claim negates what its source sentence asserts, or the reverse."""
        if best is None or _share(content, best.content) < 0.5:
            return None  # too loosely aligned to compare polarities
        negated, plain = split_polarity(tokens)
        also_negated = set().union(*(s.negated for s in close)) if close else set()
        if negated & best.negated:
            return None  # both negate the same word: same polarity, however phrased
        if any(h in best.plain and h not in also_negated for h in negated):
            return "negates the source"
        if any(h in plain and h not in negated and h not in best.plain for h in best.negated):
            return "drops a negation in the source"
        return None

    def _novel_entities(self, tokens: list[Token], sentence: str) -> list[str]:
        """Names in the sentence that no passage mentions (in full, by a part, or by initials)."""
        novel = []
        for run in find_entities(tokens, sentence, self.lowercase_vocab):
            words = [tokens[i].lower for i in run]
            name = sentence[tokens[run[0]].start : tokens[run[-1]].end]
            if " ".join(name.lower().split()) in self.text_lower:
                continue
            missing = [w for w in words if w not in ("of", "de", "the", "&", "and")
                       and not self._knows_name(w)]
            if missing and not (len(words) > 1 and initials(words) in self.lower):
                novel.append(name)
        return _unique(novel)

    def _knows_name(self, word: str) -> bool:
        """A name word is known if the sources use it, its initials, or a close form (Russia/n)."""
        if word in self.lower or word in self.acronyms:
            return True
        if any(alias in self.lower or alias in self.text_lower for alias in ALIASES.get(word, ())):
            return True
        for known in self.name_prefixes.get(word[:4], ()):
            shorter = min(len(known), len(word))
            common = len(_common_prefix(known, word))
            if common >= 4 and common >= shorter - 1:
                return True
        return False

    def _span(self, sentence: _SourceSentence | None) -> Span | None:
        if sentence is None:
            return None
        text = self.passages[sentence.passage][sentence.start : sentence.end]
        return Span(sentence.passage, sentence.start, sentence.end, text)


def check(claim: str, passages: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> Verdict:
    """Check one claim against passages; build a `Sources` once to check many claims."""
    return Sources(passages).check(claim, threshold)


def score(features: dict[str, float]) -> float:
    """The fitted logistic model: probability that a claim sentence is supported."""
    z = BIAS + sum(w * features[name] for name, w in zip(FEATURES, WEIGHTS, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def explain(sentence: SentenceCheck) -> str:
    """Why a sentence is not supported, in words: every specific error, else the weak overlap."""
    reasons = []
    if sentence.novel_entities:
        reasons.append(f"names {_quote(sentence.novel_entities)}, found in no passage")
    if sentence.novel_numbers:
        reasons.append(f"number {_quote(sentence.novel_numbers)} not in the sources")
    if sentence.novel_dates:
        reasons.append(f"date {_quote(sentence.novel_dates)} not in the sources")
    if sentence.negation:
        reasons.append(sentence.negation)
    if sentence.swaps:
        reasons.append("; ".join(sentence.swaps))
    if reasons:
        return "; ".join(reasons)
    if sentence.novel_words:
        return f"words {_quote(sentence.novel_words[:3])} not in the sources"
    if sentence.features.get("uni_sent", 1.0) < LOW_OVERLAP:
        return "little overlap with the sources"
    return "weakly aligned with the sources"


def _replaced_share(tokens: Sequence[Token], best: _SourceSentence | None) -> float:
    """Share of the content words that a token alignment with the source sentence finds in place
    of other content words: 'police arrested the driver' for 'police arrested the owner'."""
    content = sum(1 for t in tokens if is_content(t))
    if not content or best is None:
        return 0.0
    matcher = difflib.SequenceMatcher(None, [t.stem for t in tokens], best.stems, autojunk=False)
    replaced = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "replace" and any(best.is_content[j1:j2]):
            replaced += sum(1 for t in tokens[i1:i2] if is_content(t))
    return replaced / content


def _quote(items: Sequence[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _share(part: set, whole: set) -> float:
    """The fraction of `part` found in `whole` (1.0 for an empty part: nothing to contradict)."""
    if not part:
        return 1.0
    return len(part & whole) / len(part)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
