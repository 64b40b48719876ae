/**
 * Vite build of the web app (React). The root is `web/`, the output `web/dist`, which the hub
 * serves at `/` with a fallback to index.html for every non-API path (path-based routing).
 * During development `vite --config web/vite.config.ts` proxies the API to a running hub
 * (IDBIND_DEV_API, default http://127.0.0.1:8080).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.IDBIND_DEV_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: { '/v1': api },
  },
});
