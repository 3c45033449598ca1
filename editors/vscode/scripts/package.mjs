// `npm run package [-- --target T] [-- --binary PATH]`: bundles an `observatory` binary
// into bin/ and builds observatory-<target>-<version>.vsix with vsce.
//
// The target is a VS Code platform (linux-x64, linux-arm64, alpine-x64, darwin-x64,
// darwin-arm64, win32-x64, win32-arm64); by default this machine's. The binary must
// be built for it: --binary (or OBSERVATORY_BINARY), else for this machine's target
// $CARGO_TARGET_DIR/release/observatory when it exists, else …/debug/observatory.
// Debug information is stripped from the bundled copy when `strip` can read it.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const TARGETS = ["linux-x64", "linux-arm64", "alpine-x64", "alpine-arm64", "darwin-x64", "darwin-arm64", "win32-x64", "win32-arm64"];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(root, "../..");
const { values } = parseArgs({ options: { target: { type: "string" }, binary: { type: "string" } } });
const host = `${process.platform}-${process.arch}`;
const target = values.target ?? host;
if (!TARGETS.includes(target)) {
  console.error(`Unknown target ${target}; one of ${TARGETS.join(", ")}.`);
  process.exit(2);
}

function defaultBinary() {
  if (target !== host) return undefined;
  const dir = process.env.CARGO_TARGET_DIR || join(repo, "target");
  return ["release", "debug"].map((p) => join(dir, p, "observatory")).find((f) => existsSync(f));
}

const binary = values.binary ?? (process.env.OBSERVATORY_BINARY || defaultBinary());
try {
  if (binary === undefined) throw new Error("none");
  accessSync(binary, constants.R_OK);
} catch {
  console.error(
    `No observatory binary for ${target}${binary ? ` at ${binary}` : ""}.\n` +
      "Build it (cargo build --release -p observatory-cli, cross-compiled for another target) and pass --binary.",
  );
  process.exit(1);
}

rmSync(join(root, "bin"), { recursive: true, force: true });
mkdirSync(join(root, "bin"), { recursive: true });
const bundled = join(root, "bin", target.startsWith("win32") ? "observatory.exe" : "observatory");
copyFileSync(binary, bundled);
chmodSync(bundled, 0o755);
// A foreign object format just fails to strip; the binary then ships as built.
const stripped = spawnSync("strip", ["--strip-debug", bundled], { stdio: "ignore" }).status === 0;
console.log(`bundled ${binary} (${(statSync(bundled).size / 1e6).toFixed(1)} MB${stripped ? ", debug info stripped" : ""})`);

const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = `observatory-${target}-${version}.vsix`;
const vsce = join(root, "node_modules", ".bin", "vsce");
try {
  execFileSync(
    vsce,
    ["package", "--target", target, "--no-dependencies", "--allow-missing-repository", "--skip-license", "--out", out],
    { cwd: root, stdio: "inherit" },
  );
} catch {
  process.exit(1); // vsce has said why
}
console.log(`${out}: ${(statSync(join(root, out)).size / 1e6).toFixed(1)} MB`);
