// End-to-end: the packaged extension in code-server (VS Code 1.100) in Chromium, with
// its bundled `observatory lsp`, on a copy of the ai-blame fixture. Checks what a
// person sees: the status bar item connected, the file's code lens, a hover with the
// prompt, an inlay hint after a settings change (no reload), and Search Conversations.
//
//   ./scripts/install-code-server.sh && npm run package && node e2e/run.mjs [x.vsix]
//
// Everything lives in a temporary HOME (removed unless KEEP=1); a screenshot is left in
// e2e/.cache/. The platform daemon the language server starts is stopped at the end.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const entry = join(here, "node_modules/code-server/out/node/entry.js");
const fixture = resolve(root, "../../../shared/fixtures/transcripts/ai-blame/tests/examples");
const cache = join(here, ".cache");

const vsix =
  process.argv[2] ??
  readdirSync(root)
    .filter((f) => /^observatory-linux-x64-.*\.vsix$/.test(f))
    .map((f) => join(root, f))[0];
if (!existsSync(entry)) throw new Error("code-server is not installed: run scripts/install-code-server.sh");
if (vsix === undefined || !existsSync(vsix)) throw new Error("no .vsix: run npm run package (or pass one)");

const tmp = mkdtempSync(join(tmpdir(), "observatory-vscode-e2e-"));
const home = join(tmp, "home");
const userData = join(tmp, "user-data");
const extensions = join(tmp, "extensions");
const workspace = join(tmp, "work", "simple");
cpSync(join(fixture, "simple-home/.claude"), join(home, ".claude"), { recursive: true });
cpSync(join(fixture, "simple"), workspace, { recursive: true });
for (const dir of [join(home, ".claude"), workspace]) chmodTree(dir);
mkdirSync(join(userData, "User"), { recursive: true });
const settingsFile = join(userData, "User", "settings.json");
const settings = {
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "editor.hover.delay": 200,
};
writeFileSync(settingsFile, JSON.stringify(settings, null, 2));

// A stand-in `claude` on PATH that records how it was run (resume from the panel).
const fakeBin = join(tmp, "bin");
const resumed = join(tmp, "claude-resumed");
mkdirSync(fakeBin);
writeFileSync(join(fakeBin, "claude"), `#!/bin/sh\necho "$PWD $*" > ${JSON.stringify(resumed)}\n`, { mode: 0o755 });
// The terminal's shell may be a login shell, whose profile resets PATH: its rc files put it back.
for (const rc of [".bash_profile", ".bashrc"]) writeFileSync(join(home, rc), `export PATH=${JSON.stringify(fakeBin)}:"$PATH"\n`);
const env = { ...process.env, HOME: home, OBSERVATORY_LOG: "info", PATH: `${fakeBin}:${process.env.PATH}` };
for (const k of ["CLAUDE_CONFIG_DIR", "OBSERVATORY_URL", "OBSERVATORY_PATH", "OBSERVATORY_API_KEY"]) delete env[k];
const base = ["--log", process.env.E2E_LOG ?? "info", "--auth", "none", "--disable-update-check", "--disable-telemetry", "--config", join(tmp, "config.yaml"), "--user-data-dir", userData, "--extensions-dir", extensions];

function chmodTree(dir) {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chmodTree(p);
    else chmodSync(p, 0o644);
  }
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function until(what, check, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Quick Open (Ctrl+P) a file of the workspace. */
async function openFile(page, name) {
  await page.keyboard.press("Control+P");
  await page.keyboard.type(name);
  await page.waitForTimeout(500);
  const pressed = performance.now();
  await page.keyboard.press("Enter");
  await page.locator(`.tab.active[aria-label^="${name}"]`).waitFor();
  return pressed;
}

/** Opens the Settings editor (Ctrl+,) searching for one setting. */
async function searchSettings(page, key) {
  await page.keyboard.press("Control+Comma");
  await page.locator(".settings-editor").waitFor();
  await page.waitForTimeout(500);
  await page.keyboard.press("Control+A");
  await page.keyboard.type(key);
  await page.locator(".settings-editor .setting-item-contents").first().waitFor({ timeout: 15_000 });
  await page.waitForTimeout(500);
}

/** Moves the mouse over `line` until `hover` shows. */
function hoverUntil(page, line, hover) {
  return until("the hover", async () => {
    const box = await line.boundingBox();
    await page.mouse.move(box.x + 5, box.y + box.height / 2);
    await page.mouse.move(box.x + 40, box.y + box.height / 2);
    await hover.first().waitFor({ timeout: 3000 });
    return true;
  }, 30_000);
}

/** F1, a command's title, Enter. */
async function runCommand(page, title) {
  await page.keyboard.press("F1");
  await page.locator(".quick-input-widget").waitFor();
  await page.keyboard.type(title);
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
  await page.waitForTimeout(300);
}

/** The `after` texts of the editor's decorations (drawn as CSS `content`), on the lines containing `on` if given. */
function afterTexts(page, on) {
  return page.evaluate(
    (on) =>
      [...document.querySelectorAll(".monaco-editor .view-lines .view-line")]
        .filter((line) => on === undefined || line.textContent.includes(on))
        .flatMap((line) => [...line.querySelectorAll("span")])
        .map((e) => getComputedStyle(e, "::after").content)
        .filter((c) => c && c !== "none" && c !== "normal")
        .map((c) => c.replace(/^"|"$/g, "")),
    on,
  );
}

const figures = [];
const steps = [];
function step(name, detail) {
  steps.push(name);
  console.log(`ok - ${name}${detail ? `: ${detail}` : ""}`);
}

let server;
let browser;
let failed = false;
try {
  const installed = spawnSync(process.execPath, [entry, ...base, "--install-extension", vsix], { env, encoding: "utf8" });
  if (installed.status !== 0) throw new Error(`install failed: ${installed.stderr}`);
  const listed = spawnSync(process.execPath, [entry, ...base, "--list-extensions", "--show-versions"], { env, encoding: "utf8" });
  if (!listed.stdout.includes("observatory.observatory@")) throw new Error(`not installed: ${listed.stdout}`);
  step("vsix installs", listed.stdout.trim());

  const port = await freePort();
  server = spawn(process.execPath, [entry, ...base, "--bind-addr", `127.0.0.1:${port}`, workspace], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, ended as one below
  });
  let serverLog = "";
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
  await until("code-server", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000).catch((e) => {
    throw new Error(`${e.message}\n${serverLog}`);
  });

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url);
  await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
  step("workbench renders");

  const status = page.locator('.statusbar-item[aria-label^="Observatory: connected"]');
  await status.waitFor({ timeout: 90_000 });
  step("status bar: connected", await status.getAttribute("aria-label"));

  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 450 } });
  // Opening a file: the editor's own first render is the baseline for the lens.
  const opened = await openFile(page, "example.py");
  await page.locator(".view-line", { hasText: "def greet" }).first().waitFor();
  const textShown = performance.now() - opened;
  const lens = page.locator(".codelens-decoration", { hasText: "agent conversation" }).first();
  await lens.waitFor({ timeout: 60_000 });
  const lensShown = performance.now() - opened;
  figures.push(["open example.py → its text on screen (baseline)", textShown]);
  figures.push(["open example.py → the file's code lens on screen", lensShown]);
  const lensText = await lens.innerText();
  if (!/^1 agent conversation · 16 lines/.test(lensText)) throw new Error(`lens: ${lensText}`);
  step("code lens", lensText.replace(/\s+/g, " "));
  // Above greet(): its latest change, named by that change's prompt (the second one).
  const symbolLens = page.locator('.codelens-decoration:not(:has-text("agent conversation"))', { hasText: "make some minor random test changes" }).first();
  await symbolLens.waitFor({ timeout: 30_000 });
  step("symbol lens above greet()", (await symbolLens.innerText()).replace(/\s+/g, " "));
  mkdirSync(cache, { recursive: true });
  await page.screenshot({ path: join(cache, "e2e-lens.png") });

  const share = page.locator(".statusbar-item", { hasText: "% agent" }).first();
  await share.waitFor({ timeout: 30_000 });
  step("status bar: the file's share of agent lines", (await share.innerText()).trim());

  // The current line's conversation after its text (a decoration: CSS `content`).
  const line = page.locator(".view-line", { hasText: 'greet("Alice")' }).first();
  await line.click();
  // Line 9 was written for the conversation's later prompt: the annotation names it.
  const annotation = await until("the current-line annotation", () => afterTexts(page, 'greet("Alice")').then((t) => t.find((x) => x.includes("◆ make some minor random test changes"))), 15_000);
  step("current-line annotation", annotation);
  await page.screenshot({ path: join(cache, "e2e-annotation.png") });

  const hover = page.locator(".monaco-hover:not(.hidden)", { hasText: "make some minor random test changes" });
  await hoverUntil(page, line, hover);
  step("hover shows the prompt");
  await page.screenshot({ path: join(cache, "e2e-hover.png") });

  // Code actions on the line (Ctrl+.): the server's, in VS Code's own menu.
  await line.click();
  await page.keyboard.press("Control+Period");
  const actions = page.locator(".action-widget", { hasText: "Observatory:" });
  await actions.waitFor({ timeout: 15_000 });
  const actionText = await actions.innerText();
  if (!/copy the prompt/i.test(actionText) || !/resume/i.test(actionText)) throw new Error(`code actions: ${actionText}`);
  step("code actions", actionText.split("\n").filter((l) => l.startsWith("Observatory:")).length + " Observatory actions");
  await page.keyboard.press("Escape");
  await hoverUntil(page, line, hover);

  // The hover's "Open message": the conversation panel, scrolled to that message.
  await hover.first().locator("a", { hasText: "Open message" }).click();
  const panelTab = page.locator('.tab.active[aria-label^="create some files for test purposes"]');
  await panelTab.waitFor({ timeout: 30_000 });
  const panel = page.frameLocator("iframe.webview.ready").frameLocator("#active-frame");
  const focused = panel.locator("article.focus");
  await focused.waitFor({ timeout: 30_000 });
  const focusedText = (await focused.innerText()).replace(/\s+/g, " ");
  if (!focusedText.includes("Edit")) throw new Error(`the focused message is not the edit: ${focusedText}`);
  const inView = await focused.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return r.top < window.innerHeight && r.bottom > 0;
  });
  if (!inView) throw new Error("the focused message is not scrolled into view");
  step("hover link opens the panel at the message", focusedText.slice(0, 80));
  if ((await panel.locator("details.tool pre.diff .dl").count()) === 0) throw new Error("no edit rendered as a diff");
  await page.screenshot({ path: join(cache, "e2e-panel.png") });
  await panel.locator('button[data-action="copy"]').first().click();
  await panel.locator("#status", { hasText: "Prompt copied" }).waitFor({ timeout: 10_000 });
  step("panel: copy a prompt");
  await panel.locator('button[data-action="resume"]').click();
  const ran = await until("claude --resume in the terminal", async () => existsSync(resumed) && readFileSync(resumed, "utf8").trim(), 30_000);
  if (ran !== `${workspace} --resume 2c965cfd-41e4-4e31-8339-2986ebced03c`) throw new Error(`resume ran: ${ran}`);
  step("panel: resume runs claude --resume in the workspace", ran);
  await page.keyboard.press("Control+J"); // hide the panel area again

  // Settings editor: observatory.inlayHints → all, as a person would.
  await searchSettings(page, "observatory.inlayHints");
  await page.locator('.settings-editor select[aria-label="observatory.inlayHints"]').selectOption("all");
  await until("the setting written", async () => readFileSync(settingsFile, "utf8").includes('"observatory.inlayHints": "all"'), 15_000);
  await openFile(page, "example.py");
  const hint = page.locator(".view-line", { hasText: "◆" }).first();
  await hint.waitFor({ timeout: 30_000 });
  step("inlay hint after a settings change, no reload", (await hint.innerText()).trim());

  mkdirSync(cache, { recursive: true });
  await page.screenshot({ path: join(cache, "e2e.png") });

  await runCommand(page, "Observatory: Toggle File Annotations");
  // Each block's label: its latest change's prompt (the fixture's second prompt) and age.
  const labels = await until("file annotations", () => afterTexts(page).then((t) => t.filter((x) => x.includes("◆ make some minor random test changes")).length > 0 && t), 15_000);
  step("file annotations", `${labels.length} labels`);
  await page.screenshot({ path: join(cache, "e2e-file-annotations.png") });
  await runCommand(page, "Observatory: Toggle File Annotations");

  // The Observatory view: the conversation under This File and Recent; expanding it
  // lists the files it touched; selecting it opens the panel.
  await page.locator('.activitybar .action-label[aria-label^="Observatory"]').click();
  const tree = page.locator('.pane-body .monaco-list[aria-label*="Conversations"], .pane-body .monaco-list').first();
  await tree.waitFor({ timeout: 15_000 });
  const conversationRow = page.locator('.monaco-list-row[aria-label^="Conversation create some files for test purposes"]').first();
  await conversationRow.waitFor({ timeout: 30_000 });
  step("view lists the conversation", (await conversationRow.getAttribute("aria-label"))?.replace(/\s+/g, " "));
  await conversationRow.locator(".monaco-tl-twistie").click();
  const fileRow = page.locator('.monaco-list-row[aria-label^="File example.py"]').first();
  await fileRow.waitFor({ timeout: 30_000 });
  step("view: the files it touched", await fileRow.getAttribute("aria-label"));
  await page.screenshot({ path: join(cache, "e2e-view.png") });
  await page.locator('.tab[aria-label^="create some files for test purposes"] .codicon-close').click().catch(() => {});
  await conversationRow.click();
  await panelTab.waitFor({ timeout: 30_000 });
  await panel.locator("header.conversation h1").waitFor({ timeout: 30_000 });
  step("view: selecting it opens the panel");
  await page.locator('.activitybar .action-label[aria-label^="Explorer"]').click();
  await page.locator('.tab[aria-label^="example.py"]').click();

  // Observatory: Search Conversations: live results as you type. The fixture's
  // conversation was recorded in another project, so the workspace scope finds nothing
  // and the title bar's button widens the search to all projects.
  await page.keyboard.press("F1");
  await page.locator(".quick-input-widget").waitFor();
  await page.keyboard.type("Observatory: Search Conversations");
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget .quick-input-title", { hasText: "Search Conversations" }).waitFor({ timeout: 15_000 });
  // A query the server refuses (a prefix under 3 letters): its reason, in the title.
  await page.keyboard.type("gr*");
  const searchTitle = page.locator(".quick-input-widget .quick-input-title");
  const reason = await until("the refusal in the title", async () => {
    const title = await searchTitle.innerText();
    return /letters|prefix|\*/i.test(title.replace("Search Conversations", "")) && title;
  }, 15_000);
  step("search conversations: a refused query says why", reason);
  // A word typed part-way is already a prefix: "gree" finds the fixture's "greet".
  await page.keyboard.press("Control+A");
  await page.keyboard.type("gree");
  await page.locator(".quick-input-widget .quick-input-title", { hasText: 'no conversation matches "gree"' }).waitFor({ timeout: 15_000 });
  await page.locator(".quick-input-widget .quick-input-titlebar .action-label.codicon-root-folder").click();
  const row = page.locator(".quick-input-widget .quick-input-list .monaco-list-row", { hasText: "create some files" }).first();
  await row.waitFor({ timeout: 15_000 });
  step("search conversations: workspace, then all projects", (await row.getAttribute("aria-label"))?.replace(/\s+/g, " "));
  await page.screenshot({ path: join(cache, "e2e-search.png") });
  await row.click();
  await panelTab.waitFor({ timeout: 30_000 });
  const hit = panel.locator("article.focus");
  await hit.waitFor({ timeout: 30_000 });
  // The match may be in a folded tool call: the text, shown or not.
  if (!/greet/i.test(await hit.textContent())) throw new Error(`the hit's message is not focused: ${await hit.textContent()}`);
  step("choosing a hit opens the panel at its message", (await panelTab.getAttribute("aria-label"))?.replace(/\s+/g, " "));
  await page.screenshot({ path: join(cache, "e2e-conversation.png") });

  // The first-run walkthrough (VS Code opens it on install; the command, any time).
  await runCommand(page, "Observatory: Get Started");
  const walkthrough = page.locator(".gettingStartedContainer", { hasText: "Get started with Observatory" });
  await walkthrough.waitFor({ timeout: 15_000 });
  await walkthrough.locator("text=Which conversation wrote this line").first().waitFor({ timeout: 15_000 });
  // The step's page (media/walkthrough/lines.md), drawn in a webview beside it.
  await until("the walkthrough's page", async () => {
    for (const frame of page.frames()) {
      if (await frame.locator("text=Observatory matches its lines").count().catch(() => 0)) return true;
    }
    return false;
  }, 15_000);
  step("walkthrough");
  await page.screenshot({ path: join(cache, "e2e-walkthrough.png") });
  await page.locator('.tab[aria-label^="example.py"]').click();

  // A platform on another machine without an API key: refused, shown in the status bar.
  // (Machine-scoped, so in code-server it is a Remote setting, not a User one.)
  await searchSettings(page, "observatory.url");
  await page.locator(".settings-editor .settings-tabs-widget .action-label", { hasText: "Remote" }).click();
  const urlInput = page.locator(".settings-editor .setting-item-contents input").first();
  await urlInput.fill("http://observatory.invalid:8787");
  const refused = page.locator('.statusbar-item[aria-label^="Observatory: "]', { hasText: "API key required" });
  await refused.waitFor({ timeout: 30_000 });
  step("status bar: refused without an API key", await refused.innerText());

  // Observatory: Set API Key (SecretStorage) reaches the server: no longer refused for want of one.
  await page.locator('.tab[aria-label^="example.py"]').click();
  await page.keyboard.press("F1");
  await page.locator(".quick-input-widget").waitFor();
  await page.keyboard.type("Observatory: Set API Key");
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
  await page.locator(".quick-input-widget input[type=password]").waitFor();
  await page.keyboard.type("obs_test_secret");
  await page.keyboard.press("Enter");
  await until("the status to leave apiKeyRequired", async () => {
    const label = await page.locator('.statusbar-item[aria-label^="Observatory: "]').first().innerText();
    return !label.includes("API key required") && label;
  }, 30_000).then((label) => step("API key set: status changes", label.replace(/\s+/g, " ")));

  // Figures for docs/benchmarks.md (printed, not asserted: a test does not time things).
  const logs = spawnSync("find", [userData, "-name", "*Observatory*.log"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  const activated = logs.map((f) => /activated in (\d+) ms/.exec(readFileSync(f, "utf8"))?.[1]).find(Boolean);
  if (activated) figures.unshift(["extension activation (language server started)", Number(activated)]);
  const rows = [...figures.map(([what, ms]) => [what, `${Math.round(ms)} ms`]), [".vsix size", `${(statSync(vsix).size / 1e6).toFixed(1)} MB`]];
  console.log(`\n| figure (ai-blame fixture, code-server 4.100.3) | value |\n|---|---|`);
  for (const [what, value] of rows) console.log(`| ${what} | ${value} |`);
  writeFileSync(join(cache, "figures.json"), JSON.stringify(Object.fromEntries(rows), null, 2));
} catch (e) {
  failed = true;
  console.error(`not ok - ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  // The extension's output channel (server log and LSP trace), for the failure.
  const logs = spawnSync("find", [userData, "-name", "*Observatory*.log"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  mkdirSync(cache, { recursive: true });
  for (const f of logs) cpSync(f, join(cache, "observatory-output.log"));
  if (logs.length) console.error(`output channel: ${join(cache, "observatory-output.log")}`);
  if (browser) {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) {
      await pages[0].screenshot({ path: join(cache, "e2e-failure.png") }).catch(() => {});
      writeFileSync(join(cache, "e2e-failure.html"), await pages[0].content().catch(() => ""));
    }
  }
} finally {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    process.kill(-server.pid, "SIGTERM");
    await exited;
  }
  // The platform the language server started outlives the editor by design: stop it,
  // and anything else still running from this test's temporary directory.
  const ours = () =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(tmp);
        } catch {
          return false;
        }
      })
      .map(Number);
  for (const pid of ours()) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await until("the test's processes to exit", async () => ours().length === 0, 15_000).catch((e) => {
    console.error(String(e));
  });
  if (process.env.KEEP) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
}
console.log(`${steps.length} steps passed${failed ? ", then a failure" : ""}`);
process.exit(failed ? 1 : 0);
