// `npm run package`: copies an `observatory` binary into bin/ and builds
// observatory-linux-x64-<version>.vsix with vsce.
// The binary: OBSERVATORY_BINARY, else $CARGO_TARGET_DIR/debug/observatory, else
// the repository's target/debug/observatory.
import { execFileSync } from "node:child_process";
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(root, "../..");
const binary = resolve(
  process.env.OBSERVATORY_BINARY ||
    (process.env.CARGO_TARGET_DIR
      ? join(process.env.CARGO_TARGET_DIR, "debug", "observatory")
      : join(repo, "target", "debug", "observatory")),
);

try {
  accessSync(binary, constants.X_OK);
} catch {
  console.error(
    `No observatory binary at ${binary}.\n` +
      "Build it (cargo build -p observatory-cli) or set OBSERVATORY_BINARY to one.",
  );
  process.exit(1);
}

mkdirSync(join(root, "bin"), { recursive: true });
const bundled = join(root, "bin", "observatory");
copyFileSync(binary, bundled);
chmodSync(bundled, 0o755);
console.log(`bundled ${binary} (${(statSync(bundled).size / 1e6).toFixed(1)} MB)`);

const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = `observatory-linux-x64-${version}.vsix`;
const vsce = join(root, "node_modules", ".bin", "vsce");
try {
  execFileSync(
    vsce,
    ["package", "--target", "linux-x64", "--no-dependencies", "--allow-missing-repository", "--skip-license", "--out", out],
    { cwd: root, stdio: "inherit" },
  );
} catch {
  process.exit(1); // vsce has said why
}
console.log(`${out}: ${(statSync(join(root, out)).size / 1e6).toFixed(1)} MB`);
