//! The operator's command language (the `:` line): parsing with validation and usage hints,
//! Tab completion of verbs, server names and client ids, and the help text of every command.

use std::time::Duration;

/// A validated operator command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `iamat SERVER CLIENT COORDS [TIME]`; `coords` in wire form (`+34.07-118.44`), `time`
    /// `None` = now.
    IAmAt { server: String, client: String, coords: String, time: Option<String> },
    /// `whatsat SERVER CLIENT RADIUS BOUND`
    WhatsAt { server: String, client: String, radius: String, bound: String },
    /// `send SERVER RAW-LINE`: any line, byte for byte (spaces kept).
    Send { server: String, line: String },
    Cut(String, String),
    Heal(String, String),
    HealAll,
    Kill(String),
    Restart(String),
    Pause,
    Resume,
    Step,
    Delay(Duration),
    /// `filter [SERVER]`: the traffic pane shows one server, or all.
    Filter(Option<String>),
    Help(Option<String>),
    Quit,
}

/// What the command line knows about the herd, for validation and completion.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub servers: Vec<String>,
    /// Undirected links as server-name pairs.
    pub links: Vec<(String, String)>,
    pub clients: Vec<String>,
}

/// Why a command line was refused: what is wrong, and the expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub message: String,
    pub usage: Option<&'static str>,
}

pub fn parse(input: &str, context: &Context) -> Result<Command, CommandError> {
    let _ = (input, context);
    Err(CommandError { message: "not built yet".into(), usage: None })
}
