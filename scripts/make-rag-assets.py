#!/usr/bin/env python3
"""Regenerate the binary test fixtures under assets/rag/ (PDF and DOCX files,
good and broken). Standard library only; the output is deterministic.

Usage: python3 scripts/make-rag-assets.py
"""

import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "assets" / "rag"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def pdf(pages):
    """A minimal PDF with one Helvetica text page per entry of `pages`."""
    objs = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    font_id = 3 + 2 * n
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode()
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def docx(paragraphs):
    """A minimal DOCX; `paragraphs` is a list of (style or None, text)."""
    body = []
    for style, text in paragraphs:
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        text = text.replace("&", "&amp;").replace("<", "&lt;")
        body.append(f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body>" + "".join(body) + "</w:body></w:document>"
    )


def write_zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)


def main():
    manual = pdf(
        [
            ["Pump manual, model HX-40.", "", "Safety: disconnect the mains before opening the housing."],
            ["Maintenance schedule.", "", "The pressure relief valve must be replaced every 18 months."],
        ]
    )
    (ROOT / "docs" / "manual.pdf").write_bytes(manual)
    (ROOT / "broken" / "truncated.pdf").write_bytes(manual[: len(manual) // 2])
    write_zip(
        ROOT / "docs" / "policy.docx",
        [
            ("[Content_Types].xml", CONTENT_TYPES),
            (
                "word/document.xml",
                docx(
                    [
                        ("Heading1", "Refund policy"),
                        (None, "Customers may request a refund within 30 days of purchase."),
                        ("Heading2", "Exceptions"),
                        (None, "Gift cards and opened software licences cannot be refunded."),
                    ]
                ),
            ),
        ],
    )
    # 40 MiB of XML that deflates to a few tens of KiB: must be refused.
    bomb = "<w:document><w:body>" + "<w:p/>" * (40 * 1024 * 1024 // 6) + "</w:body></w:document>"
    write_zip(ROOT / "broken" / "bomb.docx", [("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", bomb)])


if __name__ == "__main__":
    main()
