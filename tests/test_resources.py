"""Resource estimates: sizes grow as each method's problem does, and require() refuses before
any allocation with an error naming slices, the method, the estimate and the limit."""

from __future__ import annotations

import pytest

from solvers import SpecError, load_example, solve
from solvers.methods import estimate_resources as estimate
from solvers.methods import require_resources as require
from solvers.resources import GIB, memory_limit


def test_estimates_grow_with_the_problem_size_as_each_method_does():
    ac = load_example("almgren-chriss-2001")
    sqrt = load_example("square-root-impact")
    mr = load_example("mean-reverting-volatility")
    # qp: banded O(N) for linear and nonlinear impact (structured and interior paths); CVXPY with the
    # power law's per-slice linearization parameter is O(N^2)
    a, b = estimate(ac.replace(slices=1000), "qp"), estimate(ac.replace(slices=10000), "qp")
    assert 5 < (b.bytes - 64 * 1024**2) / (a.bytes - 64 * 1024**2) < 20
    c, d = estimate(sqrt.replace(slices=1000), "qp"), estimate(sqrt.replace(slices=10000), "qp")
    assert 5 < (d.bytes - 64 * 1024**2) / (c.bytes - 64 * 1024**2) < 20 and "banded" in d.note
    e, f = estimate(sqrt.replace(slices=1000), "qp", path="cvxpy"), estimate(sqrt.replace(slices=10000), "qp", path="cvxpy")
    assert 50 < (f.bytes - 64 * 1024**2) / (e.bytes - 64 * 1024**2) < 200 and "dense" in f.note
    # dp: M x S x N, with S = 1 for constant volatility
    dp_mr = estimate(mr, "dp", x_points=101, vol_states=9)
    assert "101 x 9 x" in dp_mr.note
    assert "x 1 x" in estimate(ac, "dp").note
    assert estimate(mr, "dp", x_points=202, vol_states=9).bytes > dp_mr.bytes
    # hjb: steps rounded up to a multiple of N; full grid for nonlinear impact
    assert "2000 x 1" in estimate(ac, "hjb").note
    assert "hjb full" in estimate(sqrt, "hjb").note
    big = estimate(ac.replace(slices=999_999), "hjb", time_steps=2000)
    assert "999999 x 1" in big.note
    for method in ("closed-form", "qp", "dp", "hjb"):
        est = estimate(ac, method)
        assert est.bytes > 0 and est.seconds >= 0 and est.note
    with pytest.raises(SpecError, match=r"^method = 'unknown': unknown method"):
        estimate(ac, "unknown")


def test_require_refuses_before_allocating_and_names_slices_and_the_limit(monkeypatch):
    sqrt = load_example("square-root-impact").replace(slices=1_000_000)
    with pytest.raises(SpecError, match=r"^slices = 1000000: method qp needs about .* GiB \(estimate: qp, nonlinear "
                                        r"impact: banded .*\), more than the given limit's 1 GiB"):
        require(sqrt, "qp", None, limit_bytes=GIB)
    monkeypatch.setenv("OPTEXEC_MEMORY_LIMIT", "1G")  # qp is O(N): 1e6 slices fit this machine's memory
    with pytest.raises(SpecError, match=r"^slices = 1000000: method qp needs about"):
        solve(sqrt, "qp")
    monkeypatch.delenv("OPTEXEC_MEMORY_LIMIT")  # the registry's entry point checks before the method allocates
    ok = require(load_example("almgren-chriss-2001"), "qp", None, limit_bytes=GIB)
    assert ok.bytes < GIB


def test_memory_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPTEXEC_MEMORY_LIMIT", "2G")
    assert memory_limit() == (2 * GIB, "OPTEXEC_MEMORY_LIMIT")
    with pytest.raises(SpecError, match=r"more than OPTEXEC_MEMORY_LIMIT's 2 GiB"):
        require(load_example("two-asset-basket").replace(slices=1_000_000), "qp")  # O(N m^2): 200,000 slices of one asset fit
    monkeypatch.setenv("OPTEXEC_MEMORY_LIMIT", "lots")
    with pytest.raises(SpecError, match=r"OPTEXEC_MEMORY_LIMIT = 'lots': must be a number of bytes"):
        memory_limit()
    monkeypatch.delenv("OPTEXEC_MEMORY_LIMIT")
    limit, source = memory_limit()
    assert limit > 0.1 * GIB and source == "this machine's memory"
