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
use tools::{Call, Todo};

mod tools;

const VERSIONS: &[&str] = &["2.0.64", "2.0.69", "2.0.75", "2.0.76", "2.1.9", "2.1.31", "2.1.81", "2.1.85"];
const OPUS: &str = "claude-opus-4-5-20251101";
const SONNET: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";
const COMPACT_INTRO: &str = "This session is being continued from a previous conversation that ran out of context. The conversation is summarized below:\nAnalysis:\n";

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
        let r = self.raw(&line, 1);
        self.line = line;
        r
    }
    fn raw(&mut self, bytes: &[u8], lines: u64) -> io::Result<()> {
        self.w.write_all(bytes)?;
        if let Some(c) = &mut self.capture {
            c.extend_from_slice(bytes);
        }
        self.bytes += bytes.len() as u64;
        self.stats.bytes += bytes.len() as u64;
        self.stats.lines += lines;
        Ok(())
    }
}

/// A file-history backup entry of a file this session changed.
struct Backup {
    name: String,
    version: u64,
    time: String,
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
        let mut session = fields! {"userType": "external", "entrypoint": "cli", "cwd": &self.proj.cwd,
        "sessionId": &i.sid, "version": i.version, "gitBranch": &i.branch};
        if !i.tail {
            session.remove(1); // `entrypoint` appeared in 2.1.
        }
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
            self.out.raw(&prefix, prefix.iter().filter(|&&b| b == b'\n').count() as u64)?;
            self.tip = Some(last);
        } else {
            if self.rng.random_bool(0.15) {
                let leaf = self.proj.last_leaf.clone().unwrap_or_else(|| self.id());
                let summary = text::prose(self.rng, self.proj.lang, "", 1..2);
                self.out.put(&obj! {"type": "summary", "summary": &summary, "leafUuid": &leaf})?;
            }
            self.out.capture = Some(Vec::new());
        }
        if !self.info.tail && self.rng.random_bool(0.25) {
            // 2.0.x warmed up a subagent as the session started.
            self.warmup_agent()?;
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

    /// A short "Warmup" sidechain file, as 2.0.x wrote beside many sessions.
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
