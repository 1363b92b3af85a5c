"""The WordNet-topics text data set and the text_rnn model that trains on it."""
from pathlib import Path

import pytest
import torch

import nnopt
import nnopt.data.wordnet_topics as wt
import nnopt.nn.text_models  # noqa: F401  (registers text_rnn)
from nnopt import ConfigError
from nnopt.data import load

pytestmark = pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").exists(),
                                reason="wordnet-base not installed")
SMALL = {"classes": ["noun.animal", "noun.food", "noun.artifact"], "per_class": 40}


def test_vocabulary_and_encoding_by_hand():
    docs = [["b", "a", "b"], ["c", "b"], ["a"]]
    vocab = wt.build_vocabulary(docs, max_vocab=10, min_count=1)
    assert vocab == ["<pad>", "<unk>", "b", "a", "c"]  # b×3, then a×2, then c×1
    assert wt.build_vocabulary(docs, max_vocab=4, min_count=1) == ["<pad>", "<unk>", "b", "a"]
    assert wt.build_vocabulary(docs, max_vocab=10, min_count=2) == ["<pad>", "<unk>", "b", "a"]
    ids = wt.encode([["a", "z"], ["c", "b", "a", "b"], []], vocab, max_len=3)
    assert ids.tolist() == [[0, 3, 1], [4, 2, 3], [0, 0, 0]]


def test_fixed_split_shapes_and_balance():
    d = load("wordnet_topics", **SMALL)
    assert d.n_classes == 3 and d.classes == SMALL["classes"]
    assert len(d.train) + len(d.val) + len(d.test) == 120
    assert d.train.x.dtype == torch.int64 and d.train.x.shape[1] == 20
    assert torch.bincount(d.train.y).tolist() == [28, 28, 28]
    again = load("wordnet_topics", **SMALL)
    for a, b in zip((d.train, d.val, d.test), (again.train, again.val, again.test)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    other = load("wordnet_topics", **SMALL, split_seed=1)
    assert not torch.equal(d.train.x, other.train.x)


def test_sequences_are_left_padded_definitions_from_the_right_file():
    d = load("wordnet_topics", **SMALL)
    defs = wt.noun_definitions("/usr/share/wordnet")
    first = d.train.x[0]
    words = [d.vocabulary[i] for i in first.tolist() if i != wt.PAD]
    real = (first != wt.PAD).nonzero()
    assert int(real[0]) == len(first) - len(words)  # padding only on the left
    label = d.classes[int(d.train.y[0])]
    assert any(nnopt.augment.text.words_of(t)[:len(words)] == words for t in defs[label])


def test_vocabulary_comes_from_the_training_split_only():
    d = load("wordnet_topics", **SMALL)
    assert not (d.train.x == wt.UNK).any()  # every training word has its own id
    assert (d.val.x == wt.UNK).any()  # some validation words were never seen in training


def test_offline_text_augmentation_enlarges_the_training_split():
    plain = load("wordnet_topics", **SMALL)
    aug = load("wordnet_topics", **SMALL, augment="eda", alpha=0.2, n_aug=2)
    assert len(aug.train) == 3 * len(plain.train)
    assert torch.equal(aug.train.y[:len(plain.train)], plain.train.y)
    assert torch.equal(aug.val.y, plain.val.y)


def test_bad_parameters():
    with pytest.raises(ConfigError, match=r"data.classes\[0\] = 'noun.animals'"):
        load("wordnet_topics", classes=["noun.animals", "noun.food"])
    with pytest.raises(ConfigError, match="at least two distinct"):
        load("wordnet_topics", classes=["noun.food", "noun.food"])
    with pytest.raises(ConfigError, match="data.augment"):
        load("wordnet_topics", augment="rotate")


def test_text_rnn_learns_the_task(tmp_path):
    from nnopt.train import train

    recipe = nnopt.Recipe({"data": {"name": "wordnet_topics", **SMALL, "per_class": 60},
                           "model": {"name": "text_rnn", "cell": "gru", "hidden": 32, "embed": 32},
                           "optimizer": {"lr": 0.01},
                           "train": {"epochs": 6, "batch_size": 32, "threads": 1, "device": "cpu",
                                     "checkpoint": False}})
    summary = train(recipe, tmp_path, quiet=True)
    assert summary["final_train_acc"] > 0.8  # chance is 1/3
    with pytest.raises(ValueError, match="integer token ids"):
        nnopt.nn.text_models.text_rnn((5,), 2, vocab_size=10)(torch.zeros(1, 5))
