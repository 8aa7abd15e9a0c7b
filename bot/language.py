"""Is a question written in a language the model reads?

The bundled model, all-MiniLM-L6-v2, was trained on English text (its vocabulary is
English word pieces): a question in Spanish, German or Chinese is matched by its spelling,
not its meaning, and is refused as "not covered" with no hint why. ``foreign_language``
recognises the common cases cheaply and conservatively (a question is English unless it
clearly is not): mostly letters of a non-Latin script, or more function words of another
European language than English ones. Any other model is trusted to read what it
is given (``reads_english_only``).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ENGLISH_ONLY_MODELS", "LANGUAGE_MESSAGE", "foreign_language", "reads_english_only"]

# Models known to read English only (matched against the end of the model's name or path).
ENGLISH_ONLY_MODELS = ("all-MiniLM-L6-v2", "all-MiniLM-L12-v2", "all-mpnet-base-v2")

LANGUAGE_MESSAGE = (
    "This question does not seem to be in English. The model that reads these documents understands "
    "English only, so it cannot match a question in another language to the text. Please ask in English."
)

_ENGLISH = frozenset(
    """the a an is are was were be been being do does did done what which who whom whose when where why how
    can could should would will shall may might must i you he she it we they me him her us them my your his
    its our their this that these those of to in on at for with from by about into over after before and
    or not no if than then there here have has had any some all much many more most other such only also""".split()
)
# Function words of other languages that are not English words (so "die", "was", "son" are left out).
_FOREIGN = {
    "Spanish": "el los las una es qué que cómo cuál cuáles cuándo dónde por para con del al se lo mi tu su y pero también está están hay puedo debo sobre según",
    "German": "der das ein eine ist sind wie wo wann warum welche welcher welches ich du er sie es wir ihr mein dein und oder nicht mit von zu für auf bei kann soll muss gibt wird werden",
    "French": "le la les une est sont qui quoi comment où quand pourquoi quel quelle quels je tu il elle nous vous ils mon ton et ou pas avec du des pour sur dans peut faut",
    "Italian": "cosa il lo gli le è sono che chi come dove quando perché quale io lui lei noi voi non di del della per nel può",
    "Portuguese": "os um uma é são que como onde quando porque qual eu você ele ela nós ou não com do da para em na pode",
    "Dutch": "het een wat hoe waar wanneer waarom welke ik jij hij zij wij en niet met van voor op kan zijn",
}
_FOREIGN_WORDS = {language: frozenset(vocabulary.split()) for language, vocabulary in _FOREIGN.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def reads_english_only(model: str) -> bool:
    return any(model.rstrip("/").endswith(name) for name in ENGLISH_ONLY_MODELS)


def _script_of_letters(text: str) -> str | None:
    """The script most letters are written in, when it is not Latin (``None`` for Latin text)."""
    if text.isascii():  # most questions: no letter beyond Latin, nothing to count
        return None
    letters = [ch for ch in text if ch.isalpha()]
    foreign = [ch for ch in letters if ord(ch) > 0x24F]  # beyond Latin Extended-B
    if not letters or len(foreign) * 2 <= len(letters):
        return None
    names = [unicodedata.name(ch, "").split(" ")[0] for ch in foreign]
    script = max(set(names), key=names.count).title()
    return {"Cjk": "Chinese", "Hiragana": "Japanese", "Katakana": "Japanese", "Hangul": "Korean"}.get(script, script)


def foreign_language(question: str) -> str | None:
    """The language (or script) a question is clearly written in when it is not English, else ``None``."""
    script = _script_of_letters(question)
    if script:
        return script
    words = [w.lower() for w in _WORD.findall(question)]
    english = sum(w in _ENGLISH for w in words)
    counts = {language: sum(w in vocabulary for w in words) for language, vocabulary in _FOREIGN_WORDS.items()}
    language, found = max(counts.items(), key=lambda kv: kv[1])
    if "¿" in question or "¡" in question:
        language, found = "Spanish", max(found, 2)
    accented = not question.isascii() and any(
        ch.isalpha() and not ch.isascii() for ch in question
    )  # "cãibras", "Krämpfe"
    if (found >= 2 and found > english) or (found == 1 and not english and accented):
        return language
    return None
