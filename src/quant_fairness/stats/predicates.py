"""The claim grammar: a claims file's entries parsed into checked predicates.

A predicate is Python expression syntax, parsed with `ast` and checked node by node:
comparisons (<, >, <=, >=, chained) of quantities, numbers and + - * /, joined by `and`.
Nothing else is accepted, and nothing is ever passed to eval. claims.py evaluates them.

    claims = load_claims("config/claims.yaml", config["strategy_specs"], config["languages"],
                         predictor_names(config["resource_levels"]))      # stats.correlation
    claim = parse_claim({"id": "x", "source": "001.txt", "sentence": "...",
                         "predicate": "disparity(seed_keep5) < disparity(seed_absmax_int4)"})
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import langcodes
import numpy as np
import yaml

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.metrics import ratio

CLAIM_KEYS = {"id", "source", "sentence", "predicate"}
# `protocols` (optional): the protocols a claim is checked under; a claim from the literature
# rather than the seeds is checked under the robust protocol only, the seeds' not applying.
PROTOCOLS = ("seed", "robust")
QUANTITIES = {  # name: what each argument names
    "disparity": ("strategy",),
    "degradation": ("strategy", "language"),
    "group_degradation": ("strategy", "group"),
    "pearson": ("strategy", "predictor"),
    "spearman": ("strategy", "predictor"),
    "pearson_p": ("strategy", "predictor"),
    "spearman_p": ("strategy", "predictor"),
}
GROUPS = ("high", "low", "all")  # the groups of both protocols, and every language
COMPARISONS = {ast.Lt: np.less, ast.Gt: np.greater, ast.LtE: np.less_equal, ast.GtE: np.greater_equal}
# Division is a ratio (metrics.ratio): undefined, never ±inf, where the denominator is <= 0.
ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: ratio}


def argument(node):
    """A quantity's argument: a bare name or a quoted string."""
    return node.id if isinstance(node, ast.Name) else node.value


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    sentence: str
    predicate: str
    tree: ast.Expression
    protocols: tuple = PROTOCOLS


def _check_node(node, claim_id):
    """Only comparisons of quantities, numbers and arithmetic: nothing else is evaluated."""
    fail = f"claim {claim_id!r}: "
    if isinstance(node, ast.BoolOp):
        if not isinstance(node.op, ast.And):
            raise QuantFairnessError(fail + "only `and` joins comparisons")
        for value in node.values:
            _check_node(value, claim_id)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in COMPARISONS:
                raise QuantFairnessError(fail + f"unsupported comparison {type(op).__name__}; use <, >, <= or >=")
        for operand in [node.left, *node.comparators]:
            _check_term(operand, claim_id)
    else:
        raise QuantFairnessError(fail + "the predicate must be a comparison such as `disparity(A) < disparity(B)`")


def _check_term(node, claim_id):
    fail = f"claim {claim_id!r}: "
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        _check_term(node.left, claim_id)
        _check_term(node.right, claim_id)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        _check_term(node.operand, claim_id)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name in ("max", "min"):
            if not node.args:
                raise QuantFairnessError(fail + f"{name}() needs at least one quantity")
            for arg in node.args:
                _check_term(arg, claim_id)
        elif name in QUANTITIES:
            if len(node.args) != len(QUANTITIES[name]):
                raise QuantFairnessError(
                    fail + f"{name}() takes {len(QUANTITIES[name])} arguments, got {len(node.args)}"
                )
            for arg in node.args:
                if not (isinstance(arg, ast.Name) or (isinstance(arg, ast.Constant) and isinstance(arg.value, str))):
                    raise QuantFairnessError(fail + f"{name}() arguments are names, got {ast.unparse(arg)!r}")
        else:
            expected = sorted([*QUANTITIES, "max", "min"])
            raise QuantFairnessError(fail + f"unknown quantity {name!r}; expected one of {expected}")
    else:
        raise QuantFairnessError(fail + f"cannot evaluate {ast.unparse(node)!r}: expected a quantity or a number")


def parse_claim(entry):
    if not isinstance(entry, dict) or not CLAIM_KEYS <= set(entry) <= {*CLAIM_KEYS, "protocols"}:
        raise QuantFairnessError(
            f"a claim needs exactly the keys {sorted(CLAIM_KEYS)} (and optionally protocols), got {entry!r}"
        )
    protocols = entry.get("protocols", list(PROTOCOLS))
    if not isinstance(protocols, list) or not protocols or not set(protocols) <= set(PROTOCOLS):
        raise QuantFairnessError(
            f"claim {entry['id']!r}: protocols {protocols!r} must be a list from {list(PROTOCOLS)}"
        )
    try:
        tree = ast.parse(str(entry["predicate"]), mode="eval")
    except SyntaxError as error:
        raise QuantFairnessError(f"claim {entry['id']!r}: predicate is not an expression: {error.msg}") from None
    _check_node(tree.body, entry["id"])
    fields = (str(entry[key]) for key in ("id", "source", "sentence", "predicate"))
    return Claim(*fields, tree, tuple(protocols))


def claim_arguments(claim):
    """(kind, name, quantity text) of every argument of the claim's quantities, kind being one of
    strategy, language, group, predictor."""
    return [
        (kind, argument(arg), ast.unparse(node))
        for node in ast.walk(claim.tree)
        if isinstance(node, ast.Call) and node.func.id in QUANTITIES
        for kind, arg in zip(QUANTITIES[node.func.id], node.args, strict=True)
    ]


def claim_strategies(claim):
    """The strategies a claim's quantities name (their first argument)."""
    return {name for kind, name, _ in claim_arguments(claim) if kind == "strategy"}


def check_arguments(claim, strategy_specs=None, languages=None, predictors=None):
    """Every strategy, group and predictor a claim names exists in this run, and every language is
    one of the run's or at least a real language tag (a claims file serves runs of other languages,
    where such a claim is undefined): a typo would otherwise read as something the run left out."""
    known = {"strategy": strategy_specs, "language": languages, "group": GROUPS, "predictor": predictors}
    for kind, name, text in claim_arguments(claim):
        if known[kind] is None or name in known[kind]:
            continue
        if kind == "language" and langcodes.tag_is_valid(name):
            continue
        what = "a language of this run nor a language code" if kind == "language" else "defined"
        raise QuantFairnessError(
            f"claim {claim.id!r}: {text} names {kind} {name!r}, which is not {what}; "
            f"expected one of {sorted(known[kind])}"
        )


def load_claims(path, strategy_specs=None, languages=None, predictors=None):
    """The claims of a claims file, each argument checked against what is given (see check_arguments)."""
    path = Path(path)
    if not path.is_file():
        raise QuantFairnessError(
            f"claims file {str(path)!r} does not exist: expected a YAML file like config/claims.yaml"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise QuantFairnessError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list) or not data["claims"]:
        raise QuantFairnessError(f"{path}: expected a mapping with a non-empty `claims` list")
    claims = [parse_claim(entry) for entry in data["claims"]]
    seen = set()
    for claim in claims:
        if claim.id in seen:
            raise QuantFairnessError(f"{path}: claim id {claim.id!r} appears twice")
        seen.add(claim.id)
        check_arguments(claim, strategy_specs, languages, predictors)
    return claims
