import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from nnopt import ConfigError, DataError
from nnopt.data import load
from nnopt.data.fashion_mnist import DEFAULT_PATH
from nnopt.data.idx import read_idx


def test_digits_split_is_fixed_stratified_and_disjoint():
    from sklearn.datasets import load_digits

    a, b = load("digits"), load("digits")
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert len(a.train) + len(a.val) + len(a.test) == len(load_digits().target) == 1797
    assert a.input_shape == (1, 8, 8) and a.n_classes == 10
    assert 0.0 <= float(a.train.x.min()) and float(a.train.x.max()) <= 1.0
    # stratified: each class's share in val within one sample of its share overall
    full = np.bincount(load_digits().target) / 1797
    val = np.bincount(a.val.y.numpy(), minlength=10)
    assert np.all(np.abs(val - full * len(a.val)) <= 1.0)
    # disjoint: no training image appears in the test split
    train_rows = {tuple(r) for r in a.train.x.flatten(1).tolist()}
    assert sum(tuple(r) in train_rows for r in a.test.x.flatten(1).tolist()) <= 2  # digits has a few duplicates


def test_split_seed_changes_the_split_and_subset_is_stratified():
    a, b = load("digits"), load("digits", split_seed=1)
    assert not torch.equal(a.val.y, b.val.y)
    small = load("digits", n_train=100)
    assert len(small.train) == 100 and len(torch.unique(small.train.y)) == 10
    with pytest.raises(ConfigError, match="n_train"):
        load("digits", n_train=5)


def test_layouts():
    assert load("digits", layout="flat").input_shape == (64,)
    seq = load("digits_seq")
    assert seq.input_shape == (8, 8)
    img = load("digits")
    assert torch.equal(seq.train.x, img.train.x.squeeze(1))


def test_moons():
    d = load("moons", n_samples=500, noise=0.1)
    assert d.input_shape == (2,) and d.n_classes == 2
    assert len(d.train) + len(d.val) + len(d.test) == 500


SUBSETTABLE = ["circles", "xor", "spirals", "moons", "breast_cancer", "wine", "diabetes"]


def rows(split) -> list[tuple]:
    """Each sample of a split as one hashable (inputs…, target…) row."""
    return [(*x, *np.atleast_1d(y)) for x, y in zip(split.x.flatten(1).tolist(), split.y.numpy().tolist())]


@pytest.mark.parametrize("name", SUBSETTABLE)
def test_n_train_is_a_seeded_subset_of_the_training_split_only(name):
    for seed in (0, 1):
        full, small = load(name, split_seed=seed), load(name, split_seed=seed, n_train=40)
        assert len(small.train) == 40
        for part in ("val", "test"):  # the same held-out samples, in the same order
            assert torch.equal(getattr(small, part).x, getattr(full, part).x)
            assert torch.equal(getattr(small, part).y, getattr(full, part).y)
        assert set(rows(small.train)) <= set(rows(full.train))
        if full.task == "classification":  # stratified: each class within one sample of its share
            shares = np.bincount(full.train.y.numpy(), minlength=full.n_classes) / len(full.train)
            counts = np.bincount(small.train.y.numpy(), minlength=full.n_classes)
            assert np.all(np.abs(counts - 40 * shares) <= 1.0), (counts, 40 * shares)
    again, other = load(name, n_train=40), load(name, n_train=40, split_seed=1)
    assert torch.equal(again.train.x, load(name, n_train=40).train.x)
    assert not torch.equal(again.train.x, other.train.x)
    assert torch.equal(load(name, split_seed=1, n_train=len(full.train)).train.x, full.train.x)  # all of it


@pytest.mark.parametrize("name", SUBSETTABLE)
def test_n_train_the_split_cannot_give_is_a_config_error(name):
    full = load(name)
    too_many = len(full.train) + 1
    with pytest.raises(ConfigError, match=rf"data\.n_train = {too_many} — must be at most {len(full.train)}"):
        load(name, n_train=too_many)
    if full.task == "classification":
        with pytest.raises(ConfigError, match=rf"data\.n_train = {full.n_classes - 1} — must be at least the "
                                              rf"number of classes \({full.n_classes}\)"):
            load(name, n_train=full.n_classes - 1)
    else:  # regression: a random subset, no classes to keep
        assert len(load(name, n_train=1).train) == 1


@pytest.mark.parametrize("name", ["wine", "digits"])
def test_n_train_leaving_out_fewer_samples_than_classes(name):
    # no stratified split leaves out 1 sample of a 3- or 10-class set: that one goes at random
    full = load(name)
    small = load(name, n_train=len(full.train) - 1)
    assert len(small.train) == len(full.train) - 1 and set(rows(small.train)) < set(rows(full.train))


@pytest.mark.parametrize("name", ["spirals", "moons", "wine", "diabetes"])
def test_n_train_through_a_recipe(name):
    from nnopt import Recipe

    recipe = Recipe({"data": {"name": name}}).override(["data.n_train=40"])
    data = load(recipe.data["name"], **recipe.params("data"))
    assert len(data.train) == 40 and torch.equal(data.test.x, load(name).test.x)
    with pytest.raises(ConfigError, match="n_train"):
        Recipe({"data": {"name": name}}).override(["data.n_train=0"])


def test_csv_n_train_subsets_the_training_split_of_a_regression_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,price\n" + "".join(f"{i},{i % 7},{i * 0.5 + 0.25}\n" for i in range(80)))
    full = load("csv", path=str(path), target="price")
    small = load("csv", path=str(path), target="price", n_train=10)
    assert full.task == small.task == "regression" and len(small.train) == 10
    assert torch.equal(small.val.y, full.val.y) and torch.equal(small.test.x, full.test.x)
    assert set(rows(small.train)) <= set(rows(full.train))


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> None:
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def fake_mnist(directory: Path, n_train=200, n_test=50, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for part, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{part}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
        write_idx(directory / f"{part}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8) % 10, gz)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_reader_round_trip(tmp_path, gz):
    arr = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", arr, gz=gz)
    out = read_idx(tmp_path / "a.idx")
    assert out.shape == (2, 3, 4) and np.array_equal(out, arr)


def test_fashion_mnist_from_a_directory(tmp_path):
    fake_mnist(tmp_path)
    d = load("fashion_mnist", path=str(tmp_path), val_size=40)
    assert (len(d.train), len(d.val), len(d.test)) == (160, 40, 50)
    assert d.input_shape == (1, 28, 28) and d.classes[9] == "Ankle boot"
    raw = read_idx(tmp_path / "t10k-images-idx3-ubyte.gz")
    assert torch.allclose(d.test.x[:, 0], torch.from_numpy(raw.astype(np.float32) / 255))
    assert load("fashion_mnist_seq", path=str(tmp_path), val_size=40).input_shape == (28, 28)


def test_fashion_mnist_files_are_read_once_until_they_change(tmp_path, monkeypatch):
    """A second load of the same files decompresses nothing; rewritten files are read again."""
    import nnopt.data.fashion_mnist as fm

    fake_mnist(tmp_path)
    reads = []
    monkeypatch.setattr(fm, "read_idx", lambda path: reads.append(path) or read_idx(path))
    first = load("fashion_mnist", path=str(tmp_path), val_size=40)
    again = load("fashion_mnist", path=str(tmp_path), val_size=40, n_train=100)
    assert len(reads) == 4 and torch.equal(first.test.x, again.test.x) and len(again.train) == 100
    fake_mnist(tmp_path, n_train=300)
    assert len(load("fashion_mnist", path=str(tmp_path), val_size=40).train) == 260 and len(reads) == 8


def test_missing_and_corrupt_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load("fashion_mnist", path=str(tmp_path / "nowhere"))
    fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load("fashion_mnist", path=str(tmp_path))
    fake_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-100]))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load("fashion_mnist", path=str(tmp_path))
    images.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not an IDX file"):
        load("fashion_mnist", path=str(tmp_path))
    images.write_bytes(b"\x1f\x8b" + b"broken gzip stream")
    with pytest.raises(DataError, match="not a readable IDX file"):
        load("fashion_mnist", path=str(tmp_path))


@pytest.mark.skipif(not Path(DEFAULT_PATH).is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    d = load("fashion_mnist")
    assert (len(d.train), len(d.val), len(d.test)) == (55000, 5000, 10000)
    assert d.input_shape == (1, 28, 28)
    assert torch.equal(torch.bincount(d.test.y), torch.full((10,), 1000))
    assert torch.equal(torch.bincount(d.val.y), torch.full((10,), 500))


def test_take_rows_is_torch_indexing_for_tensors_and_mapped_rows(tmp_path):
    """take_rows (index_select, the fast gather) returns what advanced indexing x[idx] returns, rows in
    the order asked, for a 4-D tensor, labels and a memory-mapped array."""
    from nnopt.data.arrays import MappedRows
    from nnopt.data.dataset import take_rows

    x = torch.randn(50, 1, 4, 4)
    idx = torch.tensor([7, 3, 3, 49, 0])
    assert torch.equal(take_rows(x, idx), x[idx])
    assert torch.equal(take_rows(torch.arange(50), idx), torch.arange(50)[idx])
    np.save(tmp_path / "x.npy", x.numpy())
    mapped = MappedRows(np.load(tmp_path / "x.npy", mmap_mode="r"))
    assert torch.equal(take_rows(mapped, idx), x[idx])
