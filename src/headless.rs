//! `--control stdin`: a headless herd driven by command lines of the console's grammar, one
//! per input line, each answered with exactly one output line, in order: `ok <what changed>`
//! or `error <why>`. An answer with structure (`faults`, `whatsat`) is `ok ` followed by one
//! line of JSON. Blank lines and `#` comments are skipped. The end of the input leaves the
//! herd running. `why` answers from the herd's events since the loop started.

use serde_json::json;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use tokio::sync::broadcast::error::TryRecvError;

use crate::command::{self, Command, Context};
use crate::herd::{Applied, Herdlike, Subscription};
use crate::lab::metrics::Metrics;
use crate::lab::why;

/// Answers every line of `input` on `output` until the input ends.
pub async fn control_loop(
    herd: &impl Herdlike,
    input: impl AsyncBufRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut console = Console::new(herd);
    let mut lines = input.lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let answer = console.answer(herd, line).await;
        output.write_all(answer.as_bytes()).await?;
        output.write_all(b"\n").await?;
        output.flush().await?;
    }
    Ok(())
}

/// Answers command lines one at a time, as `--control stdin` does, for any caller (the
/// standard-input loop, the admin endpoint's `POST /control`).
pub struct Console {
    context: Context,
    history: History,
}

impl Console {
    /// A console over `herd`; `why` answers from the events sent from now on.
    pub fn new(herd: &impl Herdlike) -> Self {
        Self {
            context: Context::new(herd.topology()),
            history: History { events: herd.events(), metrics: Metrics::new(herd.topology()) },
        }
    }

    /// The one-line answer to `line`: `ok …` or `error …`.
    pub async fn answer(&mut self, herd: &impl Herdlike, line: &str) -> String {
        self.reply(herd, line).await.text
    }

    /// [`Console::answer`], and whether it was a control that changed nothing.
    pub async fn reply(&mut self, herd: &impl Herdlike, line: &str) -> Reply {
        let answer = answer(herd, &self.context, line.trim(), &mut self.history).await;
        let unchanged = matches!(answer, Ok(Answer::Unchanged(_)));
        let text = match answer {
            Ok(Answer::Said(text) | Answer::Unchanged(text)) if text.is_empty() => "ok".to_owned(),
            Ok(Answer::Said(text) | Answer::Unchanged(text)) => format!("ok {text}"),
            Err(why) => format!("error {why}"),
        };
        Reply { text: one_line(&text), unchanged }
    }
}

/// One command line's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `ok …` or `error …`, one line.
    pub text: String,
    /// A control that found nothing to change (`cut` of a cut link): its text says why.
    pub unchanged: bool,
}

/// What a command line said, when it succeeded.
enum Answer {
    Said(String),
    Unchanged(String),
}

/// The herd's events so far, folded for `why`.
struct History {
    events: Subscription,
    metrics: Metrics,
}

impl History {
    /// Takes in every event sent so far; says how many were missed (the loop fell behind).
    fn catch_up(&mut self) -> u64 {
        let mut missed = 0;
        loop {
            match self.events.try_recv() {
                Ok(event) => self.metrics.apply(&event),
                Err(TryRecvError::Lagged(n)) => missed += n,
                Err(_) => return missed,
            }
        }
    }
}

/// What one command line did, or why it was refused.
async fn answer(
    herd: &impl Herdlike,
    context: &Context,
    line: &str,
    history: &mut History,
) -> Result<Answer, String> {
    let command = command::parse(line, context).map_err(|err| match err.usage {
        Some(usage) => format!("{} (expected: {usage})", err.message),
        None => err.message,
    })?;
    if command.console_only() {
        return Err(format!("{line:?} is a dashboard command"));
    }
    if let Command::Why { client, server } = &command {
        let missed = history.catch_up();
        let why = why::why(&history.metrics, client, *server, herd.names());
        let mut answer = json!({ "why": why, "text": why.text(herd.names()) });
        if missed > 0 {
            answer["missed_events"] = json!(missed);
        }
        return Ok(Answer::Said(answer.to_string()));
    }
    if command == Command::Status {
        return Ok(Answer::Said(json!({ "servers": herd.status() }).to_string()));
    }
    if let Command::Herd(control) = command {
        return match herd.apply(control).await.map_err(|err| err.to_string())? {
            Applied::Faults { faults } => Ok(Answer::Said(json!({ "faults": faults }).to_string())),
            Applied::Unchanged { text } => Ok(Answer::Unchanged(text)),
            Applied::Changed { text } => Ok(Answer::Said(text)),
        };
    }
    let Some((server, request)) = command::client_line(&command) else {
        return Err(format!("{line:?} cannot be run here"));
    };
    let name = herd.names().get(server).cloned().unwrap_or_default();
    let addr = herd.addr(server).ok_or_else(|| format!("{name} has no address"))?;
    let reply = crate::client::send_line(addr, &request)
        .await
        .map_err(|err| format!("{name} ({addr}): {err}"))?;
    let mut reply_lines = reply.lines().filter(|l| !l.is_empty());
    let first = reply_lines.next().unwrap_or_default();
    if first.is_empty() {
        return Err(format!("{name} did not answer"));
    }
    if first.starts_with("? ") {
        return Err(format!("{name} answered {first}"));
    }
    let rest: Vec<&str> = reply_lines.collect();
    if rest.is_empty() {
        return Ok(Answer::Said(first.to_owned()));
    }
    let places: serde_json::Value =
        serde_json::from_str(&rest.join("\n")).unwrap_or_else(|_| json!(rest.join("\n")));
    Ok(Answer::Said(json!({ "at": first, "places": places }).to_string()))
}

/// `text` with every line break replaced by a space: one answer, one line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}
