"""Initializers: variances, distributions, seeding, orthogonality, registry."""

import math

import numpy as np
import pytest

from initlab import initializers as I

SHAPE = (300, 200)


@pytest.mark.parametrize(
    "name, variance",
    [
        ("zeros", 0.0),
        ("random", 1.0),
        ("lecun_normal", 1 / 300),
        ("lecun_uniform", 1 / 300),
        ("xavier_normal", 2 / 500),
        ("xavier_uniform", 2 / 500),
        ("he_normal", 2 / 300),
        ("he_uniform", 2 / 300),
        ("orthogonal", 1 / 300),
    ],
)
def test_variance_of_named_initializers(name, variance):
    W = I.get(name)(np.random.default_rng(0), SHAPE)
    assert W.shape == SHAPE
    assert I.get(name).variance(*SHAPE) == pytest.approx(variance)
    if variance == 0:
        assert not W.any()
    else:
        assert W.var() == pytest.approx(variance, rel=0.03)
        assert abs(W.mean()) < 4 * math.sqrt(variance / W.size)


@pytest.mark.parametrize("name", I.names())
def test_every_initializer_is_seeded_and_shaped(name):
    a = I.get(name)(np.random.default_rng(7), (5, 3, 4))
    b = I.get(name)(np.random.default_rng(7), (5, 3, 4))
    assert a.shape == (5, 3, 4)
    np.testing.assert_array_equal(a, b)
    assert I.get(name)(np.random.default_rng(0), (3, 4), np.float32).dtype == np.float32


def test_uniform_bound_is_sqrt3_std():
    W = I.get("he_uniform")(np.random.default_rng(0), (100, 100))
    assert np.abs(W).max() <= math.sqrt(6 / 100)
    assert np.abs(W).max() > 0.99 * math.sqrt(6 / 100)


def test_truncated_normal_is_cut_at_two_std_and_keeps_variance():
    init = I.variance_scaling(1.0, "fan_in", "truncated_normal")
    W = init(np.random.default_rng(0), (400, 400))
    std_before = math.sqrt(1 / 400) / 0.87962566103423978
    assert np.abs(W).max() < 2 * std_before
    assert W.var() == pytest.approx(1 / 400, rel=0.02)


@pytest.mark.parametrize("shape", [(6, 6), (8, 5), (5, 8), (3, 4, 7)])
def test_orthogonal_is_orthogonal(shape):
    W = I.get("orthogonal", gain=2.0)(np.random.default_rng(0), shape)
    n_in, n_out = shape[-2:]
    gram = np.swapaxes(W, -1, -2) @ W if n_in >= n_out else W @ np.swapaxes(W, -1, -2)
    eye = np.broadcast_to(np.eye(min(n_in, n_out)), gram.shape)
    np.testing.assert_allclose(gram, 4 * eye, atol=1e-12)


def test_legacy_rng_reproduces_np_random_seed():
    np.random.seed(0)
    expected = np.random.randn(2, 2) * np.sqrt(1 / 2)
    W = I.get("lecun_normal")(I.make_rng(0, "legacy"), (2, 2))
    np.testing.assert_array_equal(W, expected)


def test_bias_initializers():
    rng = np.random.default_rng(0)
    assert not I.get_bias("zeros")(rng, (4,)).any()
    assert (I.get_bias("ones")(rng, (4,)) == 1).all()
    assert (I.get_bias("constant", value=0.5)(rng, (4,)) == 0.5).all()
    assert I.get_bias("normal")(rng, (10000,)).std() == pytest.approx(1, rel=0.03)


def test_registry_errors_and_aliases():
    assert I.get("Xavier").name == "xavier_normal"
    assert I.get("kaiming").name == "he_normal"
    assert I.get("glorot_uniform").name == "xavier_uniform"
    with pytest.raises(ValueError, match="did you mean 'he_normal'"):
        I.get("hee")
    with pytest.raises(ValueError, match="unknown mode 'fan_sum'"):
        I.variance_scaling(1.0, "fan_sum")
    with pytest.raises(ValueError, match="unknown distribution"):
        I.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(TypeError, match="seed must be an integer"):
        I.make_rng(1.5)


@pytest.mark.parametrize("name", I.names())
def test_variance_is_what_the_initializer_draws(name):
    # every registered initializer states its variance; diagnostics and theory read it
    init = I.get(name)
    fan_in, fan_out = 120, 80
    variance = init.variance(fan_in, fan_out)
    if init.data_dependent:  # LSUV: set from the data, so not known from the fans
        assert math.isnan(variance)
        return
    W = init(np.random.default_rng(3), (30, fan_in, fan_out))
    assert W.var() == pytest.approx(variance, rel=0.02, abs=1e-15)


def test_he_takes_the_leaky_slope_as_torch_does():
    torch_like = 2 / (1 + 0.2**2) / 100  # kaiming_normal_(a=0.2): gain^2 / fan_in
    he = I.get("he_normal", a=0.2)
    assert he.variance(100, 50) == pytest.approx(torch_like)
    assert he(np.random.default_rng(0), (200, 100, 50)).var() == pytest.approx(torch_like, rel=0.01)
    with pytest.raises(ValueError, match="has no parameter"):
        I.get("he_normal", slope=0.2)
