/** Processors and warpers on crafted scores against transformers' own classes (ties, edge cases, -inf). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lp from '../../src/generation/logits_process.js';
import { checkGenerationOptions, resolveGeneration } from '../../src/generation/options.js';
import { DEFAULT_GENERATION_CONFIG } from '../../src/config/generation_config.js';
import { VipLlavaConfig } from '../../src/config/vipllava_config.js';
import { InputError } from '../../src/errors.js';
import { num, warperGoldens } from '../helpers/generation_goldens.js';

const goldens = warperGoldens();
const MAKE: Record<string, () => lp.LogitsProcessor> = {
  temperature: () => lp.temperature(0.7),
  temperature_hot: () => lp.temperature(1.9),
  top_k_2: () => lp.topK(2),
  top_k_3: () => lp.topK(3),
  top_k_1_keep3: () => lp.topK(1, 3),
  top_k_large: () => lp.topK(50),
  'top_p_0.5': () => lp.topP(0.5),
  'top_p_0.9': () => lp.topP(0.9),
  'top_p_0.0': () => lp.topP(0),
  'top_p_1.0': () => lp.topP(1),
  'top_p_0.3_keep2': () => lp.topP(0.3, 2),
  'min_p_0.1': () => lp.minP(0.1),
  'min_p_0.9_keep2': () => lp.minP(0.9, 2),
  'typical_0.5': () => lp.typicalP(0.5),
  'typical_0.95': () => lp.typicalP(0.95),
  'typical_0.2_keep3': () => lp.typicalP(0.2, 3),
  'epsilon_0.05': () => lp.epsilonCutoff(0.05),
  'epsilon_0.3_keep2': () => lp.epsilonCutoff(0.3, 2),
  'eta_0.05': () => lp.etaCutoff(0.05),
  'eta_0.3': () => lp.etaCutoff(0.3),
  'repetition_1.5': () => lp.repetitionPenalty(1.5),
  'repetition_0.5': () => lp.repetitionPenalty(0.5),
  no_repeat_2: () => lp.noRepeatNgram(2),
  no_repeat_3: () => lp.noRepeatNgram(3),
};

describe('logits processors and warpers match transformers on crafted scores', () => {
  for (const [name, results] of Object.entries(goldens.results)) {
    test(name, () => {
      assert.ok(MAKE[name], `no processor for ${name}`);
      for (const [vector, rows] of Object.entries(results)) {
        const v = goldens.vectors[vector].map(num);
        const n = v.length;
        // The histories the goldens used: reduced mod the vocabulary, the second row padded with its first two.
        const h0 = goldens.history[0].map((t) => t % n);
        const h1 = [...goldens.history[1].map((t) => t % n), 0, 0];
        h1[6] = h1[0];
        h1[7] = h1[1];
        const scores = Float32Array.from([...v, ...v]);
        MAKE[name]()([h0, h1], scores, n);
        const want = rows.flat().map(num);
        want.forEach((w, i) => assert.ok(w === scores[i] || Math.abs(w - scores[i]) <= 1e-6 * Math.abs(w), `${vector}[${i}]: ${scores[i]} vs ${w}`));
      }
    });
  }
});

describe('generation options', () => {
  const text = VipLlavaConfig.fromDict({ model_type: 'vipllava' }).text_config;
  const resolve = (o: Parameters<typeof resolveGeneration>[0], promptLength = 10) => resolveGeneration(o, DEFAULT_GENERATION_CONFIG, text, 32001, promptLength);

  test('defaults: 20 new tokens, greedy, EOS from the text config, no processors', () => {
    const r = resolve({});
    assert.equal(r.maxLength, 30);
    assert.equal(r.doSample, false);
    assert.deepEqual(r.eos, [2]);
    assert.equal(r.pad, 32001);
    assert.equal(r.processors.length, 0);
  });

  test("sampling adds only the active warpers (top-k 50 is transformers' default)", () => {
    assert.equal(resolve({ doSample: true }).processors.length, 1);
    assert.equal(resolve({ doSample: true, topK: 0 }).processors.length, 0);
    assert.equal(resolve({ doSample: true, temperature: 0.5, topP: 0.9, minP: 0.05, typicalP: 0.9, epsilonCutoff: 0.01, etaCutoff: 0.01 }).processors.length, 7);
    assert.equal(resolve({ temperature: 0.5, topP: 0.9 }).processors.length, 0, 'warpers only when sampling');
  });

  test('a prompt that fills the model\'s positions is refused, naming both numbers; dynamic RoPE may run past them', () => {
    assert.throws(() => resolve({}, 2048), /^InputError: the prompt has 2048 tokens, but the model takes at most 2048 positions \(max_position_embeddings\), leaving no room/);
    const dynamic = { ...text, rope_parameters: { rope_type: 'dynamic' as const, rope_theta: 10000, factor: 2 } };
    assert.equal(resolveGeneration({ maxNewTokens: 100 }, DEFAULT_GENERATION_CONFIG, dynamic, 32001, 4000).maxLength, 4100);
  });

  test('maxLength and maxNewTokens', () => {
    assert.equal(resolve({ maxNewTokens: 5 }).maxLength, 15);
    assert.equal(resolve({ maxLength: 12 }).maxLength, 12);
    assert.equal(resolve({ maxLength: 12, maxNewTokens: 3 }).maxLength, 13);
  });

  const bad: Array<[Parameters<typeof resolveGeneration>[0], RegExp]> = [
    [{ maxNewTokens: 0 }, /maxNewTokens must be a positive integer, got 0/],
    [{ maxLength: 5 }, /maxLength \(5\) must exceed the prompt length \(10\)/],
    [{ doSample: true, temperature: 0 }, /temperature must be > 0 when sampling/],
    [{ doSample: true, topP: 1.5 }, /topP must be in \[0, 1\], got 1.5/],
    [{ doSample: true, topK: -1 }, /topK must be an integer >= 0/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty must be > 0/],
    [{ numBeams: 2, numReturnSequences: 3 }, /numReturnSequences \(3\) must be at most numBeams \(2\)/],
    [{ numReturnSequences: 2 }, /greedy decoding returns one sequence per prompt/],
    [{ stopStrings: ['###'] }, /stopStrings need the tokenizer/],
    [{ maxTime: -1 }, /maxTime must be > 0 seconds/],
    [{ maxNewTokens: 1e9 }, /the prompt \(10 tokens\) and the new tokens \(up to 1000000000\) need 1000000010 positions, but the model takes at most \d+ positions \(max_position_embeddings\); lower maxNewTokens/],
    [{ maxNewTokens: 3000, minNewTokens: 3000, maxLength: 9000 }, /need 3010 positions, but the model takes at most 2048 positions/],
  ];
  for (const [options, message] of bad) {
    test(`rejects ${JSON.stringify(options)}`, () => {
      assert.throws(() => resolve(options), (e: unknown) => e instanceof InputError && message.test(e.message));
    });
  }

  test('checkGenerationOptions refuses what needs no model, with the same messages, and leaves the rest', () => {
    const early = [0, 2, 3, 4, 5, 6, 9].map((i) => bad[i]);
    for (const [options, message] of early) assert.throws(() => checkGenerationOptions(options), (e: unknown) => e instanceof InputError && message.test(e.message));
    for (const ok of [{ maxLength: 5 }, { numReturnSequences: 2 }, { stopStrings: ['###'] }, { maxNewTokens: 1e9 }, { temperature: 0 }, {}]) checkGenerationOptions(ok);
    assert.throws(() => checkGenerationOptions({ seed: 1.5 }), /seed must be an integer, got 1.5/);
    assert.throws(() => checkGenerationOptions({ topP: '0.5' as unknown as number }), /topP must be in \[0, 1\], got 0.5/);
  });
});
