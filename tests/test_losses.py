"""Losses: gradient checks, stability, targets."""

import warnings

import numpy as np
import pytest
from conftest import numeric_grad

from initlab import losses

ALL = losses.names()


def _data(name, rng, n=7, k=4):
    loss = losses.get(name)
    kk = 2 if loss.binary else k
    y = rng.integers(0, kk, n)
    z = rng.standard_normal((n, loss.n_outputs(kk))) * 2
    return loss, z, loss.targets(y, kk)


@pytest.mark.parametrize("name", ALL)
def test_gradient_matches_central_differences(name, rng):
    loss, z, t = _data(name, rng)
    numeric = numeric_grad(lambda zz: float(loss.value(zz, t)), z)
    np.testing.assert_allclose(loss.grad(z, t), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_class_axis_first_gives_the_same_values(name, rng):
    loss, z, t = _data(name, rng)
    np.testing.assert_allclose(loss.value(z.T, t.T, axis=0), loss.value(z, t))
    np.testing.assert_allclose(loss.grad(z.T, t.T, axis=0), loss.grad(z, t).T)


def test_cross_entropy_reference_and_stability():
    loss = losses.get("cross_entropy")
    z = np.array([[1.0, 2.0, 3.0]])
    t = loss.targets(np.array([0]), 3)
    expected = -np.log(np.exp(1) / np.exp([1, 2, 3]).sum())
    assert loss.value(z, t) == pytest.approx(expected, rel=1e-14)
    huge = np.array([[1e4, -1e4, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loss.value(huge, loss.targets(np.array([1]), 3)) == pytest.approx(2e4)


def test_binary_cross_entropy_stability_and_reference():
    loss = losses.get("bce")
    z = np.array([[0.3], [-1e4], [1e4]])
    t = loss.targets(np.array([1, 1, 0]), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = loss.forward(z, t, -1)[1]
    np.testing.assert_allclose(v, [np.log1p(np.exp(-0.3)), 1e4, 1e4])
    with pytest.raises(ValueError, match="exactly 2 classes"):
        loss.n_outputs(3)


def test_mse_is_brier_score():
    loss = losses.get("mse")
    z = np.log(np.array([[0.2, 0.3, 0.5]]))
    t = loss.targets(np.array([2]), 3)
    assert loss.value(z, t) == pytest.approx(((0.2**2) + 0.3**2 + 0.5**2) / 3)
