"""WordNet topics: classify a noun's definition by its lexicographer file (an offline text task).

Each example is the definition of a WordNet 3.0 noun synset — its gloss without the quoted
examples, e.g. "a domesticated carnivorous mammal that typically has a long snout, ..." — labelled
by the synset's lexicographer file (noun.animal, noun.food, ...). ``per_class`` synsets are drawn
per class (seeded), then split into train/val/test, stratified and fixed by ``split_seed``.

Texts become integer sequences (N, max_len) over a vocabulary built from the training split only:
id 0 = padding, 1 = unknown word, then words by decreasing count (ties alphabetical). Sequences are
left-padded and keep their first max_len words, so an RNN's last step is the last real word.
Optionally, the training split is enlarged offline with ``n_aug`` text-augmented variants per
document (``augment`` names a `TEXT_AUGMENTATIONS` entry, synonyms from the same WordNet).
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import replace

import numpy as np
import torch

from ..augment.text import TEXT_AUGMENTATIONS, words_of
from ..augment.wordnet import DEFAULT_PATH, LEXNAMES, wordnet
from ..errors import ConfigError
from ..params import Param
from ..registry import DATASETS
from .dataset import N_TRAIN, SPLIT_SEED, Dataset, Split, stratified_split, subset

PAD, UNK = 0, 1
NOUN_FILES = tuple(name for name in LEXNAMES if name.startswith("noun."))
DEFAULT_CLASSES = ["noun.animal", "noun.plant", "noun.food", "noun.artifact", "noun.person",
                   "noun.location", "noun.body", "noun.substance"]


@functools.lru_cache(maxsize=2)
def noun_definitions(path: str) -> dict[str, tuple[str, ...]]:
    """lexicographer file → definitions of its noun synsets, in file order."""
    out: dict[str, list[str]] = {}
    for synset in wordnet(path).synsets("noun"):
        out.setdefault(synset.lexname, []).append(synset.definition)
    return {k: tuple(v) for k, v in out.items()}


def build_vocabulary(docs: list[list[str]], max_vocab: int, min_count: int) -> list[str]:
    """["<pad>", "<unk>", words with count >= min_count by decreasing count, ties alphabetical]."""
    counts = Counter(w for doc in docs for w in doc)
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return ["<pad>", "<unk>", *ranked[:max_vocab - 2]]


def encode(docs: list[list[str]], vocabulary: list[str], max_len: int) -> torch.Tensor:
    """(N, max_len) int64 ids: the first max_len words of each doc, left-padded with 0."""
    ids = {w: i for i, w in enumerate(vocabulary)}
    out = torch.full((len(docs), max_len), PAD, dtype=torch.int64)
    for row, doc in enumerate(docs):
        seq = [ids.get(w, UNK) for w in doc[:max_len]]
        if seq:
            out[row, max_len - len(seq):] = torch.tensor(seq)
    return out


def wordnet_topics(classes=tuple(DEFAULT_CLASSES), per_class=1000, val_fraction=0.15,
                   test_fraction=0.15, split_seed=0, n_train=None, max_len=20, max_vocab=8192,
                   min_count=1, augment="none", alpha=0.1, n_aug=4, path=DEFAULT_PATH) -> Dataset:
    """WordNet noun definitions → lexicographer file, as left-padded word-id sequences."""
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes = {list(classes)} — must be at least two distinct noun files")
    by_file = noun_definitions(path)
    rng = np.random.RandomState(split_seed)
    texts, labels = [], []
    for label, name in enumerate(classes):
        pool = by_file[name]
        for i in np.sort(rng.permutation(len(pool))[:per_class]):
            texts.append(pool[i])
            labels.append(label)
    y = np.array(labels)
    train, val, test = stratified_split(y, (0.0, val_fraction, test_fraction), split_seed)
    train = subset(train, y, n_train, split_seed)
    train_texts, train_y = [texts[i] for i in train], list(y[train])
    edit = TEXT_AUGMENTATIONS.create(augment, field="data.augment",
                                     **({} if augment == "none" else {"alpha": alpha}))
    if edit is not None and n_aug > 0:
        source = wordnet(path)
        extra = [(variant, label) for k, (text, label) in enumerate(zip(train_texts, train_y))
                 for variant in edit(text, n_aug, split_seed * 1_000_003 + k, source)]
        train_texts += [t for t, _ in extra]
        train_y += [label for _, label in extra]
    tokens = lambda docs: [[w for w in words_of(t) if w[:1].isalpha()] for t in docs]  # noqa: E731
    train_docs = tokens(train_texts)
    vocabulary = build_vocabulary(train_docs, max_vocab, min_count)
    splits = [Split(encode(train_docs, vocabulary, max_len), torch.tensor(train_y, dtype=torch.int64))]
    for idx in (val, test):
        splits.append(Split(encode(tokens([texts[i] for i in idx]), vocabulary, max_len),
                            torch.from_numpy(y[idx].astype(np.int64))))
    data = Dataset("wordnet_topics", *splits, n_classes=len(classes), classes=list(classes),
                   vocabulary=vocabulary)
    return data


DATASETS.register("wordnet_topics", params={
    "classes": Param(list, list(DEFAULT_CLASSES), item=Param(str, choices=NOUN_FILES),
                     doc="lexicographer files, one class each"),
    "per_class": Param(int, 1000, ge=10, doc="synsets drawn per class (fewer if the file has fewer)"),
    "val_fraction": Param(float, 0.15, gt=0, lt=0.5),
    "test_fraction": Param(float, 0.15, gt=0, lt=0.5),
    "split_seed": replace(SPLIT_SEED, doc="seed of the per-class draw and of the fixed split"),
    "n_train": N_TRAIN,
    "max_len": Param(int, 20, ge=1, doc="words kept per definition (left-padded)"),
    "max_vocab": Param(int, 8192, ge=3, doc="vocabulary size incl. <pad> and <unk>"),
    "min_count": Param(int, 1, ge=1, doc="training-split count for a word to get its own id"),
    "augment": Param(str, "none", choices=TEXT_AUGMENTATIONS, doc="offline text augmentation of train"),
    "alpha": Param(float, 0.1, ge=0, le=1, doc="rate of the text augmentation"),
    "n_aug": Param(int, 4, ge=0, doc="augmented variants added per training document"),
    "path": Param(str, DEFAULT_PATH, external=True, doc="directory of the WordNet 3.0 database files"),
})(wordnet_topics)

__all__ = ["wordnet_topics", "build_vocabulary", "encode", "noun_definitions", "PAD", "UNK"]
