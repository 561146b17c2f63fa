import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page of the example service: `vite build` here writes web/dist, which the service serves at /.
// JSX through esbuild's automatic runtime, so no React plugin is needed.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // TanStack Query marks its modules "use client" for React Server Components; a page bundle has no use for it.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  logLevel: 'warn',
});
