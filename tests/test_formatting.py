"""The report's number rule: three significant digits from 1 up, three decimals below 1,
plain whole numbers up to 1e5, exponents only for the very large and very small, NA as NA."""

from quant_fairness.report.formatting import number, with_ci


def test_numbers_keep_three_digits_and_plain_notation_below_1e5():
    assert [number(v) for v in (12.345, 1969.4, 23456.7, 123456, 0.0456, 0.0004, 0)] == [
        "12.3",
        "1969",
        "23457",
        "1.23e+05",
        "0.046",
        "4.00e-04",
        "0.000",
    ]
    assert number("NA") == "NA" and number(None) == "NA"


def test_an_interval_is_shown_only_where_it_is_defined():
    assert with_ci({"value": 2.1, "ci_low": 2.05, "ci_high": 2.2}) == "2.1 [2.05, 2.2]"
    assert with_ci({"value": 2.1, "ci_low": "NA", "ci_high": "NA"}) == "2.1 (CI undefined)"
    assert with_ci({"value": "NA", "ci_low": "NA", "ci_high": "NA"}) == "undefined"
