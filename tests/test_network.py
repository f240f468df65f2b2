"""FFNetwork: the blog reproduced, scikit-learn conformance, bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

from initlab import FFNetwork, blog_network, datasets


@pytest.fixture(scope="module")
def blog():
    return datasets.load("blog")


def _blog_reference(X, Y, Xv, activation, init, epochs=50, eta=1.0, slope=0.1):
    """The blog's published training loop, re-derived independently (weights (in, out))."""
    np.random.seed(0)
    sizes = [2, 2, 4]
    P = {}
    for i in (1, 2):
        if init == "zeros":
            P[f"W{i}"] = np.zeros((sizes[i - 1], sizes[i]))
            P[f"B{i}"] = np.zeros((1, sizes[i]))
        else:
            scale = {
                "random": 1.0,
                "xavier": np.sqrt(1 / sizes[i - 1]),
                "he": np.sqrt(2 / sizes[i - 1]),
            }[init]
            P[f"W{i}"] = np.random.randn(sizes[i - 1], sizes[i]) * scale
            P[f"B{i}"] = np.random.randn(1, sizes[i])
    act = {
        "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda h: h * (1 - h)),
        "tanh": (np.tanh, lambda h: 1 - h**2),
        "relu": (lambda x: np.maximum(0, x), lambda h: 1.0 * (h > 0)),
        "leaky_relu": (lambda x: np.maximum(slope * x, x), lambda h: np.where(h > 0, 1.0, slope)),
    }[activation]
    Y1 = np.eye(4)[Y]
    m = len(X)

    def forward(X):
        H1 = act[0](X @ P["W1"] + P["B1"])
        A2 = H1 @ P["W2"] + P["B2"]
        e = np.exp(A2 - A2.max(axis=1, keepdims=True))
        return H1, e / e.sum(axis=1, keepdims=True)

    for _ in range(epochs):
        H1, H2 = forward(X)
        dA2 = H2 - Y1
        dW2, dB2 = H1.T @ dA2, dA2.sum(0, keepdims=True)
        dA1 = (dA2 @ P["W2"].T) * act[1](H1)
        dW1, dB1 = X.T @ dA1, dA1.sum(0, keepdims=True)
        for k, g in [("W1", dW1), ("B1", dB1), ("W2", dW2), ("B2", dB2)]:
            P[k] = P[k] - eta * g / m
    return P, forward(Xv)[1]


@pytest.mark.parametrize(
    "activation, init, expected",
    [("sigmoid", "zeros", 0.54), ("tanh", "xavier", 0.86), ("leaky_relu", "he", 0.92)],
)
def test_blog_reported_accuracies(blog, activation, init, expected):
    net = blog_network(activation, init).fit(blog.X_train, blog.y_train)
    assert net.score(blog.X_val, blog.y_val) == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("init", ["zeros", "random", "xavier", "he"])
def test_blog_network_equals_the_blog_loop(blog, activation, init):
    # One epoch agrees to rounding; after 50 epochs of GD with eta = 1 the two
    # summation orders drift apart by ~1e-9 relative (the dynamics amplify
    # rounding), far below anything that changes a prediction.
    for epochs, rtol in [(1, 1e-13), (50, 1e-6)]:
        net = blog_network(activation, init, epochs=epochs).fit(blog.X_train, blog.y_train)
        P, proba = _blog_reference(
            blog.X_train, blog.y_train, blog.X_val, activation, init, epochs=epochs
        )
        np.testing.assert_allclose(net.coefs_[0], P["W1"], rtol=rtol, atol=1e-14)
        np.testing.assert_allclose(net.coefs_[1], P["W2"], rtol=rtol, atol=1e-14)
        np.testing.assert_allclose(net.intercepts_[0], P["B1"][0], rtol=rtol, atol=1e-14)
        np.testing.assert_allclose(net.intercepts_[1], P["B2"][0], rtol=rtol, atol=1e-14)
        np.testing.assert_allclose(net.predict_proba(blog.X_val), proba, rtol=rtol, atol=1e-14)
        assert (net.predict(blog.X_val) == proba.argmax(axis=1)).all()


def test_blog_data_is_the_blogs():
    data, labels = make_blobs(n_samples=1000, centers=4, n_features=2, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(data, labels, stratify=labels, random_state=0)
    d = datasets.load("blog")
    np.testing.assert_array_equal(d.X_train, X_train)
    np.testing.assert_array_equal(d.y_val, y_val)


def test_zero_init_keeps_hidden_units_identical(blog):
    net = blog_network("sigmoid", "zeros").fit(blog.X_train, blog.y_train)
    W1 = net.coefs_[0]
    np.testing.assert_allclose(W1[:, 0], W1[:, 1])  # symmetry never breaks
    net = blog_network("tanh", "zeros").fit(blog.X_train, blog.y_train)
    assert not net.coefs_[0].any()  # tanh(0) = 0: the hidden weights never move


def test_history_and_param_snapshots(blog):
    net = blog_network("tanh", "xavier").fit(blog.X_train, blog.y_train, blog.X_val, blog.y_val)
    assert len(net.loss_curve_) == 50
    assert net.history_["val_acc"].shape == (51,)
    assert net.history_["val_acc"][-1] == pytest.approx(net.score(blog.X_val, blog.y_val))
    assert net.param_history_.shape == (51, 18)
    assert net.param_names_[:2] == ["W1[0,0]", "W1[0,1]"] and net.param_names_[-1] == "b2[3]"
    np.testing.assert_array_equal(net.param_history_[-1][:4], net.coefs_[0].ravel())
    assert net.loss_curve_[-1] < net.history_["train_loss"][0]


def test_string_labels_and_binary_loss():
    X, y = make_blobs(n_samples=200, centers=2, random_state=1)
    labels = np.array(["cat", "dog"])[y]
    for loss in ["cross_entropy", "binary_cross_entropy", "mse"]:
        net = FFNetwork((8,), loss=loss, epochs=100, random_state=0).fit(X, labels)
        assert set(net.predict(X)) <= {"cat", "dog"}
        assert net.score(X, labels) > 0.95
        assert net.predict_proba(X).shape == (200, 2)


def test_every_optimizer_learns_a_small_data_set():
    d = datasets.load("moons", n_samples=300, noise=0.1, random_state=0)
    settings = {
        "gd": 0.5,
        "minibatch": 0.2,
        "momentum": 0.1,
        "nag": 0.1,
        "adagrad": 0.1,
        "rmsprop": 0.01,
        "adam": 0.01,
        "adamw": 0.01,
    }
    for name, lr in settings.items():
        net = FFNetwork(
            (16, 16),
            activation="tanh",
            init="xavier",
            optimizer=name,
            learning_rate=lr,
            epochs=300,
            random_state=0,
        )
        net.fit(d.X_train, d.y_train)
        assert net.score(d.X_val, d.y_val) > 0.85, name


def test_fit_is_deterministic_and_clone_refits_identically():
    d = datasets.load("moons", random_state=0)
    a = FFNetwork((8,), random_state=3, epochs=20).fit(d.X_train, d.y_train)
    b = clone(a).fit(d.X_train, d.y_train)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_check_estimator_passes():
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(FFNetwork(epochs=30), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed


def test_trace_gives_per_layer_arrays(blog):
    net = FFNetwork((5, 3), epochs=2, random_state=0).fit(blog.X_train, blog.y_train)
    tr = net.trace(blog.X_val, blog.y_val)
    assert [a.shape for a in tr["a"]] == [(250, 5), (250, 3), (250, 4)]
    assert [w.shape for w in tr["dW"]] == [(2, 5), (5, 3), (3, 4)]


# --- bad input -------------------------------------------------------------------------------
X_OK = np.random.default_rng(0).standard_normal((20, 2))
Y_OK = np.arange(20) % 2


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.where(np.eye(20, 2) == 1, np.nan, X_OK), Y_OK, r"2 non-finite .*\(0, 0\), \(1, 1\)"),
        (X_OK, Y_OK[:15], "inconsistent numbers of samples"),
        (X_OK, np.zeros(20), "single class"),
        (X_OK[:0], Y_OK[:0], "0 sample"),
        (X_OK[:, 0], Y_OK, "2D array"),
    ],
)
def test_bad_data_is_explained(X, y, match):
    with pytest.raises(ValueError, match=match):
        FFNetwork(epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"activation": "relux"}, "did you mean 'relu'"),
        ({"init": "xavir"}, "did you mean 'xavier"),
        ({"optimizer": "adan"}, "did you mean 'adam'"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0, got 0.0"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"hidden_layer_sizes": (4, 0)}, r"positive integers, got \[4, 0\]"),
        ({"hidden_layer_sizes": "abc"}, "positive integers"),
        ({"batch_size": -1}, "batch_size must be an integer >= 1, or 0/None for full batch"),
        ({"optimizer": "gd", "momentum": 0.9}, "momentum applies to the optimizers momentum"),
        (
            {"optimizer": "adam", "weight_decay": 0.5},
            "weight_decay applies to the optimizers adamw",
        ),
        ({"optimizer": "momentum"}, None),
        (
            {"optimizer": "momentum", "momentum": 1.5},
            r"momentum must be a finite number in \[0, 1\)",
        ),
        ({"optimizer": "adam", "beta1": 1.0}, r"beta1 must be a finite number in \[0, 1\)"),
        ({"optimizer": "rmsprop", "rho": 1.0}, r"rho must be a finite number in \[0, 1\)"),
        ({"activation": "leaky_relu", "leaky_slope": np.inf}, "leaky_slope must be"),
        ({"activation": "tanh", "leaky_slope": 0.3}, "leaky_slope applies to the activations"),
        ({"shuffle": "no"}, "shuffle must be true or false, got 'no'"),
        ({"random_state": True}, "random_state must be an integer"),
        ({"random_state": 2**32}, r"random_state must be an integer in \[0, 2\*\*32\)"),
        ({"shuffle_seed": -1}, "shuffle_seed must be an integer"),
        ({"recipe": "blag"}, "unknown recipe 'blag'; the recipes are: blog"),
        ({"loss": "hinge"}, "unknown loss 'hinge'"),
        ({"rng_kind": "mt"}, "rng_kind must be one of"),
    ],
)
def test_bad_parameters_are_explained(params, match):
    net = FFNetwork(epochs=1, **{k: v for k, v in params.items() if k != "epochs"})
    if "epochs" in params:
        net.set_params(epochs=params["epochs"])
    if match is None:
        net.fit(X_OK, Y_OK)
        return
    with pytest.raises(ValueError, match=match):
        net.fit(X_OK, Y_OK)


def test_validation_data_checks():
    with pytest.raises(ValueError, match="both X_val and y_val"):
        FFNetwork(epochs=1).fit(X_OK, Y_OK, X_val=X_OK)
    with pytest.raises(ValueError, match="not seen in y"):
        FFNetwork(epochs=1).fit(X_OK, Y_OK, X_val=X_OK[:3], y_val=np.array([0, 1, 7]))
    with pytest.raises(ValueError, match="X_val contains 1 non-finite"):
        Xv = X_OK[:3].copy()
        Xv[1, 1] = np.inf
        FFNetwork(epochs=1).fit(X_OK, Y_OK, X_val=Xv, y_val=Y_OK[:3])


def test_blog_network_rejects_other_inits():
    with pytest.raises(ValueError, match="the blog's are: zeros, random, xavier, he"):
        blog_network("tanh", "orthogonal")
