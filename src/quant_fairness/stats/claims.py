"""The seeds' quantitative claims as predicates, checked on this run's data under two
protocols.

A claims file (config/claims.yaml) lists each claim: its source note, the sentence, and
a predicate over measured quantities, e.g. `disparity(seed_keep5) < disparity(seed_absmax_int4)`
(parsed and checked by predicates.py).
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
excludes the boundary), and a comparison of two losses in bits/byte must also differ by
more than the noise floor. A quantity that is undefined (a ratio whose denominator is
<= 0 or below the noise floor, `/` included; a strategy or language not in the run)
makes the claim undefined, never a number.

    claims = load_claims("config/claims.yaml")          # quant_fairness.stats.predicates
    rows = claim_rows(claims, {"smollm2-135m": scores}, protocols, reference="en",
                      noise_floor={"smollm2-135m": 0.002}, resource_levels=levels,
                      resamples=1000, permutations=50000, seed=0)
"""

import ast
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from quant_fairness.stats.bootstrap import percentile_interval, resample_indices
from quant_fairness.stats.correlation import (
    MIN_LANGUAGES,
    coefficient,
    degradation_values,
    permutation_p,
    predictor_values,
)
from quant_fairness.stats.disparity import ALL_LANGUAGES, strategy_metrics
from quant_fairness.stats.metrics import ratio
from quant_fairness.stats.predicates import ARITHMETIC, COMPARISONS, argument

COLUMNS = ("claim", "model", "protocol", "verdict", "support", "values", "note", "source", "sentence", "predicate")
BPB_QUANTITIES = {"degradation", "group_degradation"}
NOT_APPLICABLE = "not applicable"  # the verdict under a protocol a claim is not checked under
P_VALUES = {"pearson_p", "spearman_p"}


class Undefined(Exception):
    """A quantity this run cannot give; the message says why."""


@dataclass(frozen=True)
class Protocol:
    """How quantities are measured: the seeds' way or the robust way."""

    name: str
    groups: dict
    segments: int | None  # None: every segment, with the bootstrap
    degradation: str  # degradation_pct or delta_bpb
    disparity: str  # seed_disparity or robust_disparity

    @property
    def resampled(self):
        return self.segments is None


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
        self.scores = scores if protocol.resampled else scores.first(protocol.segments)
        self.index = resample_indices(len(self.scores.ids), resamples if protocol.resampled else 0, seed)
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
        if group not in self.protocol.groups and group != ALL_LANGUAGES:
            raise Undefined(f"group {group} is not defined in the {self.protocol.name} protocol")
        return self._strategy(strategy)[(group, "mean_" + self.protocol.degradation)]

    def _correlation_inputs(self, strategy, predictor):
        self._strategy(strategy)
        predictors = predictor_values(self.scores, self.index, self.resource_levels)
        if predictor not in predictors:
            raise Undefined(f"predictor {predictor} is not defined; have {sorted(predictors)}")
        covered, values = predictors[predictor]
        # The seed protocol correlates over the seed's languages only, as the seed did.
        keep = [i for i, lang in enumerate(covered) if self.protocol.resampled or lang in self.group_languages]
        if len(keep) < MIN_LANGUAGES:
            raise Undefined(
                f"{predictor} covers {len(keep)} of the protocol's languages, at least {MIN_LANGUAGES} needed"
            )
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


def _term(node, measurements, shown):
    """(values over resample rows, is_bpb): is_bpb marks a loss in bits/byte, which the
    noise floor applies to. Each quantity evaluated is recorded in `shown`."""
    if isinstance(node, ast.Constant):
        return np.full(len(measurements.index), float(node.value)), False
    if isinstance(node, ast.UnaryOp):
        values, is_bpb = _term(node.operand, measurements, shown)
        return -values, is_bpb
    if isinstance(node, ast.BinOp):
        (left, left_bpb), (right, right_bpb) = (_term(side, measurements, shown) for side in (node.left, node.right))
        if isinstance(node.op, ast.Div):  # a loss in the denominator must clear the noise floor
            values = ratio(left, right, measurements.noise_floor if right_bpb else 0.0)
            shown[ast.unparse(node)] = (values, True)
        else:
            values = ARITHMETIC[type(node.op)](left, right)
        if np.isnan(values[0]):
            raise Undefined(f"{ast.unparse(node)} is undefined: its denominator is <= 0 or below the noise floor")
        if isinstance(node.op, ast.Add | ast.Sub):
            return values, left_bpb and right_bpb
        # A loss scaled by a number is still a loss in bits/byte; a ratio of two losses is not.
        by_number = _is_number(node.right) or (isinstance(node.op, ast.Mult) and _is_number(node.left))
        return values, by_number and (left_bpb or right_bpb)
    name = node.func.id
    if name in ("max", "min"):
        terms = [_term(arg, measurements, shown) for arg in node.args]
        values = np.array([values for values, _ in terms])
        return (values.max(0) if name == "max" else values.min(0)), all(is_bpb for _, is_bpb in terms)
    text = ast.unparse(node)
    values = np.asarray(measurements.quantity(name, [argument(arg) for arg in node.args]), dtype=float)
    if np.isnan(values[0]):
        raise Undefined(f"{text} is undefined (a ratio whose denominator is <= 0 or below the noise floor)")
    shown[text] = (values, name not in P_VALUES)
    return values, name in BPB_QUANTITIES and measurements.protocol.degradation == "delta_bpb"


def _comparisons(node):
    return node.values if isinstance(node, ast.BoolOp) else [node]


def evaluate(claim, measurements):
    """(holds, fails, shown, below_floor): boolean arrays over resample rows (a row where a
    value is undefined neither holds nor fails), {quantity: values}, and the comparisons of
    two losses in bits/byte whose gap is below the noise floor."""
    shown, below_floor = {}, []
    holds = np.ones(len(measurements.index), dtype=bool)
    fails = np.zeros(len(measurements.index), dtype=bool)
    for compare in _comparisons(claim.tree.body):
        operands = [compare.left, *compare.comparators]
        terms = [_term(operand, measurements, shown) for operand in operands]
        for op, (left, left_bpb), (right, right_bpb), pair in zip(
            compare.ops, terms, terms[1:], zip(operands, operands[1:], strict=False), strict=False
        ):
            defined = ~np.isnan(left) & ~np.isnan(right)
            true = COMPARISONS[type(op)](left, right) & defined
            holds &= true
            fails |= defined & ~true
            # A loss in bits/byte against another, or against a number (`a - b > 0`), must clear the floor.
            in_bits = (left_bpb and (right_bpb or _is_number(pair[1]))) or (right_bpb and _is_number(pair[0]))
            if in_bits and abs(left[0] - right[0]) < measurements.noise_floor:
                below_floor.append(" vs ".join(ast.unparse(side) for side in pair))
    return holds, fails, shown, below_floor


def _is_number(node):
    return isinstance(node, ast.Constant) or (isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


def _describe(shown, level):
    parts = []
    for text, (values, resampled) in shown.items():
        part = f"{text} = {values[0]:.4g}"
        if resampled and len(values) > 1:
            interval = percentile_interval(values[1:], level)
            part += " (CI undefined)" if interval is None else f" [{interval[0]:.4g}, {interval[1]:.4g}]"
        parts.append(part)
    return "; ".join(parts)


def _robust_verdict(holds, fails, below_floor, noise_floor, level):
    support, against = float(holds[1:].mean()), float(fails[1:].mean())
    needed = (1 + level) / 2
    row = {"support": support, "verdict": "does not hold"}
    if holds[0] and below_floor:
        row["note"] = f"the gap is below the noise floor ({noise_floor:.3g} bits/byte): {'; '.join(below_floor)}"
    elif holds[0] and support >= needed:
        row["verdict"], row["note"] = "holds", f"holds in {support:.1%} of resamples"
    elif against >= needed:
        row["note"] = f"contradicted: fails in {against:.1%} of resamples"
    elif not holds[0]:
        row["note"] = f"fails in the point estimate; holds in {support:.1%} of resamples"
    else:
        row["note"] = f"not distinguishable: holds in {support:.1%} of resamples, needs {needed:.1%}"
    undefined = int((~holds[1:] & ~fails[1:]).sum())
    if undefined:
        row["note"] += f"; undefined in {undefined} of {len(holds) - 1} resamples"
    return row


def verdict(claim, measurements, level):
    """The claim's row fields under one protocol: verdict, support, values, note."""
    try:
        holds, fails, shown, below_floor = evaluate(claim, measurements)
    except Undefined as reason:
        return {"verdict": "undefined", "note": str(reason)}
    values = _describe(shown, level)
    point = "holds" if holds[0] else "does not hold"
    if not measurements.protocol.resampled:
        return {"values": values, "verdict": point, "note": "point estimate only, as the seeds reported"}
    if not any(resampled for _, resampled in shown.values()):
        # A permutation p-value is itself the test; resampling it would only copy it.
        return {"values": values, "verdict": point, "note": "judged by the permutation p-value itself (not resampled)"}
    row = _robust_verdict(holds, fails, below_floor, measurements.noise_floor, level)
    if len(shown) > sum(resampled for _, resampled in shown.values()):
        row["note"] += "; p-values are not resampled: the support is that of the other quantities"
    return {"values": values, **row}


def claim_rows(
    claims,
    model_scores,
    protocol_list,
    reference,
    noise_floor,
    resource_levels,
    resamples,
    permutations,
    seed,
    level=0.95,
):
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
                if protocol.name in claim.protocols:
                    fields = verdict(claim, measured[(model, protocol.name)], level)
                else:
                    fields = {
                        "verdict": NOT_APPLICABLE,
                        "note": f"the {protocol.name} protocol does not apply to this claim",
                    }
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
