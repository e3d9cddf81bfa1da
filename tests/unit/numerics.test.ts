import assert from 'node:assert/strict';
import { test } from 'node:test';
import { erf } from '../../src/backend/cpu/math.js';
import { bfloat16ToFloat32, float32ToBfloat16, float32ToHalf, halfToFloat32 } from '../../src/tensor/float16.js';
import { ropeFrequencies, RotaryEmbedding } from '../../src/models/rope.js';
import type { RopeParameters } from '../../src/config/text_config.js';
import { readJsonFixture } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/compare.js';

test('erf against reference values', () => {
  const cases: Array<[number, number]> = [
    [0, 0], [1e-8, 1.1283791670955126e-8], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465],
    [1, 0.8427007929497149], [2, 0.9953222650189527], [2.4999, 0.9995928300996666], [2.5, 0.9995930479825550],
    [3, 0.9999779095030014], [4, 0.9999999845827421], [-1.5, -0.9661051464753108], [7, 1],
  ];
  for (const [x, want] of cases) assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)} want ${want}`);
});

test('half and bfloat16 round trips and rounding', () => {
  const halves = new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x3555]);
  const values = halfToFloat32(halves);
  assert.deepEqual(Array.from(values.slice(0, 7)), [0, -0, 1, -2, 65504, 2 ** -24, 1023 * 2 ** -24]);
  values.forEach((v, i) => assert.equal(float32ToHalf(v), halves[i]));
  assert.equal(float32ToHalf(1 + 2 ** -11), 0x3c00, 'ties to even');
  assert.equal(float32ToHalf(1 + 3 * 2 ** -11), 0x3c02, 'ties to even (odd)');
  assert.equal(float32ToHalf(70000), 0x7c00, 'overflow to infinity');
  assert.ok(Number.isNaN(halfToFloat32(new Uint16Array([float32ToHalf(NaN)]))[0]));
  const bf = new Uint16Array([0x3f80, 0xc040, 0x0001]);
  assert.deepEqual(Array.from(bfloat16ToFloat32(bf).slice(0, 2)), [1, -3]);
  assert.equal(float32ToBfloat16(1 + 2 ** -8), 0x3f80, 'ties to even');
  assert.equal(float32ToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
});

interface RopeGolden {
  rope_parameters: RopeParameters;
  head_dim: number;
  max_position_embeddings: number;
  seq_len: number | null;
  inv_freq: number[];
  attention_scaling: number;
}

const ropeGoldens = readJsonFixture<Record<string, RopeGolden>>('goldens', 'rope.json');
for (const [name, g] of Object.entries(ropeGoldens)) {
  test(`RoPE inv_freq matches transformers: ${name}`, () => {
    const { invFreq, scaling } = ropeFrequencies(g.rope_parameters, g.head_dim, g.max_position_embeddings, g.seq_len ?? undefined);
    assert.equal(scaling, g.attention_scaling);
    const err = relativeError(invFreq, g.inv_freq);
    assert.ok(err < 1e-6, `relative error ${err}`);
  });
}

test('dynamic NTK frequencies grow with the longest sequence and reset on a short one, as transformers does', () => {
  const p: RopeParameters = { rope_type: 'dynamic', rope_theta: 10000, factor: 2 };
  const rope = new RotaryEmbedding(p, 128, 4096);
  const base = ropeFrequencies(p, 128, 4096).invFreq;
  assert.deepEqual(rope.forPositions(100).invFreq, base);
  const long = rope.forPositions(5999).invFreq; // seq_len 6000
  assert.ok(relativeError(long, ropeGoldens.dynamic_long.inv_freq) < 1e-6);
  assert.deepEqual(rope.forPositions(5000).invFreq, long, 'shorter but still beyond the original length: keep');
  assert.deepEqual(rope.forPositions(10).invFreq, base, 'back under the original length: reset');
});
