/// <reference types="vitest/config" />
import { defineConfig, type ProxyOptions } from 'vite';
import react from '@vitejs/plugin-react';

// Where the embedded stack's services listen. Tests may run them on other ports.
const apiTarget = process.env.SNAPQUEUE_API_TARGET || 'http://127.0.0.1:8000';
const wsTarget = process.env.SNAPQUEUE_WS_TARGET || 'http://127.0.0.1:8001';

// `/api/upload-request` -> `${apiTarget}/upload-request`; `/ws` -> `${wsTarget}/ws` (WebSocket).
const proxy: Record<string, ProxyOptions> = {
  '/api': {
    target: apiTarget,
    changeOrigin: true,
    rewrite: (path) => path.replace(/^\/api(?=\/|$)/, '') || '/',
  },
  '/ws': {
    target: wsTarget,
    ws: true,
    changeOrigin: true,
  },
};

export default defineConfig({
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
  build: {
    sourcemap: true,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
