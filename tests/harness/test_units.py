from __future__ import annotations

import pytest

from harness.api.errors import DataError
from harness.units import evaluate_solution, parse_unit, registry, solution_value


@pytest.mark.parametrize(
    ("unit", "to", "factor"),
    [
        ("MT/s", "transfer/s", 1e6),
        ("GT/s", "megatransfer/s", 1e3),
        ("Gb", "bit", 1e9),
        ("Gbit", "Mbit", 1e3),
        ("Gbps", "bit/s", 1e9),
        ("GB", "bit", 8e9),
        ("GB/s", "MB/s", 1e3),
        ("mA/V", "mS", 1.0),
        ("µs", "ns", 1e3),
        ("us", "ns", 1e3),
        ("mV/decade", "mV", 1.0),
        ("kΩ", "ohm", 1e3),
    ],
)
def test_domain_units(unit: str, to: str, factor: float) -> None:
    ureg = registry()
    assert ureg.Quantity(1, parse_unit(unit)).to(to).magnitude == pytest.approx(factor)


@pytest.mark.parametrize("unit", ["dimensionless", "dB", ""])
def test_plain_number_units(unit: str) -> None:
    assert parse_unit(unit) == registry().dimensionless


def test_unparsable_unit_names_the_fix() -> None:
    with pytest.raises(DataError, match="cannot parse unit 'flurbs'.*such as 'ns'"):
        parse_unit("flurbs")


@pytest.mark.parametrize(
    ("expr", "unit", "value"),
    [
        ("6400 * megatransfer / second * 8 * byte / transfer", "GB/s", 51.2),
        ("ceil(16 * ns / (0.416 * ns))", "dimensionless", 39),
        ("20 * log10(1000)", "dB", 60.0),
        ("2 * 200 * uA / (0.2 * V)", "mS", 2.0),
        ("sqrt(4) * pi", "dimensionless", 6.283185307),
    ],
)
def test_solution_values(expr: str, unit: str, value: float) -> None:
    assert solution_value(expr, unit) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("__import__('os')", "unsupported syntax"),
        ("open", "unknown name 'open'"),
        ("1 +", "syntax error"),
        ("(1 * ns).to", "unsupported syntax"),
    ],
)
def test_solution_evaluator_is_a_whitelist(expr: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        evaluate_solution(expr)


def test_solution_with_wrong_dimension_is_reported() -> None:
    with pytest.raises(DataError, match="do not convert to 'ns'"):
        solution_value("3 * volt", "ns")
