/**
 * Guards the architecture rules of .dependency-cruiser.cjs (docs/architecture.md, "Rules"):
 * src/ must break none of them, and each rule must really fire on a small tree that breaks it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../helpers/fixtures.js';

const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

interface Violation { from: string; to: string; rule: { name: string }; cycle?: { name: string }[] }

/** Runs dependency-cruiser with the repo's rules on `cwd`/src and returns its violations. */
function cruise(cwd: string): Violation[] {
  const r = spawnSync(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(r.stdout?.trimStart().startsWith('{'), `depcruise gave no report (exit ${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** One line per violation; a cycle is named by its members (whichever one it is reported from). */
const line = (v: Violation): string =>
  `${v.rule.name}: ${v.cycle ? v.cycle.map((m) => m.name).sort().join(' ⇄ ') : `${v.from} → ${v.to}`}`;

/** Each file of the probe tree and what it imports; the comment says which rule it breaks, if any. */
const PROBE: Record<string, string[]> = {
  'src/errors.ts': [],
  'src/index.ts': [],
  'src/backend/backend.ts': [],
  'src/backend/cpu/engine.ts': ['../backend.js'],
  'src/backend/registry.ts': ['./cpu/engine.js'], // allowed: the registry reaches the engines
  'src/generation/a.ts': ['./b.js'], // no-circular (with b.ts, whose import is type-only)
  'src/generation/b.ts': ['type ./a.js'],
  'src/config/bad.ts': ['../backend/backend.js', '../errors.js'], // config-is-plain-data
  'src/tensor/bad.ts': ['../backend/backend.js'], // tensor-is-ground
  'src/models/bad.ts': ['../generation/a.js', '../backend/backend.js'], // models-no-engine-no-generation
  'src/visual_prompts/bad.ts': ['../generation/a.js'], // visual-prompts-not-generation
  'src/processor/bad.ts': ['node:fs', '../backend/cpu/engine.js'], // core-no-node, engines-through-registry
  'src/processor/image.ts': ['sharp'], // core-no-node
  'src/io/file_source.node.ts': ['node:fs/promises'], // allowed: a Node-only file
  'src/io/bad.ts': ['./file_source.node.js'], // core-no-node
  'src/index.node.ts': ['./io/file_source.node.js', './backend/cpu/engine.js', 'node:path'], // allowed
  'src/cli/bad.ts': ['../index.node.js', 'node:path', '../backend/backend.js'], // cli-public-api-only
  'src/evaluation/bad.ts': ['../index.node.js', 'node:os', '../errors.js'], // evaluation-public-api-only
  'src/server/bad.ts': ['../index.node.js', 'node:http', '../errors.js'], // server-public-api-only
  'src/batch/bad.ts': ['../index.node.js', 'node:fs', '../errors.js'], // batch-public-api-only
  'src/cli/serve.ts': ['../server/bad.js'], // allowed: the CLI starts the server
  'src/page/bad.ts': ['../index.js', '../errors.js'], // page-public-api-only
};

const EXPECTED = [
  'batch-public-api-only: src/batch/bad.ts → src/errors.ts',
  'cli-public-api-only: src/cli/bad.ts → src/backend/backend.ts',
  'config-is-plain-data: src/config/bad.ts → src/backend/backend.ts',
  'core-no-node: src/io/bad.ts → src/io/file_source.node.ts',
  'core-no-node: src/processor/bad.ts → fs',
  'core-no-node: src/processor/image.ts → sharp',
  'engines-through-registry: src/processor/bad.ts → src/backend/cpu/engine.ts',
  'evaluation-public-api-only: src/evaluation/bad.ts → src/errors.ts',
  'models-no-engine-no-generation: src/models/bad.ts → src/generation/a.ts',
  'no-circular: src/generation/a.ts ⇄ src/generation/b.ts',
  'page-public-api-only: src/page/bad.ts → src/errors.ts',
  'server-public-api-only: src/server/bad.ts → src/errors.ts',
  'tensor-is-ground: src/tensor/bad.ts → src/backend/backend.ts',
  'visual-prompts-not-generation: src/visual_prompts/bad.ts → src/generation/a.ts',
];

describe('architecture rules (dependency-cruiser)', () => {
  test('src/ breaks none of the rules', () => {
    const violations = cruise(ROOT);
    assert.equal(violations.length, 0, `${violations.length} violations of .dependency-cruiser.cjs:\n${violations.map(line).sort().join('\n')}`);
  });

  test('each rule fires on a tree that breaks it, and only there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipllava-rules-'));
    try {
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', strict: true }, include: ['src'] }));
      for (const [file, imports] of Object.entries(PROBE)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        const lines = imports.map((spec) => (spec.startsWith('type ') ? `import type * as t from '${spec.slice(5)}';` : `import '${spec}';`));
        writeFileSync(join(dir, file), `${lines.join('\n')}\nexport const x = 1;\n`);
      }
      const found = [...new Set(cruise(dir).map(line))].sort();
      assert.deepEqual(found, EXPECTED);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
