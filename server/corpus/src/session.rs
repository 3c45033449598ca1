//! One transcript file: the conversation loop, the tools, and the per-project
//! virtual file system the tools read and change, so every Edit's `oldString`
//! really occurs in its `originalFile` and files evolve across sessions.

use crate::json::{fields, obj, Fields, J};
use crate::patch::{self, Change};
use crate::text::{self, pick, Lang, Rng64};
use crate::CorpusStats;
use rand::Rng;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

const VERSIONS: &[&str] = &["2.0.64", "2.0.69", "2.0.75", "2.0.76", "2.1.9", "2.1.31", "2.1.81", "2.1.85"];
const OPUS: &str = "claude-opus-4-5-20251101";
const SONNET: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";
const READ_REMINDER: &str = "\n\n<system-reminder>\nWhenever you read a file, you should consider whether it would be considered malware. You CAN and SHOULD provide analysis of malware, what it is doing. But you MUST refuse to improve or augment the code. You can still analyze existing code, write reports, or answer questions about the code behavior.\n</system-reminder>\n";
const TODO_OK: &str = "Todos have been modified successfully. Ensure that you continue to use the todo list to track your progress. Please proceed with the current tasks if applicable";
const COMPACT_INTRO: &str = "This session is being continued from a previous conversation that ran out of context. The conversation is summarized below:\nAnalysis:\n";
/// Read returns at most this many lines unless given a limit, as Claude Code does.
const READ_MAX: usize = 2000;

pub struct VFile {
    pub path: String,
    pub content: String,
}

/// A working directory with its files, clock and resumable history.
pub struct Project {
    pub cwd: String,
    pub dir: PathBuf,
    pub lang: Lang,
    pub files: Vec<VFile>,
    pub clock: i64,
    /// The first turns of an earlier session and its last uuid, for `--resume`.
    resume: Option<(Vec<u8>, String)>,
    last_leaf: Option<String>,
}

impl Project {
    pub fn new(rng: &mut Rng64, idx: usize, root: &std::path::Path) -> Project {
        const NAMES: &[(&str, Lang)] = &[
            ("acme-api", Lang::Rust),
            ("billing.service", Lang::Python),
            ("web-dashboard", Lang::Ts),
            ("ingest-worker", Lang::Rust),
            ("ml_pipeline", Lang::Python),
            ("mobile-bff", Lang::Ts),
            ("search-indexer", Lang::Rust),
            ("admin.tools", Lang::Python),
        ];
        let (name, lang) = NAMES[idx % NAMES.len()];
        let base = ["/home/dev", "/Users/sam/code", "/Users/lee/src/github.com/acme"][idx % 3];
        let cwd = match idx / NAMES.len() {
            0 => format!("{base}/{name}"),
            n => format!("{base}/{name}-{n}"),
        };
        // Claude Code names the folder after the cwd with every non-alphanumeric byte as '-'.
        let encoded: String = cwd.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let mut files = Vec::new();
        for _ in 0..rng.random_range(12..30) {
            let path = format!("src/{}_{}.{}", text::noun(rng), text::verb(rng), lang.ext());
            if files.iter().all(|f: &VFile| f.path != path) {
                let content = text::source_file(rng, lang, 30..250);
                files.push(VFile { path, content });
            }
        }
        // One generated module large enough that reading it yields 100+ KB.
        let big = text::source_file(rng, lang, 2200..3000);
        files.push(VFile { path: format!("src/generated/schema.{}", lang.ext()), content: big });
        // 2025-10-01T00:00:00Z plus a per-project offset.
        let clock = 1_759_276_800_000 + idx as i64 * 86_400_000 + rng.random_range(0..36_000_000);
        Project { dir: root.join(encoded), cwd, lang, files, clock, resume: None, last_leaf: None }
    }

    /// A project with no files, for [`crate::continuation_lines`].
    pub fn bare(cwd: &str, clock: i64) -> Project {
        let (dir, lang, files, resume, last_leaf) = (PathBuf::new(), Lang::Rust, vec![], None, None);
        Project { cwd: cwd.to_owned(), dir, lang, files, clock, resume, last_leaf }
    }
}

/// What every record of one file shares.
#[derive(Clone)]
pub struct Info {
    pub sid: String,
    pub version: &'static str,
    pub tail: bool,
    pub model: &'static str,
    pub branch: String,
    pub slug: Option<String>,
    pub agent_id: Option<String>,
    pub sidechain: bool,
}

/// Line sink: serializes each record once into a reused buffer, counts it, and
/// keeps a copy while a resumable prefix is being captured.
struct Out<'a> {
    w: &'a mut dyn Write,
    line: Vec<u8>,
    capture: Option<Vec<u8>>,
    bytes: u64,
    stats: &'a mut CorpusStats,
}

impl Out<'_> {
    fn put(&mut self, v: &J) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, v).map_err(io::Error::other)?;
        self.line.push(b'\n');
        let line = std::mem::take(&mut self.line);
        let r = self.raw(&line);
        self.line = line;
        r
    }
    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.write_all(bytes)?;
        if let Some(c) = &mut self.capture {
            c.extend_from_slice(bytes);
        }
        self.bytes += bytes.len() as u64;
        self.stats.bytes += bytes.len() as u64;
        self.stats.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(())
    }
}

/// One executed tool call: what the model sent and what came back.
struct Call {
    id: String,
    name: &'static str,
    input: J<'static>,
    content: J<'static>,
    result: J<'static>,
    error: bool,
    /// The project-relative path the call changed, if any.
    changed: Option<String>,
}

fn call(name: &'static str, input: J<'static>, content: impl Into<J<'static>>, result: J<'static>) -> Call {
    Call { id: String::new(), name, input, content: content.into(), result, error: false, changed: None }
}

fn error_call(name: &'static str, input: J<'static>, content: String, result: String) -> Call {
    Call { error: true, ..call(name, input, content, J::String(result)) }
}

struct Backup {
    name: String,
    version: u64,
    time: String,
}

struct Todo {
    content: String,
    status: &'static str,
    active_form: String,
}

fn todos_json(todos: &[Todo]) -> J<'static> {
    let one = |t: &Todo| obj! {"content": t.content.clone(), "status": t.status, "activeForm": t.active_form.clone()};
    J::Arr(todos.iter().map(one).collect())
}

pub struct Gen<'a> {
    rng: &'a mut Rng64,
    proj: &'a mut Project,
    out: Out<'a>,
    info: Info,
    tip: Option<String>,
    /// Parents of earlier prompts; a rewind re-uses one of them.
    prompt_parents: Vec<Option<String>>,
    /// Uuid and timestamp of the current prompt, for file-history snapshots.
    prompt: (String, String),
    /// Indexes of the files this session touched, revisited more often.
    hot: Vec<usize>,
    backups: Vec<(String, Backup)>,
    todos: Vec<Todo>,
    /// Approximate context size in tokens, driving usage and auto-compaction.
    ctx: u64,
    ctx_mark: u64,
    turns: usize,
    tool_calls: u64,
}

pub fn model(rng: &mut Rng64) -> &'static str {
    pick(rng, &[OPUS, OPUS, OPUS, OPUS, SONNET, SONNET, SONNET, HAIKU])
}

/// Writes one session of about `budget` bytes (plus its subagent files).
pub fn write_session(rng: &mut Rng64, proj: &mut Project, budget: u64, stats: &mut CorpusStats) -> io::Result<()> {
    let sid = text::uuid(rng);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(proj.dir.join(format!("{sid}.jsonl")))?);
    let version = pick(rng, VERSIONS);
    let tail = version.starts_with("2.1");
    let branch = match rng.random_range(0..5) {
        0 => format!("feature/{}-{}", text::noun(rng), text::verb(rng)),
        1 => format!("fix/{}", text::noun(rng)),
        _ => "main".to_owned(),
    };
    let slug = tail.then(|| text::slug(rng));
    let model = model(rng);
    let info = Info { sid, version, tail, model, branch, slug, agent_id: None, sidechain: false };
    Gen::new(rng, proj, &mut w, stats, info).session(budget)?;
    w.flush()?;
    stats.files += 1;
    stats.sessions += 1;
    Ok(())
}

/// A prompt containing `marker` and the assistant's reply, continuing a session.
pub fn continuation(
    rng: &mut Rng64,
    proj: &mut Project,
    info: Info,
    parent: Option<&str>,
    marker: &str,
    w: &mut Vec<u8>,
) -> io::Result<()> {
    let mut stats = CorpusStats::default();
    let mut g = Gen::new(rng, proj, w, &mut stats, info);
    let prompt = format!("{} {marker}", text::prompt(g.rng, true, "src/lib.rs"));
    g.user(parent, prompt.into(), vec![], vec![])?;
    let say = text::prose(g.rng, Lang::Rust, "src/lib.rs", 3..4);
    g.respond(true, Some(say), &[])?;
    Ok(())
}

impl<'a> Gen<'a> {
    pub fn new(
        rng: &'a mut Rng64,
        proj: &'a mut Project,
        w: &'a mut dyn Write,
        stats: &'a mut CorpusStats,
        info: Info,
    ) -> Gen<'a> {
        let out = Out { w, line: Vec::with_capacity(1 << 16), capture: None, bytes: 0, stats };
        Gen {
            rng,
            proj,
            out,
            info,
            tip: None,
            prompt_parents: vec![],
            prompt: Default::default(),
            hot: vec![],
            backups: vec![],
            todos: vec![],
            ctx: 12_000,
            ctx_mark: 0,
            turns: 0,
            tool_calls: 0,
        }
    }

    fn wait(&mut self, lo: i64, hi: i64) {
        self.proj.clock += self.rng.random_range(lo..hi);
    }

    fn id(&mut self) -> String {
        text::uuid(self.rng)
    }

    fn now(&self) -> String {
        text::iso(self.proj.clock)
    }

    fn abs(&self, rel: &str) -> String {
        format!("{}/{rel}", self.proj.cwd)
    }

    /// Writes one conversational record: `body` wrapped in the session fields,
    /// which 2.0.x writes first and 2.1.x after the body. `uuid` becomes the tip.
    fn emit(&mut self, parent: Option<&str>, uuid: &str, body: Fields) -> io::Result<()> {
        let i = &self.info;
        let mut session = fields! {"userType": "external"};
        if i.tail {
            session.push(("entrypoint", "cli".into()));
        }
        session
            .extend(fields! {"cwd": &self.proj.cwd, "sessionId": &i.sid, "version": i.version, "gitBranch": &i.branch});
        let agent = i.agent_id.as_deref().map(|a| ("agentId", J::from(a)));
        let slug = i.slug.as_deref().map(|s| ("slug", J::from(s)));
        let mut body = body.into_iter().peekable();
        let mut v = fields! {"parentUuid": parent};
        v.extend(body.next_if(|(k, _)| *k == "logicalParentUuid"));
        v.push(("isSidechain", i.sidechain.into()));
        if i.tail {
            v.extend(agent.into_iter().chain(body).chain(session).chain(slug));
        } else {
            v.extend(session.into_iter().chain(agent).chain(slug).chain(body));
        }
        self.out.put(&J::Obj(v))?;
        self.tip = Some(uuid.to_owned());
        Ok(())
    }

    /// A user record; `mid` goes before its uuid, `after` after its timestamp.
    fn user(&mut self, parent: Option<&str>, content: J, mid: Fields, after: Fields) -> io::Result<String> {
        let (uuid, ts) = (self.id(), self.now());
        let mut body = fields! {"type": "user", "message": obj! {"role": "user", "content": content}};
        body.extend(mid);
        body.extend(fields! {"uuid": &uuid, "timestamp": &ts});
        body.extend(after);
        self.emit(parent, &uuid, body)?;
        Ok(uuid)
    }

    fn session(mut self, budget: u64) -> io::Result<()> {
        self.wait(1_200_000, 200_000_000);
        let resume = self.proj.resume.clone().filter(|_| self.rng.random_bool(0.1));
        if let Some((prefix, last)) = resume {
            // `--resume` starts the new file with the old records, uuids and all.
            self.out.raw(&prefix)?;
            self.tip = Some(last);
        } else {
            if self.rng.random_bool(0.15) {
                let leaf = self.proj.last_leaf.clone().unwrap_or_else(|| self.id());
                let summary = text::prose(self.rng, self.proj.lang, "", 1..2);
                self.out.put(&obj! {"type": "summary", "summary": &summary, "leafUuid": &leaf})?;
            }
            self.out.capture = Some(Vec::new());
        }
        let capture_turns = self.rng.random_range(1..4);
        while self.turns == 0 || self.out.bytes < budget {
            self.turn()?;
            if self.turns == capture_turns {
                if let (Some(c), Some(tip)) = (self.out.capture.take(), self.tip.clone()) {
                    if c.len() < 4 << 20 {
                        self.proj.resume = Some((c, tip));
                    }
                }
            }
            // Auto-compaction fires when the context nears the window.
            if self.ctx > self.rng.random_range(140_000..170_000) {
                self.compact()?;
            }
        }
        self.proj.last_leaf = self.tip.clone();
        if !self.info.tail && self.rng.random_bool(0.25) {
            self.warmup_agent()?;
        }
        Ok(())
    }

    fn turn(&mut self) -> io::Result<()> {
        self.wait(15_000, 900_000);
        let first = self.turns == 0;
        let rewind = !first && self.rng.random_bool(0.04);
        let mut parent = if rewind {
            // Rewinding re-sends a prompt from an earlier point: a new branch.
            let n = self.prompt_parents.len();
            self.prompt_parents[self.rng.random_range(n.saturating_sub(5)..n)].clone()
        } else {
            self.tip.clone()
        };
        let i = self.pick_file();
        let path = self.proj.files.get(i).map_or(String::new(), |f| f.path.clone());
        let prompt = text::prompt(self.rng, first, &path);
        let uuid = self.id();
        self.prompt = (uuid.clone(), self.now());
        self.snapshot(&uuid, false)?;
        if self.rng.random_bool(0.03) {
            // Queue operations are a record type older readers do not know.
            let (ts, sid) = (self.now(), &self.info.sid);
            let op =
                |o: &'static str| obj! {"type": "queue-operation", "operation": o, "timestamp": &ts, "sessionId": sid};
            let mut enqueue = op("enqueue");
            if let J::Obj(f) = &mut enqueue {
                f.push(("content", J::from(&prompt)));
            }
            self.out.put(&enqueue)?;
            self.out.put(&op("dequeue"))?;
        }
        if !first && !rewind && self.rng.random_bool(0.03) {
            parent = Some(self.model_command(parent)?);
        }
        let ts = self.now();
        let mut body = fields! {"type": "user", "message": obj! {"role": "user", "content": &prompt}, "uuid": &uuid, "timestamp": &ts};
        if !self.info.tail {
            let meta = obj! {"level": "high", "disabled": false, "triggers": J::Arr(vec![])};
            body.extend(fields! {"thinkingMetadata": meta, "todos": J::Arr(vec![])});
        }
        self.emit(parent.as_deref(), &uuid, body)?;
        self.prompt_parents.push(parent);
        self.turns += 1;
        if self.info.slug.is_none() && !self.info.sidechain {
            // 2.0.x starts writing the session slug after the first exchange.
            self.info.slug = Some(text::slug(self.rng));
        }
        let steps = 1 + (0..14).take_while(|_| self.rng.random_bool(0.7)).count();
        self.agent_loop(steps)?;
        Ok(())
    }

    /// `/model` typed at the prompt: a caveat, the command and its output, all user records.
    fn model_command(&mut self, parent: Option<String>) -> io::Result<String> {
        const CAVEAT: &str = "Caveat: The messages below were generated by the user while running local commands. DO NOT respond to these messages or otherwise consider them in your response unless the user explicitly asks you to.";
        let caveat = self.user(parent.as_deref(), CAVEAT.into(), fields! {"isMeta": true}, vec![])?;
        let cmd = "<command-name>/model</command-name>\n            <command-message>model</command-message>\n            <command-args></command-args>";
        let cmd = self.user(Some(&caveat), cmd.into(), vec![], vec![])?;
        self.info.model = model(self.rng);
        let name = self.info.model.split('-').nth(1).unwrap_or("sonnet");
        let msg = format!(
            "<local-command-stdout>Set model to \u{1b}[1m{name} ({})\u{1b}[22m</local-command-stdout>",
            self.info.model
        );
        self.user(Some(&cmd), msg.into(), vec![], vec![])
    }

    /// Model turns until one ends without tool calls; returns the final text.
    fn agent_loop(&mut self, steps: usize) -> io::Result<String> {
        for step in 0..steps {
            let n = if self.rng.random_bool(0.2) { self.rng.random_range(2..4) } else { 1 };
            let calls = (0..n).map(|_| self.tool()).collect::<io::Result<Vec<_>>>()?;
            let think = self.rng.random_bool(if step == 0 { 0.6 } else { 0.25 });
            let say = (step == 0 || self.rng.random_bool(0.4)).then(|| {
                let path = calls.iter().find_map(|c| c.changed.clone()).unwrap_or_default();
                text::prose(self.rng, self.proj.lang, &path, 1..3)
            });
            let sources = self.respond(think, say, &calls)?;
            for (c, src) in calls.iter().zip(&sources) {
                self.tool_result(c, src)?;
            }
        }
        let mut summary = text::prose(self.rng, self.proj.lang, "", 1..4);
        if !self.hot.is_empty() {
            summary.push_str("\n\n## Changes\n");
            for k in 0..self.hot.len().min(6) {
                let path = self.proj.files[self.hot[k]].path.clone();
                let line = text::prose(self.rng, self.proj.lang, &path, 1..2);
                let _ = write!(summary, "\n- **{path}**: {line}");
            }
        }
        let think = self.rng.random_bool(0.2);
        self.respond(think, Some(summary.clone()), &[])?;
        Ok(summary)
    }

    /// One API response written the real way: one line per content block, all
    /// sharing message id, request id and a copy of usage. Returns the uuids of
    /// the tool_use lines.
    fn respond(&mut self, think: bool, say: Option<String>, calls: &[Call]) -> io::Result<Vec<String>> {
        self.wait(1_500, 12_000);
        let msg_id = text::b62(self.rng, "msg_01", 22);
        let req_id = text::b62(self.rng, "req_011C", 20);
        let grown = (self.out.bytes - self.ctx_mark) / 6;
        self.ctx_mark = self.out.bytes;
        let (cache, read) = (grown.max(200), self.ctx);
        let (input, output) = (self.rng.random_range(1..12u64), self.rng.random_range(40..2500u64));
        let usage = |output: u64| {
            let creation = obj! {"ephemeral_5m_input_tokens": cache, "ephemeral_1h_input_tokens": 0u64};
            obj! {"input_tokens": input, "cache_creation_input_tokens": cache, "cache_read_input_tokens": read,
            "cache_creation": creation, "output_tokens": output, "service_tier": "standard"}
        };
        self.ctx += grown;
        let thinking = think.then(|| {
            let t = text::prose(self.rng, self.proj.lang, "", 2..9);
            (t, text::signature(self.rng))
        });
        let mut blocks = Vec::new();
        if let Some((t, sig)) = &thinking {
            blocks.push(obj! {"type": "thinking", "thinking": t, "signature": sig});
        }
        if let Some(t) = &say {
            blocks.push(obj! {"type": "text", "text": t});
        }
        let first_tool = blocks.len();
        blocks.extend(calls.iter().map(|c| obj! {"type": "tool_use", "id": &c.id, "name": c.name, "input": &c.input}));
        let (n, model) = (blocks.len(), self.info.model);
        let mut sources = Vec::new();
        for (k, block) in blocks.into_iter().enumerate() {
            let last = k + 1 == n;
            // Streaming writes early blocks before the final output count is known.
            let usage = usage(if last { output } else { self.rng.random_range(1..9) });
            let stop_reason = last.then_some(if calls.is_empty() { "end_turn" } else { "tool_use" });
            let message = obj! {"model": model, "id": &msg_id, "type": "message", "role": "assistant",
            "content": vec![block], "stop_reason": stop_reason, "stop_sequence": J::Null, "usage": usage};
            let (uuid, ts, parent) = (self.id(), self.now(), self.tip.clone());
            let body = fields! {"message": message, "requestId": &req_id, "type": "assistant", "uuid": &uuid, "timestamp": &ts};
            self.emit(parent.as_deref(), &uuid, body)?;
            if k >= first_tool {
                sources.push(uuid);
            }
            self.wait(100, 2_500);
        }
        Ok(sources)
    }

    fn tool_result(&mut self, c: &Call, source: &str) -> io::Result<()> {
        self.wait(30, if c.name == "Bash" { 40_000 } else { 1_500 });
        let block = if c.error {
            obj! {"type": "tool_result", "content": &c.content, "is_error": true, "tool_use_id": &c.id}
        } else {
            obj! {"tool_use_id": &c.id, "type": "tool_result", "content": &c.content}
        };
        let mut after = fields! {"toolUseResult": &c.result};
        if self.info.tail {
            after.push(("sourceToolAssistantUUID", source.into()));
        }
        let parent = self.tip.clone();
        let uuid = self.user(parent.as_deref(), J::Arr(vec![block]), vec![], after)?;
        if let Some(path) = &c.changed {
            self.out.stats.edits += 1;
            self.backup(path);
            if self.info.tail && self.rng.random_bool(0.2) {
                // Hook progress is a side record: later messages do not chain to it.
                let (keep, id, ts) = (self.tip.clone(), self.id(), self.now());
                let data = obj! {"type": "hook_progress", "hookEvent": "PostToolUse",
                "hookName": format!("PostToolUse:{}", c.name), "command": "$CLAUDE_PROJECT_DIR/.claude/hooks/format.sh"};
                let body = fields! {"type": "progress", "data": data, "parentToolUseID": &c.id, "toolUseID": &c.id,
                "uuid": &id, "timestamp": &ts};
                self.emit(Some(&uuid), &id, body)?;
                self.tip = keep;
            }
            if self.rng.random_bool(0.5) {
                self.snapshot(source, true)?;
            }
        }
        Ok(())
    }

    fn backup(&mut self, path: &str) {
        let time = self.now();
        let name = format!("{}@v", text::hex(self.rng, 16));
        if let Some((_, b)) = self.backups.iter_mut().find(|(p, _)| p == path) {
            b.version += 1;
            (b.name, b.time) = (format!("{name}{}", b.version), time);
        } else if self.backups.len() < 40 {
            self.backups.push((path.to_owned(), Backup { name: format!("{name}1"), version: 1, time }));
        }
    }

    fn snapshot(&mut self, message_id: &str, update: bool) -> io::Result<()> {
        if self.info.sidechain {
            return Ok(());
        }
        let (pid, pts) = &self.prompt;
        let backups = self.backups.iter().map(|(path, b)| {
            (path.as_str(), obj! {"backupFileName": &b.name, "version": b.version, "backupTime": &b.time})
        });
        let snapshot = obj! {"messageId": pid, "trackedFileBackups": J::Obj(backups.collect()), "timestamp": pts};
        let record = obj! {"type": "file-history-snapshot", "messageId": message_id, "snapshot": snapshot,
        "isSnapshotUpdate": update};
        self.out.put(&record)
    }

    fn compact(&mut self) -> io::Result<()> {
        self.wait(5_000, 60_000);
        let (uuid, ts, logical) = (self.id(), self.now(), self.tip.clone());
        let body = fields! {"logicalParentUuid": logical, "type": "system", "subtype": "compact_boundary",
        "content": "Conversation compacted", "isMeta": false, "timestamp": &ts, "uuid": &uuid, "level": "info",
        "compactMetadata": obj! {"trigger": "auto", "preTokens": self.ctx}};
        self.emit(None, &uuid, body)?;
        let summary = COMPACT_INTRO.to_owned() + &text::prose(self.rng, self.proj.lang, "", 8..30);
        let mid = fields! {"isVisibleInTranscriptOnly": true, "isCompactSummary": true};
        self.user(Some(&uuid), summary.into(), mid, vec![])?;
        self.ctx = 15_000;
        Ok(())
    }

    fn pick_file(&mut self) -> usize {
        if !self.hot.is_empty() && self.rng.random_bool(0.6) {
            return pick(self.rng, &self.hot);
        }
        let i = self.rng.random_range(0..self.proj.files.len().max(1));
        if !self.hot.contains(&i) && i < self.proj.files.len() {
            self.hot.push(i);
        }
        i
    }

    fn tool(&mut self) -> io::Result<Call> {
        let id = text::b62(self.rng, "toolu_01", 22);
        self.tool_calls += 1;
        let side = self.info.sidechain;
        let call = match self.rng.random_range(0..100) {
            _ if self.rng.random_bool(0.03) => self.failed(),
            // Subagents in this corpus only explore, and Task never nests.
            20..40 if !side => self.edit(false),
            40..45 if !side => self.edit(true),
            45..51 if !side => Some(self.write()),
            51..64 => Some(self.bash()),
            64..73 => Some(self.grep()),
            73..77 => Some(self.glob()),
            77..83 => Some(self.todo_write()),
            83..86 if !side => Some(self.task()?),
            86..87 => Some(self.notebook()),
            _ => None,
        };
        let mut call = call.unwrap_or_else(|| self.read());
        call.id = id;
        Ok(call)
    }

    fn failed(&mut self) -> Option<Call> {
        let i = self.pick_file();
        let path = self.abs(&self.proj.files.get(i)?.path);
        let stmt = text::statement(self.rng, self.proj.lang, "    ").join("\n");
        let (name, input, msg) = match self.rng.random_range(0..4) {
            0 => {
                let input = obj! {"file_path": path, "old_string": stmt.clone(), "new_string": stmt.clone() + ";"};
                ("Edit", input, format!("String to replace not found in file.\nString: {stmt}"))
            }
            1 => ("Read", obj! {"file_path": path.replace("src/", "lib/")}, "File does not exist.".to_owned()),
            2 => {
                let msg = "File has not been read yet. Read it first before writing to it.".to_owned();
                ("Write", obj! {"file_path": path, "content": stmt}, msg)
            }
            _ => {
                // A failing command is an error result without the <tool_use_error> wrapper.
                let out = format!("Exit code 1\nerror: {}", text::prose(self.rng, self.proj.lang, "", 2..3));
                let input = obj! {"command": "make check", "description": "Run all checks"};
                return Some(error_call("Bash", input, out.clone(), format!("Error: {out}")));
            }
        };
        Some(error_call(name, input, format!("<tool_use_error>{msg}</tool_use_error>"), format!("Error: {msg}")))
    }

    fn read(&mut self) -> Call {
        let i = self.pick_file();
        let Some(f) = self.proj.files.get(i) else {
            return self.bash();
        };
        // Read counts the empty string after the final newline as a line.
        let all: Vec<&str> = f.content.split('\n').collect();
        let total = all.len();
        let partial = (total > READ_MAX && self.rng.random_bool(0.4)) || (total > 80 && self.rng.random_bool(0.1));
        let (start, limit) = if partial {
            (self.rng.random_range(1..total - 40), Some(self.rng.random_range(40..400usize)))
        } else {
            (1, None)
        };
        let window = &all[start - 1..(start - 1 + limit.unwrap_or(READ_MAX)).min(total)];
        let mut shown = String::with_capacity(f.content.len() + window.len() * 8 + READ_REMINDER.len());
        for (k, l) in window.iter().enumerate() {
            let sep = if k == 0 { "" } else { "\n" };
            let _ = write!(shown, "{sep}{:>6}\u{2192}{l}", start + k);
        }
        shown.push_str(READ_REMINDER);
        let file_path = format!("{}/{}", self.proj.cwd, f.path);
        let input = match limit {
            Some(limit) => obj! {"file_path": file_path.clone(), "offset": start, "limit": limit},
            None => obj! {"file_path": file_path.clone()},
        };
        let file = obj! {"filePath": file_path, "content": window.join("\n"), "numLines": window.len(),
        "startLine": start, "totalLines": total};
        call("Read", input, shown, obj! {"type": "text", "file": file})
    }

    /// What Edit and Write report: a `cat -n` excerpt around the change.
    fn updated(path: &str, content: &str, at: usize, len: usize) -> String {
        let mut s = format!(
            "The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:"
        );
        let from = at.saturating_sub(5);
        for (k, l) in content.lines().enumerate().skip(from).take(at + len + 5 - from) {
            let _ = write!(s, "\n{:>6}\u{2192}{l}", k + 1);
        }
        s
    }

    fn edit(&mut self, multi: bool) -> Option<Call> {
        let i = self.pick_file();
        let lang = self.proj.lang;
        let content = &self.proj.files.get(i)?.content;
        let ls = patch::lines(content);
        let mut changes: Vec<Change> = Vec::new();
        let n = if multi { self.rng.random_range(2..5) } else { 1 };
        for _ in 0..n {
            let c = plan_edit(self.rng, content, &ls, lang)?;
            if changes.iter().all(|o| c.at + c.del < o.at || o.at + o.del < c.at) {
                changes.push(c);
            }
        }
        changes.sort_by_key(|c| c.at);
        let edits: Vec<(String, String)> =
            changes.iter().map(|c| (ls[c.at..c.at + c.del].join("\n"), c.ins.join("\n"))).collect();
        let (new, hunks) = patch::edit(&ls, &changes);
        // Edits apply one after another by string match: make sure each still
        // matches exactly once, so the transcript is self-consistent.
        let mut seq = content.clone();
        for (old, new) in &edits {
            if seq.matches(old.as_str()).nth(1).is_some() {
                return None;
            }
            seq = seq.replacen(old.as_str(), new, 1);
        }
        if seq != new || (multi && edits.len() < 2) {
            return None;
        }
        let rel = self.proj.files[i].path.clone();
        let file_path = self.abs(&rel);
        let original = std::mem::replace(&mut self.proj.files[i].content, new);
        let mut call = if multi {
            let mut msg = format!("Applied {} edits to {file_path}:", edits.len());
            let cut = |s: &str| s.chars().take(50).collect::<String>();
            for (k, (old, new)) in edits.iter().enumerate() {
                let _ = write!(msg, "\n{}. Replaced \"{}...\" with \"{}...\"", k + 1, cut(old), cut(new));
            }
            let ops = || -> J<'static> {
                let op = |(o, n): &(String, String)| obj! {"old_string": o.clone(), "new_string": n.clone(), "replace_all": false};
                J::Arr(edits.iter().map(op).collect())
            };
            let input = obj! {"file_path": file_path.clone(), "edits": ops()};
            let result = obj! {"filePath": file_path, "edits": ops(), "originalFileContents": original,
            "structuredPatch": hunks, "userModified": false};
            call("MultiEdit", input, msg, result)
        } else {
            let msg = Self::updated(&file_path, &self.proj.files[i].content, changes[0].at, changes[0].ins.len());
            let (old, new) = edits.into_iter().next()?;
            let input = obj! {"file_path": file_path.clone(), "old_string": old.clone(), "new_string": new.clone()};
            let result = obj! {"filePath": file_path, "oldString": old, "newString": new, "originalFile": original,
            "structuredPatch": hunks, "userModified": false, "replaceAll": false};
            call("Edit", input, msg, result)
        };
        call.changed = Some(rel);
        Some(call)
    }

    fn write(&mut self) -> Call {
        let lang = self.proj.lang;
        if self.rng.random_bool(0.5) || self.proj.files.is_empty() {
            let (dir, name, verb) = (text::noun(self.rng), text::noun(self.rng), text::verb(self.rng));
            let rel = format!("src/{dir}/{name}_{verb}.{}", lang.ext());
            if !self.proj.files.iter().any(|f| f.path == rel) {
                let content = text::source_file(self.rng, lang, 20..160);
                self.hot.push(self.proj.files.len());
                self.proj.files.push(VFile { path: rel.clone(), content: content.clone() });
                let file_path = self.abs(&rel);
                let input = obj! {"file_path": file_path.clone(), "content": content.clone()};
                let msg = format!("File created successfully at: {file_path}");
                let result = obj! {"type": "create", "filePath": file_path, "content": content,
                "structuredPatch": J::Arr(vec![]), "originalFile": J::Null};
                return Call { changed: Some(rel), ..call("Write", input, msg, result) };
            }
        }
        // Rewrite: a span of the file replaced by freshly written functions.
        let i = self.pick_file().min(self.proj.files.len() - 1);
        let ls = patch::lines(&self.proj.files[i].content);
        let at = self.rng.random_range(0..ls.len());
        let mut ins = Vec::new();
        text::function(self.rng, lang, &mut ins);
        let change = Change { at, del: self.rng.random_range(5..40).min(ls.len() - at), ins };
        let (new, hunks) = patch::edit(&ls, &[change]);
        let rel = self.proj.files[i].path.clone();
        let file_path = self.abs(&rel);
        let msg = Self::updated(&file_path, &new, at, 10);
        let original = std::mem::replace(&mut self.proj.files[i].content, new.clone());
        let input = obj! {"file_path": file_path.clone(), "content": new.clone()};
        let result = obj! {"type": "update", "filePath": file_path, "content": new, "structuredPatch": hunks,
        "originalFile": original};
        Call { changed: Some(rel), ..call("Write", input, msg, result) }
    }

    fn bash(&mut self) -> Call {
        let lang = self.proj.lang;
        let mut out = String::new();
        let (command, description) = match self.rng.random_range(0..5) {
            0 | 1 => {
                let (cmd, line, end) = match lang {
                    Lang::Rust => (
                        "cargo test",
                        "test {w}::tests::{b}_{a}_{w} ... ok",
                        "test result: ok. {n} passed; 0 failed; 0 ignored",
                    ),
                    Lang::Python => ("pytest -q", "tests/test_{w}.py::test_{b}_{a}_{w} PASSED", "{n} passed in 3.21s"),
                    Lang::Ts => (
                        "npm test",
                        "  \u{2713} {w} \u{203a} {b}s the {a} {w} ({n} ms)",
                        "Tests: {n} passed, {n} total",
                    ),
                };
                for _ in 0..self.rng.random_range(10..250) {
                    text::expand(self.rng, lang, "", line, &mut out);
                    out.push('\n');
                }
                text::expand(self.rng, lang, "", end, &mut out);
                (cmd, "Run the test suite")
            }
            2 => {
                for &i in &self.hot {
                    let _ = writeln!(out, "\tmodified:   {}", self.proj.files[i].path);
                }
                ("git status", "Show working tree status")
            }
            3 => {
                for _ in 0..self.rng.random_range(5..30) {
                    let h = text::hex(self.rng, 7);
                    let _ = writeln!(out, "{h} {}", text::prompt(self.rng, true, ""));
                }
                ("git log --oneline -n 30", "Show recent commits")
            }
            _ => {
                for f in &self.proj.files {
                    let _ = writeln!(out, "-rw-r--r--  1 dev  staff  {:>7} Nov  3 10:12 {}", f.content.len(), f.path);
                }
                ("ls -la src", "List source files")
            }
        };
        let input = obj! {"command": command, "description": description};
        let result = obj! {"stdout": out.clone(), "stderr": "", "interrupted": false, "isImage": false};
        call("Bash", input, out, result)
    }

    fn grep(&mut self) -> Call {
        let i = self.pick_file();
        let word = self.proj.files.get(i).and_then(|f| {
            let l = f.content.lines().nth(self.rng.random_range(0..f.content.lines().count().max(1)))?;
            l.split(|c: char| !c.is_alphanumeric() && c != '_').max_by_key(|w| w.len()).map(str::to_owned)
        });
        let pattern = word.filter(|w| w.len() >= 4).unwrap_or_else(|| text::noun(self.rng).to_owned());
        // Search the files in play plus a sample: scanning every file of a big
        // project on each call would dominate generation time.
        let mut cands = self.hot.clone();
        cands.extend((0..6).map(|_| self.rng.random_range(0..self.proj.files.len().max(1))));
        cands.sort_unstable();
        cands.dedup();
        let (mut files, mut found) = (Vec::new(), Vec::new());
        let content_mode = self.rng.random_bool(0.4);
        for f in cands.iter().filter_map(|&j| self.proj.files.get(j)) {
            if !f.content.contains(&pattern) {
                continue;
            }
            let abs = format!("{}/{}", self.proj.cwd, f.path);
            if content_mode {
                let hits = f.content.lines().enumerate().filter(|(_, l)| l.contains(&pattern));
                found.extend(hits.take(60).map(|(n, l)| format!("{abs}:{}:{l}", n + 1)));
            }
            files.push(abs);
        }
        let path = self.proj.cwd.clone();
        if content_mode {
            let (content, n) = (found.join("\n"), found.len());
            let shown = if found.is_empty() { "No matches found".to_owned() } else { content.clone() };
            let input = obj! {"pattern": pattern, "path": path, "output_mode": "content", "-n": true};
            let result = obj! {"mode": "content", "numFiles": 0usize, "filenames": J::Arr(vec![]), "content": content,
            "numLines": n};
            call("Grep", input, shown, result)
        } else {
            let shown = match files.len() {
                0 => "No files found".to_owned(),
                n => format!("Found {n} files\n{}", files.join("\n")),
            };
            let input = obj! {"pattern": pattern, "path": path, "output_mode": "files_with_matches"};
            let n = files.len();
            call("Grep", input, shown, obj! {"mode": "files_with_matches", "filenames": files, "numFiles": n})
        }
    }

    fn glob(&mut self) -> Call {
        let ext = self.proj.lang.ext();
        let pattern = if self.rng.random_bool(0.5) { format!("**/*.{ext}") } else { format!("src/**/*.{ext}") };
        let all: Vec<String> = self.proj.files.iter().map(|f| self.abs(&f.path)).collect();
        let truncated = all.len() > 100;
        let filenames: Vec<String> = all.into_iter().take(100).collect();
        let mut shown = if filenames.is_empty() { "No files found".to_owned() } else { filenames.join("\n") };
        if truncated {
            shown.push_str("\n(Results are truncated. Consider using a more specific path or pattern.)");
        }
        let (n, ms) = (filenames.len(), self.rng.random_range(4..140u64));
        let result = obj! {"filenames": filenames, "durationMs": ms, "numFiles": n, "truncated": truncated};
        call("Glob", obj! {"pattern": pattern}, shown, result)
    }

    fn todo_write(&mut self) -> Call {
        let old = todos_json(&self.todos);
        if let Some(k) = self.todos.iter().position(|t| t.status != "completed") {
            let next = if self.todos[k].status == "in_progress" {
                self.todos[k].status = "completed";
                k + 1
            } else {
                k
            };
            if let Some(t) = self.todos.get_mut(next) {
                t.status = "in_progress";
            }
        } else {
            self.todos = (0..self.rng.random_range(3..7))
                .map(|k| {
                    let i = self.pick_file();
                    let path = self.proj.files.get(i).map_or("src", |f| &f.path).to_owned();
                    let (content, active_form) = text::todo(self.rng, &path);
                    Todo { content, status: if k == 0 { "in_progress" } else { "pending" }, active_form }
                })
                .collect();
        }
        let result = obj! {"oldTodos": old, "newTodos": todos_json(&self.todos)};
        call("TodoWrite", obj! {"todos": todos_json(&self.todos)}, TODO_OK, result)
    }

    fn notebook(&mut self) -> Call {
        let name = text::noun(self.rng);
        let notebook_path = self.abs(&format!("notebooks/{name}_analysis.ipynb"));
        let cell_id = text::hex(self.rng, 8);
        let source = text::statement(self.rng, Lang::Python, "").join("\n");
        let msg = format!("Updated cell {cell_id} with {source}");
        let input = obj! {"notebook_path": notebook_path, "cell_id": cell_id.clone(), "new_source": source.clone(),
        "cell_type": "code", "edit_mode": "replace"};
        let result = obj! {"new_source": source, "cell_id": cell_id, "cell_type": "code", "language": "python",
        "edit_mode": "replace", "error": ""};
        call("NotebookEdit", input, msg, result)
    }

    /// Opens the sidechain file of a subagent and the fields its records share.
    fn subagent_file(&mut self, agent_id: &str, model: &'static str) -> io::Result<(BufWriter<File>, Info)> {
        let path = if self.info.tail {
            self.proj.dir.join(&self.info.sid).join("subagents").join(format!("agent-{agent_id}.jsonl"))
        } else {
            // Before 2.1 subagent transcripts sat beside the sessions.
            self.proj.dir.join(format!("agent-{agent_id}.jsonl"))
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let info = Info { model, agent_id: Some(agent_id.to_owned()), sidechain: true, ..self.info.clone() };
        self.out.stats.files += 1;
        self.out.stats.subagent_files += 1;
        Ok((BufWriter::new(File::create(path)?), info))
    }

    fn task(&mut self) -> io::Result<Call> {
        let lang = self.proj.lang;
        let description = format!("Find {} {} call sites", text::noun(self.rng), text::verb(self.rng));
        let mut prompt = text::prose(self.rng, lang, "", 3..7);
        prompt.push_str("\n\nReturn a concise summary with file paths and line numbers.");
        let agent_id = if self.info.tail { format!("a{}", text::hex(self.rng, 16)) } else { text::hex(self.rng, 7) };
        let model = if self.rng.random_bool(0.6) { HAIKU } else { self.info.model };
        let (mut w, info) = self.subagent_file(&agent_id, model)?;
        let start = self.proj.clock;
        let (summary, tools, ctx) = {
            let mut sub = Gen::new(&mut *self.rng, &mut *self.proj, &mut w, &mut *self.out.stats, info);
            sub.user(None, J::from(&prompt), vec![], vec![])?;
            let steps = sub.rng.random_range(2..8);
            (sub.agent_loop(steps)?, sub.tool_calls, sub.ctx)
        };
        w.flush()?;
        let blocks = || J::Arr(vec![obj! {"type": "text", "text": summary.clone()}]);
        let output = self.rng.random_range(200..1500u64);
        let usage = obj! {"input_tokens": 5u64, "cache_creation_input_tokens": 300u64, "cache_read_input_tokens": ctx,
        "cache_creation": obj! {"ephemeral_5m_input_tokens": 300u64, "ephemeral_1h_input_tokens": 0u64},
        "output_tokens": output, "service_tier": "standard"};
        let result = obj! {"status": "completed", "prompt": prompt.clone(), "agentId": agent_id, "content": blocks(),
        "totalDurationMs": (self.proj.clock - start) as u64, "totalTokens": ctx + 300, "totalToolUseCount": tools,
        "usage": usage};
        let kind = pick(self.rng, &["Explore", "general-purpose", "Plan"]);
        let input = obj! {"description": description, "prompt": prompt, "subagent_type": kind};
        Ok(call("Task", input, blocks(), result))
    }

    /// 2.0.x wrote a short "Warmup" sidechain file beside many sessions.
    fn warmup_agent(&mut self) -> io::Result<()> {
        let agent_id = text::hex(self.rng, 7);
        let (mut w, info) = self.subagent_file(&agent_id, HAIKU)?;
        {
            let mut sub = Gen::new(&mut *self.rng, &mut *self.proj, &mut w, &mut *self.out.stats, info);
            sub.user(None, "Warmup".into(), vec![], vec![])?;
            let say = text::prose(sub.rng, sub.proj.lang, "", 3..4);
            sub.respond(false, Some(say), &[])?;
        }
        w.flush()
    }
}

/// Picks a run of whole lines whose text occurs exactly once in the file (so an
/// Edit on it is unambiguous) and a modified replacement for it.
fn plan_edit(rng: &mut Rng64, content: &str, ls: &[&str], lang: Lang) -> Option<Change> {
    if ls.len() < 4 {
        return None;
    }
    for _ in 0..4 {
        let mut at = rng.random_range(0..ls.len());
        let mut del = rng.random_range(1..5).min(ls.len() - at);
        while del <= 10 {
            let old = ls[at..at + del].join("\n");
            if !old.trim().is_empty() && content.matches(old.as_str()).nth(1).is_none() {
                return Some(Change { at, del, ins: mutate(rng, lang, &ls[at..at + del]) });
            }
            if at == 0 {
                break;
            }
            at -= 1;
            del += 1;
        }
    }
    None
}

/// Inserts, replaces, deletes or comments a line of `region`.
fn mutate(rng: &mut Rng64, lang: Lang, region: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = region.iter().map(|s| (*s).to_owned()).collect();
    let k = rng.random_range(0..v.len());
    let indent: String = v[k].chars().take_while(|c| c.is_whitespace()).collect();
    match rng.random_range(0..4) {
        0 => {
            let s = text::statement(rng, lang, &indent);
            v.splice(k + 1..k + 1, s);
        }
        2 if v.len() > 1 => {
            v.remove(k);
        }
        3 => v.insert(k, text::comment(rng, lang, &indent)),
        _ => {
            let s = text::statement(rng, lang, &indent);
            v.splice(k..k + 1, s);
        }
    }
    if v.iter().map(String::as_str).eq(region.iter().copied()) {
        v.push(text::comment(rng, lang, &indent));
    }
    v
}
