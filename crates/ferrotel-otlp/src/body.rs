//! A response body that is one buffer and optional trailers (all our responses are that).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};

/// One data frame (omitted when empty) followed by optional trailers.
#[derive(Debug, Default)]
pub(crate) struct OneShot {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl OneShot {
    pub(crate) fn new(data: Bytes) -> Self {
        OneShot {
            data: (!data.is_empty()).then_some(data),
            trailers: None,
        }
    }

    pub(crate) fn with_trailers(data: Bytes, trailers: HeaderMap) -> Self {
        OneShot {
            data: (!data.is_empty()).then_some(data),
            trailers: Some(trailers),
        }
    }

    pub(crate) fn empty() -> Self {
        OneShot::default()
    }
}

impl Body for OneShot {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(d) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}
