/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves the build: dist/index.html as the console page, dist/assets under /static/console/assets/
// (see STATICFILES_DIRS in dts/settings.py), so the app and its API share one origin (session + CSRF).
export default defineConfig({
  base: "/static/console/",
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", chunkSizeWarningLimit: 1200 },
  server: {
    // `npm run dev` against a platform on :8000 (make run)
    proxy: { "/api": "http://127.0.0.1:8000", "/ws": { target: "ws://127.0.0.1:8000", ws: true } },
  },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], setupFiles: ["src/test-setup.ts"], testTimeout: 20000 },
});
