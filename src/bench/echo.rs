//! The bare tokio line-echo server, the loopback ceiling for request and response: every
//! complete line read is written back, all the lines of one read in a single write (as the
//! herd coalesces pipelined replies); after the peer half-closes, an unterminated remainder is
//! echoed with a `\n` and the connection is closed. Run as its own process by the bench
//! (`herdctl bench --echo-server`), listening on as many ports as the herd it is compared
//! with has servers (so clients spread over as many destinations, and as many ephemeral port
//! ranges); it prints `echo 127.0.0.1:PORT` per port and exits when its standard input closes.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Listens on `ports` ports (the first `port`, or any free ones when it is 0) and serves
/// until standard input closes (or the process is killed).
pub async fn serve(port: u16, ports: usize) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    for i in 0..ports.max(1) {
        let port = if port == 0 { 0 } else { port.saturating_add(i as u16) };
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        socket.bind(addr).wrap_err_with(|| format!("binding {addr}"))?;
        let listener = socket.listen(1024)?;
        writeln!(stdout, "echo {}", listener.local_addr()?)?;
        tokio::spawn(accept(listener));
    }
    stdout.flush()?;
    drop(stdout);
    stdin_closed().await;
    Ok(())
}

async fn accept(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(echo(stream));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Resolves when standard input reaches its end (the bench that started us is gone).
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 256];
    while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
}

async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut held = 0;
    loop {
        if held == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let read = match stream.read(&mut buf[held..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let filled = held + read;
        match buf[..filled].iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                if stream.write_all(&buf[..=end]).await.is_err() {
                    return;
                }
                buf.copy_within(end + 1..filled, 0);
                held = filled - end - 1;
            }
            None => held = filled,
        }
    }
    if held > 0 {
        buf.truncate(held);
        buf.push(b'\n');
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
    let _ = stream.shutdown().await;
}
