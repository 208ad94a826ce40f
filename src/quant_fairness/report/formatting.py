"""How the report and the command-line tool print numbers: a fixed rule per magnitude, and a
value with its interval, never an undefined value shown as a number.

    number(0.000123) -> "1.23e-04";  with_ci({"value": 2.1, "ci_low": 2.0, "ci_high": 2.2}) -> "2.1 [2, 2.2]"
"""


def number(value, digits=3):
    """Compact, fixed-rule formatting for report tables: `digits` significant digits from 1 up
    (whole numbers below 1e5), `digits` decimals below 1, exponents beyond; NA stays NA."""
    if value in (None, "", "NA"):
        return "NA"
    value = float(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    if abs(value) >= 10**digits:  # .3g would switch to exponents at 1000
        return f"{value:.0f}"
    return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"


def with_ci(row, digits=3):
    """ "value [low, high]" of a table row, read from a TSV ("NA") or built in memory (keys absent)."""
    if row.get("value", "NA") in ("NA", None):
        return "undefined"
    if row.get("ci_low", "NA") in ("NA", None):
        return f"{number(row['value'], digits)} (CI undefined)"
    return f"{number(row['value'], digits)} [{number(row['ci_low'], digits)}, {number(row['ci_high'], digits)}]"
