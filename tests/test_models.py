"""Model folders: prepared with hashes, loaded as causal LMs, refused clearly otherwise."""

import json

import numpy as np
import pytest
import torch
import transformers as T
from conftest import score_folder

from quant_fairness.data.models import gguf_header, load_causal_lm, load_model, parsed_once, prepare_model
from quant_fairness.data.wheels import sha256_file
from quant_fairness.errors import QuantFairnessError
from quant_fairness.provenance import PROVENANCE
from quant_fairness.quantize.strategies import parse_strategy


def test_local_model_is_prepared_with_hashes_and_scores(tiny_model_dir, tmp_path):
    destination = tmp_path / "prepared"
    provenance = prepare_model("tiny", {"local": str(tiny_model_dir)}, destination, tmp_path / "wheels")
    assert provenance["architecture"] == "LlamaForCausalLM"
    saved = json.loads((destination / PROVENANCE).read_text())
    assert saved["files_sha256"]["model.safetensors"] == sha256_file(destination / "model.safetensors")
    rows = [{"id": "1", "lang": "en", "text": "In the beginning"}, {"id": "1", "lang": "he", "text": "בראשית ברא"}]
    baseline, storage = score_folder(destination, rows)
    assert storage is None
    assert [r["bytes"] for r in baseline] == [16, 19]
    assert all(r["nll"] > 0 and r["tokens"] > 0 for r in baseline)
    quantized, storage = score_folder(destination, rows, parse_strategy("s", {"quantizer": "seed_absmax"}))
    assert storage["bits_per_weight"] == pytest.approx(4.0, abs=0.01)
    assert [r["nll"] for r in quantized] != [r["nll"] for r in baseline]


def test_preparing_twice_gives_identical_weights(tiny_model_dir, tmp_path):
    first = prepare_model("tiny", {"local": str(tiny_model_dir)}, tmp_path / "a", tmp_path / "wheels")
    second = prepare_model("tiny", {"local": str(tiny_model_dir)}, tmp_path / "b", tmp_path / "wheels")
    assert first["files_sha256"] == second["files_sha256"]


def test_missing_folder_is_one_clear_line(tmp_path):
    for loader in (load_model, load_causal_lm):
        with pytest.raises(QuantFairnessError, match="is missing or has no config.json"):
            loader(tmp_path / "nowhere")
    with pytest.raises(QuantFairnessError, match="local folder .* does not exist"):
        prepare_model("x", {"local": str(tmp_path / "nowhere")}, tmp_path / "out", tmp_path / "wheels")
    assert not (tmp_path / "out").exists()


def test_a_model_that_is_not_a_causal_lm_is_refused(tmp_path):
    T.ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32).save_pretrained(
        tmp_path
    )
    for loader in (load_model, load_causal_lm):
        with pytest.raises(QuantFairnessError, match="ViTConfig, not a causal language model"):
            loader(tmp_path)


def test_the_weights_alone_load_as_the_whole_model_does(tiny_model_dir):
    model, _ = load_model(tiny_model_dir)
    weights = load_causal_lm(tiny_model_dir)
    assert not weights.training
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), weights.state_dict().values(), strict=True)
    )


def test_a_segment_longer_than_the_context_is_refused(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["max_position_embeddings"] = 8
    (tiny_model_dir / "config.json").write_text(json.dumps(config))
    rows = [{"id": "7", "lang": "en", "text": "In the beginning God created the heaven and the earth."}]
    with pytest.raises(
        QuantFairnessError, match=r"segment en/7 has \d+ tokens with BOS, more than the model's context of 8"
    ):
        score_folder(tiny_model_dir, rows)


def test_bfloat16_scoring_stays_close_to_float32(tiny_model_dir):
    rows = [{"id": "1", "lang": "en", "text": "In the beginning God created the heaven and the earth."}]
    full, _ = score_folder(tiny_model_dir, rows, dtype="float32")
    half, _ = score_folder(tiny_model_dir, rows, dtype="bfloat16")
    assert half[0]["tokens"] == full[0]["tokens"]
    assert half[0]["nll"] != full[0]["nll"]
    assert abs(half[0]["nll"] - full[0]["nll"]) < 0.02 * full[0]["nll"]


def test_a_gguf_file_is_parsed_once_while_a_model_is_prepared(tmp_path):
    import gguf

    paths = [tmp_path / "a.gguf", tmp_path / "b.gguf"]
    for path in paths:
        writer = gguf.GGUFWriter(str(path), "llama")
        writer.add_name(path.stem)
        writer.add_tensor("weight", np.ones((2, 2), dtype=np.float32))
        for write in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
            write()
        writer.close()
    opened = gguf.GGUFReader
    with parsed_once(paths[0]) as reader:
        assert gguf.GGUFReader(paths[0]) is reader and gguf.GGUFReader(str(paths[0])) is reader
        assert gguf.GGUFReader(paths[1]) is not reader
        assert gguf_header(reader)["gguf_name"] == "a"
    assert gguf.GGUFReader is opened
