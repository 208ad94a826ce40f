"""Shared fixtures: tiny random models of every architecture family the project supports."""

import importlib.util
import os

import pytest
import torch
import transformers as T

from quant_fairness.data.batches import batch_nll, padded_batches
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.apply import quantize_model

TINY_CONFIGS = {
    "gpt2": lambda: T.GPT2Config(
        n_layer=3, n_embd=32, n_head=2, vocab_size=320, n_positions=64, bos_token_id=0, eos_token_id=0
    ),
    "opt": lambda: T.OPTConfig(
        num_hidden_layers=3,
        hidden_size=32,
        num_attention_heads=2,
        ffn_dim=64,
        vocab_size=320,
        max_position_embeddings=64,
        word_embed_proj_dim=32,
    ),
    "gpt_neox": lambda: T.GPTNeoXConfig(
        num_hidden_layers=3,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=320,
        max_position_embeddings=64,
    ),
    "bloom": lambda: T.BloomConfig(n_layer=3, hidden_size=32, n_head=2, vocab_size=320),
    "llama": lambda: T.LlamaConfig(
        num_hidden_layers=3,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        vocab_size=320,
    ),
    "gemma3": lambda: T.Gemma3TextConfig(
        num_hidden_layers=3,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        intermediate_size=64,
        vocab_size=320,
        final_logit_softcapping=30.0,
    ),
}


TEXTS = {
    "en": ["In the beginning God created", "the heaven and the earth.", "And God said, Let there be light"],
    "he": ["בְּרֵאשִׁית בָּרָא אֱלֹהִים", "אֵת הַשָּׁמַיִם וְאֵת הָאָרֶץ", "וַיֹּאמֶר אֱלֹהִים יְהִי אוֹר"],
    "ar": ["فِي الْبَدْءِ خَلَقَ اللهُ", "السَّمَاوَاتِ وَالأَرْضَ", "وَقَالَ اللهُ: لِيَكُنْ نُورٌ"],
}


def split_rows(offset=0):
    return [
        {"lang": lang, "id": f"v{index}", "text": texts[(index + offset) % len(texts)]}
        for lang, texts in TEXTS.items()
        for index in range(len(texts))
    ]


def tiny_model(family, seed=0):
    torch.manual_seed(seed)
    model = T.AutoModelForCausalLM.from_config(TINY_CONFIGS[family](), dtype=torch.float32)
    return model.eval()


@pytest.fixture(params=sorted(TINY_CONFIGS))
def family_model(request):
    return request.param, tiny_model(request.param)


def tiny_tokenizer():
    """A byte-level BPE tokenizer trained here on a few lines: it encodes any UTF-8 text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(["In the beginning God created the heaven and the earth."] * 4, trainer)
    return T.PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="<s>")


@pytest.fixture
def tiny_model_dir(tmp_path):
    """A tiny random Llama saved as a Hugging Face folder with its tokenizer."""
    folder = tmp_path / "tiny-llama"
    tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def _score_rows(nll_by_lang, tokens=25, n_bytes=100, strategy="s"):
    """Per-segment score rows in the layout of results/scores/, with ids 000, 001, ..."""
    return [
        {
            "model": "m",
            "strategy": strategy,
            "lang": lang,
            "id": f"{i:03d}",
            "tokens": tokens,
            "bytes": n_bytes,
            "nll": nll,
        }
        for lang, values in nll_by_lang.items()
        for i, nll in enumerate(values)
    ]


@pytest.fixture
def score_rows():
    return _score_rows


def trained_tiny_model(family, steps=60):
    """A tiny model fitted to the split's text, so that quantizing it loses bits in every
    language (a random model's loss moves either way and leaves the disparity undefined)."""
    model = tiny_model(family).train()
    split = TokenizedSplit(model, tiny_tokenizer(), split_rows(), batch_tokens=1024)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        for _, input_ids, attention in padded_batches(split.token_ids, 1024):
            token_nll, _ = batch_nll(model, input_ids, attention)
            optimizer.zero_grad()
            token_nll.mean().backward()
            optimizer.step()
    return model.eval()


def score_folder(folder, rows, strategy=None, dtype="float32", device="cpu"):
    """(score rows, storage or None) of a model folder, quantized by `strategy` first if given:
    what the scoring jobs compose (load, tokenize, quantize, score)."""
    model, tokenizer = load_model(folder, dtype, device)
    split = TokenizedSplit(model, tokenizer, rows)
    storage = None if strategy is None else quantize_model(model, tokenizer, strategy)[0]
    return split.score(model), storage


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package (optimum) is missing
        return False


def needs_package(module, pip_name):
    """A hard dependency: skipped where it is missing on a developer's machine, but under CI=true
    the test runs (and fails), since `pip install -e .` must have installed it."""
    missing = not _installed(module) and not os.environ.get("CI")
    return pytest.mark.skipif(missing, reason=f"{pip_name} is not installed (pip install -e .)")
