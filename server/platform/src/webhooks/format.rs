//! Delivery bodies: the Standard Webhooks envelope, or a chat message for Slack and
//! Discord incoming webhooks (which take `{"text"}` and `{"content"}`), so a team can
//! post to a channel without glue code.

use observatory_protocol::events::kind;
use observatory_protocol::webhooks::{WebhookFormat, TEST_KIND};
use observatory_store::Event;
use observatory_transcript::FileChange;
use serde_json::{json, Value};

/// Discord refuses `content` over 2,000 characters; Slack truncates long text too.
const MAX_CHAT: usize = 1900;

/// Lines a recorded change wrote: its patch's added lines, else its edits' new
/// text, else the content it wrote.
pub fn lines_written(c: &FileChange) -> usize {
    if !c.hunks.is_empty() {
        c.hunks
            .iter()
            .flat_map(|h| &h.lines)
            .filter(|l| l.starts_with('+'))
            .count()
    } else if !c.edits.is_empty() {
        c.edits.iter().map(|e| e.new_string.lines().count()).sum()
    } else {
        c.content.as_deref().map_or(0, |t| t.lines().count())
    }
}

/// The JSON body sent for `event`; `lines`, for chat messages about a change, is how
/// many lines it wrote.
pub fn body(format: WebhookFormat, event: &Event, lines: Option<usize>) -> Vec<u8> {
    let value = match format {
        WebhookFormat::Standard => json!({
            "type": event.kind,
            "timestamp": event.at.unwrap_or_else(chrono::Utc::now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": event,
        }),
        WebhookFormat::Slack => json!({ "text": chat_text(event, lines) }),
        WebhookFormat::Discord => json!({
            "content": chat_text(event, lines),
            // Paths and prompts are not commands: no @everyone or role pings.
            "allowed_mentions": { "parse": [] },
        }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// One line a person reads: "session 2c965cfd changed `src/auth/login.rs` (Edit, 12
/// lines)".
pub fn chat_text(event: &Event, lines: Option<usize>) -> String {
    let session = event
        .session_id
        .as_deref()
        .map(|s| format!("session {}", s.get(..8).unwrap_or(s)))
        .unwrap_or_else(|| "Observatory".to_owned());
    let path = event
        .path
        .as_deref()
        .map(|p| relative(p, event.project.as_deref()));
    let str_field = |k: &str| event.data.get(k).and_then(Value::as_str);
    let num_field = |k: &str| event.data.get(k).and_then(Value::as_u64).unwrap_or(0);
    let failed = event.data.get("failed").and_then(Value::as_bool) == Some(true);
    let tool = match (str_field("tool").unwrap_or("a tool"), lines) {
        (t, Some(1)) => format!("{t}, 1 line"),
        (t, Some(n)) => format!("{t}, {n} lines"),
        (t, None) => t.to_owned(),
    };
    let text = match event.kind.as_str() {
        kind::ATTRIBUTION_CHANGED => {
            format!("{session} changed `{}` ({tool})", path.unwrap_or_default())
        }
        kind::FILE_TOUCHED => format!(
            "{session} {} `{}` ({tool})",
            if failed { "failed on" } else { "touched" },
            path.unwrap_or_default()
        ),
        kind::CONVERSATION_STARTED => format!(
            "{session} started{}",
            event
                .project
                .as_deref()
                .map(|p| format!(" in `{p}`"))
                .unwrap_or_default()
        ),
        kind::MESSAGES_APPENDED => {
            format!("{session}: {} new messages", num_field("count"))
        }
        kind::USAGE_UPDATED => format!(
            "{session}: {} input and {} output tokens so far",
            num_field("input_tokens"),
            num_field("output_tokens")
        ),
        kind::CONVERSATION_DELETED => format!("{session} was deleted from Observatory"),
        kind::USAGE_THRESHOLD => {
            let usd = |k: &str| event.data.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            format!(
                "{session} passed ${:.2} (now ${:.2})",
                usd("threshold_usd"),
                usd("cost_usd")
            )
        }
        kind::FILE_AGENT_SHARE => {
            let pct = |k: &str| event.data.get(k).and_then(Value::as_f64);
            let share = pct("share_percent").unwrap_or(0.0);
            match (pct("level_percent"), pct("previous_level_percent")) {
                (Some(level), previous) if previous.is_none_or(|p| level > p) => format!(
                    "`{}` is {share:.0}% agent-written (passed {level:.0}%)",
                    path.unwrap_or_default()
                ),
                (_, Some(previous)) => format!(
                    "`{}` is {share:.0}% agent-written (below {previous:.0}% again)",
                    path.unwrap_or_default()
                ),
                _ => format!(
                    "`{}` is {share:.0}% agent-written",
                    path.unwrap_or_default()
                ),
            }
        }
        TEST_KIND => "Observatory test event: this webhook is set up.".to_owned(),
        k => match (k.strip_prefix(kind::HOOK_PREFIX), path) {
            (Some(hook), Some(p)) => format!("{session}: {hook} on `{p}`"),
            (Some(hook), None) => format!("{session}: {hook}"),
            (None, _) => format!("{session}: {k}"),
        },
    };
    one_line(&text)
}

/// A path below the project, relative to it; others as they are.
fn relative(path: &str, project: Option<&str>) -> String {
    project
        .and_then(|p| path.strip_prefix(p.trim_end_matches('/')))
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(path)
        .to_owned()
}

/// No line breaks or backticks from data inside the message's own markup, and no
/// more than a chat message holds.
fn one_line(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= MAX_CHAT {
        return clean;
    }
    let mut cut: String = clean.chars().take(MAX_CHAT).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, path: Option<&str>, data: Value) -> Event {
        Event {
            id: 7,
            at: chrono::DateTime::from_timestamp_millis(1_766_935_334_900),
            kind: kind.into(),
            session_id: Some("2c965cfd-41e4-4e31-8339-2986ebced03c".into()),
            project: Some("/Users/dev/acme-api".into()),
            path: path.map(str::to_owned),
            data,
        }
    }

    #[test]
    fn standard_envelope() {
        let e = event("file.touched", Some("/x"), json!({"tool": "Edit"}));
        let v: Value =
            serde_json::from_slice(&body(WebhookFormat::Standard, &e, None)).expect("json");
        assert_eq!(v["type"], "file.touched");
        assert_eq!(v["timestamp"], "2025-12-28T15:22:14.900Z");
        assert_eq!(v["data"]["id"], 7);
        assert_eq!(v["data"]["data"]["tool"], "Edit");
    }

    #[test]
    fn chat_messages() {
        let e = event(
            "attribution.changed",
            Some("/Users/dev/acme-api/src/auth/login.rs"),
            json!({"tool": "Edit", "failed": false}),
        );
        let slack: Value =
            serde_json::from_slice(&body(WebhookFormat::Slack, &e, Some(12))).expect("json");
        assert_eq!(
            slack["text"],
            "session 2c965cfd changed `src/auth/login.rs` (Edit, 12 lines)"
        );
        let discord: Value =
            serde_json::from_slice(&body(WebhookFormat::Discord, &e, Some(12))).expect("json");
        assert_eq!(discord["content"], slack["text"]);
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        let hook = event("hook.Stop", None, json!({}));
        assert_eq!(chat_text(&hook, None), "session 2c965cfd: Stop");
        let patch = FileChange {
            hunks: vec![observatory_transcript::Hunk {
                old_start: 1,
                old_lines: 2,
                new_start: 1,
                new_lines: 3,
                lines: vec![" a".into(), "-b".into(), "+c".into(), "+d".into()],
            }],
            ..Default::default()
        };
        assert_eq!(lines_written(&patch), 2);
        let long = event("hook.X", Some(&"a\n".repeat(2000)), json!({}));
        let text = chat_text(&long, None);
        assert!(text.chars().count() <= MAX_CHAT + 1 && !text.contains('\n'));
    }
}
