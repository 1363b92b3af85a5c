"""Text augmentation: determinism, rates, stop words, synonym sources, back-translation, WordNet."""
import random
from collections import Counter
from pathlib import Path

import pytest

from nnopt import ConfigError, DataError
from nnopt.augment import text as T
from nnopt.augment.stopwords import STOP_WORDS
from nnopt.augment.wordnet import LEXNAMES, WordNet

SYN = {"quick": ["fast", "rapid"], "dog": ["hound"], "lazy": ["idle"], "the": ["thy"], "over": ["above"],
       "jumps": ["leaps"], "brown": ["tan"]}
SENTENCE = "the quick brown fox jumps over the lazy dog"
HAS_WORDNET = Path("/usr/share/wordnet/index.noun").exists()


def words():
    return SENTENCE.split()


def test_n_changes_rule():
    assert [T.n_changes(a, 20) for a in (0.0, 0.01, 0.1, 0.25, 1.0)] == [0, 1, 2, 5, 20]
    assert T.n_changes(0.5, 0) == 0
    with pytest.raises(ValueError, match="alpha = 1.5"):
        T.n_changes(1.5, 3)


@pytest.mark.parametrize("alpha,expected", [(0.1, 1), (0.25, 2), (0.5, 4)])
def test_synonym_replacement_changes_n_words_never_stop_words(alpha, expected):
    for seed in range(20):
        out = T.synonym_replacement(words(), alpha, random.Random(seed), T.synonym_source(SYN))
        changed = [(a, b) for a, b in zip(words(), out) if a != b]
        assert len(out) == len(words()) and len(changed) == expected
        for a, b in changed:
            assert a not in STOP_WORDS and b in SYN[a]


def test_synonym_replacement_is_capped_by_replaceable_words():
    out = T.synonym_replacement(words(), 1.0, random.Random(0), T.synonym_source(SYN))
    # every replaceable word with synonyms changes; "the", "over" are stop words, "fox" has none
    assert [a != b for a, b in zip(words(), out)] == [False, True, True, False, True, False, False, True, True]


def test_random_insertion_adds_n_synonyms():
    for seed in range(10):
        out = T.random_insertion(words(), 0.25, random.Random(seed), T.synonym_source(SYN))
        extra = Counter(out) - Counter(words())
        assert sum(extra.values()) == 2
        assert all(w in {s for k, v in SYN.items() if k not in STOP_WORDS for s in v} for w in extra)
    assert T.random_insertion(["the", "of"], 0.5, random.Random(0), T.synonym_source(SYN)) == ["the", "of"]


def test_random_swap_keeps_the_multiset_and_moves_at_most_2n_words():
    for seed in range(10):
        out = T.random_swap(words(), 0.25, random.Random(seed))
        assert sorted(out) == sorted(words())
        assert sum(a != b for a, b in zip(words(), out)) <= 4
    assert T.random_swap(["one"], 1.0, random.Random(0)) == ["one"]


def test_random_deletion_rate():
    doc = [f"w{i}" for i in range(50)]
    rng = random.Random(0)
    kept = [len(T.random_deletion(doc, 0.3, rng)) for _ in range(400)]
    frac = 1 - sum(kept) / (400 * 50)
    # each word dropped independently: sd = sqrt(0.21 / 20000) ≈ 0.0032
    assert abs(frac - 0.3) < 0.017
    assert T.random_deletion(doc, 0.0, rng) == doc
    assert len(T.random_deletion(["a", "b"], 1.0, rng)) == 1


def test_sentence_shuffle_permutes_sentences():
    text = "One is here. Two is there! Three is gone? Four stays."
    out = T.sentence_shuffle(text, 0.5, random.Random(1))
    assert sorted(T.sentences_of(out)) == sorted(T.sentences_of(text)) and out != text
    assert T.sentence_shuffle("Just one sentence.", 1.0, random.Random(0)) == "Just one sentence."


def test_augment_is_deterministic_and_gives_n_aug_variants():
    doc = SENTENCE + ". The dog is lazy. The fox is quick."
    a = T.augment(doc, alpha=0.2, n_aug=6, seed=3, synonyms=SYN)
    assert a == T.augment(doc, alpha=0.2, n_aug=6, seed=3, synonyms=SYN)
    assert a != T.augment(doc, alpha=0.2, n_aug=6, seed=4, synonyms=SYN)
    assert len(a) == 6
    assert T.augment(doc, n_aug=0, synonyms=SYN) == []
    shuffled = T.augment(doc, ops=["sentences"], alpha=1.0, n_aug=3, seed=0)
    assert all(sorted(T.sentences_of(s)) == sorted(T.sentences_of(doc)) for s in shuffled)


def test_callable_synonym_source_and_bad_arguments():
    calls = []

    def source(word):
        calls.append(word)
        return [word.upper()]

    out = T.augment("red apples", ops=["synonym"], alpha=1.0, n_aug=1, synonyms=source)
    assert out == ["RED APPLES"] and set(calls) == {"red", "apples"}
    with pytest.raises(ConfigError, match="ops"):
        T.augment("x", ops=["rotate"])
    with pytest.raises(ConfigError, match="synonyms"):
        T.synonym_source(42)


def test_back_translation_uses_the_hook_and_fails_clearly_without_one():
    def toy(text, src, dst):  # reverses word order per hop and tags the language
        return " ".join(reversed(text.split())) + f" [{dst}]"

    assert T.back_translate("a b c", translate=toy) == "[fr] a b c [en]"
    with pytest.raises(RuntimeError, match="needs a translator"):
        T.back_translate("a b c")
    T.set_translator(toy)
    try:
        assert T.back_translate("x y", pivot="de") == "[de] x y [en]"
    finally:
        T.set_translator(None)


def test_missing_lexicon_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install wordnet-base"):
        WordNet(str(tmp_path))


def test_wordnet_reader_on_a_tiny_lexicon(tmp_path):
    # hand-written files in the wndb(5WN) format; offsets are byte positions of the data lines
    line_dog = "00000000 05 n 02 dog 0 domestic_dog 0 000 | a domesticated canid; \"the dog barked\"\n"
    line_cur = f"{len(line_dog):08d} 05 n 02 cur 0 dog 1 000 | an inferior dog\n"
    (tmp_path / "data.noun").write_text(line_dog + line_cur)
    (tmp_path / "index.noun").write_text(
        f"dog n 2 0 2 0 00000000 {len(line_dog):08d}  \ncur n 1 0 1 0 {len(line_dog):08d}  \n")
    adj = "00000000 00 s 01 good(a) 0 000 | having desirable qualities\n"
    (tmp_path / "data.adj").write_text(adj)
    (tmp_path / "index.adj").write_text("good a 1 0 1 0 00000000  \n")
    for pos in ("verb", "adv"):
        (tmp_path / f"data.{pos}").write_text("")
        (tmp_path / f"index.{pos}").write_text("")
    wn = WordNet(str(tmp_path))
    assert wn.synonyms("dog") == ("cur", "domestic dog")
    assert wn.synonyms("Cur") == ("dog",)
    assert wn.synonyms("good") == ()
    synsets = list(wn.synsets("noun"))
    assert [s.lexname for s in synsets] == ["noun.animal", "noun.animal"]
    assert synsets[0].definition == "a domesticated canid"
    assert list(wn.synsets("adj"))[0].words == ("good",)


@pytest.mark.skipif(not HAS_WORDNET, reason="wordnet-base not installed")
def test_real_wordnet_synonyms_and_stop_words():
    wn = WordNet()
    assert {"automobile", "motorcar"} <= set(wn.synonyms("car"))
    assert "car" not in wn.synonyms("car")
    out = T.augment("the car is on the road", ops=["synonym"], alpha=1.0, n_aug=5, seed=0)
    for variant in out:
        v = variant.split()
        assert v[0] == "the" and "is" in v and "on" in v  # stop words untouched


@pytest.mark.skipif(not Path("/usr/share/man/man5/lexnames.5WN.gz").exists(), reason="no lexnames(5WN)")
def test_lexnames_table_matches_the_manual():
    import gzip
    import re

    text = gzip.open("/usr/share/man/man5/lexnames.5WN.gz", "rt").read()
    rows = dict((int(n), name) for n, name in re.findall(r"^(\d\d)\s+(\w+\.\w+)", text, re.M))
    assert [rows[i] for i in range(len(LEXNAMES))] == list(LEXNAMES)


def test_text_augmentation_registry():
    from nnopt.registry import FAMILIES

    reg = FAMILIES["text_augmentations"]
    assert reg.create("none") is None
    edit = reg.create("synonym", alpha=0.5)
    assert edit(SENTENCE, 2, 0, SYN) == T.augment(SENTENCE, ["synonym"], 0.5, 2, 0, SYN)
    with pytest.raises(ConfigError, match="text_augmentations.alpha = 2"):
        reg.create("eda", alpha=2.0)
