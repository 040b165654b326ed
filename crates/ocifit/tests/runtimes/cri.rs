//! A small CRI client: the two ImageService calls the tests need
//! (`PullImage`, `ImageStatus`, CRI v1) as hand-written prost messages —
//! only the fields used — sent as gRPC over HTTP/2 on containerd's unix
//! socket, the way the kubelet calls them.

use std::path::Path;

use bytes::Bytes;

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageSpec {
    #[prost(string, tag = "1")]
    pub image: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthConfig {
    #[prost(string, tag = "1")]
    pub username: String,
    #[prost(string, tag = "2")]
    pub password: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PullImageRequest {
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
    #[prost(message, optional, tag = "2")]
    pub auth: Option<AuthConfig>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PullImageResponse {
    #[prost(string, tag = "1")]
    pub image_ref: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageStatusRequest {
    #[prost(message, optional, tag = "1")]
    pub image: Option<ImageSpec>,
    #[prost(bool, tag = "2")]
    pub verbose: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// The image ID: its config's digest.
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, repeated, tag = "2")]
    pub repo_tags: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub repo_digests: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageStatusResponse {
    #[prost(message, optional, tag = "1")]
    pub image: Option<Image>,
}

/// `PullImage`; returns the image reference (ID) containerd reports.
pub fn pull_image(socket: &Path, image: &str, auth: Option<(&str, &str)>) -> Result<String, String> {
    let request = PullImageRequest {
        image: Some(ImageSpec { image: image.into() }),
        auth: auth.map(|(u, p)| AuthConfig { username: u.into(), password: p.into() }),
    };
    let response: PullImageResponse = call(socket, "/runtime.v1.ImageService/PullImage", &request)?;
    Ok(response.image_ref)
}

/// `ImageStatus`; `None` when containerd does not have the image.
pub fn image_status(socket: &Path, image: &str) -> Result<Option<Image>, String> {
    let request = ImageStatusRequest { image: Some(ImageSpec { image: image.into() }), verbose: false };
    let response: ImageStatusResponse = call(socket, "/runtime.v1.ImageService/ImageStatus", &request)?;
    Ok(response.image)
}

/// One unary gRPC call.
fn call<Req: prost::Message, Resp: prost::Message + Default>(
    socket: &Path,
    method: &str,
    request: &Req,
) -> Result<Resp, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let body = runtime.block_on(unary(socket, method, request.encode_to_vec()))?;
    Resp::decode(body.as_slice()).map_err(|e| format!("{method}: undecodable answer: {e}"))
}

async fn unary(socket: &Path, method: &str, message: Vec<u8>) -> Result<Vec<u8>, String> {
    let err = |what: &str| {
        let what = what.to_string();
        move |e: h2::Error| format!("{method}: {what}: {e}")
    };
    let io = tokio::net::UnixStream::connect(socket).await.map_err(|e| format!("{}: {e}", socket.display()))?;
    let (client, connection) = h2::client::handshake(io).await.map_err(err("handshake"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.map_err(err("connection"))?;
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).map_err(err("send"))?;
    // gRPC framing: not compressed, big-endian length, message.
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    send.send_data(Bytes::from(frame), true).map_err(err("send"))?;
    let (head, mut body) = response.await.map_err(err("response"))?.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(err("body"))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.map_err(err("trailers"))?.unwrap_or_default();
    let field = |name: &str| {
        trailers.get(name).or_else(|| head.headers.get(name)).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    };
    let status = field("grpc-status");
    if status != "0" {
        return Err(format!("{method}: grpc-status {status}: {}", field("grpc-message")));
    }
    if data.len() < 5 {
        return Err(format!("{method}: no message in the answer"));
    }
    Ok(data[5..].to_vec())
}
