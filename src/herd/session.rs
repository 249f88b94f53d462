//! Connections to one server: the accept loop, which admits each connection against the herd's
//! descriptor budget (see [`super::admission`]), and one task per connection that reads framed
//! lines, answers each in order, and writes every reply in a single write (replies to
//! pipelined lines are coalesced, never split). After the peer half-closes, the last command
//! is still answered, then the connection is closed. Replies to IAMAT wait (up to
//! `HANDOFF_WAIT`) until the new report has been written to every neighbour (flood first, then
//! reply), so a neighbour asked right after the reply already knows; not while the operator
//! holds traffic back (pause, link delay). An idle connection holds no buffers: they are
//! allocated when its first bytes arrive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::{Refusal, Ticket};
use super::codec::{Frame, LineDecoder};
use super::flood::HANDOFF_WAIT;
use super::server::{Conversation, Node, Peer};

/// Pacing of retries after a failed accept (out of descriptors, say): doubling up to a second.
const ACCEPT_RETRY_FIRST: Duration = Duration::from_millis(10);
const ACCEPT_RETRY_CAP: Duration = Duration::from_secs(1);

/// The wait after `retry` when an accept fails again: doubled, at most a second.
fn next_retry(retry: Duration) -> Duration {
    (retry * 2).min(ACCEPT_RETRY_CAP)
}

/// Accepts connections until cancelled; each is admitted and served on its own task. A
/// connection the herd cannot afford is closed at once, counted and logged; the server keeps
/// serving the ones it has.
pub(super) async fn accept_loop(
    node: Arc<Node>,
    listener: TcpListener,
    token: CancellationToken,
    tracker: TaskTracker,
) {
    let mut retry = ACCEPT_RETRY_FIRST;
    let mut freeze = node.freeze.clone();
    loop {
        // A hung server accepts nothing; the kernel still completes connections (backlog).
        if freeze.is_hung() {
            let thawed = tokio::select! {
                () = token.cancelled() => false,
                thawed = freeze.thawed() => thawed,
            };
            if !thawed {
                return;
            }
        }
        let accepted = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                node.log.note(format_args!(
                    "accept failed: {err}; retrying in {}",
                    humantime::format_duration(retry)
                ));
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(retry) => {}
                }
                retry = next_retry(retry);
                continue;
            }
        };
        retry = ACCEPT_RETRY_FIRST;
        let _ = stream.set_nodelay(true);
        let session = serve(node.clone(), stream, peer);
        let token = token.clone();
        tracker.spawn(async move { token.run_until_cancelled(session).await });
    }
}

/// How long a connection from this host that has sent nothing may take to turn out to be a
/// link of this process (see [`admit`]).
const LINK_GRACE: Duration = Duration::from_millis(50);

/// What a connection was admitted as.
enum Admitted {
    /// A neighbour's link from this same process: paid for by the herd's reserve.
    Link,
    /// A client, holding its place until the connection ends.
    Client { _place: Ticket },
}

/// Admits a connection, or says why the herd cannot afford another client.
async fn admit(node: &Node, stream: &TcpStream, peer: SocketAddr) -> Result<Admitted, Refusal> {
    let ends = &node.shared.link_ends;
    let same_host = stream.local_addr().is_ok_and(|local| local.ip() == peer.ip());
    if same_host && !ends.contains(peer.port()) {
        // A link registers its port right after it connects, before it writes: wait for its
        // first byte (a client's comes at once) or briefly for an idle link to register.
        let _ = tokio::time::timeout(LINK_GRACE, stream.peek(&mut [0u8; 1])).await;
    }
    if ends.contains(peer.port()) {
        return Ok(Admitted::Link);
    }
    node.shared.admission.admit(node.id).map(|place| Admitted::Client { _place: place })
}

/// Serves one connection until the peer is done or an I/O error ends it. Nothing is allocated
/// for it until its first bytes arrive.
async fn serve(node: Arc<Node>, stream: TcpStream, addr: SocketAddr) {
    // Boxed: its timer is not kept in the task of every idle connection.
    let admitted = match Box::pin(admit(&node, &stream, addr)).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            node.log
                .note(format_args!("connection from {addr} closed at once: {}", refusal.as_str()));
            return;
        }
    };
    // A peek, not `readable()`: a socket just accepted counts as readable before any byte has
    // arrived.
    if stream.peek(&mut [0u8; 1]).await.is_ok() {
        Box::pin(active(node, stream, addr)).await;
    }
    drop(admitted);
}

async fn active(node: Arc<Node>, mut stream: TcpStream, addr: SocketAddr) {
    let peer = Peer { addr, text: addr.to_string().into() };
    // Borrowed halves: dropping the stream at the end closes it with a single close(2).
    let (read, mut write) = stream.split();
    let mut lines = FramedRead::new(read, LineDecoder::default());
    let mut out = Vec::new();
    let mut conversation = Conversation::default();
    while let Some(frame) = lines.next().await {
        let Ok(frame) = frame else { break };
        // A hung server answers no one and reads no further until it is unhung.
        if node.freeze.is_hung() && !node.freeze.clone().thawed().await {
            return;
        }
        match frame {
            Frame::Line(line) => node.handle_line(&line, &peer, &mut conversation, &mut out).await,
            Frame::TooLong(prefix) => node.reject(&prefix, &peer, &mut out),
        }
        let more_pending = lines.read_buffer().contains(&b'\n');
        if !out.is_empty() && !more_pending {
            conversation.handoffs.settled(HANDOFF_WAIT).await;
            if write.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
    if !out.is_empty() {
        conversation.handoffs.settled(HANDOFF_WAIT).await;
        let _ = write.write_all(&out).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_exponentially_to_a_second() {
        let waits: Vec<Duration> =
            std::iter::successors(Some(ACCEPT_RETRY_FIRST), |&d| Some(next_retry(d)))
                .take(9)
                .collect();
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }
}
