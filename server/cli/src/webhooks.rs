//! `observatory webhooks`: subscriptions and their delivery log, in the store, as
//! `observatory keys` manages keys. Sending is the running platform's: a test event
//! or a redelivery queued here is picked up by its dispatcher within a second.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use observatory_protocol::webhooks::{
    DeliveryParams, DeliveryStatus, NewWebhook, Webhook, WebhookState, WebhookUpdate,
};
use observatory_store::{Catalog, Store, Writer};

use crate::{output, WebhooksAction};

/// How long `test --wait` waits for the platform's first attempt.
const TEST_WAIT: Duration = Duration::from_secs(30);

/// An IP literal the platform would refuse to call is refused now, as the API does.
fn check_target(url: &str, allow_private: bool) -> Result<()> {
    let parsed = observatory_store::webhooks::check_url(url)?;
    observatory_platform::webhooks::check_target(&parsed, allow_private).map_err(anyhow::Error::msg)
}

fn print_webhook(w: &Webhook) {
    let filters: Vec<String> = [
        w.project.as_ref().map(|p| format!("project {p}")),
        w.path_glob.as_ref().map(|g| format!("paths {g}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    println!(
        "{:>4}  {:<8} {:<8} {}  [{}]{}{}",
        w.id,
        w.state.as_str(),
        w.format.as_str(),
        w.url,
        w.event_types.join(","),
        if filters.is_empty() {
            String::new()
        } else {
            format!(" {}", filters.join(", "))
        },
        w.disabled_reason
            .as_ref()
            .map(|r| format!("\n      disabled: {r}"))
            .unwrap_or_default()
    );
}

fn set_state(store: &mut Store, id: i64, state: WebhookState) -> Result<Webhook> {
    Ok(store.update_webhook(
        id,
        &WebhookUpdate {
            state: Some(state),
            ..WebhookUpdate::default()
        },
    )?)
}

pub fn run(mut store: Store, action: WebhooksAction, allow_private: bool) -> Result<()> {
    match action {
        WebhooksAction::Create { url, options } => {
            check_target(&url, allow_private)?;
            let format = options.format()?;
            let event_types = if options.events.is_empty() {
                vec!["*".to_owned()]
            } else {
                options.events
            };
            let (w, secret) = store.create_webhook(&NewWebhook {
                url,
                event_types,
                project: options.project,
                path_glob: options.path_glob,
                description: options.description,
                format,
            })?;
            eprintln!(
                "created webhook {}; this is the only time its signing secret is shown:",
                w.id
            );
            println!("{secret}");
        }
        WebhooksAction::List { json } => {
            let all = store.webhooks()?;
            if json {
                output::print_json(&all)?;
            } else {
                all.iter().for_each(print_webhook);
            }
        }
        WebhooksAction::Update { id, url, options } => {
            if let Some(u) = &url {
                check_target(u, allow_private)?;
            }
            let format = options.format()?;
            let w = store.update_webhook(
                id,
                &WebhookUpdate {
                    url,
                    event_types: (!options.events.is_empty()).then_some(options.events),
                    project: options.project,
                    path_glob: options.path_glob,
                    description: options.description,
                    format,
                    state: None,
                },
            )?;
            print_webhook(&w);
        }
        WebhooksAction::Pause { id } => {
            print_webhook(&set_state(&mut store, id, WebhookState::Paused)?)
        }
        WebhooksAction::Resume { id } => {
            print_webhook(&set_state(&mut store, id, WebhookState::Active)?)
        }
        WebhooksAction::Delete { id } => {
            if !store.delete_webhook(id)? {
                bail!("no webhook {id}");
            }
            println!("deleted webhook {id}");
        }
        WebhooksAction::Rotate { id, grace } => {
            let until = chrono::Utc::now()
                + chrono::Duration::from_std(grace).context("--grace is too long")?;
            let (secret, previous) = store.rotate_webhook_secret(id, until)?;
            match previous {
                Some(t) => eprintln!(
                    "new secret for webhook {id}; the old one also signs until {}. Shown this once:",
                    t.to_rfc3339()
                ),
                None => eprintln!("new secret for webhook {id} (the old one no longer signs). Shown this once:"),
            }
            println!("{secret}");
        }
        WebhooksAction::Test { id, wait } => {
            let d = store.send_webhook_test(id)?;
            println!("queued test delivery {} ({})", d.id, d.message_id);
            if wait {
                let started = Instant::now();
                loop {
                    let attempts = store.webhook_attempts(id, d.id)?;
                    if let Some(a) = attempts.first() {
                        println!(
                            "attempt: {} in {} ms{}",
                            a.status_code
                                .map_or("no answer".to_owned(), |s| format!("HTTP {s}")),
                            a.latency_ms,
                            a.error
                                .as_ref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        );
                        break;
                    }
                    if started.elapsed() > TEST_WAIT {
                        bail!("no attempt in {} s: is `observatory serve` running on this data directory, and the webhook active?", TEST_WAIT.as_secs());
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        WebhooksAction::Deliveries {
            id,
            status,
            limit,
            json,
        } => {
            let status = status
                .as_deref()
                .map(|s| {
                    DeliveryStatus::parse(s)
                        .with_context(|| format!("--status {s:?}: pending, delivered or failed"))
                })
                .transpose()?;
            let q = DeliveryParams {
                status,
                before: None,
                limit: None,
            };
            let list = store.webhook_deliveries(id, &q, limit.clamp(1, 10_000))?;
            if json {
                output::print_json(&list)?;
            } else {
                for d in list {
                    println!(
                        "{:>6}  {:<9} {:>2} attempts  {:<22} {}{}",
                        d.id,
                        d.status.as_str(),
                        d.attempts,
                        d.kind,
                        d.message_id,
                        d.last_error.map(|e| format!("  ({e})")).unwrap_or_default()
                    );
                }
            }
        }
        WebhooksAction::Attempts { id, delivery, json } => {
            let list = store.webhook_attempts(id, delivery)?;
            if json {
                output::print_json(&list)?;
            } else {
                for a in list {
                    println!(
                        "{}  {:<10} {:>6} ms  {}",
                        a.at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        a.status_code.map_or("-".to_owned(), |s| s.to_string()),
                        a.latency_ms,
                        a.error
                            .or(a.response)
                            .map(|t| observatory_store::one_line(&t, 100))
                            .unwrap_or_default()
                    );
                }
            }
        }
        WebhooksAction::Redeliver { id, delivery } => {
            let n = store.redeliver_webhook(id, delivery)?;
            println!("queued {n} deliveries again");
        }
    }
    Ok(())
}
