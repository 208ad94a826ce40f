"""Strategies: a quantizer, the weights it targets, per-component bits, and the weights
that stay FP16 (specs only, no torch).

A strategy spec is one entry of config.yaml's `strategy_specs`:

    rtn_int4_g128:  {quantizer: rtn, bits: 4, group_size: 128, symmetric: false}
    awq_int4_g128:  {quantizer: rtn, bits: 4, group_size: 128, symmetric: false, awq: true}
    mixed_a8_m4:    {quantizer: rtn, bits: 4, group_size: 128, component_bits: {attention: 8}}
    gptq_int4_g128: {quantizer: gptq, bits: 4, group_size: 128, symmetric: false}
    gptq_int4_en:   {quantizer: gptq, bits: 4, calibration_languages: en, calibration_tokens: 2048}
    gptq_int4_mt:   {quantizer: gptq, bits: 4, calibration_languages: matched}   # one model per language
    gguf_q4_0:      {quantizer: gguf, format: Q4_0}
    bnb_nf4:        {quantizer: bnb, format: nf4}
    bnb_llm_int8:   {quantizer: bnb, format: llm_int8, threshold: 6.0}
    hqq_int4_g64:   {quantizer: hqq, bits: 4, group_size: 64}
    quanto_qint4:   {quantizer: quanto, format: qint4}
    seed_keep5:     {quantizer: seed_absmax, protect: {top_percent: 5}}
    seed_gateway:   {quantizer: seed_absmax, protect: {depths: [0.0, 0.75, 1.0]}}
    seed_guided:    {quantizer: seed_absmax,
                     protect: {salience: {method: gradient, languages: low, top_percent: 5}}}

`seed_absmax` follows the seed protocol: every parameter whose name contains "weight"
(embeddings, tied LM head and norm gains included), biases kept. The other quantizers
quantize the matrix weights of the components in `targets` (default: attention and MLP
of every decoder block), the usual weight-only practice.

`protect` keys combine by union: `top_percent` (largest |w| over all targeted weights,
or per tensor with `scope: tensor`), `layers` (block indices, negative from the end),
`depths` (relative depth d = index / blocks, so a set transfers across depths: 0, 0.75, 1
are GPT-2's L0, L9, L11 of 12 and SmolLM2's L0, L22, L29 of 30),
`components` (plus `first_attention`), `heads` ([{layer: 0, heads: [0, 1]}]), and
`salience` (a mask computed from calibration text by the `salience_mask` rule).

    strategy = parse_strategy("rtn_int4_g128", spec)   # then quant_fairness.quantize.apply.apply_strategy
"""

from dataclasses import asdict, dataclass, field, replace

from quant_fairness.errors import QuantFairnessError

BASELINE = "baseline"
# Where a weight lives in a causal LM (quant_fairness.data.layers classifies every parameter).
COMPONENTS = ("embedding", "position_embedding", "attention", "mlp", "norm", "lm_head", "other")
FIRST_ATTENTION = "first_attention"
GRANULARITIES = ("tensor", "channel", "group")
GGUF_TYPES = ("Q8_0", "Q5_0", "Q4_1", "Q4_0")
# nf4_double: NF4 with bitsandbytes' double quantization of the block scales (QLoRA).
BNB_FORMATS = ("nf4", "fp4", "nf4_double", "int8", "llm_int8")
QUANTO_FORMATS = ("qint8", "qint4")
SALIENCE_METHODS = ("gradient", "fisher", "activation")
# Which calibration languages a salience mask is measured on; contrast = low minus high.
SALIENCE_LANGUAGES = ("low", "high", "all", "contrast")
CALIBRATION_SEGMENTS = 8  # per language, default for salience
# GPTQ/AWQ calibration text: whose (a group, language codes, or one model per test language) and
# how much (tokens per quantized model, split equally over its languages, so that settings differ
# in language, not in amount: scripts differ in tokens per byte, so segments would not be equal).
CALIBRATION_GROUPS = ("all", "high", "low")
MATCHED = "matched"
CALIBRATION_TOKENS = 2048
PACKED_BITS = (4, 8)  # code widths quant_fairness.artifacts.packing writes

QUANTIZER_FIELDS = {
    "seed_absmax": (),
    "rtn": ("bits", "granularity", "group_size", "symmetric", "awq"),
    "gptq": ("bits", "granularity", "group_size", "symmetric"),
    "gguf": ("format",),
    "bnb": ("format", "threshold"),
    "hqq": ("bits", "group_size"),
    "quanto": ("format", "group_size"),
}
BITS = {"rtn": (2, 3, 4, 8), "gptq": (2, 3, 4, 8), "hqq": (4, 3)}
FORMATS = {"gguf": GGUF_TYPES, "bnb": BNB_FORMATS, "quanto": QUANTO_FORMATS}
COMMON_FIELDS = ("quantizer", "targets", "component_bits", "protect", "calibration_languages", "calibration_tokens")
CALIBRATION_FIELDS = ("calibration_languages", "calibration_tokens")
PROTECT_FIELDS = ("top_percent", "scope", "layers", "depths", "components", "heads", "salience")


@dataclass(frozen=True)
class Salience:
    method: str
    languages: str
    top_percent: float
    segments: int = CALIBRATION_SEGMENTS


@dataclass(frozen=True)
class Protection:
    top_percent: float | None = None
    scope: str = "global"
    layers: tuple = ()
    depths: tuple = ()
    components: tuple = ()
    heads: tuple = ()  # (layer, head) pairs
    salience: Salience | None = None

    @property
    def is_empty(self):
        return self == Protection()


@dataclass(frozen=True)
class Strategy:
    name: str
    quantizer: str
    bits: int = 4
    granularity: str = "group"
    group_size: int = 128
    symmetric: bool = True
    format: str | None = None
    threshold: float = 6.0
    awq: bool = False
    targets: tuple = ("attention", "mlp")
    component_bits: tuple = ()  # (component, bits) pairs that override `bits`
    protection: Protection = field(default_factory=Protection)
    calibration_languages: str | tuple = "all"  # a group of CALIBRATION_GROUPS, MATCHED, or language codes
    calibration_tokens: int = CALIBRATION_TOKENS

    @property
    def matched(self):
        """One quantized model per test language, each calibrated on that language alone."""
        return self.calibration_languages == MATCHED

    @property
    def needs_calibration(self):
        """GPTQ and AWQ read activations of the calibration split while quantizing."""
        return self.quantizer == "gptq" or self.awq

    @property
    def needs_salience(self):
        return self.protection.salience is not None

    def bits_for(self, component):
        return dict(self.component_bits).get(component, self.bits)

    @property
    def quantizer_spec(self):
        """Everything but the name and the protection: strategies with equal specs quantize
        every weight they do not protect identically (and share one packed model)."""
        return {key: value for key, value in asdict(self).items() if key not in ("name", "protection")}


def _fail(name, message):
    raise QuantFairnessError(f"strategy {name!r}: {message}")


def _one_of(name, key, value, allowed):
    if value not in allowed:
        _fail(name, f"{key} {value!r} is not one of {list(allowed)}")
    return value


def _percent(name, key, value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        _fail(name, f"{key} {value!r} must be a number in [0, 100]")
    return float(value)


def _positive_int(name, key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(name, f"{key} {value!r} must be a positive integer")
    return value


def _list(name, key, values):
    if not isinstance(values, list):
        _fail(name, f"{key} {values!r} must be a list")
    return tuple(values)


def _bool(name, key, value):
    if not isinstance(value, bool):
        _fail(name, f"{key} {value!r} must be true or false")
    return value


def _int_list(name, key, values):
    if not isinstance(values, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        _fail(name, f"{key} {values!r} must be a list of integers")
    return tuple(values)


def _parse_heads(name, entries):
    if not isinstance(entries, list):
        _fail(name, f"protect.heads {entries!r} must be a list of {{layer: L, heads: [h, ...]}}")
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"layer", "heads"}:
            _fail(name, f"protect.heads entry {entry!r} must be {{layer: L, heads: [h, ...]}}")
        layer = _int_list(name, "protect.heads.layer", [entry["layer"]])[0]  # negative: from the end
        for head in _int_list(name, "protect.heads.heads", entry["heads"]):
            if head < 0:
                _fail(name, f"protect.heads head {head} must be ≥ 0")
            pairs.append((layer, head))
    return tuple(pairs)


def _parse_salience(name, spec):
    if not isinstance(spec, dict) or not {"method", "top_percent"} <= set(spec):
        _fail(name, f"protect.salience {spec!r} needs method and top_percent")
    unknown = set(spec) - {"method", "languages", "top_percent", "segments"}
    if unknown:
        _fail(
            name,
            f"protect.salience key {sorted(unknown)[0]!r} is not one of [method, languages, top_percent, segments]",
        )
    return Salience(
        method=_one_of(name, "protect.salience.method", spec["method"], SALIENCE_METHODS),
        languages=_one_of(name, "protect.salience.languages", spec.get("languages", "all"), SALIENCE_LANGUAGES),
        top_percent=_percent(name, "protect.salience.top_percent", spec["top_percent"]),
        segments=_positive_int(name, "protect.salience.segments", spec.get("segments", CALIBRATION_SEGMENTS)),
    )


def parse_protection(name, spec):
    """The FP16 protection of a strategy from its `protect:` mapping."""
    if not isinstance(spec, dict):
        _fail(name, f"protect {spec!r} must be a mapping with keys from {list(PROTECT_FIELDS)}")
    for key in spec:
        _one_of(name, "protect key", key, PROTECT_FIELDS)
    depths = _list(name, "protect.depths", spec.get("depths", []))
    for depth in depths:
        if isinstance(depth, bool) or not isinstance(depth, int | float) or not 0 <= depth <= 1:
            _fail(name, f"protect.depths value {depth!r} must be a relative depth in [0, 1]")
    components = _list(name, "protect.components", spec.get("components", []))
    for component in components:
        _one_of(name, "protect component", component, (*COMPONENTS, FIRST_ATTENTION))
    top = spec.get("top_percent")
    return Protection(
        top_percent=None if top is None else _percent(name, "protect.top_percent", top),
        scope=_one_of(name, "protect.scope", spec.get("scope", "global"), ("global", "tensor")),
        layers=_int_list(name, "protect.layers", spec.get("layers", [])),
        depths=tuple(float(d) for d in depths),
        components=components,
        heads=_parse_heads(name, spec.get("heads", [])),
        salience=_parse_salience(name, spec["salience"]) if "salience" in spec else None,
    )


def _parse_component_bits(name, quantizer, spec, targets):
    if not isinstance(spec, dict):
        _fail(name, f"component_bits {spec!r} must map components to bits")
    if quantizer not in BITS:
        _fail(name, f"component_bits needs a quantizer with bits ({sorted(BITS)}), not {quantizer!r}")
    for component, bits in spec.items():
        _one_of(name, "component_bits component", component, targets)
        _one_of(name, f"component_bits.{component}", bits, BITS[quantizer])
    return tuple(sorted(spec.items()))


def parse_strategy(name, spec):
    """A validated Strategy; one clear line for an unknown kind or a bad field."""
    if name == BASELINE:
        _fail(name, f"the name {BASELINE!r} is reserved for the unquantized reference")
    if not isinstance(spec, dict):
        _fail(name, f"spec {spec!r} must be a mapping")
    quantizer = _one_of(name, "quantizer", spec.get("quantizer"), tuple(QUANTIZER_FIELDS))
    # The seed protocol fixes its targets (every weight) and precision, and reads no calibration text.
    common = ("quantizer", "protect") if quantizer == "seed_absmax" else COMMON_FIELDS
    allowed = (*common, *QUANTIZER_FIELDS[quantizer])
    if "calibration_segments" in spec:
        _fail(
            name,
            "calibration_segments was replaced by calibration_tokens (tokens per quantized model, split "
            "equally over calibration_languages)",
        )
    for key in spec:
        if key not in allowed:
            _fail(name, f"key {key!r} does not apply to quantizer {quantizer!r}; expected one of {list(allowed)}")
    protection = parse_protection(name, spec.get("protect", {}))
    if quantizer == "seed_absmax":
        return Strategy(name, quantizer, 4, "tensor", symmetric=True, targets=("seed",), protection=protection)
    targets = _list(name, "targets", spec.get("targets", ["attention", "mlp"]))
    for target in targets:
        _one_of(name, "target", target, COMPONENTS)
    fields = {"targets": targets, "protection": protection}
    if quantizer in BITS:
        fields["bits"] = _one_of(name, "bits", spec.get("bits", 4), BITS[quantizer])
        fields["component_bits"] = _parse_component_bits(name, quantizer, spec.get("component_bits", {}), targets)
    elif "component_bits" in spec:
        _parse_component_bits(name, quantizer, spec["component_bits"], targets)
    if quantizer in FORMATS:
        if "format" not in spec:
            _fail(name, f"quantizer {quantizer!r} needs a format, one of {list(FORMATS[quantizer])}")
        fields["format"] = _one_of(name, "format", spec["format"], FORMATS[quantizer])
    if quantizer in ("rtn", "gptq"):
        fields["granularity"] = _one_of(name, "granularity", spec.get("granularity", "group"), GRANULARITIES)
        if quantizer == "gptq" and fields["granularity"] == "tensor":
            _fail(name, "GPTQ quantizes per channel or per group, not per tensor")
        fields["symmetric"] = _bool(name, "symmetric", spec.get("symmetric", True))
    if "group_size" in QUANTIZER_FIELDS[quantizer]:
        default = 64 if quantizer == "hqq" else 128
        fields["group_size"] = _positive_int(name, "group_size", spec.get("group_size", default))
    if quantizer == "bnb":
        threshold = spec.get("threshold", 6.0)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold < 0:
            _fail(name, f"threshold {threshold!r} must be a number ≥ 0")
        fields["threshold"] = float(threshold)
    if quantizer == "rtn":
        fields["awq"] = _bool(name, "awq", spec.get("awq", False))
        if fields["awq"] and fields["granularity"] == "tensor":
            _fail(name, "AWQ scales per input channel within groups or channels, not per tensor")
    if fields.get("format") == "llm_int8" and not protection.is_empty:
        _fail(name, "LLM.int8() swaps whole modules; it cannot keep individual weights in FP16 (drop protect)")
    strategy = Strategy(name, quantizer, **fields)
    return _with_calibration(strategy, spec)


def _calibration_languages(name, value):
    if isinstance(value, str):
        return value if value in (*CALIBRATION_GROUPS, MATCHED) else (value,)
    if isinstance(value, list) and value and all(isinstance(code, str) for code in value):
        return tuple(value)
    _fail(
        name,
        f"calibration_languages {value!r} must be one of {[*CALIBRATION_GROUPS, MATCHED]}, a language code or a list",
    )


def _with_calibration(strategy, spec):
    """The calibration keys, which only a strategy that reads calibration text may set."""
    given = [key for key in CALIBRATION_FIELDS if key in spec]
    if given and not strategy.needs_calibration:
        _fail(
            strategy.name,
            f"{given[0]} {spec[given[0]]!r} applies to GPTQ and AWQ, which read calibration text; quantizer "
            f"{strategy.quantizer!r}{'' if strategy.quantizer != 'rtn' else ' without awq'} reads none",
        )
    return replace(
        strategy,
        calibration_languages=_calibration_languages(strategy.name, spec.get("calibration_languages", "all")),
        calibration_tokens=_positive_int(
            strategy.name, "calibration_tokens", spec.get("calibration_tokens", CALIBRATION_TOKENS)
        ),
    )


def check_packable(strategy):
    """Packed files exist for the quantizers whose codes this project computes."""
    if strategy.quantizer == "seed_absmax":
        return
    bits = {strategy.bits, *(bits for _, bits in strategy.component_bits)}
    if strategy.quantizer != "rtn" or strategy.awq or not bits <= set(PACKED_BITS):
        raise QuantFairnessError(
            f"strategy {strategy.name!r} cannot be packed: packed models are written for the seed_absmax "
            f"quantizer and for rtn (without awq) at {' or '.join(map(str, PACKED_BITS))} bits"
        )


def strategy_named(name, specs, where=""):
    """The strategy `name` of `specs` (config.yaml's strategy_specs), parsed; `where` prefixes
    the error, e.g. "sweep.strategy: "."""
    if name not in specs:
        raise QuantFairnessError(f"{where}strategy {name!r} is not defined; expected one of {sorted(specs)}")
    return parse_strategy(name, specs[name])
