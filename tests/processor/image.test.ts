/**
 * Pixels against transformers' PIL path (CLIPImageProcessorPil, Pillow 12.3): every fixture image through the
 * tiny checkpoint's 56 px processor in float32, and resize + crop at the hub's 336 px compared byte for byte.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { CLIP_IMAGE_PROCESSOR_DEFAULTS, parseImageProcessorConfig } from '../../src/config/preprocessor_config.js';
import { InputError } from '../../src/errors.js';
import { loadImage, DEFAULT_MAX_PIXELS } from '../../src/processor/image.js';
import { CLIPImageProcessor, shortestEdgeSize } from '../../src/processor/image_processor.js';
import { PIL_FILTERS, resizePil } from '../../src/processor/resample.js';
import type { SafetensorsFile } from '../../src/weights/safetensors.js';
import { tempDir } from '../helpers/checkpoints.js';
import { TINY_LLAMA } from '../helpers/fixtures.js';
import { image, imageMeta, openGolden } from '../helpers/processor_goldens.js';

const hub = new CLIPImageProcessor({ ...CLIP_IMAGE_PROCESSOR_DEFAULTS, size: { shortest_edge: 336 }, crop_size: { height: 336, width: 336 } });
const tiny = new CLIPImageProcessor(parseImageProcessorConfig(JSON.parse(readFileSync(join(TINY_LLAMA, 'preprocessor_config.json'), 'utf8')), 'preprocessor_config.json'));
const names = Object.keys(imageMeta().images);

/** Count of bytes differing between our HWC image and a golden CHW uint8 tensor. */
function differingBytes(hwc: Uint8Array, chw: Uint8Array, n: number): number {
  let count = 0;
  for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) if (hwc[i * 3 + c] !== chw[c * n + i]) count++;
  return count;
}

describe('image processor parity with transformers (PIL path)', () => {
  let crops: SafetensorsFile;
  let pixels: SafetensorsFile;
  before(async () => {
    crops = await openGolden('crops336');
    pixels = await openGolden('pixels56');
  });

  for (const name of names) {
    test(`${name}: pixel values equal transformers' (crop and pad)`, async () => {
      const img = await loadImage(image(name));
      for (const mode of ['crop', 'pad'] as const) {
        const key = `${mode === 'pad' ? 'pad:' : ''}${name}`;
        const want = (await pixels.read(`pixels56/${key}`)).toFloat32();
        const { pixelValues } = await tiny.preprocess(image(name), { imageAspectRatio: mode });
        assert.deepEqual(pixelValues.dims, [1, 3, 56, 56]);
        const got = pixelValues.toFloat32();
        let max = 0;
        for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
        assert.ok(max <= 1e-6, `${key}: max |diff| ${max}`);
        if (crops.entries.has(`crop336/${key}`)) {
          const golden = await crops.readBytes(`crop336/${key}`);
          const ours = hub.resizeAndCrop(img, mode);
          assert.equal(differingBytes(ours.data, golden, 336 * 336), 0, `${key} at 336 px`);
        }
      }
    });
  }

  test('every Pillow filter, down and up, byte for byte', async () => {
    const photo = await loadImage(image('photo.jpg'));
    const small = await loadImage(image('small.png'));
    for (const [filter, id] of Object.entries(PIL_FILTERS)) {
      for (const [dir, src, w, h] of [['down', photo, 97, 61], ['up', small, 333, 251]] as const) {
        const golden = await crops.readBytes(`crop336/filter:${filter}:${dir}`);
        assert.equal(differingBytes(resizePil(src, w, h, id).data, golden, w * h), 0, `${filter} ${dir}`);
      }
    }
    assert.throws(() => resizePil(photo, 10, 10, 7), /resample 7 is not a Pillow filter/);
  });

  test('rescale and normalize of every level equal transformers', async () => {
    const want = (await pixels.read('pixels56/levels')).toFloat32(); // [3, 256]
    const levels = { width: 256, height: 1, data: Uint8Array.from({ length: 768 }, (_, i) => Math.floor(i / 3)) };
    assert.deepEqual(hub.toPixelValues(levels), want);
  });

  test('output size of a shortest-edge resize truncates like Python int()', () => {
    assert.deepEqual(shortestEdgeSize(480, 640, 336), { height: 336, width: 448 });
    assert.deepEqual(shortestEdgeSize(517, 333, 336), { height: 521, width: 336 });
    assert.deepEqual(shortestEdgeSize(3, 5, 336), { height: 336, width: 560 });
  });

  test('the ViP-LLaVA pad colour is int(CLIP mean × 255)', () => {
    assert.deepEqual(hub.padColor, imageMeta().mean_rgb);
    assert.deepEqual(hub.padColor, [122, 116, 104]);
  });
});

describe('image input', () => {
  test('a path, encoded bytes and decoded pixels give the same image', async () => {
    const fromPath = await loadImage(image('rgba.png'));
    const fromBytes = await loadImage(new Uint8Array(readFileSync(image('rgba.png'))));
    assert.deepEqual(fromBytes, fromPath);
    // RGBA pixels, as a canvas gives them: alpha is dropped as Pillow's convert("RGB") drops it.
    const rgba = new Uint8ClampedArray(fromPath.width * fromPath.height * 4);
    for (let i = 0; i < fromPath.width * fromPath.height; i++) {
      rgba.set(fromPath.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = 17;
    }
    assert.deepEqual(await loadImage({ width: fromPath.width, height: fromPath.height, data: rgba }), fromPath);
    const gray = await loadImage({ width: 2, height: 1, data: new Uint8Array([5, 250]), channels: 1 });
    assert.deepEqual(Array.from(gray.data), [5, 5, 5, 250, 250, 250]);
  });

  test('EXIF orientation is applied', async () => {
    const img = await loadImage(image('exif_rotated.jpg'));
    assert.deepEqual([img.width, img.height], [200, 320]); // stored 320×200, orientation 6
  });

  const dir = tempDir('badimg');
  const write = (name: string, bytes: Uint8Array | string) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const expectError = async (input: Parameters<typeof loadImage>[0], pattern: RegExp, options = {}) => {
    await assert.rejects(loadImage(input, options), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  };

  test('not an image', () => expectError(write('notes.png', 'hello, I am text'), /notes\.png: not a supported image \(PNG, JPEG, WebP, GIF, TIFF or BMP\)/));
  test('an empty file', () => expectError(write('empty.jpg', new Uint8Array(0)), /empty\.jpg: file is empty/));
  test('a truncated PNG', () => {
    const png = readFileSync(image('portrait.png'));
    return expectError(write('cut.png', png.subarray(0, png.length / 2)), /cut\.png: cannot decode image \(truncated or corrupt\?\)/);
  });
  test('a truncated JPEG', () => {
    const jpg = readFileSync(image('photo.jpg'));
    return expectError(write('cut.jpg', jpg.subarray(0, jpg.length / 2)), /cut\.jpg: cannot decode image \(truncated or corrupt\?\)/);
  });
  test('a truncated BMP', () => {
    const bmp = readFileSync(image('image.bmp'));
    return expectError(write('cut.bmp', bmp.subarray(0, 2000)), /cut\.bmp: cannot decode BMP: BMP pixel data is truncated/);
  });
  test('more pixels than the limit', async () => {
    await expectError(image('photo.jpg'), /photo\.jpg: image is 640×480 = 307200 pixels, more than the limit of 100000 \(raise maxPixels/, { maxPixels: 100000 });
    await expectError(image('image.bmp'), /image\.bmp: image is 170×130 = 22100 pixels, more than the limit of 1000/, { maxPixels: 1000 });
    assert.equal(DEFAULT_MAX_PIXELS, 178956970);
  });
  test('a missing file, a folder, and a wrong type', async () => {
    await expectError(join(dir, 'absent.png'), /absent\.png: cannot read image \(ENOENT\)/);
    await expectError(dir, /not a file/);
    await expectError({ width: 2, height: 2, data: new Uint8Array(5) }, /data has 5 bytes, not 2×2×3/);
    await expectError(42 as unknown as string, /image must be a file path, encoded bytes/);
    await expectError({ width: 0, height: 3, data: new Uint8Array(0) }, /image has size 0×3/);
    await expectError(null as unknown as string, /image must be a file path, encoded bytes .*, got null/);
    await expectError({ width: 2, height: 2, data: new Uint8Array(20), channels: 5 as 3 }, /decoded image 2×2: channels must be 1, 3 or 4, got 5/);
  });
  test('a BMP whose header declares more than the file holds is refused before anything is allocated', async () => {
    const bmp = new Uint8Array(9000);
    const v = new DataView(bmp.buffer);
    bmp.set([0x42, 0x4d]);
    v.setUint32(10, 1078, true); // pixel data offset
    v.setUint32(14, 40, true); // BITMAPINFOHEADER
    v.setInt32(18, 64, true);
    v.setInt32(22, 64, true);
    v.setUint16(28, 8, true); // 8 bits per pixel: a palette
    v.setUint32(46, 305_000_000, true); // palette entries
    await expectError(write('palette.bmp', bmp), /palette\.bmp: cannot decode BMP: BMP declares a palette of 305000000 colours \(at most 65536\)/);
    v.setUint32(46, 4000, true);
    await expectError(write('palette2.bmp', bmp), /BMP declares a palette of 4000 colours, more than its 9000 bytes hold/);
    v.setUint32(46, 0, true);
    v.setInt32(18, 100_000, true);
    v.setInt32(22, 100_000, true);
    await expectError(write('huge.bmp', bmp), /huge\.bmp: image is \d+×100000 = \d+ pixels, more than the limit/);
  });
});

describe('image processor work is bounded', () => {
  const processor = new CLIPImageProcessor({ ...CLIP_IMAGE_PROCESSOR_DEFAULTS, size: { shortest_edge: 336 }, crop_size: { height: 336, width: 336 } });
  const stripe = (w: number, h: number) => ({ width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 251) });
  const centerCrop = (img: { width: number; height: number; data: Uint8Array }, size: number) => {
    const left = Math.floor((img.width - size) / 2);
    const top = Math.floor((img.height - size) / 2);
    const out = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) out.set(img.data.subarray(((y + top) * img.width + left) * 3, ((y + top) * img.width + left + size) * 3), y * size * 3);
    return out;
  };

  test('a crop resizes only what it keeps: the pixels the whole resize gives, for every filter', () => {
    for (const [w, h] of [[7, 1000], [1000, 9], [500, 400], [50, 20]]) {
      for (const resample of Object.values(PIL_FILTERS)) {
        const p = new CLIPImageProcessor({ ...processor.config, resample });
        const img = stripe(w, h);
        const target = shortestEdgeSize(h, w, 336);
        const whole = resizePil(img, target.width, target.height, resample);
        assert.deepEqual(p.resizeAndCrop(img).data, centerCrop(whole, 336), `${w}×${h}, filter ${resample}`);
      }
    }
  });

  test('a 1×5000 image in crop mode costs a crop, not a 336×1,680,000 resize (1.7 GB before)', () => {
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const out = processor.resizeAndCrop(stripe(1, 5000));
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    assert.equal(out.width * out.height, 336 * 336);
    assert.ok(peak - before < 64 << 20, `${((peak - before) / 2 ** 20).toFixed(0)} MB of buffers`);
  });

  test('padded or resized images beyond the pixel limit are refused before they are made; unknown aspect modes too', async () => {
    assert.throws(() => processor.resizeAndCrop(stripe(1, 5000), 'pad', 1_000_000), /the image would be 5000×5000 = 25000000 pixels padded to a square, more than the limit of 1000000/);
    const noCrop = new CLIPImageProcessor({ ...processor.config, do_center_crop: false });
    assert.throws(() => noCrop.resizeAndCrop(stripe(1, 5000), 'crop', 10_000_000), /the image would be 336×1680000 = 564480000 pixels after resizing, more than the limit/);
    await assert.rejects(processor.preprocess(stripe(4, 4), { imageAspectRatio: 'square' as 'crop' }), /imageAspectRatio must be one of crop, pad, got "square"/);
  });
});
