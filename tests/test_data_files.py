"""Your own data: CSV tables, npz / .npy arrays (memory-mapped), image folders, and scikit-learn's
bundled tabular sets — each checked against the arrays it was written from (numpy, Pillow,
scikit-learn as the oracles)."""
import numpy as np
import pytest
import torch

from nnopt import ConfigError
from nnopt.data import load
from nnopt.data.arrays import MappedRows

pytestmark = pytest.mark.usefixtures("one_thread")


def write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def table(tmp_path):
    """60 rows: features a, b, c (floats written with repr: exact), a text label, a float price."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    label = np.array(["cat", "dog", "eel"])[np.arange(60) % 3]
    price = x @ [1.0, -2.0, 0.5]
    path = write_csv(tmp_path / "t.csv", ["a", "b", "c", "label", "price"],
                     [[*(repr(float(v)) for v in r), lab, repr(float(p))] for r, lab, p in zip(x, label, price)])
    return path, x, label, price


def all_rows(data):
    """Each split's rows as float64 numpy, in split order, and the targets."""
    xs = [np.asarray(s.x[:len(s)], dtype=np.float64) for s in (data.train, data.val, data.test)]
    ys = [s.y.numpy() for s in (data.train, data.val, data.test)]
    return xs, ys


def test_csv_classification_rows_match_the_file_and_splits_partition_it(table):
    path, x, label, _ = table
    data = load("csv", path=path, target="label", features=["a", "b", "c"])
    assert (data.task, data.n_classes, data.n_outputs, data.classes, data.target) == \
        ("classification", 3, 3, ["cat", "dog", "eel"], "label")
    xs, ys = all_rows(data)
    assert sum(map(len, xs)) == 60 and data.input_shape == (3,)
    # every split row is a row of the file with its own label (float32 of the written value)
    want = {tuple(np.float32(r)): lab for r, lab in zip(x, label)}
    seen = set()
    for xi, yi in zip(xs, ys):
        for row, y in zip(xi, yi):
            key = tuple(np.float32(row))
            assert data.classes[y] == want[key]
            seen.add(key)
    assert len(seen) == 60  # disjoint splits covering the file
    # stratified: each class holds its share in each split (20 per class → 14/3/3)
    assert [np.bincount(y, minlength=3).tolist() for y in ys] == [[14] * 3, [3] * 3, [3] * 3]


def test_csv_task_inferred_from_the_target_and_overridable(table):
    path, x, _, price = table
    reg = load("csv", path=path, target="price", features=["a", "b", "c"])
    assert (reg.task, reg.n_classes, reg.n_outputs, reg.train.y.dtype) == ("regression", 0, 1, torch.float32)
    xs, ys = all_rows(reg)
    got = {tuple(np.float32(r)): y for xi, yi in zip(xs, ys) for r, y in zip(xi, yi)}
    for r, p in zip(x, price):
        assert got[tuple(np.float32(r))] == np.float32(p)
    # the default features are all columns but the target: the label column is text, so refused
    with pytest.raises(ConfigError, match=r"feature column 'label' is not numeric \('cat' at line 2\)"):
        load("csv", path=path, target="price")


def test_csv_integer_target_is_classification_unless_task_says_regression(tmp_path):
    rows = [[i, i % 2] for i in range(30)]
    path = write_csv(tmp_path / "i.csv", ["f", "y"], rows)
    assert load("csv", path=path, target="y").task == "classification"
    reg = load("csv", path=path, target="y", task="regression")
    assert reg.task == "regression" and sorted(torch.cat([reg.train.y, reg.val.y, reg.test.y]).tolist()) == \
        sorted(float(r[1]) for r in rows)


def test_csv_split_seed_moves_the_split_and_is_deterministic(table):
    path = table[0]
    kw = dict(path=path, target="label", features=["a", "b"])
    a, b, c = load("csv", **kw), load("csv", **kw), load("csv", split_seed=1, **kw)
    assert torch.equal(a.val.x, b.val.x) and not torch.equal(a.val.x, c.val.x)


@pytest.mark.parametrize("text, match", [
    ("a,b,y\n1,2,0\n3,,1\n4,5,0\n", r"column 'b' has a missing value at line 3"),
    ("a,b,y\n1,2,0\n3,NA,1\n4,5,0\n", r"column 'b' has a missing value at line 3"),
    ("a,b,y\n1,2,0\n3,4,1\n4,5,\n", r"column 'y' has a missing value at line 4"),
    ("a,b,y\n1,2,0\n3,x4,1\n", r"feature column 'b' is not numeric \('x4' at line 3\)"),
    ("a,b,y\n1,2,0\n3,4\n", r"line 3 has 2 fields, the header 3"),
    ("a,b,y\n1,2,0\n3,4,0\n", r"holds a single class \('0' in all 2 samples\)"),
    ("", r"the file is empty"),
])
def test_csv_bad_input_names_the_file_column_and_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load("csv", path=str(path), target="y")


def test_csv_unknown_columns_and_a_target_among_the_features(table):
    path = table[0]
    with pytest.raises(ConfigError, match=r"data.target = 'lable' — not a column .* did you mean 'label'\?"):
        load("csv", path=path, target="lable")
    with pytest.raises(ConfigError, match=r"data.features\[1\] = 'bb' — not a column"):
        load("csv", path=path, target="label", features=["a", "bb"])
    with pytest.raises(ConfigError, match="lists the target column 'label'"):
        load("csv", path=path, target="label", features=["a", "label"])
    with pytest.raises(ConfigError, match="no such file"):
        load("csv", path=path + ".missing", target="label")
    with pytest.raises(ConfigError, match="data.target is required"):
        load("csv", path=path)


def test_parquet_without_pyarrow_says_how_to_get_it(table, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *a, **kw):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(ConfigError, match=r"reading Parquet needs pyarrow: pip install 'nnopt\[parquet\]'"):
        load("csv", path=str(path), target="label")


def test_parquet_reads_like_the_csv(table, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path, x, label, price = table
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label, "price": price}),
                   tmp_path / "t.parquet")
    a = load("csv", path=path, target="label", features=["a", "b", "c"])
    b = load("csv", path=str(tmp_path / "t.parquet"), target="label", features=["a", "b", "c"])
    assert a.classes == b.classes and torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)


def test_npz_x_y_is_split_and_given_splits_are_kept(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(90, 4)).astype(np.float32), np.arange(90) % 3
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    data = load("npz", path=str(tmp_path / "xy.npz"))
    assert (data.task, data.n_classes, data.classes) == ("classification", 3, ["0", "1", "2"])
    assert sum(len(s) for s in (data.train, data.val, data.test)) == 90
    np.savez(tmp_path / "given.npz", x_train=x[:60], y_train=y[:60], x_val=x[60:75], y_val=y[60:75],
             x_test=x[75:], y_test=y[75:])
    given = load("npz", path=str(tmp_path / "given.npz"))
    for split, (a, b) in zip((given.train, given.val, given.test), ((0, 60), (60, 75), (75, 90))):
        assert np.array_equal(split.x.numpy(), x[a:b]) and np.array_equal(split.y.numpy(), y[a:b])


def test_npy_folder_is_memory_mapped_and_batches_read_the_right_rows(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 2, 3)), rng.normal(size=(80, 2))  # float64 inputs, 2 regression targets
    np.save(tmp_path / "x_train.npy", x[:60])
    np.save(tmp_path / "y_train.npy", y[:60])
    np.save(tmp_path / "x_test.npy", x[60:])
    np.save(tmp_path / "y_test.npy", y[60:])
    data = load("npz", path=str(tmp_path), val_fraction=0.2)
    assert (data.task, data.n_outputs, data.input_shape) == ("regression", 2, (2, 3))
    assert isinstance(data.train.x, MappedRows) and isinstance(data.train.x.array, np.memmap)
    assert len(data.train) == 48 and len(data.val) == 12  # val held out of train (20 %)
    assert np.array_equal(data.test.x[:].numpy(), x[60:].astype(np.float32))
    # a batch (unsorted indices, as the Trainer's shuffled order) is exactly those rows of train
    rows = data.train.x.rows
    idx = torch.tensor([5, 0, 47, 5, 12])
    assert np.array_equal(data.train.x[idx].numpy(), x[rows[idx.numpy()]].astype(np.float32))
    assert np.array_equal(data.train.y[idx].numpy(), y[rows[idx.numpy()]].astype(np.float32))
    assert np.array_equal(data.train.x[3:7].numpy(), x[rows[3:7]].astype(np.float32))


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.zeros((4, 2))}, r"has no array 'y' \(it has: x\)"),
    ({"inputs": np.zeros((4, 2))}, r"expected arrays x and y, or x_train and y_train"),
    ({"x_train": np.zeros((4, 2)), "y_train": np.zeros(4), "x_val": np.zeros((2, 2))},
     r"has x_val without its y_val"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(5)}, r"x has 4 samples, y 5"),
    ({"x": np.array([[0.0, 1], [np.nan, 2]]), "y": np.zeros(2)}, r"x\[1, 0\] is nan — inputs must be finite"),
    ({"x": np.zeros(4), "y": np.zeros(4)}, r"x has shape \(4,\) — inputs need a sample axis"),
])
def test_npz_bad_arrays_are_named(tmp_path, arrays, match):
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(ConfigError, match=match):
        load("npz", path=str(tmp_path / "a.npz"))


def make_images(root, classes=("circle", "square"), n=9, size=(10, 12)):
    from PIL import Image

    rng = np.random.default_rng(0)
    files = {}
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            file = root / c / (f"{i}.png" if i % 2 else f"{i}.jpg")
            Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(file)
            files[file] = c
    return files


def test_image_folder_pixels_are_pillows_grey_resize(tmp_path):
    from PIL import Image

    files = make_images(tmp_path)
    (tmp_path / "circle" / "notes.txt").write_text("not an image: skipped")
    data = load("image_folder", path=str(tmp_path), size=[6, 8])
    assert (data.classes, data.input_shape) == (["circle", "square"], (1, 6, 8))
    xs, ys = all_rows(data)
    rows = np.concatenate(xs).reshape(18, -1)
    labels = [data.classes[y] for y in np.concatenate(ys)]
    assert len(rows) == len(files) == 18
    for file, c in files.items():  # oracle: Pillow's own L conversion and bilinear resize, / 255
        want = np.asarray(Image.open(file).convert("L").resize((8, 6), Image.Resampling.BILINEAR)) / 255.0
        match = np.flatnonzero(np.abs(rows - want.ravel()).max(axis=1) < 1e-6)
        assert len(match) == 1 and labels[match[0]] == c
    rgb = load("image_folder", path=str(tmp_path), size=[6, 8], mode="rgb", layout="flat")
    assert rgb.input_shape == (3 * 6 * 8,)


def test_image_folder_given_train_test_folders(tmp_path):
    make_images(tmp_path / "train", n=10)
    make_images(tmp_path / "test", n=3)
    data = load("image_folder", path=str(tmp_path), size=[4, 4], val_fraction=0.2)
    assert (len(data.train), len(data.val), len(data.test)) == (16, 4, 6)
    assert data.classes == ["circle", "square"]


def test_image_folder_unreadable_file_and_empty_class_are_named(tmp_path):
    make_images(tmp_path)
    (tmp_path / "square" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match=r"image .*square/broken.png cannot be read"):
        load("image_folder", path=str(tmp_path))
    (tmp_path / "square" / "broken.png").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"class folder .*empty holds no PNG/JPG/JPEG files"):
        load("image_folder", path=str(tmp_path))


@pytest.mark.parametrize("name, loader, task, k", [
    ("diabetes", "load_diabetes", "regression", 0),
    ("breast_cancer", "load_breast_cancer", "classification", 2),
    ("wine", "load_wine", "classification", 3),
])
def test_sklearn_tables_hold_scikit_learns_rows(name, loader, task, k):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)()
    data = load(name)
    assert (data.task, data.n_classes, data.input_shape) == (task, k, (bunch.data.shape[1],))
    xs, ys = all_rows(data)
    assert sum(map(len, xs)) == len(bunch.data)
    got = np.sort(np.concatenate(xs)[:, 0])
    assert np.allclose(got, np.sort(bunch.data[:, 0].astype(np.float32)))
    if k:
        assert data.classes == [str(n) for n in bunch.target_names]
        assert np.array_equal(np.bincount(np.concatenate(ys)), np.bincount(bunch.target))


def test_load_inputs_reads_mapped_rows_into_tensors(tmp_path):
    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(20) % 2)
    data = load("npz", path=str(tmp_path), val_fraction=0.25, test_fraction=0.25)
    rows = [s.x.rows for s in (data.train, data.val, data.test)]
    data.load_inputs()
    for split, r in zip((data.train, data.val, data.test), rows):
        assert isinstance(split.x, torch.Tensor) and np.array_equal(split.x.numpy(), x[r].astype(np.float32))
