"""Offline text augmentation (EDA-style edits, sentence shuffling, back-translation).

Every edit takes a list of words, a rate α and a ``random.Random``; it changes
``n = max(1, ⌊α·L⌋)`` of the L words (0 when α = 0), except random deletion, which drops each word
independently with probability α (keeping at least one):

    synonym_replacement  n non-stop words that have synonyms → a random synonym each
    random_insertion     n times: a synonym of a random non-stop word at a random position
    random_swap          n times: swap two random positions
    random_deletion      each word dropped with probability α
    sentence_shuffle     n = max(1, ⌊α·S⌋) swaps of two of the S sentences of a document

`augment` makes ``n_aug`` variants of a document, deterministic under ``seed``. Synonyms come from
a pluggable source: a dict word → synonyms, a callable, or (default) WordNet 3.0 read offline.
Back-translation calls a ``translate(text, src, dst)`` hook you provide; nnopt ships no translator.
"""
from __future__ import annotations

import random
import re
from typing import Callable, Mapping, Sequence

from ..errors import ConfigError
from ..params import Param
from ..registry import Registry
from .stopwords import STOP_WORDS
from .wordnet import DEFAULT_PATH, wordnet

SynonymSource = Callable[[str], Sequence[str]]
TEXT_AUGMENTATIONS = Registry("text_augmentations", "offline edits of documents (words, sentences)")

_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*|\d+|[^\sA-Za-z\d]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def words_of(text: str) -> list[str]:
    """Lower-cased word, number and punctuation tokens: "It's a dog." → [it's, a, dog, .]."""
    return [w.lower() for w in _WORD.findall(text)]


def sentences_of(text: str) -> list[str]:
    """Split after '.', '!' or '?' followed by white space."""
    return [s for s in _SENTENCE.split(text.strip()) if s]


def n_changes(alpha: float, length: int) -> int:
    """max(1, ⌊α·L⌋) for α > 0 and L > 0, else 0."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha = {alpha!r} — must be in [0, 1]")
    return max(1, int(alpha * length)) if alpha > 0 and length > 0 else 0


def synonym_source(source=None) -> SynonymSource:
    """A callable word → synonyms from a dict, a callable, or None (WordNet in /usr/share/wordnet)."""
    if source is None:
        return wordnet(DEFAULT_PATH)
    if isinstance(source, Mapping):
        return lambda word: tuple(source.get(word, ()))
    if callable(source):
        return source
    raise ConfigError(f"synonyms = {source!r} — must be a dict word → synonyms, a callable or None")


def replaceable(word: str) -> bool:
    """A word synonym edits may touch: alphabetic and not a stop word."""
    return word[:1].isalpha() and word not in STOP_WORDS


def _candidates(words: Sequence[str], synonyms: SynonymSource) -> dict[int, list[str]]:
    """position → its synonyms, for replaceable words that have any."""
    found = {}
    for i, w in enumerate(words):
        if replaceable(w):
            options = [s for s in synonyms(w) if s != w]
            if options:
                found[i] = options
    return found


def synonym_replacement(words: Sequence[str], alpha: float, rng: random.Random,
                        synonyms: SynonymSource) -> list[str]:
    """Replace n distinct replaceable words by one of their synonyms each."""
    out = list(words)
    options = _candidates(words, synonyms)
    for i in rng.sample(sorted(options), min(n_changes(alpha, len(words)), len(options))):
        out[i] = rng.choice(options[i])
    return out


def random_insertion(words: Sequence[str], alpha: float, rng: random.Random,
                     synonyms: SynonymSource) -> list[str]:
    """n times: insert a synonym of a random replaceable word at a random position."""
    out = list(words)
    options = _candidates(words, synonyms)
    if not options:
        return out
    for _ in range(n_changes(alpha, len(words))):
        out.insert(rng.randrange(len(out) + 1), rng.choice(options[rng.choice(sorted(options))]))
    return out


def random_swap(words: Sequence[str], alpha: float, rng: random.Random, synonyms=None) -> list[str]:
    """n times: swap the items at two distinct random positions."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(n_changes(alpha, len(out))):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(words: Sequence[str], alpha: float, rng: random.Random, synonyms=None) -> list[str]:
    """Drop each word with probability α; if all would go, keep one at random."""
    n_changes(alpha, len(words))  # validates alpha
    kept = [w for w in words if rng.random() >= alpha]
    return kept if kept or not words else [rng.choice(list(words))]


def sentence_shuffle(text: str, alpha: float, rng: random.Random) -> str:
    """Swap sentences of a document: random_swap over its sentences."""
    return " ".join(random_swap(sentences_of(text), alpha, rng))


WORD_EDITS = {"synonym": synonym_replacement, "insert": random_insertion, "swap": random_swap,
              "delete": random_deletion}


def augment(text: str, ops: Sequence[str] = ("synonym", "insert", "swap", "delete"), alpha: float = 0.1,
            n_aug: int = 4, seed: int = 0, synonyms=None) -> list[str]:
    """`n_aug` variants of `text`; each applies one op drawn from `ops` at rate α.

    Ops: "synonym", "insert", "swap", "delete" (on words) and "sentences" (sentence shuffling).
    Deterministic: equal (text, ops, alpha, n_aug, seed, synonyms) give equal variants.
    """
    unknown = [op for op in ops if op not in (*WORD_EDITS, "sentences")]
    if unknown or not ops:
        raise ConfigError(f"ops = {list(ops)!r} — each must be one of "
                          f"{', '.join(map(repr, (*WORD_EDITS, 'sentences')))}")
    if n_aug < 0:
        raise ConfigError(f"n_aug = {n_aug!r} — must be >= 0")
    rng = random.Random(seed)
    source = synonym_source(synonyms) if {"synonym", "insert"} & set(ops) else None
    out = []
    for _ in range(n_aug):
        op = rng.choice(list(ops))
        if op == "sentences":
            out.append(sentence_shuffle(text, alpha, rng))
        else:
            out.append(" ".join(WORD_EDITS[op](words_of(text), alpha, rng, source)))
    return out


# -- back-translation ----------------------------------------------------------------------------
Translator = Callable[[str, str, str], str]
_translator: list[Translator] = []


def set_translator(translate: Translator | None) -> None:
    """Configure the default hook ``translate(text, src, dst) -> text`` (None removes it)."""
    _translator[:] = [translate] if translate is not None else []


def back_translate(text: str, src: str = "en", pivot: str = "fr",
                   translate: Translator | None = None) -> str:
    """translate(translate(text, src, pivot), pivot, src): a paraphrase through a pivot language."""
    hook = translate or (_translator[0] if _translator else None)
    if hook is None:
        raise RuntimeError("back-translation needs a translator: pass translate=fn(text, src, dst) or "
                           "call nnopt.augment.text.set_translator(fn) first; nnopt ships no "
                           "translation model (wrap e.g. a MarianMT model or a web API in fn)")
    return hook(hook(text, src, pivot), pivot, src)


# -- registry: what the wordnet_topics data set (and recipes) can name --------------------------
_ALPHA = Param(float, 0.1, ge=0, le=1, doc="rate α of the edit")


def _register(name: str, ops: tuple[str, ...], doc: str) -> None:
    def factory(alpha=0.1):
        return lambda text, n_aug, seed, synonyms=None: augment(text, ops, alpha, n_aug, seed, synonyms)

    factory.__doc__ = doc
    TEXT_AUGMENTATIONS.register(name, params={"alpha": _ALPHA})(factory)


TEXT_AUGMENTATIONS.register("none", description="Leave the documents as they are")(lambda: None)
_register("eda", tuple(WORD_EDITS), "One of synonym replacement, insertion, swap, deletion per variant")
_register("synonym", ("synonym",), "Synonym replacement of n = max(1, ⌊α·L⌋) non-stop words")
_register("insert", ("insert",), "Random insertion of synonyms, n = max(1, ⌊α·L⌋) times")
_register("swap", ("swap",), "Random swap of two words, n = max(1, ⌊α·L⌋) times")
_register("delete", ("delete",), "Random deletion of each word with probability α")
_register("sentences", ("sentences",), "Sentence shuffling: n = max(1, ⌊α·S⌋) swaps of sentences")

__all__ = ["augment", "synonym_replacement", "random_insertion", "random_swap", "random_deletion",
           "sentence_shuffle", "back_translate", "set_translator", "synonym_source", "words_of",
           "sentences_of", "n_changes", "TEXT_AUGMENTATIONS"]
