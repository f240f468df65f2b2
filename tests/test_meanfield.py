"""Tests for initlab.meanfield: analytic cases, Monte Carlo, the edge of chaos, the plot."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initlab import activations, initializers, meanfield
from initlab.activations import Activation

ALL = activations.names()


# --- analytic cases --------------------------------------------------------------------------
@pytest.mark.parametrize("sw", [0.3, 0.7, 0.95])
def test_tanh_without_bias_collapses_and_chi1_is_sigma_w2(sw):
    # tanh(0) = 0 and tanh'(0) = 1: below sigma_w^2 = 1 every signal dies, chi_1 = sigma_w^2.
    assert meanfield.fixed_point("tanh", sw, 0.0) == 0.0
    assert meanfield.chi1("tanh", sw, 0.0) == pytest.approx(sw, abs=1e-12)


def test_tanh_without_bias_above_one_has_positive_q_and_is_chaotic():
    q = meanfield.fixed_point("tanh", 1.5, 0.0)
    assert q > 0.1
    assert meanfield.variance_map(q, 1.5, 0.0, "tanh") == pytest.approx(q, rel=1e-10)
    assert meanfield.chi1("tanh", 1.5, 0.0) > 1.0


def test_linear_variance_map_is_affine_and_fixed_point_closed_form():
    q = np.array([0.0, 0.3, 1.0, 7.5])
    for sw, sb in [(0.5, 0.0), (1.0, 0.2), (2.5, 1.3)]:
        got = meanfield.variance_map(q, sw, sb, "linear")
        np.testing.assert_allclose(got, q * sw + sb, rtol=1e-13, atol=1e-15)
    assert meanfield.fixed_point("linear", 0.5, 1.0) == pytest.approx(2.0, rel=1e-9)
    assert meanfield.fixed_point("linear", 0.5, 0.0) == 0.0
    assert meanfield.fixed_point("linear", 1.5, 0.0) == math.inf  # explodes
    assert meanfield.fixed_point("linear", 1.0, 0.1) == math.inf  # grows linearly forever
    assert meanfield.chi1("linear", 1.5, 0.0) == pytest.approx(1.5, rel=1e-13)


def test_relu_second_moment_is_half_and_he_is_critical():
    q = np.array([0.01, 1.0, 3.0, 100.0])
    np.testing.assert_allclose(meanfield.variance_map(q, 1.0, 0.0, "relu"), q / 2, rtol=1e-13)
    for sw in [0.5, 1.0, 2.0, 3.0]:
        for sb in [0.0, 0.3]:
            assert meanfield.chi1("relu", sw, sb) == pytest.approx(sw / 2, rel=1e-12)
    assert meanfield.critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, abs=1e-8)
    he = meanfield.named_init_sigma_w2("he", "relu", fan_in=512)
    assert meanfield.chi1("relu", he, 0.0) == pytest.approx(1.0, abs=1e-12)
    assert meanfield.fixed_point("relu", 2.0, 0.0, q0=3.0) == pytest.approx(3.0)  # marginal
    assert meanfield.fixed_point("relu", 2.5, 0.0) == math.inf


def test_leaky_relu_critical_point_is_he_prelu_value():
    act = activations.get("leaky_relu", slope=0.2)
    expected = 2.0 / (1.0 + 0.2**2)  # He et al. (2015), eq. (15)
    assert meanfield.critical_sigma_w2(act) == pytest.approx(expected, abs=1e-8)
    # He's correction for the slope is the initializer's own parameter a, as in torch
    assert meanfield.named_init_sigma_w2("kaiming", act, 64) == 2.0
    leaky_he = initializers.get("he_normal", a=0.2)
    assert meanfield.named_init_sigma_w2(leaky_he, act, 64) == pytest.approx(expected)


# --- quadrature against Monte Carlo ----------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_quadrature_matches_monte_carlo_for_every_activation(name):
    act = activations.get(name)
    rng = np.random.default_rng(20160101)
    z = rng.standard_normal(1_000_000)
    for q in (1.7,):
        for deriv in (False, True):
            f = act.grad(math.sqrt(q) * z) if deriv else act(math.sqrt(q) * z)
            mc, se = np.mean(f**2), np.std(f**2) / math.sqrt(z.size)
            if deriv:
                quad = meanfield.chi1(act, 1.0, 0.0, q=q)
            else:
                quad = meanfield.variance_map(q, 1.0, 0.0, act)
            assert abs(quad - mc) < 5 * se + 1e-12, (name, q, deriv, quad, mc, se)


# --- the edge of chaos for tanh --------------------------------------------------------------
# Measured with the default 200-node rule (see the docstring of critical_sigma_w2):
# sigma_b^2 = 0 -> 1.0, 0.01 -> 1.424, 0.05 -> 1.761, 0.1 -> 1.986, 0.3 -> 2.505.
# Poole et al. (2016) Fig. 1 / Schoenholz et al. (2017) Fig. 1 read about 1.76 at 0.05.
def test_tanh_critical_line_matches_the_papers():
    assert meanfield.critical_sigma_w2("tanh", 0.05) == pytest.approx(1.76, abs=0.01)
    line = [meanfield.critical_sigma_w2("tanh", sb) for sb in (0.05, 0.1, 0.3)]
    assert line == pytest.approx([1.761, 1.986, 2.505], abs=2e-3)
    for sb, sw in zip((0.05, 0.1, 0.3), line, strict=True):
        assert meanfield.chi1("tanh", sw, sb) == pytest.approx(1.0, abs=1e-9)


def test_tanh_critical_point_without_bias_is_one():
    # chi_1 - 1 ~ (sigma_w^2 - 1)^2 / 3 on the chaotic side: the root is flat, so ~1e-7
    assert meanfield.critical_sigma_w2("tanh", 0.0, bracket=(0.5, 2.0)) == pytest.approx(
        1.0, abs=1e-6
    )


# --- the edge of chaos at a stable fixed point ----------------------------------------------
def _chi1_near(name, sigma_w2, sigma_b2, q0, offsets):
    """chi_1 at sigma_w2 * (1 + offsets), from q0 (one vectorized phase-diagram row)."""
    return meanfield.phase_diagram(name, sigma_w2 * (1 + offsets), [sigma_b2], q0=q0).chi1[0]


@pytest.mark.parametrize("name", ALL)
def test_every_returned_edge_of_chaos_is_a_continuous_crossing(name):
    # Wherever a critical point is returned, chi_1 (at the fixed point the input reaches)
    # is continuous there and crosses 1: on a fine grid around it |chi_1 - 1| shrinks to 0
    # and changes sign.  Wherever none is returned, the reason is a jump across 1 or no
    # crossing at all, and critical_sigma_w2 raises instead of returning the jump.
    side = np.geomspace(1e-3, 1e-10, 36)
    offsets = np.concatenate([-side, side[::-1]])
    found = 0
    for sb in (0.0, 0.05, 0.3, 1.0):
        for q0 in (0.25, 1.0, 4.0):
            edge = meanfield.edge_of_chaos(name, sb, q0=q0)
            if not edge.found:
                assert "no edge of chaos" in edge.reason()
                for jump in edge.jumps:
                    assert jump.chi1_below < 1.0 < jump.chi1_above or (
                        jump.chi1_above < 1.0 < jump.chi1_below
                    )
                    assert abs(jump.chi1_above - jump.chi1_below) > 1e-3
                    chi = _chi1_near(name, jump.sigma_w2, sb, q0, np.array([-1e-8, 1e-8]))
                    assert abs(chi[1] - chi[0]) > 1e-3  # it really jumps
                with pytest.raises(meanfield.NoEdgeOfChaos, match="no edge of chaos"):
                    meanfield.critical_sigma_w2(name, sb, q0=q0)
                continue
            found += 1
            r = edge.sigma_w2
            assert meanfield.critical_sigma_w2(name, sb, q0=q0) == r
            assert edge.chi1 == pytest.approx(1.0, abs=1e-6)
            assert meanfield.chi1(name, r, sb, q0=q0) == pytest.approx(1.0, abs=1e-6)
            chi = _chi1_near(name, r, sb, q0, offsets)
            dev = np.abs(chi - 1.0)
            near = np.abs(offsets) <= 1e-9
            assert dev[near].max() < 1e-3, (sb, q0, dev[near].max())  # continuous at r
            assert dev[near].max() <= dev.max()
            assert np.all(np.abs(np.diff(chi)) < 0.02), (sb, q0)  # no jump on the grid
            assert (chi[0] - 1.0) * (chi[-1] - 1.0) <= 0.0  # it crosses 1 here
    if name != "sigmoid":
        assert found >= 3  # at least at the largest bias variance


@pytest.mark.parametrize(("name", "at"), [("gelu", 2.352), ("silu", 2.811), ("mish", 2.211)])
def test_unstable_fixed_point_gives_a_jump_not_an_edge(name, at):
    # Without bias the nonzero fixed point of GELU, SiLU and mish is unstable: inputs below
    # it collapse to q* = 0 (chi_1 = sigma_w^2 phi'(0)^2 < 1), inputs above it explode
    # (chi_1 -> sigma_w^2 / 2 > 1).  The old Brent search returned that jump as critical.
    assert meanfield.chi1(name, at * 0.999) < 0.9 and meanfield.chi1(name, at * 1.001) > 1.05
    edge = meanfield.edge_of_chaos(name)
    assert not edge.found and math.isnan(edge.sigma_w2)
    (jump,) = edge.jumps
    assert jump.sigma_w2 == pytest.approx(at, abs=1e-3)
    assert jump.q_star_below == 0.0 and jump.q_star_above == math.inf
    slope0 = float(activations.get(name).grad(np.zeros(1))[0])  # 1/2, 1/2, tanh(log 2)
    assert jump.chi1_below == pytest.approx(jump.sigma_w2 * slope0**2, rel=1e-4)
    assert jump.chi1_above == pytest.approx(jump.sigma_w2 / 2, rel=1e-4)  # ReLU-like tail
    with pytest.raises(meanfield.NoEdgeOfChaos, match="jumps across 1") as info:
        meanfield.critical_sigma_w2(name)
    assert isinstance(info.value, ValueError) and info.value.edge == edge
    # The jump is where the unstable fixed point equals the input variance:
    # q0 = sigma_w^2 E[phi(sqrt(q0) z)^2], so it moves with q0 (2.99 / 2.07 for GELU).
    for q0 in (0.25, 4.0):
        (jump,) = meanfield.edge_of_chaos(name, q0=q0).jumps
        expected = q0 / meanfield.variance_map(q0, 1.0, 0.0, name)
        assert jump.sigma_w2 == pytest.approx(expected, rel=1e-8)


def test_with_enough_bias_gelu_and_mish_have_an_edge_of_chaos_but_silu_not_yet():
    gelu = meanfield.edge_of_chaos("gelu", 0.3)
    assert gelu.found and gelu.sigma_w2 == pytest.approx(1.956, abs=1e-3)
    assert 1.0 < gelu.q_star < math.inf  # a stable finite fixed point
    q = meanfield.fixed_point("gelu", gelu.sigma_w2, 0.3)
    assert q == pytest.approx(gelu.q_star, rel=1e-6)
    assert meanfield.variance_map(q, gelu.sigma_w2, 0.3, "gelu") == pytest.approx(q, rel=1e-9)
    assert meanfield.edge_of_chaos("mish", 0.3).found
    silu = meanfield.edge_of_chaos("silu", 0.3)
    assert not silu.found and silu.jumps[0].q_star_above == math.inf


def test_wide_gelu_network_shows_the_jump_and_the_edge():
    # A finite network agrees.  Inputs with E[x^2] = E[gelu(z)^2] put the first layer at
    # q1 = V(q0 = 1), as in the theory.  10 % below the jump the signal collapses, 10 %
    # above it explodes (per input: finite-width noise sends a few inputs across the
    # unstable fixed point, so the median is the robust summary); at the edge of chaos
    # with bias both the signal and the squared gradient keep their size.
    from initlab import diagnostics, initializers

    m2 = meanfield.variance_map(1.0, 1.0, 0.0, "gelu")  # E[gelu(z)^2]
    X = diagnostics.gaussian_inputs(128, 256, 0) * math.sqrt(m2)

    def median_q(sw, depth=30):
        init = initializers.variance_scaling(sw, "fan_in", "normal")
        pop, params = diagnostics.build((256,) * depth, "gelu", init, X, n_models=2)
        zs = pop.forward(params, X).zs  # (features, models, inputs) per layer
        return float(np.median((zs[0] ** 2).mean(0))), float(np.median((zs[-2] ** 2).mean(0)))

    jump = meanfield.edge_of_chaos("gelu").jumps[0].sigma_w2
    first, last = median_q(0.9 * jump)
    assert last < 1e-2 * first
    first, last = median_q(1.1 * jump)
    assert last > 1e2 * first

    edge = meanfield.edge_of_chaos("gelu", 0.3)
    init, bias = meanfield.initializers_for("gelu", "critical", sigma_b2=0.3)
    df = diagnostics.propagation((256,) * 30, "gelu", init, X, bias, 0, 2)
    hidden = df[df["kind"] == "hidden"].groupby("layer").mean(numeric_only=True)
    g = hidden["grad_var"].to_numpy()
    assert np.exp(np.mean(np.log(g[5:-5] / g[6:-4]))) == pytest.approx(1.0, abs=0.05)
    q = 1.0  # the approach to q* = 8.8 is slow at the edge: compare with the map's 30th step
    for _ in range(30):
        q = meanfield.variance_map(q, edge.sigma_w2, 0.3, "gelu")
    assert hidden["z_var"].iloc[-1] == pytest.approx(q, rel=0.2)


# --- the correlation map ---------------------------------------------------------------------
CASES = [
    ("tanh", 1.5, 0.1),
    ("tanh", 0.8, 0.05),
    ("relu", 1.5, 0.2),
    ("selu", 1.0, 0.0),
    ("erf-like", 2.0, 0.1),
]


def _act(name):
    if name == "erf-like":  # a custom Activation works everywhere
        from scipy import special

        return Activation(
            "erf",
            lambda z: special.erf(z),
            lambda z, a: 2 / math.sqrt(math.pi) * np.exp(-z * z),
            "saturating",
            "erf",
        )
    return name


@pytest.mark.parametrize(("name", "sw", "sb"), CASES)
def test_c_equals_one_is_a_fixed_point_with_slope_chi1(name, sw, sb):
    act = _act(name)
    q = meanfield.fixed_point(act, sw, sb)
    assert meanfield.correlation_map(1.0, q, sw, sb, act) == pytest.approx(1.0, abs=1e-10)
    if name in ("relu", "selu"):  # phi' jumps at 0, so C(c) has a (1 - c)^(3/2) term
        h, rel = 1e-8, 1e-3
        c = meanfield.correlation_map(np.array([1.0, 1 - h]), q, sw, sb, act)
        slope = (c[0] - c[1]) / h
    else:  # smooth: second-order one-sided difference
        h, rel = 1e-4, 1e-6
        c = meanfield.correlation_map(np.array([1.0, 1 - h, 1 - 2 * h]), q, sw, sb, act)
        slope = (3 * c[0] - 4 * c[1] + c[2]) / (2 * h)
    assert slope == pytest.approx(meanfield.chi1(act, sw, sb), rel=rel)


def test_relu_correlation_map_is_the_arc_cosine_kernel():
    # Cho & Saul (2009): with sigma_w^2 = 2, sigma_b^2 = 0,
    # C(c) = (sqrt(1 - c^2) + (pi - arccos c) c) / pi.  A product Gauss-Hermite rule misses
    # this by 1e-3 (the kink of relu(u2) is oblique to its grid); the polar rule is exact.
    c = np.array([-1.0, -0.9, -0.5, 0.0, 0.5, 0.9, 0.99])
    ref = (np.sqrt(1 - c**2) + (np.pi - np.arccos(c)) * c) / np.pi
    got = meanfield.correlation_map(c, 1.0, 2.0, 0.0, "relu")
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_linear_correlation_map_is_identity_without_bias():
    c = np.linspace(-1, 1, 7)
    got = meanfield.correlation_map(c, 1.3, 1.0, 0.0, "linear")
    np.testing.assert_allclose(got, c, atol=1e-12)


def test_correlation_fixed_point_by_phase():
    assert meanfield.correlation_fixed_point("tanh", 0.9, 0.05) == 1.0  # ordered
    assert abs(meanfield.correlation_fixed_point("tanh", 4.0, 0.0)) < 1e-9  # odd, no bias
    c_star = meanfield.correlation_fixed_point("tanh", 3.0, 0.05)  # chaotic
    assert 0.0 < c_star < 1.0
    assert meanfield.correlation_map(c_star, None, 3.0, 0.05, "tanh") == pytest.approx(
        c_star, abs=1e-10
    )


# --- depth scales ----------------------------------------------------------------------------
def test_correlation_depth_scale_diverges_at_the_critical_point():
    sb = 0.05
    crit = meanfield.critical_sigma_w2("tanh", sb)
    for side in (-1, 1):  # from the ordered and from the chaotic side
        xi = [
            meanfield.correlation_depth_scale("tanh", crit * (1 + side * d), sb)
            for d in (0.1, 0.01, 0.001)
        ]
        assert xi[0] < xi[1] < xi[2], (side, xi)
        assert xi[2] > 100
        assert xi[0] < 50


def test_depth_scales_in_the_ordered_phase_are_minus_one_over_log_chi1():
    chi = meanfield.chi1("tanh", 1.2, 0.1)
    assert chi < 1
    expected = -1 / math.log(chi)
    assert meanfield.correlation_depth_scale("tanh", 1.2, 0.1) == pytest.approx(expected)
    assert meanfield.gradient_depth_scale("tanh", 1.2, 0.1) == pytest.approx(expected)


def test_gradient_depth_scale_is_negative_when_gradients_explode():
    assert meanfield.gradient_depth_scale("relu", 4.0) == pytest.approx(-1 / math.log(2.0))
    assert meanfield.gradient_depth_scale("relu", 2.0) == math.inf


# --- phase diagram and initializers ----------------------------------------------------------
def test_phase_diagram_agrees_with_pointwise_values():
    sw, sb = np.array([0.5, 1.5, 2.5]), np.array([0.0, 0.2])
    pd = meanfield.phase_diagram("tanh", sw, sb)
    assert pd.chi1.shape == pd.q_star.shape == (2, 3)
    for i, b in enumerate(sb):
        for j, w in enumerate(sw):
            assert pd.chi1[i, j] == pytest.approx(meanfield.chi1("tanh", w, b), rel=1e-9)
            assert pd.q_star[i, j] == pytest.approx(
                meanfield.fixed_point("tanh", w, b), rel=1e-9, abs=1e-12
            )


def test_named_initializers():
    f = meanfield.named_init_sigma_w2
    assert f("zeros", "tanh", 100) == 0.0
    assert f("random", "tanh", 256) == 256.0
    assert f("lecun_normal", "selu", 100) == 1.0
    assert f("glorot_uniform", "tanh", 100, 300) == pytest.approx(0.5)
    assert f("xavier", "tanh", 100) == 1.0
    assert f("He", "relu", 100) == 2.0
    # orthogonal draws gain 1 whatever the activation, as init="orthogonal" does
    assert f("orthogonal", "relu", 100) == pytest.approx(1.0)
    assert f(initializers.get("orthogonal", gain=2**0.5), "relu", 100) == pytest.approx(2.0)
    assert f("orthogonal", "linear", 100, 400) == pytest.approx(0.25)
    torch_gain = initializers.variance_scaling(activations.get("tanh").gain ** 2, "fan_in")
    assert f(torch_gain, "tanh", 100) == pytest.approx((5 / 3) ** 2)
    with pytest.raises(ValueError, match="sets its variance from the data"):
        f("lsuv", "tanh", 100)
    assert "lsuv" not in meanfield.init_names() and "he_normal" in meanfield.init_names()


@pytest.mark.parametrize("name", meanfield.init_names())
def test_a_name_means_the_network_it_draws(name):
    # sigma_w^2 of the theory is fan_in times the variance of the weights the name draws
    fan_in, fan_out = 200, 300
    sw2 = meanfield.named_init_sigma_w2(name, "leaky_relu", fan_in, fan_out)
    W = initializers.get(name)(np.random.default_rng(0), (40, fan_in, fan_out))
    assert fan_in * W.var() == pytest.approx(sw2, rel=0.01, abs=1e-12)


# --- errors ----------------------------------------------------------------------------------
def test_invalid_sigmas_are_named():
    with pytest.raises(ValueError, match=r"sigma_w2 .*-1\.0"):
        meanfield.chi1("tanh", -1.0)
    with pytest.raises(ValueError, match="sigma_b2 .*nan"):
        meanfield.fixed_point("tanh", 1.0, float("nan"))
    with pytest.raises(ValueError, match="sigma_b2"):
        meanfield.variance_map(1.0, 1.0, [0.1, -0.2], "tanh")
    with pytest.raises(ValueError, match="q must"):
        meanfield.variance_map(-2.0, 1.0, 0.0, "tanh")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        meanfield.correlation_map(1.5, 1.0, 1.0, 0.0, "tanh")


def test_unknown_names_suggest_the_closest():
    with pytest.raises(ValueError, match="did you mean 'tanh'"):
        meanfield.chi1("tanhh", 1.0)
    with pytest.raises(ValueError, match="unknown initializer 'xavierr'"):
        meanfield.named_init_sigma_w2("xavierr", "tanh", 10)
    with pytest.raises(ValueError, match="fan_in"):
        meanfield.named_init_sigma_w2("he", "relu", 0)


def test_activation_without_finite_moments_is_refused():
    blowup = Activation(
        "exp_square", lambda z: np.exp(z * z), lambda z, a: 2 * z * a, "smooth", "exp(z^2)"
    )
    with pytest.raises(ValueError, match="'exp_square'.*not finite"):
        meanfield.variance_map(1.0, 1.0, 0.0, blowup)


def test_no_edge_of_chaos_raises():
    with pytest.raises(ValueError, match="'tanh' has no edge of chaos"):
        meanfield.critical_sigma_w2("tanh", 0.05, bracket=(0.1, 0.5))
    dead = Activation("dead", lambda z: 0 * z, lambda z, a: 0 * z, "linear", "zero")
    with pytest.raises(ValueError, match="'dead' has no edge of chaos"):
        meanfield.critical_sigma_w2(dead)


def test_collapsed_network_has_no_correlation():
    with pytest.raises(ValueError, match="q\\* = 0"):
        meanfield.correlation_map(0.5, None, 0.5, 0.0, "tanh")


def test_odd_quadrature_order_is_refused():
    with pytest.raises(ValueError, match="even"):
        meanfield.variance_map(1.0, 1.0, 0.0, "relu", order=101)
