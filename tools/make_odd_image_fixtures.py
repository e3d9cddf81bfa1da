"""Odd image files and what Pillow makes of them, for tests/processor/odd_images.test.ts.

Each file is written by Pillow or, where Pillow cannot write the variant (RLE and OS/2 BMPs, 16-bit BMPs,
extraneous JPEG bytes), assembled here byte by byte; the expected pixels are then always Pillow's, computed
as transformers' load_image does: open, ImageOps.exif_transpose, convert("RGB"). Run from the repository root
with Pillow 12.3.0:

    python tools/make_odd_image_fixtures.py

Writes tests/fixtures/images/odd/* and tests/fixtures/goldens/odd_images.json.
"""

import base64
import io
import json
import os
import struct
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "images", "odd")
GOLD = os.path.join(ROOT, "tests", "fixtures", "goldens", "odd_images.json")
W, H = 16, 9


def pattern(channels=3, seed=0):
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:H, 0:W]
    out = np.stack([(x * 16 + c * 40) % 256 for c in range(channels)], -1) + rng.randint(0, 30, (H, W, channels))
    return np.clip(out, 0, 255).astype(np.uint8)


# -- ICC: an RGB matrix/TRC profile with Adobe RGB (1998) primaries and gamma 2.2, assembled by hand -----------


def s15(v):
    return struct.pack(">i", int(round(v * 65536)))


def icc_profile():
    tags = {}
    xyz = lambda x, y, z: b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)
    tags[b"wtpt"] = xyz(0.9642, 1.0, 0.8249)
    tags[b"rXYZ"] = xyz(0.6097, 0.3111, 0.0195)
    tags[b"gXYZ"] = xyz(0.2053, 0.6257, 0.0609)
    tags[b"bXYZ"] = xyz(0.1492, 0.0632, 0.7446)
    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", int(2.2 * 256)) + b"\0\0"
    tags[b"rTRC"] = tags[b"gTRC"] = tags[b"bTRC"] = curve
    desc_text = b"adobe-like test profile\0"
    tags[b"desc"] = b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_text)) + desc_text + b"\0" * 12 + b"\0" * 67
    tags[b"cprt"] = b"text" + b"\0" * 4 + b"public domain\0"
    names = list(tags)
    offset = 128 + 4 + 12 * len(names)
    table, data = b"", b""
    for n in names:
        body = tags[n]
        while (offset + len(data)) % 4:
            data += b"\0"
        table += n + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
    header += struct.pack(">6H", 2026, 12, 2, 0, 0, 0) + b"acsp" + b"APPL" + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4
    header += s15(0.9642) + s15(1.0) + s15(0.8249) + b"lcms" + b"\0" * 44
    assert len(header) == 128
    return header + struct.pack(">I", len(names)) + table + data


# -- BMP assembly -------------------------------------------------------------------------------------------------


def bmp(pixels, bpp, palette=None, compression=0, header=40, masks=None, height_sign=1):
    """A BMP of raw pixel bytes (rows bottom-up, already padded, or RLE data)."""
    pal = b""
    if palette is not None:
        pal = b"".join(bytes([b, g, r, 0]) if header >= 40 else bytes([b, g, r]) for r, g, b in palette)
    extra = b"".join(struct.pack("<I", m) for m in masks) if masks else b""
    if header == 12:
        info = struct.pack("<IHHHH", 12, W, H, 1, bpp)
    else:
        info = struct.pack("<IiiHHIIiiII", 40, W, H * height_sign, 1, bpp, compression, len(pixels), 2835, 2835, len(palette or []), 0)
    offset = 14 + len(info) + len(extra) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + extra + pal + pixels


def rows(data, row_bytes):
    stride = (row_bytes + 3) // 4 * 4
    return b"".join(bytes(r) + b"\0" * (stride - len(r)) for r in data[::-1])


def rle8(index):
    out = b""
    for y in range(H - 1, -1, -1):
        row = list(index[y])
        x = 0
        while x < W:
            run = 1
            while x + run < W and run < 255 and row[x + run] == row[x]:
                run += 1
            if run >= 3 or W - x < 3:
                out += bytes([run, row[x]])
                x += run
            else:
                lit = row[x : x + 5]
                out += bytes([0, len(lit)]) + bytes(lit) + (b"\0" if len(lit) % 2 else b"")
                x += len(lit)
        out += b"\0\0"
    return out + b"\0\1"


def rle4(index):
    out = b""
    for y in range(H - 1, -1, -1):
        row = list(index[y])
        for x in range(0, W, 2):
            out += bytes([2, (row[x] << 4) | row[x + 1]])
        out += b"\0\0"
    return out + b"\0\1"


def cases():
    rgb = pattern()
    img = Image.fromarray(rgb)
    out = {}

    b = io.BytesIO()
    img.save(b, "JPEG", quality=95, icc_profile=icc_profile())
    out["icc_adobe_like.jpg"] = b.getvalue()

    b = io.BytesIO()
    img.save(b, "PNG", icc_profile=icc_profile())
    out["icc_adobe_like.png"] = b.getvalue()

    pal = img.quantize(16, dither=Image.Dither.NONE)
    b = io.BytesIO()
    pal.save(b, "GIF", transparency=3)
    out["transparent.gif"] = b.getvalue()

    cmyk = Image.fromarray(pattern(4, seed=1), "CMYK")
    b = io.BytesIO()
    cmyk.save(b, "JPEG", quality=95)
    out["cmyk.jpg"] = b.getvalue()
    b = io.BytesIO()
    cmyk.save(b, "TIFF")
    out["cmyk.tiff"] = b.getvalue()

    for orientation in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        b = io.BytesIO()
        img.save(b, "PNG", exif=exif)
        out[f"exif_orientation_{orientation}.png"] = b.getvalue()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    b = io.BytesIO()
    img.save(b, "PNG", pnginfo=_xmp(xmp))
    out["xmp_orientation_6.png"] = b.getvalue()

    index = (np.arange(W)[None, :] // 3 + np.arange(H)[:, None]) % 16
    palette = [tuple(int(v) for v in c) for c in pattern()[0][:16]]
    palette256 = palette + [(0, 0, 0)] * 240
    out["rle8.bmp"] = bmp(rle8(index), 8, palette256, compression=1)
    out["rle4.bmp"] = bmp(rle4(index), 4, palette, compression=2)
    packed4 = [[(r[x] << 4) | r[x + 1] for x in range(0, W, 2)] for r in index.tolist()]
    out["os2_4bit.bmp"] = bmp(rows(packed4, W // 2), 4, palette, header=12)
    out["os2_24bit.bmp"] = bmp(rows([[v for px in r[:, ::-1].reshape(-1, 3)[::-1] for v in px] for r in rgb[:, :, ::-1]], W * 3), 24, header=12)
    overlap = bytearray(bmp(rows(packed4, W // 2), 4, palette))
    struct.pack_into("<I", overlap, 10, 14 + 40 + 8 * 4)  # the pixel data starts inside the 16-entry palette
    out["palette_overlap.bmp"] = bytes(overlap)
    pix555 = [[p for x in range(W) for p in struct.pack("<H", ((rgb[y, x, 0] >> 3) << 10) | ((rgb[y, x, 1] >> 3) << 5) | (rgb[y, x, 2] >> 3))] for y in range(H)]
    out["rgb555.bmp"] = bmp(rows(pix555, W * 2), 16)
    pix565 = [[p for x in range(W) for p in struct.pack("<H", ((rgb[y, x, 0] >> 3) << 11) | ((rgb[y, x, 1] >> 2) << 5) | (rgb[y, x, 2] >> 3))] for y in range(H)]
    out["rgb565.bmp"] = bmp(rows(pix565, W * 2), 16, compression=3, masks=[0xF800, 0x07E0, 0x001F])

    png = io.BytesIO()
    img.save(png, "PNG")
    png = png.getvalue()
    iend = png.rindex(b"IEND") - 4
    bomb = zlib.compress(b"\0" * (2 << 20), 9)  # a text chunk of 2 MiB, past Pillow's 1 MiB MAX_TEXT_CHUNK
    out["text_bomb.png"] = png[:33] + chunk(b"zTXt", b"Comment\0\0" + bomb) + png[33:]
    out["truncated_end_chunk.png"] = png[: iend + 6]
    bad = bytearray(png)
    bad[8 + 8 + 10] = 1  # IHDR compression method 1: only 0 exists
    bad[29:33] = struct.pack(">I", zlib.crc32(bytes(bad[12:29])))
    out["unknown_compression.png"] = bytes(bad)
    apng = io.BytesIO()
    Image.fromarray(rgb).save(apng, "PNG", save_all=True, append_images=[Image.fromarray(255 - rgb)], duration=100)
    apng = bytearray(apng.getvalue())
    at = apng.index(b"fcTL", apng.index(b"fcTL") + 4)  # the second frame control: a sequence number out of order
    apng[at + 4 : at + 8] = struct.pack(">I", 7)
    apng[at + 30 : at + 34] = struct.pack(">I", zlib.crc32(bytes(apng[at : at + 30])))
    out["apng_sequence_error.png"] = bytes(apng)

    out["signed8.tiff"] = tiff_signed8(pattern(1, seed=3)[:, :, 0])

    b = io.BytesIO()
    img.save(b, "JPEG", quality=90)
    jpg = b.getvalue()
    sos = jpg.index(b"\xff\xda")
    out["extraneous_bytes.jpg"] = jpg[:sos] + b"\x00\x00\x00" + jpg[sos:]
    return out


def tiff_signed8(gray):
    """A baseline greyscale TIFF whose samples are signed 8-bit (SampleFormat 2), assembled by hand."""
    h, w = gray.shape
    data = (gray.astype(np.int16) - 128).astype(np.int8).tobytes()
    tags = [(256, w), (257, h), (258, 8), (259, 1), (262, 1), (273, 8), (277, 1), (278, h), (279, len(data)), (339, 2)]
    entry = lambda tag, v: struct.pack("<HHI", tag, 4, 1) + struct.pack("<I", v)  # every value a LONG
    ifd = struct.pack("<H", len(tags)) + b"".join(entry(t, v) for t, v in tags) + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", 8 + len(data)) + data + ifd


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _xmp(xmp):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    return info


def main():
    os.makedirs(OUT, exist_ok=True)
    gold = {"pillow": PIL.__version__, "images": {}}
    for name, data in cases().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        try:
            im = Image.open(io.BytesIO(data))
            im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
            gold["images"][name] = {"outcome": "exact", "size": list(rgb.size), "rgb": base64.b64encode(rgb.tobytes()).decode()}
        except Exception as e:  # Pillow refuses it: so must we
            gold["images"][name] = {"outcome": "refused", "pillow": f"{type(e).__name__}: {e}"}
        print(name, gold["images"][name]["outcome"], gold["images"][name].get("pillow", ""))
    with open(GOLD, "w") as f:
        json.dump(gold, f, indent=1)


if __name__ == "__main__":
    main()
