//! The dashboard end to end: the real binary in a detached tmux session, driven with
//! `send-keys` and read back with `capture-pane`. Every wait polls the screen for an
//! observable condition (with a deadline), never a fixed sleep.
//!
//! Needs `tmux`. Without it the test is skipped with a note, except under CI (`CI` set, as
//! `.ci/run` runs), where a missing tmux fails it; `HERDCTL_SKIP_TMUX=1` skips it anywhere.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herdctl::config::Topology;

/// How long any one condition may take to show up on the screen.
const PATIENCE: Duration = Duration::from_secs(15);
/// Pause between two looks at the screen while waiting.
const POLL: Duration = Duration::from_millis(50);

const WIDTH: u16 = 120;
const HEIGHT: u16 = 36;

/// Runs the binary under `/bin/sh` so that, once it exits, the terminal modes it left behind
/// and its exit code can be read back (tmux's own `pane_dead_status` is not always filled in).
/// `$0` is the binary, `$@` its arguments.
const WRAPPER: &str = r#""$0" "$@" 2>herdctl-stderr.txt
code=$?
stty -a >stty-after.txt 2>&1
echo "$code" >herdctl-exit.txt
exit "$code""#;

/// A private tmux server (its own socket, inside the test's temporary directory) holding one
/// session; the server is killed on drop, so a failing test leaves nothing behind.
struct Tmux {
    socket: PathBuf,
    session: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-S").arg(&self.socket).env_remove("TMUX").env_remove("TMUX_PANE");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().unwrap();
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn target(&self) -> String {
        format!("{}:", self.session)
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", &self.target(), "-l", text]);
    }

    fn press(&self, key: &str) {
        self.run(&["send-keys", "-t", &self.target(), key]);
    }

    fn screen(&self) -> String {
        let output = self.run(&["capture-pane", "-p", "-t", &self.target()]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn pane_format(&self, format: &str) -> String {
        let output = self.run(&["display-message", "-p", "-t", &self.target(), format]);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

/// Is tmux there? Fails the test when it is not, unless the run opted out.
fn tmux_available() -> bool {
    match Command::new("tmux").arg("-V").output() {
        Ok(output) if output.status.success() => true,
        result => {
            let skip = std::env::var_os("HERDCTL_SKIP_TMUX").is_some_and(|v| v == "1");
            if skip || std::env::var_os("CI").is_none() {
                eprintln!(
                    "note: tmux is not usable ({result:?}); the tmux end-to-end test is skipped"
                );
                return false;
            }
            panic!(
                "under CI this test needs tmux on PATH (it drives the dashboard in a tmux \
                 session); install tmux, or set HERDCTL_SKIP_TMUX=1 to skip it. tmux -V gave: \
                 {result:?}"
            );
        }
    }
}

fn unique_name() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("herdctl-e2e-{}-{nanos}", std::process::id())
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Polls `look` until it returns `Some`, or panics after [`PATIENCE`] with the last screen
/// and whatever the binary wrote to stderr.
fn wait_for<T>(
    tmux: &Tmux,
    dir: &Path,
    what: &str,
    mut look: impl FnMut(&Tmux, &str) -> Option<T>,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let screen = tmux.screen();
        if let Some(found) = look(tmux, &screen) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}\n\
             --- last screen ---\n{screen}\n--- herdctl stderr ---\n{}",
            read_or_empty(&dir.join("herdctl-stderr.txt"))
        );
        std::thread::sleep(POLL);
    }
}

/// Starts the dashboard with `args` in a fresh tmux session whose files live in `dir`.
fn start_dashboard(dir: &Path, args: &[&str]) -> Tmux {
    start_sized(dir, args, (WIDTH, HEIGHT))
}

/// [`start_dashboard`] in a terminal of `(columns, rows)`.
fn start_sized(dir: &Path, args: &[&str], size: (u16, u16)) -> Tmux {
    start_with_env(dir, args, size, &[])
}

/// As [`start_sized`], with `env` set for herdctl.
fn start_with_env(
    dir: &Path,
    args: &[&str],
    (width, height): (u16, u16),
    env: &[(&str, &str)],
) -> Tmux {
    let config = dir.join("tmux.conf");
    std::fs::write(&config, "set -g remain-on-exit on\nset -g status off\n").unwrap();
    let tmux = Tmux { socket: dir.join("tmux.sock"), session: unique_name() };
    let size = (width.to_string(), height.to_string());
    // A tmux server starting while another test's exits can fail once ("server exited
    // unexpectedly"): try again before giving up.
    let mut failure = String::new();
    for _ in 0..3 {
        let output = tmux
            .command()
            .arg("-f")
            .arg(&config)
            .args(["new-session", "-d", "-s", &tmux.session, "-x", &size.0, "-y", &size.1, "-c"])
            .arg(dir)
            .args(["/bin/sh", "-c", WRAPPER, env!("CARGO_BIN_EXE_herdctl")])
            .args(args)
            .current_dir(dir)
            .env("HERDCTL_DATA_DIR", dir)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        if output.status.success() {
            return tmux;
        }
        failure = String::from_utf8_lossy(&output.stderr).into_owned();
    }
    panic!("tmux new-session failed three times: {failure}");
}

/// `q` on a herd with clients or faults asks first; `confirm` (a second `q`, or `y`) quits.
fn quit_confirmed(tmux: &Tmux, dir: &Path, confirm: &str) {
    tmux.press("q");
    wait_for(tmux, dir, "the quit question", |_, screen| {
        screen.contains("quit? the herd stops, with its").then_some(())
    });
    tmux.press(confirm);
    assert_exited_cleanly(tmux, dir, &format!("q then {confirm}"));
}

/// Waits for herdctl to exit after `cause`, then checks it exited 0 and handed the terminal
/// back. The pane is dead once nothing holds its terminal any more: herdctl and the wrapper
/// have both exited.
fn assert_exited_cleanly(tmux: &Tmux, dir: &Path, cause: &str) {
    let modes = wait_for(tmux, dir, &format!("herdctl to exit after {cause}"), |tmux, _| {
        let state = tmux.pane_format("#{pane_dead}|#{alternate_on}|#{mouse_any_flag}");
        state.strip_prefix("1|").map(str::to_owned)
    });
    let (alternate, mouse) = modes.split_once('|').unwrap_or((&modes, "?"));
    let stderr = read_or_empty(&dir.join("herdctl-stderr.txt"));
    let code = read_or_empty(&dir.join("herdctl-exit.txt"));
    assert_eq!(code.trim(), "0", "herdctl exit status; stderr:\n{stderr}");
    assert_eq!(alternate, "0", "the alternate screen is still on after exit");
    assert_eq!(mouse, "0", "mouse reporting is still on after exit: clicks would print");
    let stty = read_or_empty(&dir.join("stty-after.txt"));
    let modes: Vec<&str> = stty.split(|c: char| c.is_whitespace() || c == ';').collect();
    for mode in ["icanon", "echo"] {
        assert!(modes.contains(&mode), "terminal left without {mode} (raw mode?):\n{stty}");
    }
}

fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

/// The status line under the panes (the last but one row), without trailing blanks.
fn status_line(screen: &str) -> Option<&str> {
    let rows: Vec<&str> = screen.lines().collect();
    rows.len().checked_sub(2).map(|i| rows[i].trim_end())
}

/// The row of the clients table for `client`, split into its cells.
fn client_row(screen: &str, client: &str) -> Option<Vec<String>> {
    screen.lines().find_map(|line| {
        let cells: Vec<String> = line
            .trim_matches(|c: char| c == '│' || c.is_whitespace())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        (cells.first().map(String::as_str) == Some(client)).then_some(cells)
    })
}

/// The left pane of the top half (the topology graph): each line up to where the next
/// pane's border begins.
fn topology_pane(screen: &str) -> String {
    screen
        .lines()
        .skip(1)
        .take_while(|line| !line.starts_with('╰'))
        .map(|line| line.split("││").next().unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The title row of the pane shown under the tab strip, when it is `title` (` 3 Traffic …`).
fn pane_title<'a>(screen: &'a str, title: &str) -> Option<&'a str> {
    screen.lines().find(|line| line.starts_with(&format!("╭{title}")))
}

/// Where `text` begins on the screen: its column and row, from 0.
fn position(screen: &str, text: &str) -> Option<(u16, u16)> {
    screen.lines().enumerate().find_map(|(row, line)| {
        let at = line.find(text)?;
        Some((line[..at].chars().count() as u16, row as u16))
    })
}

/// A left click on the cell at `(column, row)` (from 0), as a terminal reporting the mouse
/// in SGR's encoding sends it: the press, then the release (columns and rows from 1).
fn click(tmux: &Tmux, (column, row): (u16, u16)) {
    let (x, y) = (column + 1, row + 1);
    tmux.type_text(&format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m"));
}

#[test]
fn dashboard_reports_a_client_cuts_links_partitions_storms_and_quits_cleanly() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path();
    let log_dir = dir_path.join("logs");
    let log_arg = log_dir.to_str().unwrap();
    let tmux = start_dashboard(dir_path, &["--base-port", "0", "--log-dir", log_arg]);

    // The dashboard is up, every server listens and every link is connected.
    wait_for(&tmux, dir_path, "the dashboard with 5 servers and 6 links up", |_, screen| {
        let top = header(screen);
        (top.contains("herdctl") && top.contains("servers 5/5") && top.contains("links 6/6"))
            .then_some(())
    });

    // (1) A client reports at Bailey; the report floods to every server.
    tmux.type_text(":iamat Bailey kiwi 34.068930,-118.445127");
    tmux.press("Enter");
    let row = wait_for(&tmux, dir_path, "kiwi known by 5/5 and the AT reply", |_, screen| {
        let row = client_row(screen, "kiwi")?;
        let known = row.iter().any(|cell| cell == "5/5");
        let replied = screen.lines().any(|line| {
            line.starts_with("✓ Bailey: AT Bailey ")
                && line.contains(" kiwi +34.068930-118.445127 ")
        });
        (known && replied).then_some(row)
    });
    assert_eq!(row.get(1).map(String::as_str), Some("+34.068930-118.445127"), "row: {row:?}");
    assert_eq!(row.get(3).map(String::as_str), Some("Bailey"), "origin in row: {row:?}");

    // (2) Cut Bailey–Bona both ways: status, header count and the marker on the link.
    tmux.type_text(":cut Bailey Bona");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the cut Bailey–Bona link", |_, screen| {
        let confirmed = status_line(screen) == Some("✓ cut Bailey<->Bona");
        let counted = header(screen).contains("links 5/6");
        let marked = topology_pane(screen).matches('╳').count() == 1;
        (confirmed && counted && marked).then_some(())
    });

    // (3) Cut Bona->Clark one way: Bona is left of Clark, so the mark points right.
    tmux.type_text(":cut Bona->Clark");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the one-way cut Bona->Clark", |_, screen| {
        let confirmed = status_line(screen) == Some("✓ cut Bona->Clark");
        let counted = header(screen).contains("links 4/6");
        let pane = topology_pane(screen);
        let marked = pane.matches('⇥').count() == 1 && pane.matches('╳').count() == 1;
        (confirmed && counted && marked).then_some(())
    });

    // (4) A partition: every link between the groups is cut both ways (Bona->Clark too, so
    // its one-way mark gives way to a two-way one); Bailey–Bona stays cut.
    tmux.type_text(":partition Bailey,Bona / Campbell");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the partition", |_, screen| {
        let confirmed =
            status_line(screen) == Some("✓ partition Bailey,Bona / Campbell,Clark,Jaquez");
        let counted = header(screen).contains("links 2/6");
        let pane = topology_pane(screen);
        let marked = pane.matches('╳').count() == 4 && !pane.contains('⇥');
        (confirmed && counted && marked).then_some(())
    });

    // (5) An off-spec flooding policy: the answer and the header's warning.
    tmux.type_text(":policy storm ttl=3");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the storm policy", |_, screen| {
        let confirmed = status_line(screen) == Some("✓ policy storm ttl=3 (off-spec)");
        let flagged = header(screen).contains("policy OFF-SPEC storm ttl=3");
        (confirmed && flagged).then_some(())
    });

    // (6) The Faults overlay lists the faults as typed, then closes.
    tmux.press("F");
    wait_for(&tmux, dir_path, "the Faults overlay", |_, screen| {
        let listed = ["cut Bailey<->Bona", "cut Bona->Clark", "partition Bailey,Bona / Campbell"]
            .iter()
            .all(|label| screen.contains(label));
        (screen.contains("Faults 3") && listed).then_some(())
    });
    tmux.press("Escape");
    wait_for(&tmux, dir_path, "the Faults overlay to close", |_, screen| {
        (!screen.contains("Faults 3")).then_some(())
    });

    // (7) Quit: with clients and faults the herd asks first; a second q quits, and the
    // process exits with success and hands the terminal back.
    quit_confirmed(&tmux, dir_path, "q");
    let after = tmux.screen();
    assert!(!after.contains("servers 5/5"), "the dashboard is still on screen:\n{after}");
    assert!(log_dir.join("Bailey.log").is_file(), "no per-server log in --log-dir");

    tmux.run(&["kill-session", "-t", &tmux.session]);
    let gone = tmux.command().args(["has-session", "-t", &tmux.session]).output().unwrap();
    assert!(!gone.status.success(), "the tmux session is still there");
}

/// SIGHUP (the terminal went away) ends the dashboard cleanly: every log line is written, the
/// terminal is restored and the exit status is 0.
#[test]
fn dashboard_on_sighup_flushes_the_logs_and_exits_cleanly() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path();
    let mut topology = Topology::load("line:2", 0).unwrap();
    let free: Vec<TcpListener> =
        (0..2).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    for (server, listener) in topology.servers.iter_mut().zip(free) {
        server.port = listener.local_addr().unwrap().port();
    }
    let file = dir_path.join("herd.toml");
    std::fs::write(&file, topology.to_toml()).unwrap();
    let tmux = start_dashboard(dir_path, &["-t", file.to_str().unwrap(), "--log-dir", "logs"]);
    wait_for(&tmux, dir_path, "the dashboard with 2 servers up", |_, screen| {
        header(screen).contains("servers 2/2").then_some(())
    });

    let lines: Vec<String> =
        (0..300).map(|n| format!("IAMAT c{n:03} +34.068930-118.445127 1621464827.5\n")).collect();
    let lines = lines.concat();
    let mut stream = TcpStream::connect(("127.0.0.1", topology.servers[0].port)).unwrap();
    stream.write_all(lines.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert_eq!(reply.lines().filter(|l| l.starts_with("AT ")).count(), 300, "{reply}");

    // herdctl is the only child of the wrapper shell that the pane runs.
    let shell = tmux.pane_format("#{pane_pid}");
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"));
    let pid = children.unwrap().trim().to_owned();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    assert_exited_cleanly(&tmux, dir_path, "SIGHUP");

    let log = read_or_empty(&dir_path.join("logs/S1.log"));
    let received = log.lines().filter(|l| l.contains(" IN ") && l.contains(" IAMAT c")).count();
    assert_eq!(received, 300, "IN lines in the log");
    assert!(log.ends_with(" -- herdctl 0.1.0 stopped\n"), "{log}");
}

/// The step a stepping lesson waits at (`next 12:` on its row), if it waits.
fn waiting_at(screen: &str) -> Option<String> {
    let row = screen.lines().find(|l| l.contains("press n"))?;
    let after = row.split("next ").nth(1)?;
    Some(after.split(':').next()?.to_owned())
}

/// `herdctl tour` at 80×24, stepped with `n` to its end with its captions on screen, recorded;
/// then `herdctl replay` of that recording, played to its end. Both exit cleanly on `q`.
#[test]
fn the_tour_steps_to_its_end_at_80x24_and_its_recording_replays() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path();
    let args = ["tour", "--step", "--log-dir", "none", "--base-port", "0", "--record", "t.ndjson"];
    let tmux = start_sized(dir_path, &args, (80, 24));
    let mut at = wait_for(&tmux, dir_path, "the tour waiting for n", |_, s| waiting_at(s));
    let mut captions = 0;
    loop {
        tmux.press("n");
        let next = wait_for(&tmux, dir_path, "the tour's next step", |_, screen| {
            if screen.contains("✓ done") {
                return Some(None);
            }
            waiting_at(screen).filter(|now| *now != at).map(Some)
        });
        let screen = tmux.screen();
        captions += usize::from(screen.contains("Bailey tells its neighbours"));
        match next {
            Some(next) => at = next,
            None => break,
        }
    }
    let screen = tmux.screen();
    assert!(screen.contains("That's the tour. ? for help"), "{screen}");
    let row = screen.lines().find(|l| l.contains(" done ")).unwrap();
    assert!(row.contains("✓ done") && !row.contains('✗'), "every expectation held:\n{screen}");
    assert!(captions > 0, "a caption showed while stepping");
    quit_confirmed(&tmux, dir_path, "y");
    drop(tmux);

    let tmux = start_sized(dir_path, &["replay", "t.ndjson"], (80, 24));
    wait_for(&tmux, dir_path, "the replay at its start", |_, s| s.contains("#0/").then_some(()));
    tmux.press("End");
    wait_for(&tmux, dir_path, "the replay at its end", |_, screen| {
        let row = screen.lines().find(|l| l.contains(" / ") && l.contains('#'))?;
        let counts = row.split('#').nth(1)?.split_whitespace().next()?;
        let (shown, total) = counts.split_once('/')?;
        (shown == total && shown != "0").then_some(())
    });
    // The recording ends with the herd stopping as the tour's dashboard quit.
    let screen = tmux.screen();
    assert!(header(&screen).contains("srv 0/5") && header(&screen).contains("cli 1"), "{screen}");
    tmux.press("q");
    assert_exited_cleanly(&tmux, dir_path, "q");
}

/// At 80×24, where one pane shows at a time: every pane reached with its key, the traffic
/// scrolled back (it freezes), the clients filtered, and a link selected by a click on its
/// line; quitting hands the mouse back with the rest of the terminal.
#[test]
fn at_80x24_each_pane_shows_lists_scroll_and_filter_and_a_click_selects_a_link() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path();
    let log_dir = dir_path.join("logs");
    let args = ["--base-port", "0", "--log-dir", log_dir.to_str().unwrap()];
    let tmux = start_sized(dir_path, &args, (80, 24));
    wait_for(&tmux, dir_path, "the dashboard with 5 servers and 6 links up", |_, screen| {
        let top = header(screen);
        (top.contains("srv 5/5") && top.contains("lnk 6/6")).then_some(())
    });
    tmux.type_text(":iamat Bailey kiwi 34.068930,-118.445127");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the AT reply", |_, screen| {
        status_line(screen).is_some_and(|s| s.starts_with("✓ Bailey: AT Bailey ")).then_some(())
    });

    // Each pane with its key, alone under the tab strip.
    for (key, title) in [("2", " 2 Clients"), ("3", " 3 Traffic"), ("4", " 4 World")]
        .into_iter()
        .chain([("1", " 1 Topology")])
    {
        tmux.press(key);
        wait_for(&tmux, dir_path, &format!("the{title} pane"), |_, screen| {
            let tabs = screen.lines().nth(1).unwrap_or("");
            (pane_title(screen, title).is_some() && tabs.contains(" 1 Topology  2 Clients"))
                .then_some(())
        });
    }

    // The traffic scrolled back a page stops following the herd, and says so.
    tmux.press("3");
    wait_for(&tmux, dir_path, "the traffic pane with kiwi's report", |_, screen| {
        let title = pane_title(screen, " 3 Traffic")?;
        (screen.contains("IAMAT kiwi") && !title.contains("frozen")).then_some(())
    });
    tmux.press("PageUp");
    wait_for(&tmux, dir_path, "the traffic frozen", |_, screen| {
        pane_title(screen, " 3 Traffic · all servers · ‖ frozen,").map(|_| ())
    });
    tmux.press("End");
    wait_for(&tmux, dir_path, "the traffic following again", |_, screen| {
        let title = pane_title(screen, " 3 Traffic")?;
        (!title.contains("frozen")).then_some(())
    });

    // The clients filtered: a matching filter keeps kiwi's row, another hides it.
    tmux.press("2");
    wait_for(&tmux, dir_path, "kiwi's row", |_, screen| client_row(screen, "kiwi").map(|_| ()));
    tmux.type_text("/kiw");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the clients filtered by kiw", |_, screen| {
        pane_title(screen, " 2 Clients 1 · /kiw: 1 match")?;
        client_row(screen, "kiwi").map(|_| ())
    });
    tmux.type_text("/");
    tmux.press("C-u");
    tmux.type_text("zzz");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the clients filtered by zzz", |_, screen| {
        pane_title(screen, " 2 Clients 1 · /zzz: 0 match")?;
        client_row(screen, "kiwi").is_none().then_some(())
    });
    tmux.press("Escape");
    wait_for(&tmux, dir_path, "the filter cleared", |_, screen| {
        (status_line(screen) == Some("· filter cleared") && client_row(screen, "kiwi").is_some())
            .then_some(())
    });

    // A click on the line between Bona and Clark selects that link: the status line and the
    // pane's title name it.
    tmux.press("1");
    // (A look may catch a frame half written: wait for all that is needed.)
    let (screen, bona, clark, campbell) =
        wait_for(&tmux, dir_path, "the topology with its servers", |_, screen| {
            pane_title(screen, " 1 Topology")?;
            let (bona, clark) = (position(screen, "● Bona")?, position(screen, "● Clark")?);
            let campbell = position(screen, "● Campbell")?;
            Some((screen.to_owned(), bona, clark, campbell))
        });
    let middle = (bona.0.midpoint(clark.0), bona.1.midpoint(clark.1));
    // The cell of the link's line (braille) nearest the middle between the two glyphs.
    let (x, y, _) = screen
        .lines()
        .enumerate()
        .flat_map(|(row, line)| {
            line.chars().enumerate().map(move |(x, c)| (x as u16, row as u16, c))
        })
        .filter(|&(_, _, c)| ('\u{2801}'..='\u{28ff}').contains(&c))
        .min_by_key(|&(x, y, _)| x.abs_diff(middle.0) + 2 * y.abs_diff(middle.1))
        .unwrap_or_else(|| panic!("no link drawn near {middle:?}:\n{screen}"));
    click(&tmux, (x, y));
    wait_for(&tmux, dir_path, "the link Bona–Clark selected by the click", |_, screen| {
        let named = status_line(screen) == Some("· link Bona–Clark");
        let titled = pane_title(screen, " 1 Topology · link Bona–Clark").is_some();
        (named && titled).then_some(())
    });
    // A click on Campbell's name selects it.
    click(&tmux, (campbell.0 + 4, campbell.1));
    wait_for(&tmux, dir_path, "Campbell selected by the click", |_, screen| {
        (status_line(screen) == Some("· server Campbell")
            && pane_title(screen, " 1 Topology · Campbell ").is_some())
        .then_some(())
    });

    quit_confirmed(&tmux, dir_path, "y");
}

/// `NO_COLOR` set: the dashboard draws without a colour (bold and layout only).
#[test]
fn no_color_draws_the_dashboard_without_colours() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path();
    let args = ["--base-port", "0", "--log-dir", "none"];
    let tmux = start_with_env(dir_path, &args, (80, 24), &[("NO_COLOR", "1")]);
    wait_for(&tmux, dir_path, "the dashboard", |_, screen| {
        header(screen).contains("srv 5/5").then_some(())
    });
    let output = tmux.run(&["capture-pane", "-e", "-p", "-t", &tmux.target()]);
    let styled = String::from_utf8_lossy(&output.stdout);
    for colour in ["\x1b[38;", "\x1b[48;", "\x1b[3", "\x1b[4"] {
        let coloured = styled.match_indices(colour).any(|(i, _)| {
            // `ESC[39m` and `ESC[49m` put the terminal's own colours back: no colour.
            !styled[i..].starts_with("\x1b[39m") && !styled[i..].starts_with("\x1b[49m")
        });
        assert!(!coloured, "a colour ({colour:?}) drawn under NO_COLOR:\n{styled:?}");
    }
    tmux.press("q");
    assert_exited_cleanly(&tmux, dir_path, "q");
}

/// `herdctl attach` at 80×24 over a herd in another process: its five servers are seen, a
/// report sent from the console floods, the process dies (every server unseen, `◌`, and said
/// so), a new process comes back on the same endpoint (seen again, said so), Ctrl-C quits.
#[test]
fn attach_shows_a_herd_of_another_process_lose_sight_of_it_and_see_it_again() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path();
    let (herd, attached) = common::one_process_herd(dir_path, "e2e-token");
    let admin = herd.admin.clone();
    let attached = attached.to_str().unwrap().to_owned();
    let args = ["attach", &attached, "--token-file", "admin.token"];
    let tmux = start_sized(dir_path, &args, (80, 24));
    wait_for(&tmux, dir_path, "five servers seen", |_, screen| {
        header(screen).contains("srv 5/5").then_some(())
    });
    tmux.type_text(":iamat Bailey kiwi +34.068930-118.445127");
    tmux.press("Enter");
    wait_for(&tmux, dir_path, "the IAMAT's answer", |_, screen| {
        status_line(screen).filter(|s| s.contains("Bailey: AT Bailey")).map(|_| ())
    });
    drop(herd);
    let screen = wait_for(&tmux, dir_path, "every server unseen", |_, screen| {
        header(screen).contains("? 5").then(|| screen.to_owned())
    });
    assert_eq!(topology_pane(&screen).matches('◌').count(), 5, "{screen}");
    let said = status_line(&screen).unwrap_or_default();
    assert!(said.contains("unreachable"), "{screen}");
    let _back = common::HerdProcess::start(
        dir_path,
        &dir_path.join("herd.toml"),
        &dir_path.join("admin.token"),
        &admin,
    );
    let screen = wait_for(&tmux, dir_path, "the servers seen again", |_, screen| {
        (header(screen).contains("srv 5/5") && !header(screen).contains("? "))
            .then(|| screen.to_owned())
    });
    assert!(!topology_pane(&screen).contains('◌'), "{screen}");
    let said = status_line(&screen).unwrap_or_default();
    assert!(said.contains("a new process"), "{screen}");
    tmux.press("C-c");
    assert_exited_cleanly(&tmux, dir_path, "Ctrl-C");
}
