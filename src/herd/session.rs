//! One client or neighbour connection: read framed lines, answer each in order, and write every
//! reply in a single write (replies to pipelined lines are coalesced, never split). After the
//! peer half-closes, the last command is still answered, then the connection is closed.
//! Replies to IAMAT wait (up to `HANDOFF_WAIT`) until the new report has been written to every
//! neighbour (flood first, then reply), so a neighbour asked right after the reply already
//! knows; not while the operator holds traffic back (pause, link delay).

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::codec::{Frame, LineDecoder};
use super::flood::{HANDOFF_WAIT, Handoffs};
use super::server::Node;

/// The other end of a connection, with its address formatted once for the log.
pub(super) struct Peer {
    pub addr: SocketAddr,
    pub text: Box<str>,
}

/// Serves one connection until the peer is done or an I/O error ends it.
pub(super) async fn serve(node: Arc<Node>, mut stream: TcpStream, addr: SocketAddr) {
    let peer = Peer { addr, text: addr.to_string().into() };
    // Borrowed halves: dropping the stream at the end closes it with a single close(2).
    let (read, mut write) = stream.split();
    let mut lines = FramedRead::new(read, LineDecoder::default());
    let mut out = Vec::new();
    let handoffs = Arc::new(Handoffs::default());
    while let Some(frame) = lines.next().await {
        let Ok(frame) = frame else { break };
        match frame {
            Frame::Line(line) => node.handle_line(&line, &peer, &handoffs, &mut out).await,
            Frame::TooLong(prefix) => node.reject(&prefix, &peer, &mut out),
        }
        let more_pending = lines.read_buffer().contains(&b'\n');
        if !out.is_empty() && !more_pending {
            handoffs.settled(HANDOFF_WAIT).await;
            if write.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
    if !out.is_empty() {
        handoffs.settled(HANDOFF_WAIT).await;
        let _ = write.write_all(&out).await;
    }
}
