"""Table-driven edge cases of the numeric grader (one row per case named in its docstring)."""

from __future__ import annotations

import pytest

from harness.benchmark import BENCHMARKS_DIR, load_config
from harness.scoring.numeric import grade_numeric
from harness.scoring.quantities import find_mentions

RAQ_GENERATIONS = load_config(BENCHMARKS_DIR / "raq" / "benchmark.toml").generation_pattern  # the RAQ benchmark's DDR/HBM aside rule

Q_BW = "A DDR5-4800 subchannel is 32 bits wide. What is its peak data bandwidth in GB/s?"
Q_VDD = "What is the nominal VDD supply voltage of DDR5 SDRAM?"
Q_CYC = "A DRAM has tCK = 0.416 ns and tRCD = 16 ns. How many whole clock cycles must the controller program for tRCD?"
Q_GM = "A MOSFET in saturation carries 200 uA with an overdrive voltage of 0.2 V. What is its transconductance in mS?"
Q = "What is the value?"

# (case, question, response, value, unit, correct, value_correct, unit_correct, extracted)
CASES = [
    # --- which quantity is the answer ---
    (
        "final-answer marker wins over a later aside",
        Q_BW,
        "Final answer: 19.2 GB/s\nFor comparison, DDR4-3200 gives 25.6 GB/s on 64 bits.",
        19.2,
        "GB/s",
        True,
        True,
        True,
        "19.2 GB/s",
    ),
    ("last of several markers", Q_BW, "Answer: 38.4 GB/s? No, per subchannel. Final answer: 19.2 GB/s", 19.2, "GB/s", True, True, True, "19.2 GB/s"),
    ("marker with value on next line", Q_BW, "Final answer:\n19.2 GB/s", 19.2, "GB/s", True, True, True, "19.2 GB/s"),
    ("boxed latex is a marker", Q_BW, r"So $\boxed{19.2\ \text{GB/s}}$.", 19.2, "GB/s", True, True, True, "19.2 GB/s"),
    ("result after = beats operands", Q_BW, "4800 MT/s × 4 B = 19.2 GB/s", 19.2, "GB/s", True, True, True, "19.2 GB/s"),
    (
        "restated input is not the answer",
        Q_BW,
        "At 4800 MT/s with 4 bytes per transfer the bandwidth is 19.2 GB/s, from a DDR5-4800 part.",
        19.2,
        "GB/s",
        True,
        True,
        True,
        "19.2 GB/s",
    ),
    ("only a restated input: graded, and wrong", Q_BW, "It runs at 4800 MT/s.", 19.2, "GB/s", False, False, False, "4800 MT/s"),
    ("down-from aside is not the answer", Q_VDD, "DDR5 runs at 1.1 V, down from 1.2 V in DDR4.", 1.1, "V", True, True, True, "1.1 V"),
    ("other generation named in the clause", Q_VDD, "DDR4 used 1.2 V; DDR5 lowers it to 1.1 V.", 1.1, "V", True, True, True, "1.1 V"),
    ("reduced from X to Y", Q_VDD, "VDD was reduced from 1.2 V to 1.1 V.", 1.1, "V", True, True, True, "1.1 V"),
    (
        "factual answer first, unrelated spec after",
        Q_VDD,
        "The nominal VDD of DDR5 is 1.1 V. It supports data rates up to 6400 MT/s.",
        1.1,
        "V",
        True,
        True,
        True,
        "1.1 V",
    ),
    (
        "calculation: the last result wins",
        Q_CYC,
        "tRCD/tCK = 16 ns / 0.416 ns = 38.46, rounded up to 39 clock cycles.",
        39,
        "dimensionless",
        True,
        True,
        True,
        "39 cycles",
    ),
    ("with an overdrive of: an input", Q_GM, "With an overdrive of 0.2 V and 200 uA, gm is 2 mS.", 2, "mS", True, True, True, "2 mS"),
    # --- number formats ---
    ("×10^-13", Q, "C = 1.5 × 10^-13 F", 0.15, "pF", True, True, True, "1.5 × 10^-13 F"),
    ("x10^(-13)", Q, "C = 1.5x10^(-13) F", 0.15, "pF", True, True, True, "1.5x10^(-13) F"),
    ("superscript exponent", Q, "C = 1.5·10⁻¹³ F", 0.15, "pF", True, True, True, "1.5·10^-13 F"),
    ("e-notation", Q, "C = 1.5e-13 F", 0.15, "pF", True, True, True, "1.5e-13 F"),
    ("latex times", Q, r"$C = 1.5 \times 10^{-13}\,\mathrm{F}$", 0.15, "pF", True, True, True, "1.5 × 10^(-13) F"),
    ("unicode minus", Q, "The threshold shift is −0.3 V.", -0.3, "V", True, True, True, "-0.3 V"),
    ("hyphen in DDR5-4800 is not a minus", Q, "Use DDR5-4800.", 4800, "dimensionless", True, True, True, "4800"),
    ("comma thousands", Q_BW, "That is 19,200 MB/s.", 19.2, "GB/s", True, True, True, "19,200 MB/s"),
    ("spelled number", "How many transistors does an SRAM cell use?", "It uses six transistors.", 6, "dimensionless", True, True, True, "six transistors"),
    # --- units ---
    ("micro sign", Q, "Id = 200 µA", 0.2, "mA", True, True, True, "200 µA"),
    ("greek mu", Q, "Id = 200 μA", 0.2, "mA", True, True, True, "200 μA"),
    ("u for micro", Q, "Id = 200 uA", 0.2, "mA", True, True, True, "200 uA"),
    ("spelled unit", Q, "It takes 2 milliseconds.", 2, "ms", True, True, True, "2 milliseconds"),
    ("spelled unit, odd case", Q_GM, "The transconductance is 2 milliSiemens.", 2, "mS", True, True, True, "2 milliSiemens"),
    ("SI prefix conversion", Q_BW, "Bandwidth = 19200 MB/s", 19.2, "GB/s", True, True, True, "19200 MB/s"),
    ("MT/s is transfers", Q, "The data rate is 6400 MT/s.", 6.4, "GT/s", True, True, True, "6400 MT/s"),
    ("GT/s", Q, "Data rate = 6.4 GT/s", 6400, "MT/s", True, True, True, "6.4 GT/s"),
    ("Gbps is bits: converts", Q_BW, "The peak bandwidth is 153.6 Gbps.", 19.2, "GB/s", True, True, True, "153.6 Gbps"),
    ("Gbit/s is bits: converts", Q_BW, "The peak bandwidth is 153.6 Gbit/s.", 19.2, "GB/s", True, True, True, "153.6 Gbit/s"),
    ("Gb/s for GB/s: unit error", Q_BW, "Final answer: 19.2 Gb/s", 19.2, "GB/s", False, True, False, "19.2 Gb/s"),
    ("Gb is a bit, not a barn", "What is the die density?", "A 16 Gb die.", 2, "GB", True, True, True, "16 Gb"),
    ("GB for Gb: unit error", "What is the die density?", "A 16 GB die.", 16, "Gb", False, True, False, "16 GB"),
    ("mA/V equals mS", Q_GM, "gm = 2 × 200 µA / 0.2 V = 2 mA/V", 2, "mS", True, True, True, "2 mA/V"),
    ("siemens to mS", Q_GM, "gm = 2*200e-6/0.2 = 0.002 S", 2, "mS", True, True, True, "0.002 S"),
    ("dimensionless: bare number", Q_CYC, "The controller must program 39.", 39, "dimensionless", True, True, True, "39"),
    ("dimensionless: count word", "Transistors?", "A standard SRAM cell is a 6T cell.", 6, "dimensionless", True, True, True, "6T"),
    ("dimensionless: x", "Speedup?", "About 4x faster.", 4, "dimensionless", True, True, True, "4x"),
    ("dimensionless: physical unit is a unit error", Q_CYC, "Final answer: 39 ns", 39, "dimensionless", False, True, False, "39 ns"),
    ("percent for a ratio", "Overhead?", "The overhead is 5%.", 0.05, "dimensionless", True, True, True, "5%"),
    ("ratio for a percent", "Overhead?", "The overhead is 0.05.", 5, "%", True, True, True, "0.05"),
    ("dB with unit", "Gain?", "The gain is 40 dB.", 40, "dB", True, True, True, "40 dB"),
    ("dB missing: unit error", "Gain?", "The gain is 40.", 40, "dB", False, True, False, "40"),
    ("K for °C", "Junction temperature limit?", "The limit is 358.15 K.", 85, "°C", True, True, True, "358.15 K"),
    ("°C for K", "Temperature?", "It is 85 °C.", 358.15, "K", True, True, True, "85 °C"),
    ("degrees C phrase", "Temperature?", "It is 85 degrees C.", 85, "degC", True, True, True, "85 °C"),
    ("bare C when a temperature is expected", "Temperature?", "About 85 C.", 85, "degC", True, True, True, "85 C"),
    ("mV per decade", "Swing?", "About 60 mV per decade at room temperature.", 60, "mV/decade", True, True, True, "60 mV per decade"),
    ("unit named before the number", Q, "The dynamic power in uW is 1.0.", 1, "uW", True, True, True, "1.0"),
    ("unit in parentheses before", Q, "P (uW) = 1.0", 1, "uW", True, True, True, "1.0"),
    ("a runaway digit tail is the value it spells", Q, "P = 1.000000000000 uW", 1, "uW", True, True, True, "1.000000000000 uW"),  # rubric
    ("long extracted text is cut", Q, "P = 1" + "0" * 100 + " uW", 1e100, "uW", True, True, True, "1" + "0" * 78 + "…"),
    # --- value vs unit ---
    ("missing unit is a unit error", Q_GM, "gm = 2", 2, "mS", False, True, False, "2"),
    ("wrong prefix is a unit error", Q_BW, "The bandwidth is 19.2 MB/s.", 19.2, "GB/s", False, True, False, "19.2 MB/s"),
    ("wrong number, right unit", Q_BW, "The bandwidth is 25.6 GB/s.", 19.2, "GB/s", False, False, True, "25.6 GB/s"),
    ("wrong number, no unit", Q_BW, "The bandwidth is 25.6.", 19.2, "GB/s", False, False, False, "25.6"),
    ("within rel_tol", Q_BW, "About 19.0 GB/s.", 19.2, "GB/s", True, True, True, "19.0 GB/s"),
    ("outside rel_tol", Q_BW, "About 18.0 GB/s.", 19.2, "GB/s", False, False, True, "18.0 GB/s"),
    ("no number at all", Q_BW, "I cannot answer that.", 19.2, "GB/s", False, False, False, None),
    ("expected zero needs exact zero", Q, "The offset is 0 V.", 0, "V", True, True, True, "0 V"),
    ("markdown bold", Q_BW, "**Final answer: 19.2 GB/s**", 19.2, "GB/s", True, True, True, "19.2 GB/s"),
]


@pytest.mark.parametrize(("case", "question", "response", "value", "unit", "correct", "value_ok", "unit_ok", "extracted"), CASES, ids=[c[0] for c in CASES])
def test_numeric_edge_case(
    case: str, question: str, response: str, value: float, unit: str, correct: bool, value_ok: bool, unit_ok: bool, extracted: str | None
) -> None:
    score = grade_numeric(question, response, value, unit, 0.02, RAQ_GENERATIONS)
    assert (score.correct, score.value_correct, score.unit_correct, score.extracted) == (correct, value_ok, unit_ok, extracted)
    assert score.unit_error == (value_ok and not unit_ok)


MENTIONS = [
    ("1T1C cell", []),
    ("the 3rd rank", []),
    ("19.2 GB/s of data", [(19.2, "GB/s")]),
    ("1.1 V in DDR5", [(1.1, "V")]),  # "in" is not inches
    ("5 at a time", [(5.0, "")]),  # "at" is not technical atmospheres
    ("100 µA/V² and 3 V", [(100.0, "µA/V^2"), (3.0, "V")]),
    ("10^-13 F", [(1e-13, "F")]),
    ("1e999 V", []),
    ("at 4800, 5600 and 6400 MT/s", [(4800.0, ""), (5600.0, ""), (6400.0, "MT/s")]),
]


@pytest.mark.parametrize(("text", "expected"), MENTIONS, ids=[m[0] for m in MENTIONS])
def test_find_mentions(text: str, expected: list[tuple[float, str]]) -> None:
    assert [(m.value, m.unit_text) for m in find_mentions(text)] == expected
