//! Talking to one server the way `nc` does: connect, send a line, half-close, read the whole
//! answer. The console and `--control stdin` send their IAMAT, WHATSAT and raw lines so.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Longest a server may take to answer.
pub const REPLY_WAIT: Duration = Duration::from_secs(20);

/// Sends one line to a server and returns everything it answers.
pub async fn send_line(addr: SocketAddr, line: &str) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(line.as_bytes()).await?;
        stream.write_all(b"\n").await?;
        stream.shutdown().await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    timeout(REPLY_WAIT, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply within 20s"))?
}
