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

    # CIE L*a*b*: random samples over the whole cube (Pillow converts them through LittleCMS), in each of the
    # compressions Pillow writes, with predictor 2, and turned by an Orientation tag.
    lab = Image.frombytes("LAB", (48, 40), np.random.RandomState(5).randint(0, 256, (40, 48, 3)).astype(np.uint8).tobytes())
    for suffix, options in (("", {}), ("_lzw", {"compression": "tiff_lzw"}), ("_deflate", {"compression": "tiff_adobe_deflate"}), ("_packbits", {"compression": "packbits"})):
        b = io.BytesIO()
        lab.save(b, "TIFF", **options)
        out[f"lab{suffix}.tiff"] = b.getvalue()
    stored = np.frombuffer(lab.tobytes(), np.uint8).reshape(40, 48, 3)  # Pillow's "LAB" packer gives TIFF's signed a*, b*
    diff = stored.astype(np.int16)
    diff[:, 1:] -= stored[:, :-1]
    out["lab_predictor.tiff"] = tiff_strips(48, 40, [8, 8, 8], 8, [zlib.compress((diff & 255).astype(np.uint8).tobytes())], 3, 40, compression=8, extra=[(317, 2)])
    out["lab_orientation_6.tiff"] = tiff_strips(48, 40, [8, 8, 8], 8, [stored.tobytes()], 3, 40, extra=[(274, 6)])
    out["lab_with_alpha.tiff"] = tiff_strips(4, 4, [8, 8, 8, 8], 8, [bytes(64)], 4, 4, extra=[(338, 2)])

    # 12-bit grey: two pixels in three bytes; values past 255 clamp when converted to RGB.
    grey = np.random.RandomState(6).randint(0, 4096, (9, 15)).astype(np.uint16)
    grey[0, :4] = [0, 255, 256, 4095]
    packed = pack12(grey)
    row_bytes = len(packed) // 9
    out["grey12.tiff"] = tiff_strips(15, 9, [12], 1, [packed[i * 4 * row_bytes : (i + 1) * 4 * row_bytes] for i in range(3)], 1, 4)
    out["grey12_deflate.tiff"] = tiff_strips(15, 9, [12], 1, [zlib.compress(packed)], 1, 9, compression=8)
    out["grey12_packbits.tiff"] = tiff_strips(15, 9, [12], 1, [packbits(packed)], 1, 9, compression=32773)
    out["grey12_orientation_8.tiff"] = tiff_strips(15, 9, [12], 1, [packed], 1, 9, extra=[(274, 8)])
    out["grey12_big_endian.tiff"] = tiff_strips(15, 9, [12], 1, [packed], 1, 9, order="MM")
    # A byte count shorter than its strip: Pillow reads on past it.
    out["grey12_short_strip_count.tiff"] = tiff_strips(15, 9, [12], 1, [packed], 1, 9, counts=[len(packed) - 20])
    # A file that ends inside its strip: Pillow refuses it as truncated.
    out["grey12_truncated.tiff"] = tiff_strips(15, 9, [12], 1, [packed], 1, 9)[:-20]

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


def tiff_strips(w, h, bits, photometric, strips, samples, rows_per_strip, compression=1, extra=(), order="II", counts=None):
    """A TIFF assembled by hand: the header, one directory (every value a SHORT or LONG), then the strips."""
    e = "<" if order == "II" else ">"
    counts = counts or [len(s) for s in strips]
    base = [(256, 3, [w]), (257, 3, [h]), (258, 3, bits), (259, 3, [compression]), (262, 3, [photometric]), (273, 4, [0] * len(strips)),
            (277, 3, [samples]), (278, 3, [rows_per_strip]), (279, 4, counts)] + [(t, 3, [v]) for t, v in extra]
    tags = sorted(base)

    def directory(offsets):
        entries, spill = b"", b""
        spill_at = 8 + 2 + 12 * len(tags) + 4
        for tag, kind, values in tags:
            values = offsets if tag == 273 else values
            data = struct.pack(e + ("H" if kind == 3 else "I") * len(values), *values)
            if len(data) <= 4:
                entries += struct.pack(e + "HHI", tag, kind, len(values)) + data.ljust(4, b"\0")
            else:
                entries += struct.pack(e + "HHII", tag, kind, len(values), spill_at + len(spill))
                spill += data
        return struct.pack(e + "H", len(tags)) + entries + b"\0\0\0\0" + spill

    start = 8 + len(directory([0] * len(strips)))
    offsets = [start + sum(len(s) for s in strips[:i]) for i in range(len(strips))]
    magic = b"II*\0" if order == "II" else b"MM\0*"
    return magic + struct.pack(e + "I", 8) + directory(offsets) + b"".join(strips)


def pack12(grey):
    """12-bit samples, most significant bits first, two pixels in three bytes, each row starting on a byte."""
    out = bytearray()
    for row in grey:
        bits = "".join(f"{int(v):012b}" for v in row)
        bits += "0" * (-len(bits) % 8)
        out += bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return bytes(out)


def packbits(data):
    """PackBits with literal runs of up to 128 bytes and repeats of three or more."""
    out, i = bytearray(), 0
    while i < len(data):
        run = 1
        while i + run < len(data) and run < 128 and data[i + run] == data[i]:
            run += 1
        if run >= 3:
            out += bytes([257 - run, data[i]])
            i += run
            continue
        j = i
        while j < len(data) and j - i < 128 and not (j + 2 < len(data) and data[j] == data[j + 1] == data[j + 2]):
            j += 1
        out += bytes([j - i - 1]) + data[i:j]
        i = j
    return bytes(out)


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
