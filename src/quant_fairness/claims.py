"""The seeds' quantitative claims as predicates, checked on this run's data under two
protocols.

A claims file (config/claims.yaml) lists each claim: its source note, the sentence, and
a predicate over measured quantities, e.g. `disparity(seed_keep5) < disparity(seed_absmax_int4)`.
Quantities mean different things under each protocol:

    quantity                    seed protocol (how the seeds measured)      robust protocol
    disparity(S)                mean D% low ÷ mean D% high, seed groups      the same on ΔBPB, config groups
    degradation(S, lang)        D%(lang)                                     ΔBPB(lang)
    group_degradation(S, g)     mean D% of group g                           mean ΔBPB of group g
    pearson(S, P), spearman(S, P)   r of degradation with predictor P across languages
    pearson_p(S, P), spearman_p(S, P)   its permutation p-value
    max(..), min(..), numbers, + - * /

S is a strategy, P a predictor (baseline_bpb, tokens_per_byte, resource_<scale>).
Comparisons (<, >, <=, >=, chained) joined by `and` make a predicate. The seed protocol
takes the first `segments` test segments, the seed's groups, D% and point values
only; the robust protocol takes every segment, the configured groups, ΔBPB, and the
paired bootstrap: a claim holds only if it holds in the point estimate and in at least
(1 + level) / 2 of the resamples (the one-sided form of a percentile interval that
excludes the boundary). A quantity that is undefined (a ratio below the noise floor, a
strategy or language not in the run) makes the claim undefined, never a number.

    claims = load_claims("config/claims.yaml")
    rows = claim_rows(claims, {"smollm2-135m": scores}, protocols, reference="en",
                      noise_floor={"smollm2-135m": 0.002}, resource_levels=levels,
                      resamples=1000, permutations=50000, seed=0)
"""

import ast
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import yaml

from quant_fairness.bootstrap import resample_indices
from quant_fairness.correlation import coefficient, degradation_values, permutation_p, predictor_values
from quant_fairness.disparity import strategy_metrics
from quant_fairness.errors import QuantFairnessError

COLUMNS = ("claim", "model", "protocol", "verdict", "support", "values", "note", "source", "sentence", "predicate")
CLAIM_KEYS = {"id", "source", "sentence", "predicate"}
QUANTITIES = {
    "disparity": 1,
    "degradation": 2,
    "group_degradation": 2,
    "pearson": 2,
    "spearman": 2,
    "pearson_p": 2,
    "spearman_p": 2,
}
COMPARISONS = {ast.Lt: np.less, ast.Gt: np.greater, ast.LtE: np.less_equal, ast.GtE: np.greater_equal}
ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


class Undefined(Exception):
    """A quantity this run cannot give; the message says why."""


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    sentence: str
    predicate: str
    tree: ast.Expression


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
            for arg in node.args:
                _check_term(arg, claim_id)
        elif name in QUANTITIES:
            if len(node.args) != QUANTITIES[name]:
                raise QuantFairnessError(fail + f"{name}() takes {QUANTITIES[name]} arguments, got {len(node.args)}")
            for arg in node.args:
                if not (isinstance(arg, ast.Name) or (isinstance(arg, ast.Constant) and isinstance(arg.value, str))):
                    raise QuantFairnessError(fail + f"{name}() arguments are names, got {ast.unparse(arg)!r}")
        else:
            expected = sorted([*QUANTITIES, "max", "min"])
            raise QuantFairnessError(fail + f"unknown quantity {name!r}; expected one of {expected}")
    else:
        raise QuantFairnessError(fail + f"cannot evaluate {ast.unparse(node)!r}: expected a quantity or a number")


def parse_claim(entry):
    if not isinstance(entry, dict) or set(entry) != CLAIM_KEYS:
        raise QuantFairnessError(f"a claim needs exactly the keys {sorted(CLAIM_KEYS)}, got {entry!r}")
    try:
        tree = ast.parse(str(entry["predicate"]), mode="eval")
    except SyntaxError as error:
        raise QuantFairnessError(f"claim {entry['id']!r}: predicate is not an expression: {error.msg}") from None
    _check_node(tree.body, entry["id"])
    return Claim(str(entry["id"]), str(entry["source"]), str(entry["sentence"]), str(entry["predicate"]), tree)


def load_claims(path):
    path = Path(path)
    if not path.is_file():
        raise QuantFairnessError(f"claims file {str(path)!r} does not exist: expected a YAML file like config/claims.yaml")
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
    return claims


@dataclass(frozen=True)
class Protocol:
    """How quantities are measured: the seeds' way or the robust way."""

    name: str
    groups: dict
    segments: int | None  # None: every segment, with the bootstrap
    degradation: str  # degradation_pct or delta_bpb
    disparity: str  # seed_disparity or robust_disparity


def protocols(config_groups, seed_protocol):
    return [
        Protocol("seed", seed_protocol["groups"], seed_protocol["segments"], "degradation_pct", "seed_disparity"),
        Protocol("robust", config_groups, None, "delta_bpb", "robust_disparity"),
    ]


class Measurements:
    """The quantities of one model under one protocol, computed on demand, as arrays over
    rows of the resample index (row 0: the point estimate)."""

    def __init__(self, scores, protocol, reference, noise_floor, resource_levels, resamples, permutations, seed):
        self.protocol = protocol
        self.scores = scores if protocol.segments is None else scores.first(protocol.segments)
        self.index = resample_indices(len(self.scores.ids), 0 if protocol.segments else resamples, seed)
        self.reference, self.noise_floor = reference, noise_floor
        self.resource_levels, self.permutations, self.seed = resource_levels, permutations, seed
        self._metrics = {}

    @cached_property
    def group_languages(self):
        return sorted({lang for members in self.protocol.groups.values() for lang in members})

    def _strategy(self, strategy):
        if strategy not in self.scores.nll:
            raise Undefined(f"strategy {strategy} was not run on this model")
        missing = [lang for lang in [self.reference, *self.group_languages] if lang not in self.scores.languages]
        if missing:
            raise Undefined(f"{self.protocol.name} protocol languages {missing} are not scored in this run")
        if strategy not in self._metrics:
            self._metrics[strategy] = strategy_metrics(
                self.scores, strategy, self.protocol.groups, self.reference, self.noise_floor, self.index
            )
        return self._metrics[strategy]

    def disparity(self, strategy):
        return self._strategy(strategy)[("disparity", self.protocol.disparity)]

    def degradation(self, strategy, lang):
        if lang not in self.scores.languages:
            raise Undefined(f"language {lang} is not scored in this run")
        return self._strategy(strategy)[(lang, self.protocol.degradation)]

    def group_degradation(self, strategy, group):
        if group not in self.protocol.groups:
            raise Undefined(f"group {group} is not defined in the {self.protocol.name} protocol")
        return self._strategy(strategy)[(group, "mean_" + self.protocol.degradation)]

    def _correlation_inputs(self, strategy, predictor):
        self._strategy(strategy)
        predictors = predictor_values(self.scores, self.index, self.resource_levels)
        if predictor not in predictors:
            raise Undefined(f"predictor {predictor} is not defined; have {sorted(predictors)}")
        covered, values = predictors[predictor]
        # The seed protocol correlates over the seed's languages only, as the seed did.
        keep = [i for i, lang in enumerate(covered) if self.protocol.segments is None or lang in self.group_languages]
        if len(keep) < 3:
            raise Undefined(f"{predictor} covers {len(keep)} of the protocol's languages, at least 3 needed")
        columns = [self.scores.languages.index(covered[i]) for i in keep]
        degradation = degradation_values(self.scores, strategy, self.index)[self.protocol.degradation]
        return values[:, keep], degradation[:, columns]

    def _coefficient(self, method, strategy, predictor):
        x, y = self._correlation_inputs(strategy, predictor)
        return coefficient(x, y, method)

    def _p_value(self, method, strategy, predictor):
        x, y = self._correlation_inputs(strategy, predictor)
        p = permutation_p(x[0], y[0], method, self.permutations, self.seed)
        return np.full(len(self.index), p)

    def quantity(self, name, args):
        if name in ("pearson", "spearman"):
            return self._coefficient(name, *args)
        if name in ("pearson_p", "spearman_p"):
            return self._p_value(name.removesuffix("_p"), *args)
        return getattr(self, name)(*args)


def _argument(node):
    return node.id if isinstance(node, ast.Name) else node.value


def _term(node, measurements, shown):
    """Evaluate a term to an array over resample rows; record each quantity in `shown`."""
    if isinstance(node, ast.Constant):
        return np.full(len(measurements.index), float(node.value))
    if isinstance(node, ast.UnaryOp):
        return -_term(node.operand, measurements, shown)
    if isinstance(node, ast.BinOp):
        left, right = _term(node.left, measurements, shown), _term(node.right, measurements, shown)
        return ARITHMETIC[type(node.op)](left, right)
    name = node.func.id
    if name in ("max", "min"):
        values = np.array([_term(arg, measurements, shown) for arg in node.args])
        return values.max(0) if name == "max" else values.min(0)
    text = ast.unparse(node)
    values = np.asarray(measurements.quantity(name, [_argument(arg) for arg in node.args]), dtype=float)
    if np.isnan(values[0]):
        raise Undefined(f"{text} is undefined (a ratio whose denominator is <= 0 or below the noise floor)")
    shown[text] = values
    return values


def _comparisons(node):
    return node.values if isinstance(node, ast.BoolOp) else [node]


def evaluate(claim, measurements):
    """(holds, fails, shown): boolean arrays over resample rows, and {quantity: values}.
    A row where a quantity is undefined neither holds nor fails."""
    shown = {}
    holds = np.ones(len(measurements.index), dtype=bool)
    fails = np.zeros(len(measurements.index), dtype=bool)
    for compare in _comparisons(claim.tree.body):
        terms = [_term(operand, measurements, shown) for operand in [compare.left, *compare.comparators]]
        for op, left, right in zip(compare.ops, terms, terms[1:], strict=False):
            defined = ~np.isnan(left) & ~np.isnan(right)
            true = COMPARISONS[type(op)](left, right) & defined
            holds &= true
            fails |= defined & ~true
    return holds, fails, shown


def _describe(shown, resampled, level):
    parts = []
    tail = (1 - level) / 2 * 100
    for text, values in shown.items():
        part = f"{text} = {values[0]:.4g}"
        replicates = values[1:]
        if resampled and not np.isnan(replicates).any() and np.ptp(replicates) > 0:
            low, high = np.percentile(replicates, [tail, 100 - tail])
            part += f" [{low:.4g}, {high:.4g}]"
        parts.append(part)
    return "; ".join(parts)


def verdict(claim, measurements, level):
    """The claim's row fields under one protocol: verdict, support, values, note."""
    try:
        holds, fails, shown = evaluate(claim, measurements)
    except Undefined as reason:
        return {"verdict": "undefined", "note": str(reason)}
    resampled = len(holds) > 1
    row = {"values": _describe(shown, resampled, level)}
    if not resampled:
        row["verdict"] = "holds" if holds[0] else "does not hold"
        row["note"] = "point estimate only, as the seeds reported"
        return row
    support, against = float(holds[1:].mean()), float(fails[1:].mean())
    needed = (1 + level) / 2
    row["support"] = support
    row["verdict"] = "holds" if holds[0] and support >= needed else "does not hold"
    if row["verdict"] == "holds":
        row["note"] = f"holds in {support:.1%} of resamples"
    elif against >= needed:
        row["note"] = f"contradicted: fails in {against:.1%} of resamples"
    else:
        row["note"] = f"not distinguishable: holds in {support:.1%} of resamples, needs {needed:.1%}"
    undefined = int((~holds[1:] & ~fails[1:]).sum())
    if undefined:
        row["note"] += f"; undefined in {undefined} of {len(holds) - 1} resamples"
    return row


def claim_rows(claims, model_scores, protocol_list, reference, noise_floor, resource_levels, resamples, permutations,
               seed, level=0.95):
    """One row per claim × model × protocol, in the claims file's order."""
    measured = {
        (model, protocol.name): Measurements(
            scores, protocol, reference, noise_floor[model], resource_levels, resamples, permutations, seed
        )
        for model, scores in model_scores.items()
        for protocol in protocol_list
    }
    rows = []
    for claim in claims:
        for model in model_scores:
            for protocol in protocol_list:
                fields = verdict(claim, measured[(model, protocol.name)], level)
                rows.append(
                    {
                        "claim": claim.id,
                        "model": model,
                        "protocol": protocol.name,
                        "source": claim.source,
                        "sentence": claim.sentence,
                        "predicate": claim.predicate,
                        **fields,
                    }
                )
    return rows
