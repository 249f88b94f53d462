//! Tab completion and the usage hint of the command line, driven by each verb's arguments
//! in [`COMMANDS`].

use super::{
    Arg, COMMANDS, CommandSpec, Context, DelayTarget, Kind, POLICIES, delay_target, is_separator,
    resolve_server, spec, split_arrow, words,
};
use crate::herd::control::Policy;

/// Sample values completion offers.
const DELAYS: &[&str] = &["off", "100ms", "300ms", "1s"];
const JITTERS: &[&str] = &["10ms", "50ms", "100ms"];
const RATES: &[&str] = &["0%", "5%", "20%", "50%"];
const BURSTS: &[&str] = &["2", "3", "5"];
const LASTINGS: &[&str] = &["5s", "30s", "1m"];

/// Tab completion of the word at the end of an input line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// Byte index in the input where the text being completed starts (the input's length
    /// when the input ends in a separator: the completion is a new word; inside a word for
    /// a name after `,` or `/` in a partition).
    pub start: usize,
    /// Sorted case-insensitively, filtered by case-insensitive prefix; empty when nothing
    /// fits.
    pub candidates: Vec<String>,
}

/// Completes the word at the end of `input`, by what the verb's table entry says goes
/// there: verbs first; then server names where a server goes, the neighbours of A for the B
/// of `A B` and `A->N` for each neighbour N after `A->`, `all` where it is allowed, client
/// ids, policy names and settings, the keywords left (`jitter`, `burst`, `for`, …) and a few
/// sample durations and percentages where a value goes.
pub fn complete(input: &str, context: &Context) -> Completion {
    let words = words(input);
    let new_word = input.chars().last().is_none_or(is_separator);
    let (start, prefix, index) = match words.last() {
        Some(&(start, word)) if !new_word => (start, word, words.len() - 1),
        _ => (input.len(), "", words.len()),
    };
    let (skip, pool) = if index == 0 {
        (0, COMMANDS.iter().map(|s| s.name.to_owned()).collect())
    } else {
        match spec(words[0].1) {
            Some(spec) => {
                let before: Vec<&str> = words[1..index].iter().map(|&(_, word)| word).collect();
                candidates(spec, &before, prefix, context)
            }
            None => (0, Vec::new()),
        }
    };
    let folded = prefix[skip..].to_lowercase();
    let mut candidates: Vec<String> =
        pool.into_iter().filter(|c| c.to_lowercase().starts_with(&folded)).collect();
    candidates.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    candidates.dedup();
    Completion { start: start + skip, candidates }
}

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| (*word).to_owned()).collect()
}

/// What may go where `prefix` is typed, after the argument words `before`: how many bytes of
/// `prefix` to keep, and the pool of candidates for the rest.
fn candidates(
    spec: &CommandSpec,
    before: &[&str],
    prefix: &str,
    context: &Context,
) -> (usize, Vec<String>) {
    let lasting = before.iter().position(|word| word.eq_ignore_ascii_case("for"));
    if let (Kind::Fault, Some(at)) = (spec.kind, lasting) {
        return (0, if at + 1 == before.len() { owned(LASTINGS) } else { Vec::new() });
    }
    let mut i = 0;
    for (n, &arg) in spec.args.iter().enumerate() {
        let rest = before.get(i..).unwrap_or_default();
        if arg.is_option() {
            return (0, options(spec, &spec.args[n..], rest));
        }
        if arg == Arg::Groups {
            return groups(rest, prefix, context);
        }
        let Some(&word) = rest.first() else {
            return (0, first_word(arg, prefix, context));
        };
        match arg {
            Arg::RawLine => return (0, Vec::new()),
            Arg::Policy => return (0, policy_setting(rest)),
            Arg::Link | Arg::LinkOrAll | Arg::DelayLinks => {
                let target = delay_target(word, context);
                if (arg != Arg::Link && target == DelayTarget::All) || word.contains("->") {
                    i += 1;
                } else if arg == Arg::DelayLinks && target == DelayTarget::Omitted {
                    // The word is already the DURATION.
                } else if rest.len() == 1 {
                    return (0, neighbours_of(word, context));
                } else {
                    i += 2;
                }
            }
            _ => i += 1,
        }
    }
    let done = i == before.len() && spec.kind == Kind::Fault;
    (0, if done { owned(&["for"]) } else { Vec::new() })
}

/// The names of the neighbours of server `word`, for the B of `A B`.
fn neighbours_of(word: &str, context: &Context) -> Vec<String> {
    match resolve_server(word, context) {
        Ok(a) => context.neighbours(a).into_iter().map(|b| context.name(b)).collect(),
        Err(_) => Vec::new(),
    }
}

/// The setting a policy takes, after its name (`rest` starts with the name).
fn policy_setting(rest: &[&str]) -> Vec<String> {
    match rest {
        [name] if name.eq_ignore_ascii_case("storm") => {
            vec![format!("ttl={}", Policy::DEFAULT_TTL)]
        }
        [name] if name.eq_ignore_ascii_case("gossip") => vec!["fanout=2".to_owned()],
        _ => Vec::new(),
    }
}

/// The candidates for the first word of an argument.
fn first_word(arg: Arg, prefix: &str, context: &Context) -> Vec<String> {
    let servers = || context.servers.clone();
    let with_all = || {
        let mut pool = servers();
        pool.push("all".to_owned());
        pool
    };
    match arg {
        Arg::Server => servers(),
        Arg::ServerOrAll => with_all(),
        Arg::Link | Arg::LinkOrAll | Arg::DelayLinks => match split_arrow(prefix) {
            Some((Some(a), both, _)) => match resolve_server(a, context) {
                Ok(a) => {
                    let arrow = if both { "<->" } else { "->" };
                    let name = context.name(a);
                    context
                        .neighbours(a)
                        .into_iter()
                        .map(|b| format!("{name}{arrow}{}", context.name(b)))
                        .collect()
                }
                Err(_) => Vec::new(),
            },
            Some(_) => Vec::new(),
            None if arg == Arg::Link => servers(),
            None => with_all(),
        },
        Arg::Client => context.clients.clone(),
        Arg::Delay => owned(DELAYS),
        Arg::Rate => owned(RATES),
        Arg::Policy => owned(POLICIES),
        Arg::Every => owned(&["every=1s", "off"]),
        Arg::Topic => COMMANDS.iter().map(|s| s.name.to_owned()).collect(),
        _ => Vec::new(),
    }
}

/// The keyword options left (and `for` on a fault), or the sample values after a keyword.
fn options(spec: &CommandSpec, options: &[Arg], rest: &[&str]) -> Vec<String> {
    let given = |keyword: &str| rest.iter().any(|word| word.eq_ignore_ascii_case(keyword));
    match rest.last() {
        Some(word) if word.eq_ignore_ascii_case("jitter") => return owned(JITTERS),
        Some(word) if word.eq_ignore_ascii_case("burst") => return owned(BURSTS),
        _ => {}
    }
    let mut pool = Vec::new();
    for option in options {
        match option {
            Arg::Jitter if !given("jitter") => pool.push("jitter"),
            Arg::Spread if !given("normal") && !given("uniform") => {
                pool.extend(["normal", "uniform"]);
            }
            Arg::Burst if !given("burst") => pool.push("burst"),
            _ => {}
        }
    }
    if spec.kind == Kind::Fault {
        pool.push("for");
    }
    owned(&pool)
}

/// The servers not yet named in a partition, for the name after the last `,` or `/` of
/// `prefix`.
fn groups(before: &[&str], prefix: &str, context: &Context) -> (usize, Vec<String>) {
    let skip = prefix.rfind([',', '/']).map_or(0, |i| i + 1);
    let mut named = vec![false; context.servers.len()];
    let typed = before.iter().copied().chain([&prefix[..skip]]);
    for name in typed.flat_map(|word| word.split([',', '/'])) {
        if let Some(flag) = resolve_server(name, context).ok().and_then(|id| named.get_mut(id)) {
            *flag = true;
        }
    }
    let pool =
        named.iter().enumerate().filter(|(_, named)| !**named).map(|(id, _)| context.name(id));
    (skip, pool.collect())
}

/// The input with the completed word replaced by candidate `choice` (taken modulo the number
/// of candidates, so a caller can cycle by passing the original input and 0, 1, 2, …).
/// A unique candidate gets a trailing space, ready for the next word; with several, none is
/// added so cycling keeps working. With no candidates the input comes back unchanged.
pub fn apply_completion(input: &str, completion: &Completion, choice: usize) -> String {
    let count = completion.candidates.len();
    let (Some(head), Some(candidate)) = (
        input.get(..completion.start),
        completion.candidates.get(choice.checked_rem(count).unwrap_or(0)),
    ) else {
        return input.to_owned();
    };
    let mut out = format!("{head}{candidate}");
    if count == 1 {
        out.push(' ');
    }
    out
}

/// The usage of the verb typed so far, to show under the command line: the verb is the first
/// word (or, while it is still being typed, the one verb it is a prefix of). `None` for an
/// empty line or an unknown verb.
pub fn hint(input: &str) -> Option<String> {
    let words = words(input);
    let &(_, verb) = words.first()?;
    if let Some(spec) = spec(verb) {
        return Some(spec.usage.to_owned());
    }
    let still_typing = words.len() == 1 && !input.chars().last().is_none_or(is_separator);
    if !still_typing {
        return None;
    }
    let folded = verb.to_lowercase();
    let mut matches = COMMANDS.iter().filter(|s| s.name.starts_with(&folded));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only.usage.to_owned()),
        _ => None,
    }
}
