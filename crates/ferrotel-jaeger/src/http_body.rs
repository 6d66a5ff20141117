//! The response body of thrift_http and gRPC (served on ferrotel-otlp's `PlainHttpServer`):
//! one data frame that can end in trailers, as gRPC needs.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::Frame;

pub type Request = http::Request<hyper::body::Incoming>;
pub type Response = http::Response<Body>;

/// At most one data frame, then optional trailers.
#[derive(Default)]
pub struct Body {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body {
    pub fn new(data: impl Into<Bytes>, trailers: Option<HeaderMap>) -> Self {
        let data: Bytes = data.into();
        Body {
            data: (!data.is_empty()).then_some(data),
            trailers,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

/// A response with a plain-text body.
pub fn text(status: http::StatusCode, body: impl Into<String>) -> Response {
    let mut r = http::Response::new(Body::new(body.into(), None));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
