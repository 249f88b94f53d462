//! "Every flood has finished", seen from outside: after a load's last reply, one marker IAMAT
//! (a fresh client) goes to each server; floods are FIFO per link, so once every server knows
//! every marker, every earlier report has reached everyone. Each task's last client is then
//! checked on every server too (a herd whose links are not FIFO is still caught). Servers are
//! asked with WHATSAT until the answer is not `? `.

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::join_all;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout_at};

use super::load::{self, ReplyBuffer, Shape};

/// How a herd settled.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    /// When the last server was seen to know the last report; `None` if that did not happen
    /// before the time limit.
    pub at: Option<Instant>,
    /// Markers sent (one per server): extra updates the herd carried.
    pub markers: u64,
}

/// Sends the markers, then waits until every server knows every marker and every id of
/// `last` (each `(server index, client)`), at most `limit`.
pub async fn settle(
    servers: &[SocketAddr],
    tag: &str,
    last: &[(usize, String)],
    limit: Duration,
) -> Settled {
    let began = Instant::now();
    let deadline = began + limit;
    let markers: Vec<String> = (0..servers.len()).map(|s| format!("{tag}-marker-{s}")).collect();
    let sent = join_all(servers.iter().zip(&markers).map(|(&addr, marker)| async move {
        let mut reply = Vec::new();
        load::exchange(addr, load::iamat_line(marker).as_bytes(), &mut reply).await.is_ok()
            && reply.starts_with(b"AT ")
    }))
    .await;
    let markers_sent = sent.iter().filter(|&&ok| ok).count() as u64;
    if markers_sent < servers.len() as u64 {
        return Settled { at: None, markers: markers_sent };
    }
    let ids: Vec<&str> = last.iter().map(|(_, id)| id.as_str()).collect();
    let done =
        join_all(servers.iter().map(|&addr| timeout_at(deadline, knows_all(addr, &markers, &ids))))
            .await;
    let mut latest = began;
    for finished in done {
        match finished {
            Ok(Some(when)) => latest = latest.max(when),
            _ => return Settled { at: None, markers: markers_sent },
        }
    }
    Settled { at: Some(latest), markers: markers_sent }
}

/// Waits until the server at `addr` knows each marker (in order) and then each of `ids`;
/// returns when it was last seen to learn one. `None` if the server cannot be asked.
async fn knows_all(addr: SocketAddr, markers: &[String], ids: &[&str]) -> Option<Instant> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let mut replies = ReplyBuffer::default();
    let began = Instant::now();
    let mut learned = Instant::now();
    for marker in markers {
        loop {
            let asked = Instant::now();
            let known = ask(&mut stream, &mut replies, &[marker.as_str()]).await?;
            if known[0] {
                learned = Instant::now();
                break;
            }
            pause(began, asked).await;
        }
    }
    let mut pending: Vec<&str> = ids.to_vec();
    while !pending.is_empty() {
        let asked = Instant::now();
        let known = ask(&mut stream, &mut replies, &pending).await?;
        if known.iter().any(|&k| k) {
            learned = Instant::now();
        }
        pending = pending.into_iter().zip(known).filter(|&(_, k)| !k).map(|(id, _)| id).collect();
        if !pending.is_empty() {
            pause(began, asked).await;
        }
    }
    Some(learned)
}

/// Between two questions a server answered `? ` at once: wait a twentieth of the time spent
/// waiting so far (1 to 20 ms), so polling neither hammers a busy server nor blurs the time
/// by more than about 5 %. A server that held the question a while itself is asked again at
/// once.
async fn pause(began: Instant, asked: Instant) {
    if asked.elapsed() >= Duration::from_millis(5) {
        return;
    }
    let wait = (began.elapsed() / 20).clamp(Duration::from_millis(1), Duration::from_millis(20));
    sleep(wait).await;
}

/// Asks for each of `ids` with one pipelined batch of WHATSATs; whether each is known.
async fn ask(stream: &mut TcpStream, replies: &mut ReplyBuffer, ids: &[&str]) -> Option<Vec<bool>> {
    let mut batch = String::new();
    for id in ids {
        batch.push_str("WHATSAT ");
        batch.push_str(id);
        batch.push_str(" 1 1\n");
    }
    stream.write_all(batch.as_bytes()).await.ok()?;
    let mut known = Vec::with_capacity(ids.len());
    while known.len() < ids.len() {
        match replies.next_reply(Shape::Whatsat) {
            Some(range) => known.push(replies.bytes(range).starts_with(b"AT ")),
            None => {
                tokio::time::timeout(load::REPLY_TIMEOUT, replies.fill(stream)).await.ok()?.ok()?;
            }
        }
    }
    Some(known)
}
