"""A reader of the WordNet 3.0 database files (Debian's ``wordnet-base``, /usr/share/wordnet).

index.POS lines:  ``lemma pos synset_cnt p_cnt [ptr_symbol]×p_cnt sense_cnt tagsense_cnt offset×synset_cnt``
data.POS lines:   ``offset lex_filenum ss_type w_cnt(hex) [word lex_id]×w_cnt p_cnt … | gloss``
(wndb(5WN)). A lemma's synonyms are the other words of all its synsets; lexicographer files
(lexnames(5WN)) name each synset's topic, e.g. 05 = noun.animal.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import DataError

DEFAULT_PATH = "/usr/share/wordnet"
POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl")
_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # adjective position markers: good(a), galore(ip)


@dataclass(frozen=True)
class Synset:
    offset: int
    lexname: str
    words: tuple[str, ...]
    gloss: str

    @property
    def definition(self) -> str:
        """The gloss without its quoted examples: the text before the first '; "'."""
        return self.gloss.split('; "')[0].split(' "')[0].strip().rstrip(";").strip()


class WordNet:
    """Synonyms and synsets from the WordNet files in `path`; raises DataError if they are missing.

    ``wn.synonyms("car") → ["auto", "automobile", "machine", "motorcar", "railcar", ...]``
    (multi-word lemmas come with spaces; the word itself is excluded).
    """

    def __init__(self, path: str = DEFAULT_PATH):
        self.path = Path(path)
        missing = [f"{kind}.{pos}" for pos in POS for kind in ("index", "data")
                   if not (self.path / f"{kind}.{pos}").exists()]
        if missing:
            raise DataError(f"WordNet lexicon not found in {self.path} (missing {', '.join(missing)}): "
                            "install it with `apt-get install wordnet-base`, or give a synonym source "
                            "of your own (a dict word → synonyms, or a callable)")

    def __repr__(self) -> str:
        return f"WordNet({str(self.path)!r})"

    @functools.lru_cache(maxsize=None)
    def index(self, pos: str) -> dict[str, tuple[int, ...]]:
        """lemma → synset offsets in data.`pos`."""
        table = {}
        with open(self.path / f"index.{pos}", encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                fields = line.split()
                n_synsets, n_pointers = int(fields[2]), int(fields[3])
                table[fields[0]] = tuple(int(o) for o in fields[6 + n_pointers:6 + n_pointers + n_synsets])
        return table

    def synset(self, pos: str, offset: int) -> Synset:
        """The synset at byte `offset` of data.`pos`."""
        with open(self.path / f"data.{pos}", "rb") as f:
            f.seek(offset)
            return parse_data_line(f.readline().decode("utf-8"))

    def synsets(self, pos: str) -> Iterator[Synset]:
        """Every synset of data.`pos`, in file order."""
        with open(self.path / f"data.{pos}", encoding="utf-8") as f:
            for line in f:
                if not line.startswith("  "):
                    yield parse_data_line(line)

    @functools.lru_cache(maxsize=65536)
    def synonyms(self, word: str) -> tuple[str, ...]:
        """Sorted words sharing a synset with `word` (any part of speech), `word` itself left out."""
        key = word.lower().replace(" ", "_")
        found = set()
        for pos in POS:
            for offset in self.index(pos).get(key, ()):
                found.update(self.synset(pos, offset).words)
        found.discard(key)
        return tuple(sorted(w.replace("_", " ") for w in found))

    __call__ = synonyms


def parse_data_line(line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    n_words = int(fields[3], 16)
    words = tuple(_MARKER.sub("", fields[4 + 2 * i]).lower() for i in range(n_words))
    return Synset(int(fields[0]), LEXNAMES[int(fields[1])], words, gloss.strip())


@functools.lru_cache(maxsize=4)
def wordnet(path: str = DEFAULT_PATH) -> WordNet:
    """A shared reader per path (its index tables are loaded once)."""
    return WordNet(path)


__all__ = ["WordNet", "Synset", "wordnet", "LEXNAMES", "DEFAULT_PATH"]
