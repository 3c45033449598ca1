// Flat config: typescript-eslint's strict type-checked rules for the TypeScript; no
// `any` anywhere, including what crosses the LSP boundary (payloads are `unknown`, checked).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "out/", "node_modules/", "bin/", "*.vsix", "e2e/.cache/"] },
  js.configs.recommended,
  {
    files: ["**/*.ts"],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/explicit-module-boundary-types": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    // node:test's `test()` returns a promise the runner awaits.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-floating-promises": "off" },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", console: "readonly", fetch: "readonly", setTimeout: "readonly", performance: "readonly" },
    },
  },
  {
    // The functions passed to playwright's evaluate() run in the page.
    files: ["e2e/**/*.mjs"],
    languageOptions: { globals: { document: "readonly", window: "readonly", getComputedStyle: "readonly" } },
  },
);
