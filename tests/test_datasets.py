"""Tests for initlab.datasets: every registered set, the blog recipe, files and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

from initlab import datasets
from initlab.datasets import Dataset, check_finite, from_arrays, load, validate_xy

# name -> (n_samples, n_classes, n_features) with default options.
EXPECTED = {
    "blog": (1000, 4, 2),
    "blobs": (1000, 4, 2),
    "moons": (1000, 2, 2),
    "circles": (1000, 2, 2),
    "xor": (500, 2, 2),
    "spiral": (500, 2, 2),
    "gauss": (500, 2, 2),
    "iris": (150, 3, 4),
    "wine": (178, 3, 13),
    "breast_cancer": (569, 2, 30),
    "digits": (1797, 10, 64),
}
FILES = {"csv", "npz"}
REGRESSION = {"plane", "multigauss"}  # tests/test_regression.py
SYNTHETIC = ["blobs", "moons", "circles", "xor", "spiral", "gauss"]


def test_table_covers_every_registered_set():
    assert set(datasets.names()) == set(EXPECTED) | FILES | REGRESSION
    for name in datasets.names():
        assert datasets.describe(name)  # every set has a one-line description
        assert "\n" not in datasets.describe(name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes_dtypes_and_stratified_balance(name):
    n, k, d = EXPECTED[name]
    ds = load(name)
    n_val = math.ceil(0.25 * n)
    assert ds.X_train.shape == (n - n_val, d) and ds.X_val.shape == (n_val, d)
    assert ds.X_train.dtype == np.float64 and ds.y_train.dtype.kind == "i"
    assert ds.y_train.shape == (n - n_val,) and ds.y_val.shape == (n_val,)
    assert ds.n_classes == k == len(ds.classes) and ds.n_features == d
    assert len(ds.feature_names) == d
    assert set(ds.y_train) == set(ds.y_val) == set(range(k))
    # Stratified: each class's share of the validation part is its share overall (±1 sample).
    y = ds.y
    for c in range(k):
        total = np.sum(y == c)
        assert abs(np.sum(ds.y_val == c) - total * n_val / n) <= 1
    assert ds.X.shape == (n, d) and np.array_equal(ds.X[: ds.n_train], ds.X_train)
    assert ds.description == datasets.describe(name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_options_are_json_and_recreate_the_set(name):
    ds = load(name)
    opts = json.loads(json.dumps(ds.options))
    again = load(ds.name, **opts)
    for attr in ("X_train", "X_val", "y_train", "y_val", "classes"):
        assert np.array_equal(getattr(ds, attr), getattr(again, attr))


def test_arrays_are_read_only():
    ds = load("moons", n_samples=40)
    with pytest.raises(ValueError, match="read-only"):
        ds.X_train[0, 0] = 1.0


# --------------------------------------------------------------------------- the blog


def test_blog_is_bit_identical_to_the_blog_code():
    data, labels = make_blobs(n_samples=1000, centers=4, n_features=2, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(data, labels, stratify=labels, random_state=0)
    ds = load("blog")
    assert ds.X_train.shape == (750, 2)
    assert np.array_equal(ds.X_train, X_train) and np.array_equal(ds.X_val, X_val)
    assert np.array_equal(ds.y_train, y_train) and np.array_equal(ds.y_val, y_val)
    assert list(ds.classes) == [0, 1, 2, 3]
    assert ds.scaler is None and ds.options["standardize"] is False


def test_blog_mod2_stratifies_by_the_original_four_labels():
    data, labels = make_blobs(n_samples=1000, centers=4, n_features=2, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(data, labels, stratify=labels, random_state=0)
    ds = load("blog", labels="mod2")
    assert np.array_equal(ds.X_train, X_train) and np.array_equal(ds.X_val, X_val)
    assert np.array_equal(ds.y_train, np.mod(y_train, 2))
    assert np.array_equal(ds.y_val, np.mod(y_val, 2))
    assert list(ds.classes) == [0, 1] and ds.X_train.shape == (750, 2)


def test_blog_rejects_unknown_labels_option():
    with pytest.raises(ValueError, match=r"labels must be one of '4class', 'mod2'; got '3class'"):
        load("blog", labels="3class")


def test_blog_has_no_n_samples_option():
    with pytest.raises(ValueError, match="no option 'n_samples'.*Its options are: labels"):
        load("blog", n_samples=10)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", SYNTHETIC)
def test_same_seed_same_data_different_seed_different_data(name):
    extra = {} if name == "blobs" else {"noise": 0.1}  # blobs has no noise option
    a = load(name, n_samples=60, random_state=3, **extra)
    b = load(name, n_samples=60, random_state=3, **extra)
    c = load(name, n_samples=60, random_state=4, **extra)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.X_val, b.X_val)
    assert np.array_equal(a.y_train, b.y_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(np.sort(a.X, axis=0), np.sort(c.X, axis=0))


def test_split_seed_reshuffles_the_same_points():
    a = load("moons", n_samples=100, random_state=0, standardize=False)
    b = load("moons", n_samples=100, random_state=0, split_seed=1, standardize=False)
    assert a.options["split_seed"] == 0 and b.options["split_seed"] == 1
    assert not np.array_equal(a.X_train, b.X_train)
    order = np.lexsort(a.X.T)
    assert np.array_equal(a.X[order], b.X[np.lexsort(b.X.T)])


def test_real_data_split_follows_the_seed():
    a, b = load("iris", random_state=0), load("iris", random_state=1)
    assert not np.array_equal(a.y_train, b.y_train)
    assert np.array_equal(load("iris", random_state=1).y_train, b.y_train)


def test_val_size_changes_the_split():
    ds = load("iris", val_size=0.2)
    assert (ds.n_train, ds.n_val) == (120, 30)


# --------------------------------------------------------------------------- standardization


def test_standardization_uses_training_statistics_only():
    raw = load("wine", standardize=False)
    ds = load("wine")
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    assert np.allclose(ds.scaler["mean"], mean) and np.allclose(ds.scaler["std"], std)
    assert np.allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(ds.X_train.std(axis=0), 1)
    assert np.allclose(ds.X_val, (raw.X_val - mean) / std)
    assert np.all(np.abs(ds.X_val.mean(axis=0)) > 1e-6)  # val was not fitted on itself
    assert np.allclose(ds.transform(raw.X_val), ds.X_val)


def test_constant_columns_are_left_finite():
    ds = load("digits")  # some pixels are always blank
    assert np.all(np.isfinite(ds.X_train)) and 1.0 in ds.scaler["std"]


# --------------------------------------------------------------------------- TF Playground


def test_xor_labels_are_the_sign_of_x_times_y_and_padded():
    ds = load("xor", standardize=False, n_samples=400, random_state=5)
    X = ds.X
    assert np.all(np.abs(X) >= 0.3) and np.all(np.abs(X) <= 5.3)
    assert np.array_equal(ds.decode(ds.y), np.where(X[:, 0] * X[:, 1] >= 0, 1, -1))
    noisy = load("xor", standardize=False, n_samples=400, random_state=5, noise=0.5)
    assert not np.array_equal(noisy.decode(noisy.y), np.where(noisy.X.prod(axis=1) >= 0, 1, -1))


def test_spiral_without_noise_follows_the_playground_formula():
    ds = load("spiral", standardize=False, n_samples=200)
    n = 100
    i = np.arange(n)
    r, t = i / n * 5, 1.75 * i / n * 2 * np.pi
    pos = np.column_stack([r * np.sin(t), r * np.cos(t)])
    neg = np.column_stack([r * np.sin(t + np.pi), r * np.cos(t + np.pi)])
    X, labels = ds.X, ds.decode(ds.y)
    key = lambda A: A[np.lexsort(A.T)]  # noqa: E731
    assert np.allclose(key(X[labels == 1]), key(pos))
    assert np.allclose(key(X[labels == -1]), key(neg))


def test_gauss_centres_and_variance_grow_with_noise():
    quiet = load("gauss", standardize=False, n_samples=2000)
    noisy = load("gauss", standardize=False, n_samples=2000, noise=0.5)
    pos = quiet.X[quiet.decode(quiet.y) == 1]
    assert np.allclose(pos.mean(axis=0), [2, 2], atol=0.1)
    assert np.allclose(quiet.X[quiet.decode(quiet.y) == -1].mean(axis=0), [-2, -2], atol=0.1)
    assert np.allclose(pos.var(axis=0), 0.5, rtol=0.15)  # variance 0.5 at noise 0
    assert np.allclose(noisy.X[noisy.decode(noisy.y) == 1].var(axis=0), 4.0, rtol=0.15)


def test_real_sets_keep_their_class_names():
    ds = load("iris")
    assert list(ds.classes) == ["setosa", "versicolor", "virginica"]
    assert ds.feature_names[0] == "sepal length (cm)"
    assert list(ds.decode([2, 0])) == ["virginica", "setosa"]


# --------------------------------------------------------------------------- files


def _write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def animals_csv(tmp_path):
    rng = np.random.default_rng(0)
    names = ["cat", "dog", "bird"]
    rows = ["weight,height,animal,age"]
    truth = {}
    for i in range(30):
        w, h, a = round(float(rng.normal()), 6), round(float(rng.normal()), 6), i % 5
        rows.append(f"{w},{h},{names[i % 3]},{a}")
        truth[(w, h, float(a))] = names[i % 3]
    return _write(tmp_path / "animals.csv", "\n".join(rows) + "\n"), truth


def test_csv_round_trip_with_string_labels(animals_csv):
    path, truth = animals_csv
    ds = load(str(path), target="animal", standardize=False)
    assert ds.name == "csv" and list(ds.classes) == ["bird", "cat", "dog"]
    assert ds.feature_names == ("weight", "height", "age")
    assert ds.X.shape == (30, 3) and ds.n_val == 8
    decoded = ds.decode(ds.y)
    assert all(
        truth[tuple(row)] == label for row, label in zip(ds.X.tolist(), decoded, strict=True)
    )
    same = load("csv", path=path, target="animal", standardize=False)
    assert np.array_equal(same.X_train, ds.X_train)
    again = load(ds.name, **json.loads(json.dumps(ds.options)))
    assert np.array_equal(again.y_val, ds.y_val)


def test_csv_target_defaults_to_last_column_with_numeric_labels(animals_csv, tmp_path):
    path, _ = animals_csv
    # The last column ("age") is the default target, so "animal" becomes a feature: not numeric.
    with pytest.raises(ValueError, match="non-numeric value 'cat' on line 2, column 'animal'"):
        load(path)
    text = "x,y,label\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(12))
    ds = load(_write(tmp_path / "num.csv", text), standardize=False)
    assert list(ds.classes) == [0, 1, 2] and ds.classes.dtype.kind == "i"
    assert ds.feature_names == ("x", "y")
    assert np.array_equal(ds.decode(ds.y), ds.X[:, 0].astype(int) % 3)


def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = np.array(["a", "b"] * 20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    ds = load(tmp_path / "d.npz", standardize=False)
    assert ds.name == "npz" and list(ds.classes) == ["a", "b"] and ds.n_val == 10
    order = np.lexsort(ds.X.T)
    assert np.array_equal(ds.X[order], X[np.lexsort(X.T)])
    assert np.array_equal(ds.decode(ds.y)[order], y[np.lexsort(X.T)])


# --------------------------------------------------------------------------- from_arrays


def test_from_arrays_splits_and_encodes():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(20, 2)), np.array(["no", "yes"] * 10)
    ds = from_arrays(X, y, name="mine", split_seed=3)
    assert ds.name == "mine" and (ds.n_train, ds.n_val) == (15, 5)
    assert list(ds.classes) == ["no", "yes"] and ds.scaler is None
    assert np.array_equal(ds.y_val, from_arrays(X, y, split_seed=3).y_val)
    X[0, 0] = 99.0  # the caller's array stays writeable and is not aliased
    assert 99.0 not in ds.X


def test_from_arrays_keeps_a_given_validation_part():
    X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 0, 1])
    Xv, yv = np.ones((2, 2)), np.array([1, 2])
    ds = from_arrays(X, y, Xv, yv, standardize=True)
    assert list(ds.classes) == [0, 1, 2] and list(ds.y_val) == [1, 2]
    assert np.allclose(ds.X_train.mean(axis=0), 0)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        from_arrays(X, y, X_val=Xv)


def test_load_passes_a_dataset_through():
    ds = load("iris")
    assert load(ds) is ds and isinstance(ds, Dataset)
    with pytest.raises(ValueError, match="cannot be applied to an already loaded Dataset"):
        load(ds, noise=0.1)


# --------------------------------------------------------------------------- bad input


def test_unknown_name_suggests_the_closest():
    with pytest.raises(
        ValueError, match=r"unknown data set 'moonz'; did you mean 'moons'\?.*spiral"
    ):
        load("moonz")


def test_unknown_option_names_it_and_lists_the_allowed():
    with pytest.raises(
        ValueError,
        match=r"'moons' has no option 'noize'; did you mean 'noise'\? "
        r"Its options are: n_samples, noise, val_size",
    ):
        load("moons", noize=0.1)


def test_check_finite_counts_and_locates():
    X = np.zeros((6, 3))
    X[1, 0], X[3, 2], X[4, 1] = np.nan, np.inf, -np.inf
    with pytest.raises(
        ValueError,
        match=r"X contains 3 non-finite .*\(1 NaN, 2 inf\).*\(1, 0\), \(3, 2\), \(4, 1\)",
    ):
        check_finite(X)
    with pytest.raises(ValueError, match="^X_val contains 1"):
        check_finite([[np.nan]], name="X_val")
    out = check_finite([[1, 2]])
    assert out.dtype == np.float64


def test_check_finite_rejects_non_numeric():
    with pytest.raises(ValueError, match=r"must be numeric; found 'abc'.*index \(1, 0\)"):
        check_finite(np.array([[1, 2], ["abc", 3]], dtype=object))


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros(5), np.zeros(5), r"X must be 2-D .*got 1-D shape \(5,\).*reshape\(-1, 1\)"),
        (np.zeros((4, 2)), np.zeros((4, 1)), r"y must be 1-D, got shape \(4, 1\).*ravel"),
        (np.zeros((5, 2)), np.array([0, 1, 0, 1]), "X has 5 samples, y has 4"),
        (np.zeros((0, 2)), np.zeros(0), r"X is empty: shape \(0, 2\)"),
        (np.zeros((3, 2)), np.array(["a", "a", "a"]), r"only 1 class \('a' found\)"),
        (np.array([["1", "x"]], dtype=object), [0], "must be numeric; found 'x'"),
        (np.array([[np.nan, 1.0], [0, 1]]), [0, 1], r"1 non-finite.*\(0, 0\)"),
        (np.zeros((2, 1)), np.array([0.0, np.nan]), "y contains 1 non-finite"),
    ],
)
def test_validate_xy_messages(X, y, message):
    with pytest.raises(ValueError, match=message):
        validate_xy(X, y)


def test_validate_xy_returns_float_matrix_and_labels():
    X, y = validate_xy([[1, 2], [3, 4]], ["a", "b"])
    assert X.dtype == np.float64 and X.shape == (2, 2) and list(y) == ["a", "b"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load("npz", path=tmp_path / "nope.npz")
    with pytest.raises(ValueError, match=r"unsupported data file type '\.txt'.*\.csv, \.npz"):
        load(str(tmp_path / "d.txt"))
    with pytest.raises(ValueError, match="needs path="):
        load("csv")


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", {}, "is empty"),
        ("a,b,label\n", {}, "header but no data rows"),
        ("1,2,0\n3,4,1\n", {}, r"first row .*\(line 1\) is all numbers.*header row"),
        ("a,b,label\n1,2,x\n3,4\n", {}, r"line 3 .* has 2 field\(s\) but the header has 3"),
        ("a,b,label\n1,2,x\n3,oops,y\n", {}, r"non-numeric value 'oops' on line 3, column 'b'"),
        ("a,b,label\n1,2,x\n", {"target": "lable"}, r"'lable' not found.*'label'.*a, b, label"),
        ("a,b,label\n1,nan,x\n2,3,y\n", {}, r"1 non-finite.*\(line, column\): \(2, 'b'\)"),
        ("a,b,label\n1,2,\n", {}, "missing target value on line 2"),
        ("a,a,label\n1,2,x\n", {}, r"repeats column name\(s\) \['a'\]"),
    ],
)
def test_malformed_csv(tmp_path, text, options, message):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=message):
        load(path, **options)


def test_unreadable_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b,label\n1,2,\xe9t\xe9\n")
    with pytest.raises(ValueError, match="cannot read .* as UTF-8"):
        load(path)


def test_npz_without_the_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", features=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"lacks array\(s\) \['X', 'y'\].*found: \['features'\]"):
        load(tmp_path / "d.npz")


@pytest.mark.parametrize("val_size", [0, 1, 1.5, -0.1, "0.2"])
def test_val_size_outside_unit_interval(val_size):
    with pytest.raises(ValueError, match=r"val_size must be a fraction in \(0, 1\)"):
        load("iris", val_size=val_size)


def test_too_few_samples_for_a_stratified_split():
    assert load("moons", n_samples=5).X.shape == (5, 2)  # the minimum works
    with pytest.raises(ValueError, match="n_samples=4 is too small.*need n_samples >= 5"):
        load("moons", n_samples=4)
    with pytest.raises(ValueError, match="need n_samples >= 13"):
        load("blobs", n_samples=12)
    with pytest.raises(
        ValueError, match="6 samples, too few.*3 classes with val_size=0.25: need at least 9"
    ):
        from_arrays(np.zeros((6, 1)), [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=r"class\(es\) \['c'\] have a single sample"):
        from_arrays(np.zeros((9, 1)), list("aaaabbbbc"), val_size=0.34)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"noise": -0.1}, "noise must be a finite number >= 0"),
        ({"n_samples": 10.5}, "n_samples must be an integer"),
        ({"random_state": None}, "random_state must be an integer"),
        ({"standardize": "yes"}, "standardize must be True or False"),
    ],
)
def test_bad_option_values(options, message):
    with pytest.raises(ValueError, match=message):
        load("moons", **options)


def test_decode_rejects_codes_out_of_range():
    ds = load("iris")
    with pytest.raises(ValueError, match=r"out of range; 'iris' has 3 classes, codes 0..2"):
        ds.decode([0, 3])
