// Finding the `observatory` binary. Pure: the file system and environment are passed in.
import * as path from "node:path";

export type Source = "setting" | "environment" | "bundled" | "PATH";

export interface LookupInput {
  /** `observatory.path`, if set. */
  setting: string | undefined;
  /** The process environment (`OBSERVATORY_PATH`, `PATH`, `HOME`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Where the extension is installed (it may carry `bin/observatory`). */
  extensionPath: string;
  platform: NodeJS.Platform;
  /** Whether an executable file exists at this absolute path. */
  isExecutable: (file: string) => boolean;
}

export type Lookup =
  | { found: true; path: string; source: Source }
  | { found: false; message: string; tried: string[] };

const SETTING_FIX = "Set the setting observatory.path to the observatory binary";
const INSTALL_FIX = "install it (“cargo install --path server/cli” in the Observatory repository)";

function expandHome(file: string, env: LookupInput["env"]): string {
  const home = env.HOME ?? env.USERPROFILE;
  if (home !== undefined && (file === "~" || file.startsWith("~/"))) {
    return path.join(home, file.slice(1));
  }
  return file;
}

/**
 * The binary to run, in order: the `observatory.path` setting, `OBSERVATORY_PATH`, the
 * binary bundled in the extension (`bin/observatory`), then `observatory` on `PATH`.
 * A path the user chose (setting or environment) that is not an executable is an error,
 * not a reason to run some other binary.
 */
export function findBinary(input: LookupInput): Lookup {
  const exe = input.platform === "win32" ? "observatory.exe" : "observatory";
  const chosen: [Source, string, string][] = [
    ["setting", input.setting ?? "", "the `observatory.path` setting"],
    ["environment", input.env.OBSERVATORY_PATH ?? "", "OBSERVATORY_PATH"],
  ];
  for (const [source, value, name] of chosen) {
    const given = value.trim();
    if (given === "") continue;
    const file = path.resolve(expandHome(given, input.env));
    if (input.isExecutable(file)) return { found: true, path: file, source };
    return {
      found: false,
      tried: [file],
      message:
        `${name} names ${file}, which is not an executable file. ` +
        `Correct it, or clear it to use the bundled binary or “observatory” on PATH.`,
    };
  }
  const tried: string[] = [];
  const bundled = path.join(input.extensionPath, "bin", exe);
  tried.push(bundled);
  if (input.isExecutable(bundled)) return { found: true, path: bundled, source: "bundled" };
  const sep = input.platform === "win32" ? ";" : ":";
  for (const dir of (input.env.PATH ?? "").split(sep)) {
    if (dir === "" || !path.isAbsolute(dir)) continue;
    const file = path.join(dir, exe);
    tried.push(file);
    if (input.isExecutable(file)) return { found: true, path: file, source: "PATH" };
  }
  return {
    found: false,
    tried,
    message:
      "The observatory binary was not found (not bundled with the extension, not on PATH). " +
      `${SETTING_FIX}, or ${INSTALL_FIX}.`,
  };
}

/** The notification when the binary was found but `observatory lsp` did not start. */
export function startFailure(binary: string, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  return (
    `Observatory's language server did not start (“${binary} lsp”: ${reason}). ` +
    `${SETTING_FIX} (a build with the lsp command), or ${INSTALL_FIX}. The log has details.`
  );
}
