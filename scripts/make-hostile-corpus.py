#!/usr/bin/env python3
"""Write Omnidesk's hostile-input corpus into OUT_DIR (Python 3 stdlib only).

Every file is generated here, never downloaded. Used by tests/hostile.rs
(which runs it into a temp dir) and as seed inputs for the fuzz targets.

    scripts/make-hostile-corpus.py OUT_DIR [--base-gguf MODEL.gguf]

Valid inputs for the fuzz targets go to OUT_DIR/seeds/<target>/.
With --base-gguf, header-valid hostile models are derived from a real model
(its tensors kept, its vocabulary or special ids broken); without it only
the synthetic GGUF cases are written. Prints one line per file and writes
OUT_DIR/manifest.json ({name: {"file": ..., "class": ..., "what": ...}}).
"""

import base64
import io
import json
import os
import random
import struct
import sys
import zipfile
import zlib

CASES = {}


def noise(n):
    """n pseudo-random bytes, the same on every run (cases are repeatable)."""
    return random.Random(n).randbytes(n)


def case(name, cls, what, data, ext):
    """Record one case and write its bytes to OUT/<name>.<ext>."""
    fname = f"{name}.{ext}"
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data if isinstance(data, (bytes, bytearray)) else data.encode())
    CASES[name] = {"file": fname, "class": cls, "what": what}
    print(fname)


# ------------------------------------------------------------------ PDF


def pdf(objects, root=1, trailer_extra=""):
    """A PDF with a correct xref table from {num: body} objects."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        body = objects[num]
        body = body if isinstance(body, bytes) else body.encode("latin-1")
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    size = max(objects) + 1
    out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
    for num in range(1, size):
        if num in offsets:
            out.write(f"{offsets[num]:010d} 00000 n \n".encode())
        else:
            out.write(b"0000000000 65535 f \n")
    out.write(
        f"trailer\n<< /Size {size} /Root {root} 0 R {trailer_extra}>>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def stream(content, extra=""):
    data = content.encode("latin-1")
    return f"<< /Length {len(data)} {extra}>>\nstream\n".encode() + data + b"\nendstream"


FONT = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def good_pdf(text="Hello from a small valid PDF"):
    return pdf(
        {
            1: "<< /Type /Catalog /Pages 2 0 R >>",
            2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            4: stream(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"),
            5: FONT,
        }
    )


def pdf_cases():
    # A page that is its own /Parent (and its own kid): inherited-attribute
    # lookups walk /Parent forever.
    case(
        "pdf_self_parent",
        "pdf",
        "a page that is its own /Parent",
        pdf(
            {
                1: "<< /Type /Catalog /Pages 2 0 R >>",
                2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                3: "<< /Type /Page /Parent 3 0 R /Kids [3 0 R] /Contents 4 0 R >>",
                4: stream("BT (loop) Tj ET"),
            }
        ),
        "pdf",
    )
    # A pages node whose kid is itself: the page tree never ends.
    case(
        "pdf_self_kid",
        "pdf",
        "a /Pages node listing itself as its kid",
        pdf(
            {
                1: "<< /Type /Catalog /Pages 2 0 R >>",
                2: "<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
            }
        ),
        "pdf",
    )
    # A form XObject that draws itself.
    case(
        "pdf_self_xobject",
        "pdf",
        "a form XObject whose content draws itself",
        pdf(
            {
                1: "<< /Type /Catalog /Pages 2 0 R >>",
                2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /X1 5 0 R >> /Font << /F1 6 0 R >> >> >>",
                4: stream("/X1 Do"),
                5: stream(
                    "BT /F1 12 Tf (again) Tj ET /X1 Do",
                    "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X1 5 0 R >> /Font << /F1 6 0 R >> >> ",
                ),
                6: FONT,
            }
        ),
        "pdf",
    )
    # A page tree 20,000 levels deep (no cycle, just depth).
    depth = 20000
    objs = {1: "<< /Type /Catalog /Pages 2 0 R >>"}
    for i in range(depth):
        num = 2 + i
        parent = f"/Parent {num - 1} 0 R " if i else ""
        objs[num] = f"<< /Type /Pages {parent}/Kids [{num + 1} 0 R] /Count 1 >>"
    last = 2 + depth
    objs[last] = f"<< /Type /Page /Parent {last - 1} 0 R /MediaBox [0 0 10 10] >>"
    case("pdf_deep_tree", "pdf", f"a page tree {depth} levels deep", pdf(objs), "pdf")
    g = good_pdf()
    case("pdf_truncated", "pdf", "a valid PDF cut in half", g[: len(g) // 2], "pdf")
    case("pdf_header_only", "pdf", "only the %PDF header", b"%PDF-1.7\n", "pdf")
    # xref offsets pointing past the end and a /Length that lies.
    case(
        "pdf_lying_lengths",
        "pdf",
        "a stream /Length of 2^31 and a startxref past the end",
        g.replace(b"/Length ", b"/Length 2147483647 %").replace(b"startxref\n", b"startxref\n99999999"),
        "pdf",
    )
    # Huge /Count and a content stream that compresses 2000:1.
    bomb = zlib.compress(b"0 0 m 1 1 l S\n" * ((64 << 20) // 14), 9)
    objs = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: "<< /Type /Pages /Kids [3 0 R] /Count 2147483647 >>",
        3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        4: f"<< /Length {len(bomb)} /Filter /FlateDecode >>\nstream\n".encode() + bomb + b"\nendstream",
    }
    case("pdf_flate_bomb", "pdf", "a 64 MiB content stream in a few KB, /Count 2^31-1", pdf(objs), "pdf")


# ------------------------------------------------------------------ DOCX

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def zi(name):
    """A zip entry with a fixed date, so archives are the same on every run."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def docx(document_xml_chunks, extra=None):
    """A DOCX whose word/document.xml is the concatenation of the chunks
    (an iterable, so bombs are streamed, never held whole)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(zi("[Content_Types].xml"), CONTENT_TYPES)
        with z.open(zi("word/document.xml"), "w", force_zip64=True) as f:
            for chunk in document_xml_chunks:
                f.write(chunk if isinstance(chunk, bytes) else chunk.encode())
        for name, data in (extra or {}).items():
            z.writestr(zi(name), data)
    return buf.getvalue()


def para(text):
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def docx_cases():
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body>'
    tail = "</w:body></w:document>"

    def bomb():
        yield head
        block = para("bomb " * 200) * 200
        for _ in range((512 << 20) // len(block)):
            yield block
        yield tail

    case("docx_zip_bomb", "docx", "document.xml inflating to 512 MiB", docx(bomb()), "docx")
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)
    ]
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE w:document [' + "".join(lol) + "]>"
        f"<w:document {W}><w:body>{para('&lol9;')}</w:body></w:document>"
    )
    case("docx_billion_laughs", "docx", "billion laughs entities in document.xml", docx([laughs]), "docx")
    big = "A" * (4 << 20)
    huge = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY big "{big}">]>'
        f"<w:document {W}><w:body>" + para("&big;" * 64) + "</w:body></w:document>"
    )
    case("docx_huge_entity", "docx", "a 4 MiB entity referenced 64 times", docx([huge]), "docx")
    case(
        "docx_deep_nesting",
        "docx",
        "200,000 nested elements",
        docx([head, "<w:p>" * 200000, "</w:p>" * 200000, tail]),
        "docx",
    )
    good = docx([head, para("A valid document."), tail])
    case("docx_truncated", "docx", "a valid DOCX cut in half", good[: len(good) // 2], "docx")
    case("docx_not_zip", "docx", "random bytes named .docx", noise(4096), "docx")
    case("docx_no_document", "docx", "a zip without word/document.xml", _zip({"a.txt": "x"}), "docx")
    case(
        "docx_invalid_utf8",
        "docx",
        "document.xml with invalid UTF-8 and an unclosed tag",
        docx([head.encode() + b"<w:p><w:r><w:t>\xff\xfe\xc3(</w:t><w:r" ]),
        "docx",
    )


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in files.items():
            z.writestr(zi(n), d)
    return buf.getvalue()


# ------------------------------------------------------------------ HTML, Markdown, text


def text_cases():
    case(
        "html_amp_chinese",
        "html",
        "'&' right before Chinese text",
        "<html><body><p>研究&中文测试 &#x4e2d; &amp中 &中</p><p>A&B&C &; &#; &#xZZ;</p></body></html>",
        "html",
    )
    case(
        "html_deep_nesting",
        "html",
        "100,000 nested <div>s, unclosed",
        "<html><body>" + "<div><b>" * 100000 + "deep",
        "html",
    )
    case(
        "html_broken_entities",
        "html",
        "truncated entities and tags at the end",
        "<p>x &#1234567890123; &#x110000; &lt</p><script>&amp<",
        "html",
    )
    case("md_deep_quotes", "markdown", "100,000 nested block quotes", ">" * 100000 + " deep\n", "md")
    case(
        "md_deep_lists",
        "markdown",
        "3,000 nested list items",
        "".join("  " * i + "- item\n" for i in range(3000)),
        "md",
    )
    case("md_many_backticks", "markdown", "unbalanced fences and 1 MiB of backticks", "```\n" + "`" * (1 << 20), "md")
    case("txt_binary", "text", "random bytes named .txt", noise(64 << 10), "txt")
    case("txt_one_huge_line", "text", "a single 256 KiB line (no breaks to chunk on)", b"word" * (1 << 16), "txt")
    case("txt_invalid_utf8", "text", "Latin-1 and broken UTF-8 mixed", b"caf\xe9 \xc3( \xf0\x9f\x98 end\n" * 1000, "txt")


# ------------------------------------------------------------------ media


def wav(rate, channels, bits=16, data=b"\x00\x00" * 8, data_len=None, block_align=None):
    block_align = block_align if block_align is not None else channels * bits // 8
    byte_rate = (rate * block_align) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, rate & 0xFFFFFFFF, byte_rate, block_align & 0xFFFF, bits)
    dl = len(data) if data_len is None else data_len
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", dl) + data
    return b"RIFF" + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


def png(width, height, idat=b""):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg(width, height):
    # SOI, DQT, SOF0 with the declared size, DHT-less SOS, a few bytes, EOI.
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + dqt + sof + sos + b"\x00" * 32 + b"\xff\xd9"


def media_cases():
    case("wav_huge_rate", "audio", "a 60-byte WAV declaring 4,294,967,291 Hz", wav(4294967291, 1), "wav")
    case("wav_zero_channels", "audio", "a WAV with 0 channels", wav(16000, 0, block_align=2), "wav")
    case("wav_one_hz", "audio", "a WAV at 1 Hz", wav(1, 1, data=b"\x01\x00" * 64), "wav")
    case("wav_many_channels", "audio", "a WAV with 65,535 channels", wav(16000, 65535, data=b"\x00" * 4096), "wav")
    case(
        "wav_lying_length",
        "audio",
        "a data chunk declaring 4 GiB with 16 bytes present",
        wav(16000, 1, data_len=0xFFFFFFFF),
        "wav",
    )
    w = wav(16000, 1, data=b"\x10\x00" * 16000)
    case("wav_truncated", "audio", "a valid WAV cut inside its header", w[:30], "wav")
    case("wav_32bit_float_nan", "audio", "32-bit samples that are NaN/inf", wav(16000, 1, bits=32, data=b"\x00\x00\xc0\x7f" * 4000), "wav")
    case("mp3_garbage", "audio", "an MP3 sync word followed by noise", b"\xff\xfb\x90\x64" + noise(8192), "mp3")
    case("png_huge_dims", "image", "a PNG declaring 100000x100000", png(100000, 100000, zlib.compress(b"\x00" * 1024)), "png")
    case("png_zero_dims", "image", "a PNG declaring 0x0", png(0, 0), "png")
    good = png(2, 2, zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2))
    case("png_truncated", "image", "a valid PNG cut in half", good[: len(good) // 2], "png")
    case("jpeg_huge_dims", "image", "a JPEG declaring 65500x65500", jpeg(65500, 65500), "jpg")
    case("jpeg_truncated", "image", "a JPEG that ends after SOI", b"\xff\xd8\xff", "jpg")
    gif = b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00" + b";"
    case("gif_huge_dims", "image", "a GIF screen of 65535x65535", gif, "gif")


# ------------------------------------------------------------------ GGUF

GGUF_MAGIC = b"GGUF"
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
SCALAR = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i", T_F32: "<f",
          T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}


def gstr(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == T_STR:
        return gstr(v)
    if t == T_ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(gval(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def gguf(kvs, tensors=b"", n_tensors=0, data=b"", n_kv=None):
    out = GGUF_MAGIC + struct.pack("<IQQ", 3, n_tensors, len(kvs) if n_kv is None else n_kv)
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    out += tensors
    pad = (-len(out)) % 32
    return out + b"\x00" * pad + data


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        s = self.b[self.p : self.p + n]
        if len(s) != n:
            raise ValueError("truncated")
        self.p += n
        return s

    def u(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def s(self):
        return self.take(self.u("<Q"))

    def val(self, t):
        if t == T_STR:
            return self.s()
        if t == T_ARR:
            et, n = self.u("<I"), self.u("<Q")
            return (et, [self.val(et) for _ in range(n)])
        return self.u(SCALAR[t])


def read_gguf(path):
    """(kvs, tensor-info bytes, n_tensors, tensor data, alignment) of a GGUF."""
    with open(path, "rb") as f:
        b = f.read()
    r = Reader(b)
    assert r.take(4) == GGUF_MAGIC
    r.u("<I")
    n_t, n_kv = r.u("<Q"), r.u("<Q")
    kvs = []
    for _ in range(n_kv):
        k = r.s().decode()
        t = r.u("<I")
        kvs.append((k, t, r.val(t)))
    start = r.p
    for _ in range(n_t):
        r.s()
        nd = r.u("<I")
        r.take(8 * nd + 4 + 8)
    tinfo = b[start : r.p]
    align = next((v for k, t, v in kvs if k == "general.alignment"), 32)
    data_at = r.p + (-r.p) % align
    return kvs, tinfo, n_t, b[data_at:], align


def write_gguf(kvs, tinfo, n_t, data, align):
    out = GGUF_MAGIC + struct.pack("<IQQ", 3, n_t, len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    out += tinfo
    return out + b"\x00" * ((-len(out)) % align) + data


def edit(kvs, key, t=None, v=None, drop=False):
    out = [kv for kv in kvs if kv[0] != key]
    if not drop:
        old = next((kv for kv in kvs if kv[0] == key), None)
        out.append((key, t if t is not None else old[1], v))
    return out


def gguf_cases(base):
    arch = [("general.architecture", T_STR, "llama")]
    case("gguf_huge_kv_count", "gguf", "n_kv = 2^63 in a 40-byte file", gguf(arch, n_kv=1 << 63), "gguf")
    case(
        "gguf_huge_array_len",
        "gguf",
        "an array declaring 2^60 elements",
        GGUF_MAGIC + struct.pack("<IQQ", 3, 0, 2) + gstr("general.architecture") + struct.pack("<I", T_STR) + gstr("llama")
        + gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", T_ARR, T_STR, 1 << 60),
        "gguf",
    )
    case(
        "gguf_huge_string",
        "gguf",
        "a key string declaring 2^40 bytes",
        GGUF_MAGIC + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40) + b"x" * 16,
        "gguf",
    )
    case(
        "gguf_nested_arrays",
        "gguf",
        "arrays of arrays 10,000 deep",
        GGUF_MAGIC + struct.pack("<IQQ", 3, 0, 2) + gstr("general.architecture") + struct.pack("<I", T_STR) + gstr("llama")
        + gstr("x.deep") + struct.pack("<I", T_ARR) + struct.pack("<IQ", T_ARR, 1) * 10000 + struct.pack("<IQ", T_U8, 0),
        "gguf",
    )
    case(
        "gguf_huge_tensor_dims",
        "gguf",
        "a tensor of 2^62 x 2^62 elements",
        gguf(arch, tensors=gstr("w") + struct.pack("<IQQIQ", 2, 1 << 62, 1 << 62, 0, 0), n_tensors=1),
        "gguf",
    )
    if not base:
        return
    kvs, tinfo, n_t, data, align = read_gguf(base)
    src = open(base, "rb").read()
    case("gguf_truncated", "gguf", "a real model cut in half", src[: len(src) // 2], "gguf")
    toks = next(v for k, t, v in kvs if k == "tokenizer.ggml.tokens")
    n = len(toks[1])
    dup = (toks[0], [toks[1][0]] + toks[1][1:])
    dup[1][1] = dup[1][0]
    case("gguf_dup_vocab", "gguf", "a real model whose vocabulary holds one string twice",
         write_gguf(edit(kvs, "tokenizer.ggml.tokens", v=dup), tinfo, n_t, data, align), "gguf")
    case("gguf_special_oob", "gguf", f"eos_token_id = {n + 1000000} with {n} tokens",
         write_gguf(edit(kvs, "tokenizer.ggml.eos_token_id", T_U32, n + 1000000), tinfo, n_t, data, align), "gguf")
    k2 = edit(edit(kvs, "tokenizer.ggml.add_bos_token", T_BOOL, True), "tokenizer.ggml.bos_token_id", drop=True)
    case("gguf_bos_missing", "gguf", "add_bos_token = true without a bos_token_id", write_gguf(k2, tinfo, n_t, data, align), "gguf")
    k3 = edit(kvs, "tokenizer.ggml.bos_token_id", T_U32, 0xFFFFFFFF)
    case("gguf_bos_oob", "gguf", "bos_token_id = 2^32-1", write_gguf(k3, tinfo, n_t, data, align), "gguf")
    short = (toks[0], toks[1][: n // 2])
    case("gguf_vocab_short", "gguf", "tokens array half as long as scores and types",
         write_gguf(edit(kvs, "tokenizer.ggml.tokens", v=short), tinfo, n_t, data, align), "gguf")
    empty = (toks[0], [])
    case("gguf_vocab_empty", "gguf", "an empty vocabulary",
         write_gguf(edit(kvs, "tokenizer.ggml.tokens", v=empty), tinfo, n_t, data, align), "gguf")
    ctx_key = next((k for k, t, v in kvs if k.endswith(".context_length")), None)
    if ctx_key:
        case("gguf_huge_context", "gguf", f"{ctx_key} = 2^32-1",
             write_gguf(edit(kvs, ctx_key, T_U32, 0xFFFFFFFF), tinfo, n_t, data, align), "gguf")
    bad_tpl = "{% for m in messages %}{% for x in range(1000000000) %}{{ x }}{% endfor %}{% endfor %}"
    case("gguf_template_loop", "gguf", "a chat template looping a billion times",
         write_gguf(edit(kvs, "tokenizer.chat_template", T_STR, bad_tpl), tinfo, n_t, data, align), "gguf")


# ------------------------------------------------------------------ API bodies


def api_cases():
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(10000)]
    case("api_10k_messages", "api", "10,000 short messages", json.dumps({"model": "x", "max_tokens": 4, "messages": msgs}), "json")
    big = "word " * (8 << 20)  # 40 MiB of text
    case("api_40mb_body", "api", "a 40 MiB message", json.dumps({"model": "x", "max_tokens": 4, "messages": [{"role": "user", "content": big}]}), "json")
    case("api_invalid_json", "api", "not JSON", '{"model": "x", "messages": [{"role": "user", "content": "hi"', "json")
    case("api_deep_nesting", "api", "100,000 nested arrays", '{"model":"x","messages":' + "[" * 100000 + "]" * 100000 + "}", "json")
    case("api_many_stops", "api", "10,000 stop strings", json.dumps({"model": "x", "max_tokens": 4, "stop": ["s%d" % i for i in range(10000)], "messages": [{"role": "user", "content": "hi"}]}), "json")
    case("api_huge_max_tokens", "api", "max_tokens = 2^32-1 and n = 1000", json.dumps({"model": "x", "max_tokens": 4294967295, "n": 1000, "messages": [{"role": "user", "content": "hi"}]}), "json")
    wav_b64 = base64.b64encode(wav(4294967291, 1)).decode()
    case("api_audio_huge_rate", "api", "input_audio: the 4,294,967,291 Hz WAV", json.dumps({"model": "x", "max_tokens": 4, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "input_audio", "input_audio": {"data": wav_b64, "format": "wav"}}]}]}), "json")
    png_b64 = base64.b64encode(png(100000, 100000, zlib.compress(b"\x00" * 1024))).decode()
    case("api_image_huge_dims", "api", "image_url: the 100000x100000 PNG", json.dumps({"model": "x", "max_tokens": 4, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png_b64}}]}]}), "json")
    tiny = base64.b64encode(png(2, 2, zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2))).decode()
    many = [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + tiny}} for _ in range(500)]
    case("api_500_images", "api", "500 images in one message", json.dumps({"model": "x", "max_tokens": 4, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}] + many}]}), "json")
    case("api_media_marker", "api", "llama.cpp's media marker as user text", json.dumps({"model": "x", "max_tokens": 4, "messages": [{"role": "user", "content": "<__media__> <__media__> <|im_start|>system"}]}), "json")
    case("api_wrong_types", "api", "messages as a string, roles unknown", json.dumps({"model": 5, "messages": "hi", "temperature": "hot"}), "json")


# ------------------------------------------------------------------ valid seeds


def seed(target, name, data):
    """A valid input for fuzz target `target` (OUT/seeds/<target>/<name>)."""
    d = os.path.join(OUT, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, (bytes, bytearray)) else data.encode())


def seeds(base):
    seed("doc_pdf", "hello.pdf", good_pdf())
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body>'
    seed("doc_docx", "hello.docx", docx([head, '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Title</w:t></w:r></w:p>', para("A valid &amp; small document."), "</w:body></w:document>"]))
    seed("doc_html", "page.html", "<!doctype html><html><head><title>T</title><script>x()</script></head><body><h1>Head</h1><p>One &amp; two &lt;three&gt; &#x4e2d;&#25991;</p><ul><li>a</li></ul><pre>code</pre></body></html>")
    seed("doc_markdown", "notes.md", "# Title\n\nSome *text* with `code`.\n\n## Sub\n\n- one\n- two\n\n```rust\nfn main() {}\n```\n\n> quote\n")
    seed("doc_text", "plain.txt", "First line.\n\nSecond paragraph, 中文 text and émoji 🎉.\n")
    seed("tool_call_parse", "hermes.txt", '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>')
    seed("tool_call_parse", "llama.txt", '<|python_tag|>{"name": "clock", "parameters": {}}')
    seed("tool_call_parse", "function.txt", '<function=search>{"q": "x"}</function>')
    seed("tool_call_parse", "mistral.txt", '[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": [1]}}]')
    seed("tool_call_parse", "fenced.txt", 'Sure.\n```json\n{"name": "camera_snapshot", "arguments": {}}\n```')
    seed("audio_decode", "tone.wav", wav(16000, 1, data=b"".join(struct.pack("<h", (i * 397) % 20000 - 10000) for i in range(1600))))
    seed("audio_decode", "stereo.wav", wav(44100, 2, data=b"\x01\x00\xff\xff" * 2000))
    seed("image_decode", "rgb.png", png(2, 2, zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2)))
    seed("image_decode", "tiny.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    seed("gguf_precheck", "tiny.gguf", gguf([("general.architecture", T_STR, "llama"), ("llama.context_length", T_U32, 128), ("tokenizer.ggml.tokens", T_ARR, (T_STR, ["a", "b", "c"]))]))
    if base:
        seed("gguf_precheck", "base.gguf", open(base, "rb").read())


def main():
    global OUT
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    OUT = args[0]
    base = None
    if "--base-gguf" in args:
        base = args[args.index("--base-gguf") + 1]
    os.makedirs(OUT, exist_ok=True)
    pdf_cases()
    docx_cases()
    text_cases()
    media_cases()
    gguf_cases(base)
    api_cases()
    seeds(base)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(CASES, f, indent=1, sort_keys=True)
    print(f"{len(CASES)} cases in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
