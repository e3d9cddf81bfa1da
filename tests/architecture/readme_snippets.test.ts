/**
 * The README's TypeScript snippets compile under `strict` against the package as a user installs it (the
 * "vipllava" import resolved through package.json's exports to the built declarations). Names a snippet uses
 * but leaves to the reader (`processor`, `labels`) are declared first; a `[...]` placeholder becomes a polygon.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/checkpoints.js';

const GIVEN: Record<string, string> = {
  processor: "declare const processor: import('vipllava').VipLlavaProcessor;",
  labels: "declare const labels: import('vipllava').Tensor;",
};

test("the README's TypeScript snippets compile under strict", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(snippets.length >= 2, 'the README shows the API in TypeScript');
  const dir = tempDir('readme');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'vipllava'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  const files = snippets.map((code, i) => {
    const declared = Object.entries(GIVEN).filter(([name]) => new RegExp(`\\b${name}\\b`).test(code) && !new RegExp(`(const|let) \\{?[^=]*\\b${name}\\b`).test(code));
    const file = join(dir, `snippet_${i + 1}.ts`);
    writeFileSync(file, `${declared.map(([, d]) => d).join('\n')}\n${code.replaceAll('[...]', '[0, 0, 9, 0, 9, 9]')}\nexport {};\n`);
    return file;
  });
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    skipLibCheck: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName.split('/').pop()}:${d.file.getLineAndCharacterOfPosition(d.start).line}` : '';
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
  assert.deepEqual(problems, []);
});
