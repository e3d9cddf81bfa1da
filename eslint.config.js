// ESLint (flat config): only the promise-safety rules, with type information from tsconfig.json.
// Run with `npm run lint`; docs/architecture.md ("Rules") says why these rules.
import tseslint from 'typescript-eslint';

/** node:test's functions return promises the runner itself awaits; calling them bare is correct. */
const NODE_TEST_CALLS = ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'];

export default [
  { ignores: ['dist/', 'node_modules/', 'native/', 'build/'] },
  {
    files: ['src/**/*.ts', 'tests/**/*.ts', 'bench/**/*.ts', 'tools/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: NODE_TEST_CALLS }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
];
