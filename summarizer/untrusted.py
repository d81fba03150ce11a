"""Article text is data, never instructions: how it is shown inside a prompt, and which of its
sentences read as instructions to a model.

`material` renders article text for a prompt's fenced block so that nothing in it can pass for
the prompt's own structure: a citation-like marker ("[2.1]", "[12]") becomes "(2.1)", so that no
sentence can carry another's id, and angle brackets become ‹ ›, so that no tag can close the
fence. `suspicious` says why a sentence reads as an instruction to a model or speaks to one
("ignore all previous instructions", "as an AI", "write only: ..."): such a sentence is not
offered to the model, and where one is shown all the same it is marked, never supported.

The patterns look for the shape of an instruction (an imperative aimed at a model's
instructions, output or role; a model addressed as "you"; the prompt's own markup), not for any
one attack's words. Reporting about such things in the third person ("the chatbot was told to
ignore its rules") is left alone. Patterns catch the common shapes, not every wording: the
structural defences (ids only, fenced material, quoted sentences) do not depend on them.
"""

from __future__ import annotations

import re
from functools import lru_cache

# A citation-like marker: "[2]", "[2.1]", "[ 12 . 3 ]", "[2.1, 3.4]".
MARKER = re.compile(r"\[\s*(\d+(?:\s*\.\s*\d+)?(?:\s*[,;]\s*\d+(?:\s*\.\s*\d+)?)*)\s*\]")
ANGLES = str.maketrans({"<": "‹", ">": "›"})
EXCERPT_CHARS = 80

# Words that name a model. A bare "assistant", "model" or "bot" is too common in news ("his
# assistant, John Doolan") to count where a model is merely mentioned.
_AI = (r"(?:ai|a\.i\.|artificial intelligence|llms?|(?:large )?language models?|chat ?bots?|"
       r"(?:ai|virtual|digital) (?:assistants?|models?|systems?|tools?|agents?)|summari[sz]ers?|"
       r"summari[sz](?:ation|ing) (?:tools?|models?|systems?|engines?|software|bots?|services?|"
       r"programs?)|automated (?:systems?|tools?|readers?|agents?)|gpt|chatgpt|claude|copilot|"
       r"grok)")
_READERS = (rf"(?:{_AI}|models?|assistants?|bots?|crawlers?|scrapers?|machines?|engines?|"
            r"programs?|processors?)")
# What marks instructions as the ones a model was given, and what a model is given.
_GIVEN = (r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|all|any|"
          r"your|my)")
_RULES = (r"(?:instructions?|directions?|directives?|prompts?|rules|guidelines|guardrails|"
          r"constraints|commands?|programming)")
_ASIDE = (r"(?:ignore|disregard|forget|overlook|override|bypass|discard|abandon|set aside|"
          r"put aside)")
_OUTPUT = r"(?:write|say|print|output|respond|reply|answer|return|repeat|type|echo|display)"
_SAY = r"(?:write|say|print|output|respond|reply|repeat|echo)"  # not nouns too, as "answer" is
# Verbs a model is told to do, as an imperative opens with them.
_COMMANDS = (r"(?:ignore|disregard|forget|write|say|print|output|respond|reply|describe|mention|"
             r"include|omit|append|insert|replace|remove|leave out|treat|call|list|classify|"
             r"translate|pretend|repeat|tell|summari[sz]e|rewrite|change|claim|praise|recommend|"
             r"speak|answer|never mention|do not mention|don't mention)")
# Where an imperative opens: the sentence's start, after a colon or semicolon, after "and".
_IMPERATIVE = r"(?:^\W*|[;:]\s*|,?\s+and\s+(?:then\s+)?)(?:please\s+|now\s+|instead,?\s+)?"
_OPENS = r"(?:^|[.;:!?]\s+|\b(?:and|then|instead|now|just|please|simply)\s+)"
_FROM_NOW = r"\bfrom (?:now|this point|here) on,?\s+"
# What the text or the model's own output is called by a sentence that speaks to a model.
_THIS_TEXT = (r"(?:summar\w+|(?:this|the)\s+(?:article|story|page|text|message|line|sentence|"
              r"paragraph|reader|readers|answer|reply|output|response)|your\s+(?:users|readers|"
              r"answer|reply|output|response|configuration|settings|memory)|here|below|above|"
              r"so far)")

# What the sentence does, and the shapes that show it; the first that matches gives the reason.
_SHAPES: dict[str, tuple[str, ...]] = {
    "tells a model to set its instructions aside": (
        rf"\b{_ASIDE}\s+(?:(?:the|of|these|those|other)\s+)?{_GIVEN}\s+(?:(?:the|of|these|those|"
        rf"other|{_GIVEN})\s+){{0,2}}{_RULES}\b",
        rf"\b{_ASIDE}\s+(?:all\s+)?(?:the\s+|any\s+)?{_RULES}\s+(?:you\s+(?:were|have been|"
        r"received|got|had)|given to you|(?:from\s+)?(?:above|earlier|before|so far))\b",
        rf"\b{_ASIDE}\s+your\s+(?:\w+\s+)?(?:guidance|training|task|policy|policies|filters?|"
        rf"safeguards|{_RULES})\b",
        r"\b(?:ignore|disregard|forget)\b.{0,60}\byou(?:'ve|\s+were|\s+have been)\s+(?:told|"
        r"given|instructed)\b",
        r"\byou(?:'ve|\s+were|\s+have been)\s+(?:told|given|instructed)\b.{0,60}\b(?:ignore|"
        r"disregard|forget)\s+(?:it|them|that|this|all)\b",
        r"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?"
        r"(?:above|before|said before|you (?:were|have been) told)\b",
        rf"{_OPENS}(?:ignore|disregard)\s+(?:this|the|that)\s+(?:article|text|story|page|"
        r"document|content|passage)s?\b",
        r"\b(?:overrides?|supersedes?|replaces?)\s+(?:all\s+|any\s+)?(?:earlier|previous|prior|"
        r"above|preceding|other)\s+(?:text|instructions?|content|messages?)\b",
    ),
    "tells a model to obey": (
        rf"\b(?:new|updated|real|actual|hidden|secret|true)\s+{_RULES}\s*(?::|for\s+(?:you|the"
        rf"\s+{_AI})\b|(?:begin|start|follow|are)\b)",
        r"\b(?:rule|instruction|task|order|command)s?\s+for\s+you\b",
        rf"\byour\s+(?:previous|earlier|original|prior|old)\s+(?:guidance|task|{_RULES})\b",
        r"\b(?:these|the following|my)\s+instructions\s+(?:override|supersede|replace|"
        r"take precedence)\b",
        r"(?<!follow )\byour\s+(?:\w+\s+){0,2}?instructions?\b(?!\s+(?:to|from)\b)",
        r"(?:^|[.;!?]\s+)\W*(?:override|system override|new task|new instructions?|"
        r"new directive)\s*:",
    ),
    "speaks to a model as a model": (
        r"\bas an?\s+(?:ai|a\.i\.|artificial intelligence|llm|(?:large\s+)?language model)"
        r"(?:\s+(?:language\s+)?(?:model|assistant|system|chatbot))?\s*(?:,\s*(?:you|i)\b|"
        r"\s+(?:you|i)\s+(?:must|should|will|can|cannot|can't|are|am)\b)",
        rf"\b(?:if|when|since|because)\s+you(?:'re|\s+are)\s+(?:an?\s+|the\s+)?(?:\w+\s+)?{_AI}"
        r"\s*(?:[,.;:!?)]|and\b|or\b|reading\b|that\b|who\b|then\b|you\b)",
        rf"\byou(?:'re|\s+are)\s+(?:now\s+|actually\s+|really\s+)?(?:an?\s+|the\s+)?(?:\w+\s+)?"
        rf"{_AI}\s*(?:[,.;:!?)]|and\b|with\b|who\b|that\b|named\b|called\b|$)",
        r"\byou(?:'ve|\s+have)\s+been\s+(?:updated|reprogrammed|reconfigured|jailbroken|"
        r"unlocked|freed|upgraded)\b",
        rf"\b(?:note|message|attention|instructions?|hey|hello|dear|reminder)\b\s*(?:(?:to|for)"
        rf"\s+)?,?\s*(?:the\s+|any\s+|all\s+|every\s+)?(?:\w+\s+)?{_AI}\b\s*[:,!-]",
        rf"^\W*(?:(?:note|message|memo)\s+)?(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:\w+\s+)?"
        rf"(?:{_AI}|models?|assistants?|bots?|summar\w+)\s*:",
        rf"^\W*(?:dear\s+|hey\s+|attention\s+)?(?:the\s+)?(?:ai\s+)?{_AI}\s*[:,]\s*(?:you|your|"
        r"please|ignore|write|say|print|output|respond|reply|do|don't|never|always|include|"
        r"describe|report|state|tell|summari[sz]e)\b",
        r"^\W*(?:ai|model|assistant|bot|chatbot|summari[sz]er|language model)\s*,",
        r"^\W*(?:hi|hello|hey|dear)\s+(?:model|assistant|bot)\b",
        rf"\b{_READERS}\s+(?:(?:that|which|who)\s+(?:is\s+|are\s+)?)?(?:read|reads|reading|"
        r"summari[sz]ing|processing|parsing|summari[sz]es?|process|processes)\s+this\b",
        r"\b(?:whoever|whatever|anyone|anything)\b.{0,30}\b(?:is|are)\s+(?:summari[sz]ing|"
        r"processing|parsing)\s+(?:this|it)\b",
        r"\bmachine readers?\b|\b(?:crawlers?|scrapers?)\s+(?:must|should)\b",
        r"\bif (?:you are |you're )?asked (?:about|to summar\w+)\s+this\b",
        r"\blet(?:'s| us) (?:begin|start) (?:again|over)\b(?=.*\byou(?:'re|\s+are)\b)",
    ),
    "gives a model a new role": (
        r"\byou(?:'re|\s+are)\s+(?:now|no longer|from now on)\b(?:\s+\w+){0,6}?\s+"
        r"(?:ai|a\.i\.|assistant|model|chatbot|bot|dan|mode|persona|character|role|"
        r"unrestricted|unfiltered|jailbroken|free of|bound|restricted|limited)\b",
        r"\bfrom now on,?\s+you(?:'re|\s+are|\s+will|\s+must|\s+shall)\s+(?:[\w,]+\s+){0,3}?"
        r"(?:answer|respond|reply|act|speak|speaks|write|writes|an?\s+(?:ai|assistant|chatbot|"
        r"model))\b",
        rf"{_OPENS}pretend\s+(?:that\s+)?(?:you(?:'re|\s+are)|to\s+be)\b",
        r"\brole-?play\s+(?:as|that)\b|\bstay in character\b",
        r"\blet'?s\s+(?:play|role-?play)\b.{0,40}\byou(?:'re|\s+are|\s+will|\s+must)\b",
        r"^\W*(?:now\s+|please\s+|from now on,?\s+)?act\s+as\s+(?:if\s+you|an?\s+|the\s+|my\s+)",
        r"^\W*(?:now\s+|please\s+)?(?:act|behave|respond|answer|write)\s+(?:like|as\s+(?:if|"
        r"though))\b",
    ),
    "asks for a model's hidden instructions": (
        r"\b(?:your|reveal|print|show|repeat|ignore|override|disclose|output)\s+(?:the\s+|your\s+)?"
        r"(?:system|hidden|secret|initial|original)\s+(?:prompt|instructions)\b",
        r"\byour\s+(?:safety|content|security)\s+(?:settings|filters?|policy|policies|guidelines|"
        r"rules|restrictions)\b",
    ),
    "carries a model's prompt markup": (
        r"<\|?\s*/?\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|inst)\s*\|?>",
        r"\[/?(?:inst|sys|system)\]|<<\s*/?sys\s*>>",
        r"^\W*#{2,}\s*(?:instruction|system|response|assistant)\b",
        r"^\W*(?:system|assistant)\s*(?:prompt|message)?\s*:",
        r"^\W*(?:system|admin(?:istrator)?|developer|root)\s+(?:override|update|notice|"
        r"instructions?|message|prompt|command|mode)\s*:",
    ),
    "carries markup that could close a prompt's block": (
        r"</\s*[a-z][\w-]*\s*>",
    ),
    "speaks of a model's own prompt or output": (
        r"\b(?:above|before|below|after)\s+this\s+(?:line|sentence|point|paragraph|message)\b",
        r"\b(?:everything|anything|nothing|all)\s+(?:above|before|below)\b(?!\s+(?:average|"
        r"zero|normal|par|freezing|ground|sea|the)\b)",
        r"\bthe\s+(?:text|question|instructions?)\s+(?:that\s+follows|below|above)\b",
        r"\b(?:every|each|any)\s+(?:sentence|word|line|answer|reply|response|summary)\s+you\s+"
        r"(?:write|produce|generate|output|give|return)\b",
        r"(?<!follow )(?<!following )\byour\s+(?:own\s+|next\s+|final\s+|entire\s+)?(?:output|"
        r"summary|guidelines|guardrails|persona|prompts?|programming)\b(?!\s+(?:to|from|of)\b)",
        r"\b(?:to|into|write|begin|start|end|finish)\s+your\s+(?:reply|answer|response)\b"
        r"(?!\s+(?:to|from|of)\b)",
    ),
    "tells a model what to do": (
        rf"\b(?:the\s+)?(?:{_AI}|assistant|model|bot)\s+(?:must|should|shall|will|is to)\s+"
        r"(?:(?:now|only|always|never|just)\s+)+(?:answer|respond|reply|write|output|say|print|"
        r"summari[sz]e|mention|include|use|report|describe)\b",
        rf"\b{_AI}\s+(?:must|should|shall|will|are to)\s+(?:always\s+|only\s+)?(?:say|write|"
        r"recommend|describe|mention|output|print|answer|respond|reply|summar\w+|ignore|"
        r"disregard|praise|call|classify)\b",
        r"\byour\s+(?:new|real|actual|true|only|next|first)\s+(?:task|objective|instructions?)\s+"
        r"(?:is|are|will be)\b|\byour\s+(?:job|task|role|mission|goal|purpose)\s+now\s+is\b",
        r"\binstead of summari[sz]ing\b|\btranslate\s+(?:this|the)\s+(?:article|text|page|story)\b",
        r"\b(?:summari[sz]e|process|parse)\s+this\s+(?:article|text|page|document|story|content|"
        r"passage)\b",
        r"\b(?:respond|reply|answer)\s+to\s+(?:every|each|any|all)\s+(?:questions?|messages?|"
        r"prompts?|requests?|quer(?:y|ies))\b",
    ),
    "tells a model how to summarise": (
        r"^(?=.*\bsummar(?:is|iz)(?:e|es|ing|er|ers)\b)(?=.*\b(?:you|please|whoever|whatever)\b)",
        r"^(?=.*\bsummar(?:y|ies)\b(?!\s+(?:judge?ment|ruling|execution|dismissal|offen[cs]es?|"
        r"trial|conviction|proceedings|jurisdiction)\b))(?=.*\b(?:you|your|whoever|whatever|"
        r"this\s+(?:page|article|text|story|document))\b)",
        r"\b(?:in|into|to)\s+your\s+(?:summary|output)\b",
        r"\bwhen\s+(?:you\s+)?summari[sz](?:e|ing)\s+(?:this|the)\s+(?:article|text|story|page)\b",
        r"\b(?:do not|don't|never|stop)\s+(?:summari[sz]e|summari[sz]ing|paraphras(?:e|ing))\b",
        r"\bsummari[sz]e\s+(?:this|the)\s+(?:article|text|story)\s+as\b",
    ),
    "tells a model what to write": (
        r"(?:^\W*|[;:]\s*)(?:please\s+|now\s+|instead,?\s+)?(?:write|state|say|claim|report|"
        r"assert|conclude|insist|add|mention)\s+that\b",
        r"\band\s+(?:then\s+)?(?:write|state)\s+that\b",
        rf"{_IMPERATIVE}(?:do not|don't|never|always|be sure to|make sure to)?\s*(?:mention|"
        r"include|omit|add|append|insert|remove|replace|leave out|write|state|say|describe|call|"
        r"end|begin|start)\b.{0,80}\b(?:the|a|your)\s+summary\b",
        r"\bit\s+is\s+(?:essential|important|vital|crucial|imperative|required|mandatory)\s+"
        r"that\s+(?:the|your|any|every)\s+(?:summary|output|reply|answer|response)\b",
        rf"(?:{_IMPERATIVE}|{_FROM_NOW}){_COMMANDS}\b(?=.*\b{_THIS_TEXT}\b)",
        rf"{_FROM_NOW}{_COMMANDS}\b",
    ),
    "tells a model what to output": (
        rf"{_OPENS}{_OUTPUT}\s+(?:only|just|exactly|back|verbatim|nothing (?:but|except|else))\b",
        rf"{_OPENS}{_SAY}(?:\s+(?:only|just|exactly|with|back|the following|this|these words|"
        r"the words?|the phrase|the text|the string|verbatim|word for word))*\s*:\s*\S",
        r"\b(?:respond|reply|answer)\s+(?:only\s+)?with\s+(?:only\s+|just\s+)?(?:the\s+)?"
        r"(?:words?|phrase|text|string|sentence|following|exactly|[\"“'][^\"”']+[\"”']\s+"
        r"(?:and|only|nothing))\b",
        rf"{_OPENS}{_OUTPUT}\s+(?:only\s+|just\s+|exactly\s+)?[\"“‘']",
        rf"\b{_OUTPUT}\b.{{0,60}}\band nothing (?:more|else)\b",
        r"\brepeat after me\b|\bsay the following\b",
        r"\b(?:write|print|output|type|repeat|echo)\s+(?:only\s+|just\s+|out\s+)?(?:the\s+)?"
        r"(?:word|words|phrase|string)\b",
        r"\byour\s+(?:entire\s+|only\s+|final\s+|next\s+|first\s+)?(?:output|response|reply|"
        r"answer|summary)\s+(?:must|should|will|shall|has to|needs to)\s+(?:only\s+|just\s+)?"
        r"(?:be|say|read|contain|consist|begin|start|end|include)\b",
    ),
}
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile("|".join(f"(?:{shape})" for shape in shapes), re.IGNORECASE))
    for what, shapes in _SHAPES.items())


def material(text: str) -> str:
    """Article text as a prompt shows it: one line, no citation-like markers, no tags."""
    text = " ".join(text.split()).translate(ANGLES)
    return MARKER.sub(lambda m: "(" + re.sub(r"\s+", "", m.group(1)) + ")", text)


@lru_cache(maxsize=65_536)  # a sentence is asked about at each stage that may show it
def suspicious(text: str) -> str | None:
    """Why a sentence reads as an instruction to a model, or None when it does not."""
    flat = " ".join(text.split())
    for what, pattern in PATTERNS:
        match = pattern.search(flat)
        if match:
            return f"reads as an instruction to a model: it {what} (“{_excerpt(flat, match)}”)"
    return None


def _excerpt(text: str, match: re.Match[str]) -> str:
    """The words that matched, whole, for a reader to judge (the sentence's opening, where
    the shape is the whole sentence's)."""
    if match.end() == match.start():
        start, end = 0, len(text)
    else:
        start = text.rfind(" ", 0, match.start()) + 1
        found = text.find(" ", match.end())
        end = found if found >= 0 else len(text)
    words = text[start:end].strip(" ,;")
    return words if len(words) <= EXCERPT_CHARS else words[:EXCERPT_CHARS - 1].rstrip() + "…"
