import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** Builds the page into web/dist, which the example server serves; `npm run dev:web` proxies /trpc to it. */
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true },
  server: { proxy: { '/trpc': `http://localhost:${process.env.PORT ?? 3000}` } },
});
