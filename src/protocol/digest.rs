//! The anti-entropy digest, a server-to-server line of this implementation's own:
//! `DIGEST <sender> <ask> <client> <time> <client> <time> ...`, listing the newest client time
//! the sender holds for each client. A table's digest is split over lines of a bounded size
//! and ends with a line without entries, so the receiver knows when it has the whole table.
//! `ask` 1 asks the receiver, if it lacks something the sender has, to answer with its own
//! digest (with `ask` 0), so that the sender can send it what it lacks.
//!
//! Parsing, formatting, and [`lacking`]: what a digest's sender and its receiver each lack.

use std::collections::HashMap;

use super::{ClientTime, Invalid};

/// One `<client> <time>` pair of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry<'a> {
    pub client: &'a str,
    pub time_text: &'a str,
    pub time: ClientTime,
}

/// One `DIGEST` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest<'a> {
    /// The name of the server that sent it.
    pub sender: &'a str,
    /// Answer with your own digest if you lack something I have.
    pub ask: bool,
    pub entries: Vec<DigestEntry<'a>>,
}

impl Digest<'_> {
    /// Is this the line that ends a digest (it has no entries)?
    pub fn is_end(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The fields after `DIGEST`.
pub(super) fn parse_digest<'a>(
    mut args: impl Iterator<Item = &'a str>,
) -> Result<Digest<'a>, Invalid> {
    let (Some(sender), Some(ask)) = (args.next(), args.next()) else {
        return Err(Invalid::FieldCount);
    };
    let ask = match ask {
        "0" => false,
        "1" => true,
        _ => return Err(Invalid::Ask),
    };
    let mut entries = Vec::new();
    while let Some(client) = args.next() {
        let time_text = args.next().ok_or(Invalid::FieldCount)?;
        let time = ClientTime::parse(time_text).ok_or(Invalid::Time)?;
        entries.push(DigestEntry { client, time_text, time });
    }
    Ok(Digest { sender, ask, entries })
}

/// Entries per `DIGEST` line unless told otherwise.
pub const DIGEST_ENTRIES: usize = 256;

/// A `DIGEST` line takes no further entry once it is this long (bytes), however few it has:
/// far under the 64 KiB a peer may be prepared to read as one line.
pub const DIGEST_LINE_BYTES: usize = 16 * 1024;

/// The digest of a table of `(client, time text)` entries as `DIGEST` lines, each ending in
/// `\n`, in client order: at most `per_line` entries (at least 1) and about
/// [`DIGEST_LINE_BYTES`] to a line, then one line without entries that ends the digest.
pub fn digest_lines<'e>(
    sender: &str,
    ask: bool,
    entries: impl IntoIterator<Item = (&'e str, &'e str)>,
    per_line: usize,
) -> Vec<String> {
    let mut entries: Vec<(&str, &str)> = entries.into_iter().collect();
    entries.sort_unstable();
    let head = format!("DIGEST {sender} {}", u8::from(ask));
    let per_line = per_line.max(1);
    let mut lines = Vec::new();
    let mut line = head.clone();
    let mut count = 0;
    for (client, time) in entries {
        let full = count == per_line || line.len() + client.len() + time.len() > DIGEST_LINE_BYTES;
        if count > 0 && full {
            lines.push(line + "\n");
            (line, count) = (head.clone(), 0);
        }
        for field in [client, time] {
            line.push(' ');
            line.push_str(field);
        }
        count += 1;
    }
    if count > 0 {
        lines.push(line + "\n");
    }
    lines.push(head + "\n");
    lines
}

/// What a digest's sender and its receiver lack, by the receiver's table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lacking<'t> {
    /// The receiver's clients the sender has no report of, or an older one (in client order):
    /// the receiver sends it these.
    pub sender_lacks: Vec<&'t str>,
    /// Does the sender have a client the receiver has no report of, or only an older one?
    pub receiver_lacks: bool,
}

/// Compares a whole digest (the entries of all its lines) with the receiver's table, given as
/// each client, once, with its newest time.
pub fn lacking<'t>(
    digest: &[DigestEntry<'_>],
    table: impl IntoIterator<Item = (&'t str, &'t ClientTime)>,
) -> Lacking<'t> {
    let mut theirs: HashMap<&str, &ClientTime> = HashMap::with_capacity(digest.len());
    for entry in digest {
        let newest = theirs.entry(entry.client).or_insert(&entry.time);
        *newest = (*newest).max(&entry.time);
    }
    let mut sender_lacks = Vec::new();
    // Digest clients the receiver holds at least as new a report of.
    let mut covered = 0;
    for (client, time) in table {
        let Some(&their) = theirs.get(client) else {
            sender_lacks.push(client);
            continue;
        };
        if their < time {
            sender_lacks.push(client);
        }
        if their <= time {
            covered += 1;
        }
    }
    sender_lacks.sort_unstable();
    Lacking { sender_lacks, receiver_lacks: covered < theirs.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Command, parse_line};
    use proptest::prelude::*;

    fn time(text: &str) -> ClientTime {
        ClientTime::parse(text).unwrap()
    }

    fn entry<'a>(client: &'a str, time_text: &'a str) -> DigestEntry<'a> {
        DigestEntry { client, time_text, time: time(time_text) }
    }

    fn parse(line: &str) -> Digest<'_> {
        let Ok(Some(Command::Digest(digest))) = parse_line(line.as_bytes()) else {
            panic!("{line:?} is not a digest");
        };
        digest
    }

    #[test]
    fn a_digest_is_split_into_lines_and_ends_with_an_empty_one() {
        let table = [("kiwi", "5"), ("apple", "1.5"), ("fig", "-2"), ("date", "7")];
        assert_eq!(
            digest_lines("Bona", true, table, 3),
            [
                "DIGEST Bona 1 apple 1.5 date 7 fig -2\n",
                "DIGEST Bona 1 kiwi 5\n",
                "DIGEST Bona 1\n",
            ]
        );
        assert_eq!(digest_lines("Bona", false, table, 4).len(), 2);
        assert_eq!(digest_lines("Bona", false, table, 0).len(), 5);
        assert_eq!(digest_lines("Clark", false, [], 3), ["DIGEST Clark 0\n"]);
    }

    #[test]
    fn long_entries_keep_a_line_under_the_byte_budget() {
        let names: Vec<String> = (0..100).map(|i| format!("{i:0>1000}")).collect();
        let lines = digest_lines("Bona", false, names.iter().map(|n| (n.as_str(), "1")), 1000);
        assert!(lines.len() > 6, "{}", lines.len());
        assert!(lines.iter().all(|l| l.len() <= DIGEST_LINE_BYTES + 1));
        // An entry longer than the budget still gets a line of its own.
        let huge = "x".repeat(DIGEST_LINE_BYTES * 2);
        let lines = digest_lines("Bona", false, [(huge.as_str(), "1"), ("y", "2")], 10);
        assert_eq!(lines.len(), 3);
        assert_eq!(parse(&lines[0]).entries.len(), 1);
    }

    proptest! {
        #[test]
        fn digest_lines_parse_back_to_the_table(
            table in proptest::collection::btree_map("[a-z.]{1,8}", "-?[0-9]{1,10}(\\.[0-9]{1,12})?", 0..40),
            per_line in 1usize..10,
            ask in any::<bool>(),
        ) {
            let lines = digest_lines("Bona", ask, table.iter().map(|(c, t)| (c.as_str(), t.as_str())), per_line);
            let digests: Vec<Digest> = lines.iter().map(|line| parse(line)).collect();
            prop_assert!(digests.iter().all(|d| d.sender == "Bona" && d.ask == ask));
            prop_assert!(digests.iter().all(|d| d.entries.len() <= per_line));
            prop_assert!(digests.last().is_some_and(Digest::is_end));
            prop_assert_eq!(digests.iter().filter(|d| d.is_end()).count(), 1);
            let back: Vec<(&str, &str)> =
                digests.iter().flat_map(|d| d.entries.iter().map(|e| (e.client, e.time_text))).collect();
            let want: Vec<(&str, &str)> = table.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
            prop_assert_eq!(back, want);
        }
    }

    #[test]
    fn lacking_compares_a_digest_with_a_table() {
        let digest = [entry("same", "5"), entry("newer_here", "5"), entry("older_here", "5")];
        let only_there = entry("only_there", "1");
        let table = [
            ("same", time("5.0")),
            ("newer_here", time("5.000000000001")),
            ("older_here", time("4.9")),
            ("only_here", time("-1")),
        ];
        let view = || table.iter().map(|(c, t)| (*c, t));
        let lacks = lacking(&digest, view());
        assert_eq!(lacks.sender_lacks, ["newer_here", "only_here"]);
        assert!(lacks.receiver_lacks, "older_here is older here");

        let caught_up = [entry("same", "5"), entry("newer_here", "5"), entry("older_here", "4.9")];
        assert!(!lacking(&caught_up, view()).receiver_lacks);
        let more = [caught_up[0].clone(), only_there];
        assert!(lacking(&more, view()).receiver_lacks, "only_there is not here");
    }

    #[test]
    fn an_empty_side_lacks_everything_the_other_has() {
        let table = [("kiwi", time("5")), ("fig", time("6"))];
        let lacks = lacking(&[], table.iter().map(|(c, t)| (*c, t)));
        assert_eq!(lacks, Lacking { sender_lacks: vec!["fig", "kiwi"], receiver_lacks: false });
        let lacks = lacking(&[entry("kiwi", "5")], []);
        assert_eq!(lacks, Lacking { sender_lacks: vec![], receiver_lacks: true });
        assert_eq!(lacking(&[], []), Lacking::default());
    }

    #[test]
    fn a_client_listed_twice_counts_at_its_newest() {
        let digest = [entry("kiwi", "7"), entry("kiwi", "3")];
        let table = [("kiwi", time("5"))];
        let lacks = lacking(&digest, table.iter().map(|(c, t)| (*c, t)));
        assert_eq!(lacks, Lacking { sender_lacks: vec![], receiver_lacks: true });
    }
}
