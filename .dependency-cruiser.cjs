// Architecture rules for src/ (docs/architecture.md, "Rules"). Checked by `npm run lint:deps`
// and by tests/architecture/rules.test.ts. Paths are relative to the directory depcruise runs in.

/** Files that may use Node: the CLI, the dataset runs, the evaluation harness, the hub client, the server and any *.node.ts file. */
const NODE_ONLY = ['^src/(batch|cli|evaluation|hub|server)/', '\\.node\\.ts$'];

/** A rule: files under `room` may import only `allowed` (patterns), plus whatever `to` lets through. */
function importsOnly(name, comment, room, allowed, to = {}) {
  return { name, comment, severity: 'error', from: { path: room }, to: { pathNot: allowed, ...to } };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules in src/ must not import each other in a cycle (type-only imports count too): cycles make the layers meaningless and load order fragile.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-no-node',
      comment: 'Browser-safe core modules must not import a Node built-in (node:* or a bare builtin name); keep Node code in a *.node.ts file, src/cli/, src/evaluation/ or src/hub/.',
      severity: 'error',
      from: { path: '^src/', pathNot: NODE_ONLY },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-no-node',
      comment: 'Browser-safe core modules must not import sharp or a Node-only module (src/cli/, src/evaluation/, src/hub/, *.node.ts); the Node entry point wires those in.',
      severity: 'error',
      from: { path: '^src/', pathNot: NODE_ONLY },
      to: { path: ['^sharp$', '(^|/)node_modules/sharp/', ...NODE_ONLY] },
    },
    {
      name: 'models-no-engine-no-generation',
      comment: 'src/models/ computes on the Backend interface only: no concrete engines, engine registry, generation loop, weight loading, I/O, hub, processor or platform detection.',
      severity: 'error',
      from: { path: '^src/models/' },
      to: {
        path: [
          '^src/backend/cpu/',
          '^src/backend/registry\\.ts$',
          '^src/generation/',
          '^src/weights/',
          '^src/io/',
          '^src/hub/',
          '^src/processor/',
          '^src/platform\\.ts$',
        ],
      },
    },
    importsOnly(
      'config-is-plain-data',
      'src/config/ is plain data parsing: it may import only src/config/, src/errors.ts and src/vocabulary.ts (no other src module, npm package or Node built-in).',
      '^src/config/',
      ['^src/config/', '^src/errors\\.ts$', '^src/vocabulary\\.ts$'],
    ),
    {
      name: 'visual-prompts-not-generation',
      comment: 'src/visual_prompts/ draws prompts onto images and must not depend on the generation loop.',
      severity: 'error',
      from: { path: '^src/visual_prompts/' },
      to: { path: '^src/generation/' },
    },
    importsOnly(
      'tensor-is-ground',
      'src/tensor/ is the bottom layer: it may import only src/tensor/, src/errors.ts and src/vocabulary.ts.',
      '^src/tensor/',
      ['^src/tensor/', '^src/errors\\.ts$', '^src/vocabulary\\.ts$'],
    ),
    {
      name: 'engines-through-registry',
      comment: 'Concrete engines in src/backend/cpu/ are reached through src/backend/registry.ts; only the registry, the engines themselves and Node-only files may import them.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/backend/registry\\.ts$', '^src/backend/cpu/', ...NODE_ONLY] },
      to: { path: '^src/backend/cpu/' },
    },
    importsOnly(
      'cli-public-api-only',
      'src/cli/ uses the library through its public Node entry point: it may import only src/cli/, src/batch/, src/evaluation/ and src/server/ (themselves on the public API), src/index.node.ts, npm packages and Node built-ins.',
      '^src/cli/',
      ['^src/cli/', '^src/batch/', '^src/evaluation/', '^src/server/', '^src/index\\.node\\.ts$', '(^|/)node_modules/'],
      { dependencyTypesNot: ['core'] },
    ),
    importsOnly(
      'server-public-api-only',
      'src/server/ uses the library through its public Node entry point: it may import only src/server/, src/index.node.ts, npm packages and Node built-ins.',
      '^src/server/',
      ['^src/server/', '^src/index\\.node\\.ts$', '(^|/)node_modules/'],
      { dependencyTypesNot: ['core'] },
    ),
    importsOnly(
      'page-public-api-only',
      'src/page/ is the drawing page, bundled for the browser: it may import only src/page/ and the browser-safe public API, src/index.ts.',
      '^src/page/',
      ['^src/page/', '^src/index\\.ts$'],
    ),
    importsOnly(
      'evaluation-public-api-only',
      'src/evaluation/ uses the library through its public Node entry point: it may import only src/evaluation/, src/batch/ (the dataset runs it is one use of), src/index.node.ts and Node built-ins.',
      '^src/evaluation/',
      ['^src/evaluation/', '^src/batch/', '^src/index\\.node\\.ts$'],
      { dependencyTypesNot: ['core'] },
    ),
    importsOnly(
      'batch-public-api-only',
      'src/batch/ (dataset runs: items, the resumable runner, the BullMQ queue) uses the library through its public Node entry point: it may import only src/batch/, src/index.node.ts, npm packages and Node built-ins.',
      '^src/batch/',
      ['^src/batch/', '^src/index\\.node\\.ts$', '(^|/)node_modules/'],
      { dependencyTypesNot: ['core'] },
    ),
  ],
  options: {
    // See type-only imports (`import type`, type-only re-exports) as well as runtime ones.
    tsPreCompilationDeps: true,
    doNotFollow: { path: ['node_modules'] },
    tsConfig: { fileName: 'tsconfig.json' },
    // The sources import './x.js' meaning './x.ts': dependency-cruiser retries a `.js` specifier
    // that does not exist with `.ts`, `.tsx`, `.d.ts` (as tsc does), so no alias is needed here.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
