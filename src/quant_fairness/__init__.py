"""quant-fairness: how much worse quantization makes a causal LM for each language.

from quant_fairness.models import load_model
from quant_fairness.evaluate import tokenize_segments, score_segments
"""

__version__ = "0.1.0"
