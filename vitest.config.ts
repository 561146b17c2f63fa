import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The React package's .tsx tests: JSX with React 17+'s automatic runtime, as its tsconfig says.
  esbuild: { jsx: 'automatic' },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'packages/*/test/**/*.test.tsx', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
