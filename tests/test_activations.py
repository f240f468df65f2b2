"""Every registered activation: gradient check, reference values, stability, gains."""

import math
import warnings

import numpy as np
import pytest
from scipy import special

from initlab import activations
from initlab.activations import SELU_ALPHA, SELU_SCALE

ALL = activations.names()

# Plain-formula references, written independently of the implementation.
REFERENCE = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(0, z),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.1 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
    "selu": lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * (np.exp(z) - 1)),
    "gelu": lambda z: z * 0.5 * (1 + special.erf(z / math.sqrt(2))),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "mish": lambda z: z * np.tanh(np.log1p(np.exp(z))),
    "linear": lambda z: z,
}


def test_every_activation_has_a_reference():
    assert set(REFERENCE) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_forward_matches_plain_formula(name):
    z = np.linspace(-6, 6, 121)
    np.testing.assert_allclose(activations.get(name)(z), REFERENCE[name](z), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ALL)
def test_derivative_matches_central_differences(name):
    act = activations.get(name)
    # avoid the kinks of the rectifiers, where the derivative is one-sided
    z = np.array([-4.1, -2.3, -0.7, -0.05, 0.03, 0.4, 1.9, 3.7])
    h = 1e-6
    numeric = (act(z + h) - act(z - h)) / (2 * h)
    np.testing.assert_allclose(act.grad(z), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stable_for_huge_inputs_without_warnings(name, dtype):
    act = activations.get(name)
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, g = act(z), act.grad(z)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))
    assert a.dtype == dtype and g.dtype == dtype


def test_limits_are_right():
    z = np.array([-1e4, 1e4])
    np.testing.assert_allclose(activations.get("sigmoid")(z), [0, 1])
    np.testing.assert_allclose(activations.get("softplus")(z), [0, 1e4])
    np.testing.assert_allclose(activations.get("mish")(z), [0, 1e4])
    np.testing.assert_allclose(
        activations.get("selu")(np.array([-1e4])), [-SELU_SCALE * SELU_ALPHA]
    )


def test_selu_constants_are_exact():
    assert SELU_ALPHA == pytest.approx(1.6732632423543772848170429916717, abs=0)
    assert SELU_SCALE == pytest.approx(1.0507009873554804934193349852946, abs=0)


def test_derivative_conventions_at_zero_match_pytorch():
    z = np.zeros(1)
    assert activations.get("relu").grad(z)[0] == 0.0
    assert activations.get("leaky_relu").grad(z)[0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "name, params, gain",
    [
        ("linear", {}, 1.0),
        ("sigmoid", {}, 1.0),
        ("tanh", {}, 5 / 3),
        ("relu", {}, math.sqrt(2)),
        ("leaky_relu", {}, math.sqrt(2 / (1 + 0.1**2))),
        ("leaky_relu", {"slope": 0.2}, math.sqrt(2 / (1 + 0.2**2))),
        ("selu", {}, 0.75),
    ],
)
def test_gains_match_torch_calculate_gain(name, params, gain):
    assert activations.get(name, **params).gain == pytest.approx(gain, rel=1e-12)


def test_second_moment_gain_for_activations_torch_lacks():
    # gain = 1 / sqrt(E[f(z)^2]); checked by Monte Carlo
    z = np.random.default_rng(0).standard_normal(2_000_000)
    for name in ["elu", "gelu", "silu", "softplus", "mish"]:
        act = activations.get(name)
        assert act.gain == pytest.approx(1 / math.sqrt(np.mean(act(z) ** 2)), rel=5e-3)


def test_per_model_slopes_broadcast():
    act = activations.get("leaky_relu", slope=np.array([[0.1], [0.3]]))
    z = -np.ones((2, 3))
    np.testing.assert_allclose(act(z), [[-0.1] * 3, [-0.3] * 3])
    np.testing.assert_allclose(act.grad(z), [[0.1] * 3, [0.3] * 3])


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(ValueError, match=r"unknown activation 'relux'; did you mean 'relu'\?") as e:
        activations.get("relux")
    assert "sigmoid" in str(e.value) and "mish" in str(e.value)


def test_aliases_and_case():
    assert activations.get("Swish").name == "silu"
    assert activations.get("IDENTITY").name == "linear"
    assert activations.get("Leaky-ReLU").name == "leaky_relu"


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="has no parameter"):
        activations.get("relu", slope=0.2)


def test_pickles_by_name():
    import pickle

    act = activations.get("leaky_relu", slope=0.3)
    back = pickle.loads(pickle.dumps(act))
    assert back.name == "leaky_relu" and back.params["slope"] == 0.3
