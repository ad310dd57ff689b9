import { defineConfig } from 'vite';

// Build into the directory that internal/server embeds with go:embed.
export default defineConfig({
  // Relative asset URLs, so the bundle works wherever the page is mounted.
  base: './',
  build: {
    outDir: '../../internal/server/playground/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Monaco is large; one warning per chunk above this adds nothing.
    chunkSizeWarningLimit: 6000,
    sourcemap: false,
    // No inlined data: scripts; every asset is a file the binary serves.
    assetsInlineLimit: 0,
    rolldownOptions: {
      onwarn(warning, warn) {
        // framer-motion marks its modules "use client" (a React Server
        // Components hint); it means nothing in a browser-only bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  worker: {
    format: 'es',
  },
});
