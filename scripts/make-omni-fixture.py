#!/usr/bin/env python3
"""Generate a random-weight "omni" model pair for llama.cpp's mtmd path.

Writes two GGUF files into OUT_DIR:

  omni-<shape>.gguf         text model, arch `qwen2vl` (what llama.cpp's converter
                            writes for Qwen2.5-Omni's thinker), small byte-level
                            BPE vocab with the Qwen chat/vision/audio special tokens
  mmproj-omni-<shape>.gguf  clip file, `clip.projector_type = qwen2.5o`, holding a
                            Qwen2.5-VL vision encoder + merger and a Whisper-style
                            Qwen2-Audio encoder + projector

The weights are random (normal, std 0.02) so every activation stays finite; the
model produces noise, but llama.cpp runs its real preprocessing, encoder graphs,
chunk evaluation and generation on it. Output is deterministic: the same seed,
shape, numpy and gguf versions give byte-identical files (their sha256 is printed).

Shapes:
  tiny  hidden 64 / 2 layers text model, 32-wide 2-layer encoders (~1 MB total)
  7b    Qwen2.5-Omni-7B shapes for GPU benchmarks: F16, 7.6B-parameter text
        model (15.2 GB, vocab padded to 152064 with unused tokens) + 1.3B-parameter
        mmproj (2.6 GB); tensors are generated and written one at a time, so a
        few GB of RAM suffice

  --quant q4_k_m  the text model's matrices as llama-quantize's Q4_K_M mix
        (Q6_K for output.weight and for attn_v/ffn_down in the layers
        llama.cpp's use_more_bits picks, Q4_K elsewhere): random block bytes
        with small finite scales, so the 7b text model is the real 4.7 GB
        file a user downloads, written in about a minute

Usage: make-omni-fixture.py OUT_DIR [--seed N] [--shape tiny|7b]
                            [--quant f16|q4_k_m] [--text-only]

Tensor names, hyper-parameter keys and layouts follow llama.cpp's
tools/mtmd/clip.cpp, clip-impl.h, models/qwen2vl.cpp, models/whisper-enc.cpp and
src/models/qwen2vl.cpp. numpy arrays are in PyTorch layout (row-major,
outermost dimension first); GGUF stores the reversed shape as ggml's ne[].
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import gguf

WEIGHT_STD = 0.02

# ggml type ids (gguf.GGMLQuantizationType values) and llama file types
F32 = gguf.GGMLQuantizationType.F32
F16 = gguf.GGMLQuantizationType.F16
Q4_K = gguf.GGMLQuantizationType.Q4_K
Q6_K = gguf.GGMLQuantizationType.Q6_K
FTYPE_MOSTLY_F16 = 1
FTYPE_MOSTLY_Q4_K_M = 15

# token types (llama.cpp's llama_token_type)
TOK_NORMAL, TOK_CONTROL, TOK_UNUSED = 1, 3, 5


@dataclass
class TextShape:
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_ctx: int
    rope_sections: list[int]  # 4 values summing to head_dim / 2
    vocab_size: int | None = None  # pad the vocab with unused tokens up to this size
    rope_theta: float = 1_000_000.0
    rms_eps: float = 1e-6


@dataclass
class VisionShape:
    n_embd: int
    n_layer: int
    n_head: int
    n_ff: int  # must differ from n_embd (clip.cpp swaps ffn_up/ffn_down otherwise)
    n_wa_pattern: int  # every n-th layer uses full attention, the others windowed
    patch_size: int = 14
    image_size: int = 560
    spatial_merge: int = 2  # merger concatenates 2x2 patches
    eps: float = 1e-6
    image_mean: list[float] = field(default_factory=lambda: [0.48145466, 0.4578275, 0.40821073])
    image_std: list[float] = field(default_factory=lambda: [0.26862954, 0.26130258, 0.27577711])


@dataclass
class AudioShape:
    n_embd: int
    n_layer: int
    n_head: int
    n_ff: int
    n_mel: int = 128
    n_pos: int = 1500  # whisper's max source positions (30 s after the stride-2 conv)
    eps: float = 1e-5


@dataclass
class Shape:
    name: str
    text: TextShape
    vision: VisionShape
    audio: AudioShape


SHAPES = {
    "tiny": Shape(
        name="tiny",
        text=TextShape(n_embd=64, n_layer=2, n_head=4, n_head_kv=2, n_ff=160,
                       n_ctx=32768, rope_sections=[2, 3, 3, 0]),
        vision=VisionShape(n_embd=32, n_layer=2, n_head=2, n_ff=48, n_wa_pattern=2),
        audio=AudioShape(n_embd=32, n_layer=2, n_head=2, n_ff=64),
    ),
    # Qwen2.5-Omni-7B: thinker text_config / vision_config / audio_config
    "7b": Shape(
        name="7b",
        text=TextShape(n_embd=3584, n_layer=28, n_head=28, n_head_kv=4, n_ff=18944,
                       n_ctx=32768, rope_sections=[16, 24, 24, 0], vocab_size=152064),
        vision=VisionShape(n_embd=1280, n_layer=32, n_head=16, n_ff=3420, n_wa_pattern=8),
        audio=AudioShape(n_embd=1280, n_layer=32, n_head=20, n_ff=5120),
    ),
}


# ---------------------------------------------------------------------------
# tensors


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]  # PyTorch order
    dtype: gguf.GGMLQuantizationType
    init: str  # "normal" | "ones" | "zeros" | "sinusoid"
    std: float = WEIGHT_STD

    @property
    def nbytes(self) -> int:
        block, size = gguf.GGML_QUANT_SIZES[self.dtype]
        return int(np.prod(self.shape)) // block * size

    @property
    def np_dtype(self) -> np.dtype:
        if self.dtype in (Q4_K, Q6_K):
            return np.dtype(np.uint8)
        return np.dtype(np.float16 if self.dtype == F16 else np.float32)


# Where a block keeps its f16 scale(s): (byte offset, count) in ggml's
# block_q4_K {d, dmin, scales[12], qs[128]} and block_q6_K {ql[128],
# qh[64], scales[16], d}. Every other byte is a valid quant or sub-scale
# whatever its value; the f16 scales are set so weights stay near +-0.05.
BLOCK_SCALES = {Q4_K: (0, 2), Q6_K: (208, 1)}
BLOCK_SCALE_VALUE = {Q4_K: (6e-5, 4.5e-4), Q6_K: (2.5e-5,)}


def make_quantized(spec: TensorSpec, seed: int) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[spec.dtype]
    n_blocks = int(np.prod(spec.shape)) // block
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    data = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    offset, count = BLOCK_SCALES[spec.dtype]
    scales = np.array(BLOCK_SCALE_VALUE[spec.dtype], dtype=np.float16)
    data[:, offset:offset + 2 * count] = np.frombuffer(scales.tobytes(), dtype=np.uint8)
    return data.reshape(-1)


def make_tensor(spec: TensorSpec, seed: int) -> np.ndarray:
    if spec.dtype in BLOCK_SCALES:
        return make_quantized(spec, seed)
    np_dtype = spec.np_dtype
    if spec.init == "normal":
        # one independent stream per tensor: the result does not depend on the
        # order in which tensors are generated
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
        data = rng.standard_normal(spec.shape, dtype=np.float32)
        data *= np.float32(spec.std)
    elif spec.init == "ones":
        data = np.ones(spec.shape, dtype=np.float32)
    elif spec.init == "zeros":
        data = np.zeros(spec.shape, dtype=np.float32)
    elif spec.init == "sinusoid":
        data = sinusoid_positions(*spec.shape)
    else:
        raise ValueError(spec.init)
    return data.astype(np_dtype, copy=False)


def sinusoid_positions(length: int, channels: int) -> np.ndarray:
    """Whisper's fixed sinusoidal position table, [length, channels]."""
    half = channels // 2
    inv = np.exp(-np.log(10000.0) / (half - 1) * np.arange(half, dtype=np.float64))
    t = np.arange(length, dtype=np.float64)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(np.float32)


def mat(name: str, rows: int, cols: int) -> TensorSpec:
    """A linear layer's weight, PyTorch [out, in] (ggml ne = [in, out])."""
    return TensorSpec(name, (rows, cols), F16, "normal")


def vec(name: str, n: int, init: str = "normal") -> TensorSpec:
    return TensorSpec(name, (n,), F32, init)


def use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's choice of the layers whose attn_v/ffn_down get more bits."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def q4_k_m(spec: TensorSpec, n_layer: int) -> TensorSpec:
    """The type llama-quantize's Q4_K_M gives this tensor (1-D ones stay F32)."""
    if len(spec.shape) != 2:
        return spec
    if spec.shape[-1] % 256:
        raise ValueError(f"{spec.name}: rows of {spec.shape[-1]} are not whole K-quant blocks")
    dtype = Q4_K
    if spec.name == "output.weight":
        dtype = Q6_K
    elif spec.name.endswith((".attn_v.weight", ".ffn_down.weight")):
        if use_more_bits(int(spec.name.split(".")[1]), n_layer):
            dtype = Q6_K
    return TensorSpec(spec.name, spec.shape, dtype, spec.init, spec.std)


def text_tensors(t: TextShape, n_vocab: int) -> list[TensorSpec]:
    head_dim = t.n_embd // t.n_head
    n_kv = head_dim * t.n_head_kv
    out = [mat("token_embd.weight", n_vocab, t.n_embd)]
    for i in range(t.n_layer):
        p = f"blk.{i}"
        out += [
            vec(f"{p}.attn_norm.weight", t.n_embd, "ones"),
            mat(f"{p}.attn_q.weight", t.n_embd, t.n_embd),
            vec(f"{p}.attn_q.bias", t.n_embd),
            mat(f"{p}.attn_k.weight", n_kv, t.n_embd),
            vec(f"{p}.attn_k.bias", n_kv),
            mat(f"{p}.attn_v.weight", n_kv, t.n_embd),
            vec(f"{p}.attn_v.bias", n_kv),
            mat(f"{p}.attn_output.weight", t.n_embd, t.n_embd),
            vec(f"{p}.ffn_norm.weight", t.n_embd, "ones"),
            mat(f"{p}.ffn_gate.weight", t.n_ff, t.n_embd),
            mat(f"{p}.ffn_up.weight", t.n_ff, t.n_embd),
            mat(f"{p}.ffn_down.weight", t.n_embd, t.n_ff),
        ]
    out += [
        vec("output_norm.weight", t.n_embd, "ones"),
        # untied: with tied embeddings a random model just echoes the last token
        mat("output.weight", n_vocab, t.n_embd),
    ]
    return out


def vision_tensors(v: VisionShape, n_proj: int) -> list[TensorSpec]:
    e, ff, p = v.n_embd, v.n_ff, v.patch_size
    merged = e * v.spatial_merge * v.spatial_merge
    # Qwen2.5-VL's Conv3d patch embedding (temporal kernel 2), split into two
    # Conv2d kernels [out, in_ch, kh, kw], no bias
    out = [
        TensorSpec("v.patch_embd.weight", (e, 3, p, p), F16, "normal"),
        TensorSpec("v.patch_embd.weight.1", (e, 3, p, p), F16, "normal"),
    ]
    for i in range(v.n_layer):
        b = f"v.blk.{i}"
        out += [
            vec(f"{b}.ln1.weight", e, "ones"),  # RMS norm: weight only
            mat(f"{b}.attn_q.weight", e, e), vec(f"{b}.attn_q.bias", e),
            mat(f"{b}.attn_k.weight", e, e), vec(f"{b}.attn_k.bias", e),
            mat(f"{b}.attn_v.weight", e, e), vec(f"{b}.attn_v.bias", e),
            mat(f"{b}.attn_out.weight", e, e), vec(f"{b}.attn_out.bias", e),
            vec(f"{b}.ln2.weight", e, "ones"),
            # SwiGLU MLP (clip.use_silu)
            mat(f"{b}.ffn_gate.weight", ff, e), vec(f"{b}.ffn_gate.bias", ff),
            mat(f"{b}.ffn_up.weight", ff, e), vec(f"{b}.ffn_up.bias", ff),
            mat(f"{b}.ffn_down.weight", e, ff), vec(f"{b}.ffn_down.bias", e),
        ]
    out += [
        # patch merger: RMS norm (ln_q), then MLP over 2x2 concatenated patches
        vec("v.post_ln.weight", e, "ones"),
        mat("mm.0.weight", merged, merged), vec("mm.0.bias", merged),
        mat("mm.2.weight", n_proj, merged), vec("mm.2.bias", n_proj),
    ]
    return out


def audio_tensors(a: AudioShape, n_proj: int) -> list[TensorSpec]:
    e, ff = a.n_embd, a.n_ff
    out = [
        # Conv1d kernels [out, in, k] in F16; biases [E, 1] so they broadcast
        # over the time axis of ggml_conv_1d's output
        TensorSpec("a.conv1d.1.weight", (e, a.n_mel, 3), F16, "normal"),
        TensorSpec("a.conv1d.1.bias", (e, 1), F32, "normal"),
        TensorSpec("a.conv1d.2.weight", (e, e, 3), F16, "normal"),
        TensorSpec("a.conv1d.2.bias", (e, 1), F32, "normal"),
        TensorSpec("a.position_embd.weight", (a.n_pos, e), F32, "sinusoid"),
    ]
    for i in range(a.n_layer):
        b = f"a.blk.{i}"
        out += [
            vec(f"{b}.ln1.weight", e, "ones"), vec(f"{b}.ln1.bias", e, "zeros"),
            mat(f"{b}.attn_q.weight", e, e), vec(f"{b}.attn_q.bias", e),
            mat(f"{b}.attn_k.weight", e, e),  # whisper: k has no bias (asserted)
            mat(f"{b}.attn_v.weight", e, e), vec(f"{b}.attn_v.bias", e),
            mat(f"{b}.attn_out.weight", e, e), vec(f"{b}.attn_out.bias", e),
            vec(f"{b}.ln2.weight", e, "ones"), vec(f"{b}.ln2.bias", e, "zeros"),
            mat(f"{b}.ffn_up.weight", ff, e), vec(f"{b}.ffn_up.bias", ff),
            mat(f"{b}.ffn_down.weight", e, ff), vec(f"{b}.ffn_down.bias", e),
        ]
    out += [
        vec("a.post_ln.weight", e, "ones"), vec("a.post_ln.bias", e, "zeros"),
        mat("mm.a.fc.weight", n_proj, e), vec("mm.a.fc.bias", n_proj),
    ]
    return out


# ---------------------------------------------------------------------------
# vocabulary


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character mapping."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# words that get full BPE merge chains, so the tokenizer's merge path is exercised
MERGE_WORDS = [
    "the", "is", "in", "this", "what", "picture", "image", "describe", "audio",
    "hello", "world", "you", "are", "a", "helpful", "assistant", "user", "system",
    "say", "hear", "see", "transcribe", "omni", "desk",
]

# Qwen2.5-Omni special tokens (control type); mtmd wraps images in
# <|vision_start|>..<|vision_end|> and audio in <|audio_bos|>..<|audio_eos|>
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<|audio_bos|>", "<|audio_eos|>", "<|AUDIO|>", "<|IMAGE|>", "<|VIDEO|>",
]

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


@dataclass
class Vocab:
    tokens: list[str]
    types: list[int]
    merges: list[str]

    def id(self, tok: str) -> int:
        return self.tokens.index(tok)


def build_vocab(pad_to: int | None) -> Vocab:
    b2u = byte_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    known = set(tokens)
    merges: list[str] = []
    for word in MERGE_WORDS:
        for form in (word, " " + word):
            chars = [b2u[b] for b in form.encode("utf-8")]
            cur = chars[0]
            for ch in chars[1:]:
                nxt = cur + ch
                if nxt not in known:
                    merges.append(f"{cur} {ch}")
                    tokens.append(nxt)
                    known.add(nxt)
                cur = nxt
    nl = b2u[ord("\n")]  # 'Ċ'
    merges.append(f"{nl} {nl}")
    tokens.append(nl + nl)
    types = [TOK_NORMAL] * len(tokens)
    tokens += SPECIAL_TOKENS
    types += [TOK_CONTROL] * len(SPECIAL_TOKENS)
    if pad_to is not None and pad_to > len(tokens):
        n_pad = pad_to - len(tokens)
        tokens += [f"<|pad_{i}|>" for i in range(n_pad)]
        types += [TOK_UNUSED] * n_pad
    assert len(set(tokens)) == len(tokens)
    return Vocab(tokens, types, merges)


# ---------------------------------------------------------------------------
# writing


def write_gguf(path: Path, writer: gguf.GGUFWriter, specs: list[TensorSpec], seed: int) -> str:
    """Stream tensors one by one (the 7b shape does not fit in memory at once)."""
    tmp = path.with_name(path.name + ".partial")
    for s in specs:
        # quantized data is given as bytes but described by its element shape
        writer.add_tensor_info(s.name, s.shape,
                               np.dtype(np.float32) if s.dtype in BLOCK_SCALES else s.np_dtype,
                               s.nbytes, raw_dtype=s.dtype)
    writer.write_header_to_file(tmp)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for s in specs:
        data = make_tensor(s, seed)
        if data.dtype != np.uint8 and not np.isfinite(data).all():
            raise RuntimeError(f"non-finite values in {s.name}")
        writer.write_tensor_data(data)
        del data
    writer.close()
    os.replace(tmp, path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_text_model(path: Path, shape: Shape, seed: int, quant: str = "f16") -> str:
    t = shape.text
    head_dim = t.n_embd // t.n_head
    assert t.n_embd % t.n_head == 0 and t.n_head % t.n_head_kv == 0
    assert len(t.rope_sections) == 4 and sum(t.rope_sections) == head_dim // 2
    vocab = build_vocab(t.vocab_size)
    arch = "qwen2vl"

    w = gguf.GGUFWriter(None, arch)
    w.add_type("model")
    w.add_name(f"Omnidesk omni-{shape.name} (random weights, test fixture)")
    w.add_description("Random-weight Qwen2.5-Omni-shaped text model for tests; outputs noise.")
    w.add_file_type(FTYPE_MOSTLY_Q4_K_M if quant == "q4_k_m" else FTYPE_MOSTLY_F16)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_uint32(f"{arch}.context_length", t.n_ctx)
    w.add_uint32(f"{arch}.embedding_length", t.n_embd)
    w.add_uint32(f"{arch}.block_count", t.n_layer)
    w.add_uint32(f"{arch}.feed_forward_length", t.n_ff)
    w.add_uint32(f"{arch}.attention.head_count", t.n_head)
    w.add_uint32(f"{arch}.attention.head_count_kv", t.n_head_kv)
    w.add_float32(f"{arch}.rope.freq_base", t.rope_theta)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", t.rms_eps)
    w.add_array(f"{arch}.rope.dimension_sections", t.rope_sections)

    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "qwen2")
    w.add_array("tokenizer.ggml.tokens", vocab.tokens)
    w.add_array("tokenizer.ggml.token_type", vocab.types)
    w.add_array("tokenizer.ggml.merges", vocab.merges)
    w.add_uint32("tokenizer.ggml.eos_token_id", vocab.id("<|im_end|>"))
    w.add_uint32("tokenizer.ggml.padding_token_id", vocab.id("<|endoftext|>"))
    w.add_uint32("tokenizer.ggml.bos_token_id", vocab.id("<|endoftext|>"))
    w.add_bool("tokenizer.ggml.add_bos_token", False)
    w.add_string("tokenizer.chat_template", CHAT_TEMPLATE)

    specs = text_tensors(t, len(vocab.tokens))
    if quant == "q4_k_m":
        specs = [q4_k_m(s, t.n_layer) for s in specs]
    return write_gguf(path, w, specs, seed)


def write_mmproj(path: Path, shape: Shape, seed: int) -> str:
    v, a, n_proj = shape.vision, shape.audio, shape.text.n_embd
    assert v.n_ff != v.n_embd, "clip.cpp would swap ffn_up/ffn_down"
    assert (v.n_embd // v.n_head) % 4 == 0, "vision M-RoPE needs head_dim % 4 == 0"
    assert a.n_pos >= 1500 and 1 <= a.n_mel <= 256

    w = gguf.GGUFWriter(None, "clip")
    w.add_type("mmproj")
    w.add_name(f"Omnidesk omni-{shape.name} mmproj (random weights, test fixture)")
    w.add_file_type(FTYPE_MOSTLY_F16)
    w.add_string("clip.projector_type", "qwen2.5o")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_audio_encoder", True)
    w.add_bool("clip.use_silu", True)

    w.add_uint32("clip.vision.image_size", v.image_size)
    w.add_uint32("clip.vision.patch_size", v.patch_size)
    w.add_uint32("clip.vision.embedding_length", v.n_embd)
    w.add_uint32("clip.vision.feed_forward_length", v.n_ff)
    w.add_uint32("clip.vision.block_count", v.n_layer)
    w.add_uint32("clip.vision.attention.head_count", v.n_head)
    w.add_uint32("clip.vision.projection_dim", n_proj)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", v.eps)
    w.add_array("clip.vision.image_mean", v.image_mean)
    w.add_array("clip.vision.image_std", v.image_std)
    w.add_uint32("clip.vision.n_wa_pattern", v.n_wa_pattern)
    w.add_uint32("clip.vision.spatial_merge_size", v.spatial_merge)

    w.add_uint32("clip.audio.embedding_length", a.n_embd)
    w.add_uint32("clip.audio.feed_forward_length", a.n_ff)
    w.add_uint32("clip.audio.block_count", a.n_layer)
    w.add_uint32("clip.audio.attention.head_count", a.n_head)
    w.add_uint32("clip.audio.projection_dim", n_proj)
    w.add_float32("clip.audio.attention.layer_norm_epsilon", a.eps)
    w.add_uint32("clip.audio.num_mel_bins", a.n_mel)

    specs = vision_tensors(v, n_proj) + audio_tensors(a, n_proj)
    return write_gguf(path, w, specs, seed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--quant", choices=["f16", "q4_k_m"], default="f16",
                    help="type of the text model's matrices")
    ap.add_argument("--text-only", action="store_true", help="leave out the mmproj")
    args = ap.parse_args()
    if args.seed < 0:
        ap.error("--seed must be >= 0")

    shape = SHAPES[args.shape]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.quant == "f16" else f"-{args.quant}"
    text_path = args.out_dir / f"omni-{shape.name}{suffix}.gguf"
    mmproj_path = args.out_dir / f"mmproj-omni-{shape.name}.gguf"

    print(f"gguf {importlib.metadata.version('gguf')}, numpy {np.__version__}, "
          f"shape {shape.name}, quant {args.quant}, seed {args.seed}", file=sys.stderr)
    print(f"{write_text_model(text_path, shape, args.seed, args.quant)}  {text_path}")
    if not args.text_only:
        print(f"{write_mmproj(mmproj_path, shape, args.seed)}  {mmproj_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
