//! The least a relay can do, as a yardstick for `bench/mirror.sh`: bytes
//! copied between a client and one upstream address, both ways, on the same
//! runtime as the mirror (tokio, one worker), with the same socket options
//! (no Nagle, loopback clients not paced) and the same 256 KiB buffers, but
//! no HTTP at all. Whatever the mirror's blob throughput loses against a
//! direct download, this loses too, except the cost of HTTP.
//!
//!   cargo run --release -p ocifit-mirror --example bare_relay -- LISTEN UPSTREAM
//!
//! LISTEN and UPSTREAM are `host:port` (LISTEN on loopback; port 0 picks
//! one). Prints `listening on ADDR`, then relays until killed.

use ocifit_mirror::{ASYNC_WORKERS, MAX_BUFFERED_BYTES, pacing};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, upstream] = args.as_slice() else {
        eprintln!("usage: bare_relay LISTEN UPSTREAM   (each host:port)");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ASYNC_WORKERS)
        .enable_all()
        .build()
        .expect("an async runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.unwrap_or_else(|e| {
            eprintln!("bare_relay: listen on {listen}: {e}");
            std::process::exit(1);
        });
        println!("listening on {}", listener.local_addr().expect("a bound address"));
        loop {
            let Ok((mut client, _)) = listener.accept().await else { continue };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                pacing::unpace_loopback_client(&client);
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional_with_sizes(
                    &mut client,
                    &mut server,
                    MAX_BUFFERED_BYTES,
                    MAX_BUFFERED_BYTES,
                )
                .await;
            });
        }
    });
}
