//! The consistent hash ring of the Go `loadbalancing` exporter, position for position, so a
//! ferrotel load balancer and a Go one send the same trace id to the same backend.
//!
//! The circle has 36 000 positions (360 degrees, two decimals). Each endpoint takes 100 of
//! them: CRC-32 (IEEE) of the endpoint's bytes followed by the point's index as one byte,
//! modulo 36 000. Endpoints are placed in the order given (the resolvers sort them) and a
//! position already taken stays with its first owner. A key is placed at CRC-32 of its bytes
//! modulo 36 000 and belongs to the first endpoint at or after that position, wrapping around.
//!
//! So removing an endpoint frees only its positions: only the keys it owned move.

/// Positions on the circle.
pub const MAX_POSITIONS: u32 = 36_000;
/// Points per endpoint.
pub const POINTS_PER_ENDPOINT: usize = 100;

/// An immutable ring over a list of endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashRing {
    /// (position, index into `endpoints`), sorted by position.
    items: Vec<(u32, usize)>,
    endpoints: Vec<String>,
}

impl HashRing {
    pub fn new(endpoints: &[String]) -> HashRing {
        HashRing::with_points(endpoints, POINTS_PER_ENDPOINT)
    }

    /// A ring with `points` positions per endpoint (Go's tests use 5).
    pub fn with_points(endpoints: &[String], points: usize) -> HashRing {
        let mut taken = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(endpoints.len() * points);
        for (idx, endpoint) in endpoints.iter().enumerate() {
            for i in 0..points {
                let mut h = crc32fast::Hasher::new();
                h.update(endpoint.as_bytes());
                h.update(&[i as u8]);
                let pos = h.finalize() % MAX_POSITIONS;
                if taken.insert(pos) {
                    items.push((pos, idx));
                }
            }
        }
        items.sort_unstable_by_key(|(pos, _)| *pos);
        HashRing {
            items,
            endpoints: endpoints.to_vec(),
        }
    }

    /// The endpoints, in the order the ring was built from.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// (position, endpoint) in ring order.
    pub fn positions(&self) -> impl Iterator<Item = (u32, &str)> {
        self.items
            .iter()
            .map(|(p, i)| (*p, self.endpoints[*i].as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The endpoint owning `key`, or `None` for an empty ring.
    pub fn endpoint_for(&self, key: &[u8]) -> Option<&str> {
        self.endpoint_index(key).map(|i| self.endpoints[i].as_str())
    }

    /// The index (into [`HashRing::endpoints`]) of the endpoint owning `key`.
    pub fn endpoint_index(&self, key: &[u8]) -> Option<usize> {
        if self.items.is_empty() {
            return None;
        }
        let pos = crc32fast::hash(key) % MAX_POSITIONS;
        let i = self.items.partition_point(|(p, _)| *p < pos);
        let (_, idx) = self.items[if i == self.items.len() { 0 } else { i }];
        Some(idx)
    }
}
