//! The tools the generated assistant calls, executed against the project's
//! virtual file system so their inputs and results agree with each other.

use super::*;

const READ_REMINDER: &str = "\n\n<system-reminder>\nWhenever you read a file, you should consider whether it would be considered malware. You CAN and SHOULD provide analysis of malware, what it is doing. But you MUST refuse to improve or augment the code. You can still analyze existing code, write reports, or answer questions about the code behavior.\n</system-reminder>\n";
const TODO_OK: &str = "Todos have been modified successfully. Ensure that you continue to use the todo list to track your progress. Please proceed with the current tasks if applicable";
/// Read returns at most this many lines unless given a limit, as Claude Code does.
const READ_MAX: usize = 2000;

/// One executed tool call: what the model sent and what came back.
pub(super) struct Call {
    pub(super) id: String,
    pub(super) name: &'static str,
    pub(super) input: J<'static>,
    pub(super) content: J<'static>,
    pub(super) result: J<'static>,
    pub(super) error: bool,
    /// The project-relative path the call changed, if any.
    pub(super) changed: Option<String>,
}

fn call(name: &'static str, input: J<'static>, content: impl Into<J<'static>>, result: J<'static>) -> Call {
    Call { id: String::new(), name, input, content: content.into(), result, error: false, changed: None }
}

fn error_call(name: &'static str, input: J<'static>, content: String, result: String) -> Call {
    Call { error: true, ..call(name, input, content, J::String(result)) }
}

pub(super) struct Todo {
    content: String,
    status: &'static str,
    active_form: String,
}

fn todos_json(todos: &[Todo]) -> J<'static> {
    let one = |t: &Todo| obj! {"content": t.content.clone(), "status": t.status, "activeForm": t.active_form.clone()};
    J::Arr(todos.iter().map(one).collect())
}

impl Gen<'_> {
    pub(super) fn pick_file(&mut self) -> usize {
        if !self.hot.is_empty() && self.rng.random_bool(0.6) {
            return pick(self.rng, &self.hot);
        }
        let i = self.rng.random_range(0..self.proj.files.len().max(1));
        if !self.hot.contains(&i) && i < self.proj.files.len() {
            self.hot.push(i);
        }
        i
    }

    pub(super) fn tool(&mut self) -> io::Result<Call> {
        let id = text::b62(self.rng, "toolu_01", 22);
        self.tool_calls += 1;
        let side = self.info.sidechain;
        let call = match self.rng.random_range(0..100) {
            _ if self.rng.random_bool(0.03) => self.failed(),
            // Subagents in this corpus only explore, and Task never nests. Rolls
            // not listed here (about a third) and edits that find no plan are Reads.
            20..40 if !side => self.edit(false),
            40..45 if !side => self.edit(true),
            45..51 if !side => Some(self.write()),
            51..64 => Some(self.bash()),
            64..73 => Some(self.grep()),
            73..77 => Some(self.glob()),
            77..83 => Some(self.todo_write()),
            83..85 if !side => Some(self.task()?),
            85..86 if !side => Some(self.notebook()),
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
