//! An answer serialized once and served many times: its JSON bytes, a strong ETag, and its
//! gzip and brotli encodings, each made on first demand. A request whose `If-None-Match`
//! holds the ETag gets `304 Not Modified` and no body; the answer says `Cache-Control:
//! private, no-cache`, so a browser keeps it and revalidates it on every use.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Answers smaller than this are sent as they are: compressing them saves less than the
/// headers cost.
const COMPRESS_FROM: usize = 1024;

/// How a body is encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// As it is.
    Identity,
    /// gzip.
    Gzip,
    /// Brotli.
    Br,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Br => "br",
        }
    }
}

/// A serialized answer and its encodings.
#[derive(Debug)]
pub struct Encoded {
    json: Bytes,
    tag: u64,
    gzip: OnceLock<Bytes>,
    br: OnceLock<Bytes>,
}

/// The hash an ETag is made of.
pub fn tag_of(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// A tag for something made of parts with tags of their own.
pub fn tag_of_parts(parts: impl IntoIterator<Item = u64>) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

impl Encoded {
    /// `json`, tagged by its content.
    pub fn new(json: Vec<u8>) -> Self {
        let tag = tag_of(&json);
        Self::tagged(json, tag)
    }

    /// `json` with a tag the caller computed (from the parts it was assembled from).
    pub fn tagged(json: Vec<u8>, tag: u64) -> Self {
        Self {
            json: Bytes::from(json),
            tag,
            gzip: OnceLock::new(),
            br: OnceLock::new(),
        }
    }

    /// The JSON.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The tag the ETags are made of.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// The body in `coding`, compressed now if it was not yet (CPU-bound: call it off the
    /// async workers for big answers).
    pub fn body(&self, coding: Coding) -> Bytes {
        match coding {
            Coding::Identity => self.json.clone(),
            Coding::Gzip => self.gzip.get_or_init(|| gzip(&self.json)).clone(),
            Coding::Br => self.br.get_or_init(|| brotli(&self.json)).clone(),
        }
    }

    fn ready(&self, coding: Coding) -> bool {
        match coding {
            Coding::Identity => true,
            Coding::Gzip => self.gzip.get().is_some(),
            Coding::Br => self.br.get().is_some(),
        }
    }

    /// The coding to send to a client that accepts `accept`.
    fn coding_for(&self, accept: Option<&str>) -> Coding {
        if self.json.len() < COMPRESS_FROM {
            Coding::Identity
        } else {
            coding(accept)
        }
    }
}

fn gzip(json: &[u8]) -> Bytes {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing to a Vec cannot fail.
    let _ = out.write_all(json);
    Bytes::from(out.finish().unwrap_or_default())
}

fn brotli(json: &[u8]) -> Bytes {
    let mut out = Vec::new();
    {
        // Quality 5: most of brotli's gain over gzip at gzip's speed (11 is ~50x slower).
        let mut w = ::brotli::CompressorWriter::new(&mut out, 64 * 1024, 5, 22);
        let _ = w.write_all(json);
    }
    Bytes::from(out)
}

/// The strong ETag of `tag` in `coding`: each encoding is its own representation.
pub fn etag(tag: u64, coding: Coding) -> String {
    match coding {
        Coding::Identity => format!("\"{tag:016x}\""),
        c => format!("\"{tag:016x}-{}\"", c.token()),
    }
}

/// The coding to use for `Accept-Encoding: accept` (pure): brotli, then gzip, then
/// identity, among those the client accepts with a non-zero weight (`*` stands for any not
/// named).
pub fn coding(accept: Option<&str>) -> Coding {
    let Some(accept) = accept else {
        return Coding::Identity;
    };
    let weight = |name: &str| -> Option<f32> {
        let mut star = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if token.eq_ignore_ascii_case(name) {
                return Some(q);
            }
            if token == "*" {
                star = Some(q);
            }
        }
        star
    };
    [Coding::Br, Coding::Gzip]
        .into_iter()
        .find(|c| weight(c.token()).is_some_and(|q| q > 0.0))
        .unwrap_or(Coding::Identity)
}

/// Whether `If-None-Match: header` names one of `tag`'s ETags, in any coding (the
/// comparison is weak, as RFC 9110 says for `If-None-Match`).
pub fn not_modified(header: Option<&str>, tag: u64) -> bool {
    let Some(header) = header else {
        return false;
    };
    let ours = [Coding::Identity, Coding::Gzip, Coding::Br].map(|c| etag(tag, c));
    header.split(',').map(str::trim).any(|t| {
        t == "*" || {
            let t = t.strip_prefix("W/").unwrap_or(t);
            ours.iter().any(|o| o == t)
        }
    })
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn cache_headers(mut response: Response, tag: u64, coding: Coding) -> Response {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag(tag, coding)) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Authorization"),
    );
    response
}

/// The `304` for a request whose `If-None-Match` names `tag`, if it does: callers check
/// this before assembling an answer.
pub fn unchanged(headers: &HeaderMap, tag: u64) -> Option<Response> {
    if !not_modified(text(headers, header::IF_NONE_MATCH), tag) {
        return None;
    }
    let coding = coding(text(headers, header::ACCEPT_ENCODING));
    Some(cache_headers(
        StatusCode::NOT_MODIFIED.into_response(),
        tag,
        coding,
    ))
}

/// `answer` for a request with `headers`: a 304 when the client has it, else its body in the
/// best coding the client accepts.
pub async fn respond(answer: Arc<Encoded>, headers: &HeaderMap) -> Response {
    if let Some(not_modified) = unchanged(headers, answer.tag) {
        return not_modified;
    }
    let coding = answer.coding_for(text(headers, header::ACCEPT_ENCODING));
    let body = if answer.ready(coding) {
        answer.body(coding)
    } else {
        let a = answer.clone();
        match tokio::task::spawn_blocking(move || a.body(coding)).await {
            Ok(body) => body,
            Err(_) => {
                return cache_headers(plain(answer.json.clone()), answer.tag, Coding::Identity);
            }
        }
    };
    let mut response = plain(body);
    if coding != Coding::Identity {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
    cache_headers(response, answer.tag, coding)
}

fn plain(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_best_accepted_coding_is_chosen() {
        let cases = [
            (None, Coding::Identity),
            (Some(""), Coding::Identity),
            (Some("gzip, deflate, br, zstd"), Coding::Br),
            (Some("gzip"), Coding::Gzip),
            (Some("br;q=0, gzip;q=0.5"), Coding::Gzip),
            (Some("BR"), Coding::Br),
            (Some("*"), Coding::Br),
            (Some("gzip;q=0, *;q=0"), Coding::Identity),
            (Some("identity"), Coding::Identity),
            (Some("deflate"), Coding::Identity),
        ];
        for (accept, want) in cases {
            assert_eq!(coding(accept), want, "Accept-Encoding: {accept:?}");
        }
    }

    #[test]
    fn if_none_match_matches_any_coding_of_the_tag_and_no_other() {
        let tag = 0xabc;
        let cases = [
            (None, false),
            (Some("\"0000000000000abc\""), true),
            (Some("\"0000000000000abc-gzip\""), true),
            (Some("W/\"0000000000000abc-br\""), true),
            (Some("\"x\", \"0000000000000abc\""), true),
            (Some("*"), true),
            (Some("\"0000000000000abd\""), false),
            (Some("0000000000000abc"), false),
        ];
        for (header, want) in cases {
            assert_eq!(not_modified(header, tag), want, "If-None-Match: {header:?}");
        }
    }

    #[test]
    fn encodings_decode_to_the_json() {
        let json = serde_json::to_vec(&vec!["pod"; 2_000]).expect("json");
        let answer = Encoded::new(json.clone());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&answer.body(Coding::Gzip)[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, json);
        let mut back = Vec::new();
        ::brotli::Decompressor::new(&answer.body(Coding::Br)[..], 4096)
            .read_to_end(&mut back)
            .expect("unbrotli");
        assert_eq!(back, json);
        assert!(answer.body(Coding::Br).len() * 10 < json.len());
        assert_eq!(
            answer.tag(),
            Encoded::new(json).tag(),
            "tags follow content"
        );
    }

    #[tokio::test]
    async fn a_known_tag_gets_a_304_and_others_the_body() {
        let answer = Arc::new(Encoded::new(
            serde_json::to_vec(&vec![1; 1_000]).expect("json"),
        ));
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let full = respond(answer.clone(), &headers).await;
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(full.headers()[header::CACHE_CONTROL], "private, no-cache");
        let etag = full.headers()[header::ETAG].clone();
        headers.insert(header::IF_NONE_MATCH, etag);
        let again = respond(answer.clone(), &headers).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let body = axum::body::to_bytes(again.into_body(), 1 << 20)
            .await
            .expect("body");
        assert!(body.is_empty());
        let small = Arc::new(Encoded::new(b"[]".to_vec()));
        let answer = respond(small, &HeaderMap::new()).await;
        assert!(answer.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
