// esbuild: src/extension.ts → dist/extension.js (CommonJS, `vscode` external);
// with --tests, test/*.test.ts → out/test/*.test.js for `node --test`.
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const args = new Set(process.argv.slice(2));
const production = args.has("--production");

const options = args.has("--tests")
  ? {
      entryPoints: readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`),
      outdir: "out/test",
      external: ["vscode"],
    }
  : {
      entryPoints: ["src/extension.ts"],
      outfile: "dist/extension.js",
      external: ["vscode"],
      minify: production,
      sourcemap: !production,
    };

const config = { ...options, bundle: true, platform: "node", format: "cjs", target: "node20", logLevel: "warning" };

if (args.has("--watch")) {
  const ctx = await esbuild.context(config);
  await ctx.watch();
} else {
  await esbuild.build(config);
}
