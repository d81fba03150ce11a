"""Text as every stage reads it: calendar words, one sentence splitter (with character
offsets), words (tokens, stems, stopwords, negations, opposites), numbers and dates, and names."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# ---------------------------------------------------------------------------------------------
# Calendar words

MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")
# English abbreviations of months: "sept" as well as "sep".
MONTH_ABBREVIATIONS = {**{name[:3]: n for n, name in enumerate(MONTH_NAMES, 1)}, "sept": 9}
# Months and weekdays in the other languages the news comes in most, January or Monday first,
# so that a date in a French or German report is compared as one in English is ("mardi"
# and "Tuesday" alike, "mercredi" against "mardi" a different day).
OTHER_MONTH_NAMES = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",  # fr
    "januar februar märz april mai juni juli august september oktober november dezember",  # de
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre",  # it
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "januari februari maart april mei juni juli augustus september oktober november december",
)
OTHER_WEEKDAY_NAMES = (
    "lundi mardi mercredi jeudi vendredi samedi dimanche",  # fr
    "montag dienstag mittwoch donnerstag freitag samstag sonntag",  # de
    "lunes martes miércoles jueves viernes sábado domingo",  # es
    "lunedì martedì mercoledì giovedì venerdì sabato domenica",  # it
    # pt: "segunda-feira"... read as "segunda" (also "second") is left out; sábado, domingo
    # are Spanish too
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",  # nl
)
# Of those, words English text writes as names ("Mars", "Julio", "Santo Domingo", "Mei Lin"):
# dates only where written in lower case, as their own languages write them, or beside a number.
NAME_LIKE_CALENDAR = frozenset("mars mai mayo maio julio juli domingo sabato mei".split())
# A month's number by its name (in any of those languages) or English abbreviation.
MONTHS = {
    **{name: n for names in OTHER_MONTH_NAMES for n, name in enumerate(names.split(), 1)},
    **{name: n for n, name in enumerate(MONTH_NAMES, 1)},
    **MONTH_ABBREVIATIONS,
}
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The key a mention is compared by: the English name's first three letters.
WEEKDAYS = {
    **{name: WEEKDAY_NAMES[n][:3] for names in OTHER_WEEKDAY_NAMES
       for n, name in enumerate(names.split())},
    **{name: name[:3] for name in WEEKDAY_NAMES},
}
# The same as written in dates and datelines, any case: "Sept.", "March", "Tues".
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?"


# ---------------------------------------------------------------------------------------------
# Sentences

# Abbreviations that end in a period without ending the sentence: "Mr.", "Sept." (not "May.").
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft gen col capt lt sgt sen rep gov rev no vs etc inc ltd co
    corp dept est approx fig""".split()
) | (MONTH_ABBREVIATIONS.keys() - set(MONTH_NAMES))
# The first stop of a run only ("?!", "..."): tried from each stop of a long run, the pattern
# would scan the run again each time.
SENTENCE_BREAK = re.compile(
    r"(?<![.!?])[.!?]+['\"’”)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])"  # "end. Next"
    r"|(?<=[a-z)][.!?])(?=[A-Z][a-z])"  # "end.Next", glued by careless scraping
    r"|(?<=\s[.!?])\s+"  # "end . next": tokenised, lower-cased text (CNN/DM-style)
    r"|\n\s*\n?"  # line breaks end a sentence: headlines, bullet lists
)

# How a whole sentence ends: its stop, then any closing quotes or brackets.
SENTENCE_END = re.compile(r"[.!?…]['\"”’)\]]*$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a text, surrounding whitespace left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_BREAK.finditer(text):
        cut = match.start() + len(match.group(0).rstrip())
        if match.group(0).strip() and (_ends_in_abbreviation(text, start, match.start())
                                       or is_list_marker(text, start, match.start())):
            continue
        _add_span(text, start, cut, spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


# No abbreviation or run of initials is longer; the splitter looks no further back than this, so
# that a sentence of many "Mr." and "U.S." costs no more than its length.
ABBREVIATION_REACH = 64
_LAST_WORD = re.compile(r"[A-Za-z.]+$")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.")


def _ends_in_abbreviation(text: str, start: int, stop: int) -> bool:
    """'Mr. Smith', 'U.S. troops', 'Jan. 5': a period that does not end the sentence."""
    if text[stop] != ".":
        return False
    reach = max(start, stop - ABBREVIATION_REACH)
    word = _LAST_WORD.search(text, reach, stop)
    if not word or (word.start() == reach > start and text[reach - 1] in _WORD_CHARS):
        return False  # no word, or a run of letters and periods too long to be one
    last = word.group(0)
    if last.lower().strip(".") in ABBREVIATIONS:
        return True
    return bool(re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", last))  # initials: U.S, J


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    chunk = text[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    stripped = chunk.strip()
    if any(ch.isalnum() for ch in stripped):
        spans.append((start + lead, start + lead + len(stripped)))


# ---------------------------------------------------------------------------------------------
# Words

QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "`": "'", "´": "'"})


def normalise(text: str) -> str:
    """Text as compared for sameness: case, quote style and whitespace ignored."""
    return " ".join(text.translate(QUOTES).lower().split())


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
    "arrested charged convicted acquitted released fined",
    "died killed injured wounded hurt survived",
    "won lost drew",
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


@lru_cache(maxsize=1 << 16)  # news repeats its words: each is stemmed once
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
    return is_content_word(token.lower)


def is_content_word(word: str) -> bool:
    """`is_content` for a lower-case word."""
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


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
# Every number word spelt out, by its value: "forty" and "40" are one figure.
NUMBER_WORDS = {**UNITS, **TENS, **{w: SCALES[w] for w in
                                   ("hundred", "thousand", "million", "billion", "trillion")}}
# Round numbers in the plural ("hundreds of homes"): a figure to compare, though of no one value.
ROUGH_NUMBERS = frozenset("dozens hundreds thousands millions billions".split())
NUMERAL = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:(?:,|\s|\u202f|\u00a0)\d{3})+(?![\d.])|\d+(?:\.\d+)?)"
    r"(?:(?:st|nd|rd|th|s)\b)?"
    r"(?:\s*-?\s*(hundred|thousand|million|billion|trillion|bn|mn|tn|k|m|b)\b)?"
    r"(?:\s*(?:%|per\s?cent\b|percent\b))?",
    re.I,
)
NUMBER_WORD = re.compile(
    r"\b(?:(?:" + "|".join(sorted({*NUMBER_WORDS, *ORDINALS, "and", "a"}, key=len, reverse=True))
    + r")(?:[\s-]+|\b))+",
    re.I,
)


@dataclass(frozen=True)
class Quantity:
    value: float
    text: str
    # The value without a one-letter scale that may be a unit: '6.2 m' is 6.2 million or 6.2
    # metres, '5k' 5,000 or 5 km.
    bare: float | None = None

    def readings(self) -> tuple[float, ...]:
        """Every value the number may have."""
        return (self.value,) if self.bare is None else (self.value, self.bare)


def parse_number(text: str) -> float | None:
    """The value of one number as written: '45', '45,000', '45 000', 'forty-five', '4.5m'."""
    found = extract_numbers(text)
    return found[0].value if len(found) == 1 else None


def extract_numbers(text: str) -> list[Quantity]:
    """Every number in a text, in digits or words, scaled by 'million', 'bn' and the like."""
    found: list[tuple[int, Quantity]] = []
    # "1.2 million" is one number, not 1.2 and a million: the spans of the numerals, in order
    starts: list[int] = []
    ends: list[int] = []
    for match in NUMERAL.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
        digits = re.sub(r"[,\s\u202f\u00a0]", "", match.group(1))
        value = bare = float(digits)
        if match.group(2):
            value *= SCALES[match.group(2).lower()]
        ambiguous = match.group(2) is not None and len(match.group(2)) == 1
        found.append((match.start(), Quantity(_tidy(value), match.group(0).strip(),
                                               _tidy(bare) if ambiguous else None)))
    for match in NUMBER_WORD.finditer(text):
        before = bisect.bisect_right(starts, match.start()) - 1  # the numeral it may be inside
        if before >= 0 and match.start() < ends[before]:
            continue
        quantity = _words_to_quantity(match.group(0))
        if quantity is not None:
            found.append((match.start(), quantity))
    return [quantity for _, quantity in sorted(found, key=lambda item: item[0])]


def _words_to_quantity(phrase: str) -> Quantity | None:
    """'forty-five' -> 45, 'two million' -> 2e6; lone 'one' and 'a' are not quantities."""
    spans = [m.span() for m in re.finditer(r"[^\s-]+", phrase)]
    every = [phrase[start:end].lower() for start, end in spans]
    first, last = 0, len(every)  # the words kept: "and" and "a" around them left out
    while first < last and every[last - 1] in ("and", "a"):
        last -= 1
    while first < last and every[first] in ("and", "a"):
        first += 1
    words = every[first:last]
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
    return Quantity(_tidy(total + current), phrase[spans[first][0] : spans[last - 1][1]])


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
    return bool(abs(precise - rounded) <= magnitude / 2)


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
        if value is not None:
            for k, unit in enumerate(tokens[j : j + 3], j):
                if re.search(r"[,;:()]", text[tokens[k - 1].end : unit.start]):
                    break  # "Copeland, 28, was stabbed": an age, not 28 stabbings
                if is_content(unit):
                    age = k + 1 < len(tokens) and tokens[k + 1].lower == "old"
                    if not age:  # "the 27-year-old": an age, not a count of years
                        pairs.append((value, unit.stem, text[tokens[i].start : unit.end]))
                    break
                if unit.lower in ("of", "and", "to", "or"):  # "30 of the", "20 to 30": no unit
                    break
        i = j
    return pairs


def _is_number_token(token: Token) -> bool:
    word = token.lower
    return word[:1].isdigit() or word in NUMBER_WORDS or word in SCALES


def is_figure(word: str) -> bool:
    """A lower-case word that gives a number: digits ('40', '3rd', '1,200') or a number word;
    not 'one', far more often a pronoun ('one of them') than a count."""
    return word[:1].isdigit() or word in ROUGH_NUMBERS or (word in NUMBER_WORDS and word != "one")


def figure(word: str) -> str:
    """A figure as compared: a number word as digits ('forty' -> '40'), digits without commas."""
    value = NUMBER_WORDS.get(word)
    return word.replace(",", "") if value is None else str(int(value))


def extract_dates(tokens: Sequence[Token]) -> list[tuple[str, str]]:
    """Month and weekday mentions as (key, text): 'Sept.' -> ('month:9', 'Sept')."""
    dates = []
    for i, token in enumerate(tokens):
        if not is_calendar(tokens, i):
            continue
        if token.lower in WEEKDAYS:
            dates.append((f"day:{WEEKDAYS[token.lower]}", token.text))
        elif token.lower in MONTHS and _is_month(tokens, i):
            dates.append((f"month:{MONTHS[token.lower]}", token.text))
    return dates


def is_calendar(tokens: Sequence[Token], i: int) -> bool:
    """Whether the token may be a weekday or month name: any one of them, but a name-like one
    ("Mars", "Julio") only in lower case or beside a number."""
    token = tokens[i]
    if token.lower not in WEEKDAYS and token.lower not in MONTHS:
        return False
    if token.lower not in NAME_LIKE_CALENDAR or token.text == token.lower:
        return True
    return any(t.lower[:1].isdigit() for t in tokens[max(0, i - 1) : i + 2] if t is not token)


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

# Small words that may stand inside a name: "Bank of England", "Marks & Spencer".
NAME_CONNECTORS = frozenset({"of", "de", "the", "&", "and"})
# Capitalised words that are never part of a name.
NOT_NAMES = STOPWORDS | TITLES | NEGATIONS | (MONTHS.keys() - NAME_LIKE_CALENDAR) | \
    (WEEKDAYS.keys() - NAME_LIKE_CALENDAR)
# After one of these, a word may be capitalised by its position alone.
SENTENCE_OPENERS = ".!?:\"“‘\n"


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
        elif current and token.lower in NAME_CONNECTORS and i + 1 < len(tokens) \
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
    if not token.text[:1].isupper() or token.lower in NOT_NAMES:
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
    if tokens[i - 1].lower in ABBREVIATIONS or tokens[i - 1].lower in TITLES:
        return False  # 'Mr. Okafor': the period is the title's
    between = text[tokens[i - 1].end : tokens[i].start]
    return any(ch in SENTENCE_OPENERS for ch in between)


# `find_names` compares whole names, not their words: "and" between two names ("Russia and
# Syria") joins two names far more often than it stands inside one.
RUN_CONNECTORS = NAME_CONNECTORS - {"and"}
RUN_BREAKS = NOT_NAMES - RUN_CONNECTORS
# A capitalised word (or initialism) and the capitalised words after it, connectors between.
_CAPITAL = r"(?:(?:[A-Z]\.){2,}|[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['’-][^\W\d_]+)*)"
NAME_RUN = re.compile(rf"{_CAPITAL}(?:[ \t]+(?:(?:{'|'.join(sorted(RUN_CONNECTORS))})[ \t]+)?"
                      rf"{_CAPITAL})*")


def find_names(text: str, lowercase: set[str]) -> list[str]:
    """Names a text mentions, lower-cased and each as often as mentioned: 'aldermoor county'.

    `find_entities` at a fraction of its cost (it builds a Token per word), for comparing many
    texts: a word that is never a name (a title, a month, a stopword...) splits a run, and a
    capitalised first word of a sentence counts only before another capitalised word and when
    `lowercase` (stems the text writes in lower case) lacks it ("Police said" is no name,
    "Tomas Reyle said" is). A name news writes
    several ways is given as the first of its aliases ("U.K." and "Britain" meet).
    """
    names = []
    for match in NAME_RUN.finditer(text):
        run = [plain_word(w) for w in match.group(0).split()]
        if _opens_sentence(text, match.start()) and (
                len(run) == 1 or stem(run[0]) in lowercase or run[0].endswith("ly")):
            run = run[1:]
        part: list[str] = []
        for word in [*run, ""]:
            if word and word not in RUN_BREAKS:
                if word not in RUN_CONNECTORS or part:
                    part.append(word)
                continue
            while part and part[-1] in RUN_CONNECTORS:
                part.pop()
            if part:
                name = " ".join(w for w in part if w not in RUN_CONNECTORS)
                group = ALIASES.get(name)
                names.append(group[0] if group else name)
            part = []
    return names


def _opens_sentence(text: str, start: int) -> bool:
    """`_starts_sentence` for a word known by its offset alone: the few characters before it."""
    before = text[max(0, start - 3) : start].rstrip(" \t")
    return not before or before[-1] in SENTENCE_OPENERS


def plain_word(word: str) -> str:
    """A word as `tokenize` compares it, where no Token is built: lower case, initialism dots
    and a possessive "'s" dropped."""
    word = word.lower().replace("’", "'")
    if "." in word:
        word = word.replace(".", "")
    return word[:-2] if word.endswith("'s") else word


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
# What a claim sentence says, past its list marker and its words about the text

# "1.", "2)", "(3)", "-", "*", "•" opening a line: the place in a list, not a number of the claim.
LIST_MARKER = re.compile(r"(?:\(?\d{1,2}[.)]|[-*•–—])[ \t]+(?=\S)")
# "The passage discusses", "According to the article,": words about the text, not the story.
_TEXT = r"(?:passage|article|text|story|report|piece|document|source|author|writer|excerpt)"
META_LEAD = re.compile(
    rf"(?:(?:the|this)\s+{_TEXT}\s+(?:also\s+)?(?:discuss|report|say|state|note|mention|describe"
    r"|explain|highlight|cover|detail|reveal|suggest|indicate|emphasi[sz]e|outline|claim|argue"
    r"|recount|tell|focus(?:es)?\s+on|is\s+about|talks?\s+about)\w*(?:\s+(?:that|how))?\s+"
    rf"|(?:according\s+to|in)\s+the\s+{_TEXT},?\s+)",
    re.I,
)
META_TAIL = re.compile(rf",?\s+(?:according\s+to\s+the\s+{_TEXT}|the\s+{_TEXT}\s+(?:says|said"
                       r"|reports|reported|notes|states))(?=[.!?]?$)", re.I)


def claim_body(sentence: str) -> tuple[int, int]:
    """The span of a claim sentence that makes the claim: a list marker and words about the text
    ("The article reports that", ", according to the passage") left out."""
    start, end = 0, len(sentence)
    marker = LIST_MARKER.match(sentence)
    if marker:
        start = marker.end()
    meta = META_LEAD.match(sentence, start)
    if meta and meta.end() < end:
        start = meta.end()
    tail = META_TAIL.search(sentence, start)
    if tail:
        end = tail.start()
    return start, end


def is_list_marker(text: str, start: int, stop: int) -> bool:
    """'1.' or '2)' opening a line or a sentence: a period there does not end a sentence."""
    near = max(start, stop - 8)  # a marker is short: no need to look further back
    piece = text[near:stop]
    line = piece.rfind("\n")
    if line >= 0:
        piece = piece[line + 1 :]
    elif near > start:
        return False
    return bool(re.fullmatch(r"[ \t]*\(?\d{1,2}", piece))


# "735, 000" and "1. 1 million": numbers split by a tokeniser, as CNN/DM and XSum texts have them.
_SPLIT_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}), (?=\d{3}(?![\d,]|\.\d|\s?\d))")
_SPLIT_DECIMAL = re.compile(r"(?<![\d.])(\d{1,3})\. (?=\d{1,2}\s*(?:%|per|million|billion|"
                            r"thousand|trillion|bn|m\b|km|kg|ft|m\b))")


def join_split_numbers(text: str) -> str:
    """'735, 000' -> '735,000' and '1. 1 million' -> '1.1 million': the tokeniser's spaces out
    of a number, in a text of the same length (one space moved to the number's end)."""
    def moved(match: re.Match[str]) -> str:
        return match.group(1) + match.group(0)[len(match.group(1))].strip()

    joined = _SPLIT_THOUSANDS.sub(lambda m: moved(m) + "\x00", text)
    joined = _SPLIT_DECIMAL.sub(lambda m: moved(m) + "\x00", joined)
    if "\x00" not in joined:
        return text
    # keep offsets: the removed space goes after the number's next digits
    return re.sub(r"\x00(\d+)", r"\1 ", joined)


# ---------------------------------------------------------------------------------------------
# Who does what: the roles around a verb, conditions and hedges, read from word order alone

AUXILIARIES = frozenset("""is are was were be been being am has have had having will would shall
    should can could may might must do does did get gets got""".split())
BE_FORMS = frozenset("is are was were be been being am get gets got".split())
# Words that make what follows a possibility, a plan or a report rather than a fact.
HEDGES = frozenset("""may might could possibly perhaps probably likely unlikely reportedly
    allegedly apparently expected expect expects plan plans planned planning consider considers
    considering proposed proposes propose hope hopes hoped aim aims threatened threatens
    threaten potential potentially""".split())
# Between a hedge and the verb, these state it: 'may say it will close' is sure of the closing.
CERTAIN = frozenset("will did does do has have had".split())
# Words of speech: the name before them (or after, "said the mayor") is who said it.
SPEECH_WORDS = frozenset("""said says say told tells announced announces stated states claimed
    claims added adds warned warns insisted insists confirmed confirms reported reports explained
    explains denied denies argued argues wrote writes noted notes""".split())
# Words that open a new clause: the roles of one verb do not reach past them.
CLAUSE_WORDS = frozenset("""that which who whom whose while when where after before because
    although though since as and but or if unless until whereas so than whether""".split())
PREPOSITIONS = frozenset("""of in on at to for with from by into onto about over under after
    before between through during against across along toward towards near""".split())
RELATIVES = frozenset("who which that".split())
NOUN_PHRASE_WORDS = frozenset("the a an of its their his her both all some two in from at and"
                              .split())
FILLERS = frozenset("also still already just then reportedly allegedly now later".split())
_GAP_PUNCTUATION = re.compile(r"[,;:()\"“”!?—–]|\s-\s")


def _gap(text: str, tokens: Sequence[Token], a: int, b: int) -> bool:
    """Punctuation between tokens a and b (a < b): a clause or an apposition ends there."""
    return bool(_GAP_PUNCTUATION.search(text, tokens[a].end, tokens[b].start))


def is_verb_like(tokens: Sequence[Token], i: int) -> bool:
    """A word that reads as a verb from its form or its place: a past form ('closed',
    'fell'), a word of speech, or a content word after an auxiliary or 'to'."""
    token = tokens[i]
    word = token.lower
    if (not is_content_word(word) or word in NEGATIONS) and word not in SPEECH_WORDS:
        return False
    if word.endswith("ly") or word in MONTHS or word in WEEKDAYS:
        return False
    if word in IRREGULAR or word in SPEECH_WORDS:
        return True
    if word.endswith("ed") and len(word) > 4 and word.isalpha():
        return True
    return i > 0 and (tokens[i - 1].lower in AUXILIARIES or tokens[i - 1].lower == "to") \
        and word.isalpha() and not token.text[:1].isupper()


def _noun_run(tokens: Sequence[Token], text: str, start: int, step: int,
              stop_at: int) -> tuple[list[int], int]:
    """Content tokens of the noun phrase met walking from `start` by `step` (names, nouns and
    'of the' between them), and where the walk stopped."""
    run: list[int] = []
    j = start
    while 0 <= j < len(tokens) and j != stop_at:
        word = tokens[j].lower
        if run and _gap(text, tokens, min(j, j - step), max(j, j - step)):
            break
        if is_content_word(word) and word not in CLAUSE_WORDS and not is_verb_like(tokens, j) \
                and word not in HEDGES:
            if not (word[:1].isdigit() or word in MONTHS or word in WEEKDAYS):
                run.append(j)  # 'on Monday', 'in 2015': when, not who
        elif word not in NOUN_PHRASE_WORDS or (word in PREPOSITIONS and not run):
            break
        j += step
    return run, j


def subject_of(tokens: Sequence[Token], text: str, verb: int) -> list[int]:
    """Indexes of the content words naming who does the verb: the noun phrase before it, over
    auxiliaries, adverbs, a relative pronoun and one apposition ('Okafor, the mayor, closed')."""
    j = verb - 1
    while j >= 0 and (tokens[j].lower in AUXILIARIES or tokens[j].lower in NEGATIONS
                      or tokens[j].lower in FILLERS or tokens[j].lower in RELATIVES
                      or (tokens[j].lower.endswith("ly") and len(tokens[j].lower) > 4)):
        j -= 1
    if j < 0:
        return []
    run, stop = _noun_run(tokens, text, j, -1, -1)
    if run and 0 <= stop < run[-1] and _gap(text, tokens, stop, run[-1]):
        # an apposition: the phrase before the comma, if it is a bare noun phrase
        before, end = _noun_run(tokens, text, stop, -1, -1)
        if before and (end < 0 or _gap(text, tokens, end, before[-1])):
            run += before
    return sorted(run)


def object_of(tokens: Sequence[Token], text: str, verb: int) -> list[int]:
    """Indexes of the content words of the noun phrase right after the verb."""
    j = verb + 1
    while j < len(tokens) and not _gap(text, tokens, j - 1, j) \
            and tokens[j].lower in STOPWORDS and tokens[j].lower not in PREPOSITIONS \
            and tokens[j].lower not in CLAUSE_WORDS:
        j += 1
    if j >= len(tokens) or _gap(text, tokens, j - 1, j):
        return []
    run, _ = _noun_run(tokens, text, j, 1, len(tokens))
    return run


def is_passive(tokens: Sequence[Token], verb: int) -> bool:
    """'was closed by', 'backed by': the subject before the verb is what it was done to."""
    word = tokens[verb].lower
    if not (word.endswith("ed") or word in IRREGULAR):
        return False
    if verb + 1 < len(tokens) and tokens[verb + 1].lower == "by":
        return True
    j = verb - 1
    while j >= 0 and (tokens[j].lower in NEGATIONS or tokens[j].lower in FILLERS
                      or tokens[j].lower.endswith("ly")):
        j -= 1
    return j >= 0 and tokens[j].lower in BE_FORMS


def roles(tokens: Sequence[Token], text: str, verb: int) -> tuple[set[str], set[str]]:
    """(stems of who does the verb, stems of what it is done to), passive voice undone:
    'the bridge was closed by the mayor' gives ({'mayor'}, {'bridg'})."""
    subject = {tokens[i].stem for i in subject_of(tokens, text, verb)}
    if not is_passive(tokens, verb):
        return subject, {tokens[i].stem for i in object_of(tokens, text, verb)}
    agent: set[str] = set()
    for j in range(verb + 1, min(verb + 4, len(tokens))):
        if tokens[j].lower == "by":
            agent = {tokens[i].stem for i in _noun_run(tokens, text, j + 1, 1, len(tokens))[0]}
            break
    return agent, subject


def speaker_of(tokens: Sequence[Token], text: str) -> set[str]:
    """Stems of who a sentence quotes: the noun phrase before or after a word of speech
    ('the mayor said', 'said the mayor') or after 'according to'."""
    for i, token in enumerate(tokens):
        if token.lower in SPEECH_WORDS:
            before = subject_of(tokens, text, i)
            if before:
                return {tokens[j].stem for j in before}
            after, _ = _noun_run(tokens, text, i + 1, 1, len(tokens))
            if after and i + 1 < len(tokens) and not _gap(text, tokens, i, i + 1):
                return {tokens[j].stem for j in after}
        if token.lower == "according" and i + 1 < len(tokens) and tokens[i + 1].lower == "to":
            after, _ = _noun_run(tokens, text, i + 2, 1, len(tokens))
            if after:
                return {tokens[j].stem for j in after}
    return set()


# "asked if", "as if": not a condition.
NOT_CONDITION_BEFORE = frozenset("as ask asked asks asking know knew wonder wondered see saw "
                                 "decide decided check checked unclear clear".split())


def conditions(tokens: Sequence[Token], text: str) -> list[tuple[set[str], bool]]:
    """Each 'if' / 'unless' clause as (its content stems, whether it is negative: 'unless X'
    and 'if no X' both)."""
    found = []
    for i, token in enumerate(tokens):
        if token.lower not in ("if", "unless"):
            continue
        if i and tokens[i - 1].lower in NOT_CONDITION_BEFORE:
            continue
        content: set[str] = set()
        negative = token.lower == "unless"
        for j in range(i + 1, len(tokens)):
            if j > i + 1 and _gap(text, tokens, j - 1, j):
                break
            word = tokens[j].lower
            if word in NEGATIONS:
                negative = not negative
            elif word in CLAUSE_WORDS and j > i + 1 and word not in ("that", "as"):
                break
            elif is_content_word(word):
                content.add(tokens[j].stem)
        found.append((content, negative))
    return found


def is_hedged(tokens: Sequence[Token], verb: int) -> bool:
    """Whether a hedge ('may', 'could', 'expected to', 'plans to') governs the verb."""
    for j in range(verb - 1, max(-1, verb - 4), -1):
        word = tokens[j].lower
        if word in HEDGES:
            return True
        if word in CLAUSE_WORDS or word in CERTAIN:
            return False
    return False


def clause_ids(tokens: Sequence[Token], text: str) -> list[int]:
    """The clause of each token, counted from 0: a new one after punctuation or at a word that
    opens a clause ('as', 'while', 'after', 'who'); 'and' and 'or' join names, not clauses."""
    ids = []
    clause = 0
    for i, token in enumerate(tokens):
        if i and (_gap(text, tokens, i - 1, i)
                  or (token.lower in CLAUSE_WORDS and token.lower not in ("and", "or", "than"))):
            clause += 1
        ids.append(clause)
    return ids
