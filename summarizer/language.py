"""Languages: which one a text is written in, what a language code names, which one a run writes.

Detection is py3langid's Naive Bayes model over byte n-grams. Its model ships inside the wheel,
so nothing is downloaded at run time; it loads once, on first use (about half a second), and
then reads a sentence in well under a millisecond. Only ISO 639-1 languages are answered (the
model also knows some languages that have only three-letter codes, and "not a language"): the
best of those is the answer.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable
from functools import cache
from typing import Any

from .errors import InputError

# Enough of a long article to tell its language; the rest only costs time (detection reads
# every character it is given: 2,000 gave the same answer as 10,000 on all 401 articles of the
# examples, seeds, eval sets and 60 documents of each faithfulness set, in 0.67x the time).
DETECT_CHARS = 2_000
DEFAULT = "en"  # a run whose articles show no language at all (no letters) writes English

# The ISO 639-1 languages the detector tells apart, by code, with their English names: the
# codes a user may ask for, and the names the prompts and pages use.
NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "an": "Aragonese", "ar": "Arabic", "as": "Assamese",
    "az": "Azerbaijani", "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian",
    "bn": "Bengali", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "dz": "Dzongkha", "el": "Greek",
    "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque",
    "fa": "Persian", "fi": "Finnish", "fo": "Faroese", "fr": "French", "fy": "Western Frisian",
    "ga": "Irish", "gd": "Scottish Gaelic", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "ig": "Igbo", "is": "Icelandic",
    "it": "Italian", "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh",
    "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz",
    "la": "Latin", "lb": "Luxembourgish", "lg": "Ganda", "ln": "Lingala", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese",
    "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk",
    "no": "Norwegian", "oc": "Occitan", "om": "Oromo", "or": "Odia", "pa": "Punjabi",
    "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua", "ro": "Romanian",
    "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit", "se": "Northern Sami",
    "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "st": "Southern Sotho", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai",
    "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar", "ug": "Uyghur",
    "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "vo": "Volapük",
    "wa": "Walloon", "xh": "Xhosa", "yo": "Yoruba", "zh": "Chinese", "zu": "Zulu",
}


@cache
def _identifier() -> Any:
    """py3langid's identifier with probabilities, loaded once (its model is in its wheel)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


_loading: list[threading.Thread] = []  # what `preload` started


def preload() -> None:
    """Start loading the identifier in the background, for a run that will soon detect
    languages: most of the loading is decompression, which leaves the interpreter free for
    the imports that come first. `detect` waits for it rather than loading it again."""
    if not _loading:
        thread = threading.Thread(target=_identifier, name="language-model", daemon=True)
        _loading.append(thread)
        thread.start()


def _model() -> Any:
    for thread in _loading:
        thread.join()
    return _identifier()


def detect(text: str, among: Collection[str] = ()) -> str | None:
    """The ISO 639-1 code of the language `text` is most likely written in, of `among` when
    given (a sentence is then only asked which of the run's languages it is in); None for text
    with no letters."""
    sample = text[:DETECT_CHARS]
    if not any(c.isalpha() for c in sample):
        return None
    wanted = set(among) or NAMES.keys()
    return next((code for code, _ in _model().rank(sample) if code in wanted), None)


def language_name(code: str) -> str:
    """The English name of a language code ("fr" -> "French"); an unknown code as it is."""
    return NAMES.get(code, code)


def check_code(code: str) -> str:
    """A language code as the run uses it ("FR " -> "fr"), or an error that says which codes
    there are."""
    clean = code.strip().lower()
    if clean not in NAMES:
        raise InputError(f"unknown language code {code!r}: use a two-letter ISO 639-1 code "
                         f"such as en, fr, de or es (known: {', '.join(sorted(NAMES))})",
                         field="language")
    return clean


def most_common(languages: Iterable[str | None]) -> str | None:
    """The language most articles are in; a tie goes to the one met first."""
    counts = Counter(code for code in languages if code)
    return counts.most_common(1)[0][0] if counts else None
