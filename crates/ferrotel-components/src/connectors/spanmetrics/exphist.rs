//! A base-2 exponential histogram of non-negative values with at most `max_size` positive
//! buckets: it starts at scale 20 and lowers the scale (merging neighbour buckets) whenever the
//! values seen would need more buckets, as the OpenTelemetry SDKs do.

use ferrotel_pdata::proto::metrics::v1::ExponentialHistogramDataPoint;
use ferrotel_pdata::proto::metrics::v1::exponential_histogram_data_point::Buckets;

pub const MAX_SCALE: i32 = 20;

#[derive(Debug, Clone)]
pub struct ExpHistogram {
    max_size: usize,
    scale: i32,
    zero_count: u64,
    /// Index of `counts[0]` at `scale`.
    offset: i64,
    counts: Vec<u64>,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// The bucket of `v` (> 0) at `scale`: bucket `i` holds `(base^i, base^(i+1)]`,
/// `base = 2^(2^-scale)`.
pub fn index(v: f64, scale: i32) -> i64 {
    if scale > 0 {
        (v.log2() * f64::from(1u32 << scale)).ceil() as i64 - 1
    } else {
        // Exact at scale 0 (powers of two are exact in log2), then shifted down.
        let i0 = v.log2().ceil() as i64 - 1;
        i0 >> (-scale)
    }
}

impl ExpHistogram {
    pub fn new(max_size: usize) -> Self {
        ExpHistogram {
            max_size: max_size.max(1),
            scale: MAX_SCALE,
            zero_count: 0,
            offset: 0,
            counts: Vec::new(),
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    pub fn scale(&self) -> i32 {
        self.scale
    }

    pub fn record(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v <= 0.0 || !v.is_finite() {
            self.zero_count += 1;
            return;
        }
        let mut idx = index(v, self.scale);
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(1);
            return;
        }
        let lo = self.offset.min(idx);
        let hi = (self.offset + self.counts.len() as i64 - 1).max(idx);
        let mut change = 0;
        while ((hi >> change) - (lo >> change) + 1) as usize > self.max_size {
            change += 1;
        }
        if change > 0 {
            self.downscale(change);
            idx >>= change;
        }
        if idx < self.offset {
            let grow = (self.offset - idx) as usize;
            let mut c = vec![0; grow];
            c.append(&mut self.counts);
            self.counts = c;
            self.offset = idx;
        }
        let pos = (idx - self.offset) as usize;
        if pos >= self.counts.len() {
            self.counts.resize(pos + 1, 0);
        }
        self.counts[pos] += 1;
    }

    fn downscale(&mut self, change: i32) {
        self.scale -= change;
        let new_offset = self.offset >> change;
        let mut merged: Vec<u64> = Vec::new();
        for (i, c) in self.counts.iter().enumerate() {
            let j = (((self.offset + i as i64) >> change) - new_offset) as usize;
            if j >= merged.len() {
                merged.resize(j + 1, 0);
            }
            merged[j] += c;
        }
        self.offset = new_offset;
        self.counts = merged;
    }

    /// The data point's histogram fields (attributes and times are the caller's).
    pub fn fill(&self, dp: &mut ExponentialHistogramDataPoint) {
        dp.count = self.count;
        dp.sum = Some(self.sum);
        dp.scale = self.scale;
        dp.zero_count = self.zero_count;
        dp.positive = Some(Buckets {
            offset: self.offset as i32,
            bucket_counts: self.counts.clone(),
        });
        dp.negative = Some(Buckets::default());
        if self.count > 0 {
            dp.min = Some(self.min);
            dp.max = Some(self.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bucket `i` at scale 0 is (2^i, 2^(i+1)]: upper bounds are inclusive.
    #[test]
    fn scale_zero_boundaries_are_upper_inclusive() {
        assert_eq!(index(1.0, 0), -1);
        assert_eq!(index(2.0, 0), 0);
        assert_eq!(index(2.5, 0), 1);
        assert_eq!(index(4.0, 0), 1);
        assert_eq!(index(4.0, -1), 0);
        assert_eq!(index(5.0, -1), 1);
        // scale 1: base sqrt(2); 2 = base^2 → bucket 1
        assert_eq!(index(2.0, 1), 1);
        assert_eq!(index(2.1, 1), 2);
    }

    #[test]
    fn downscales_to_fit_max_size() {
        let mut h = ExpHistogram::new(4);
        for v in [1.0, 2.0, 4.0, 8.0, 16.0, 0.0] {
            h.record(v);
        }
        // 1..16 at scale 0 is buckets -1..=3 (5 buckets) > 4, so scale -1: -1>>1=-1, 0,0,1,1.
        assert_eq!(h.scale(), -1);
        let mut dp = ExponentialHistogramDataPoint::default();
        h.fill(&mut dp);
        let p = dp.positive.unwrap();
        assert_eq!(p.offset, -1);
        assert_eq!(p.bucket_counts, vec![1, 2, 2]);
        assert_eq!(dp.zero_count, 1);
        assert_eq!(dp.count, 6);
        assert_eq!(dp.sum, Some(31.0));
        assert_eq!((dp.min, dp.max), (Some(0.0), Some(16.0)));
    }

    #[test]
    fn every_value_lands_in_its_bucket() {
        let mut h = ExpHistogram::new(160);
        let values: Vec<f64> = (1..2000).map(|i| i as f64 * 0.37).collect();
        for v in &values {
            h.record(*v);
        }
        let mut dp = ExponentialHistogramDataPoint::default();
        h.fill(&mut dp);
        let p = dp.positive.unwrap();
        assert!(p.bucket_counts.len() <= 160);
        let base = 2f64.powf(2f64.powi(-dp.scale));
        for v in &values {
            let i = index(*v, dp.scale);
            assert!(
                base.powf(i as f64) < *v * (1.0 + 1e-9)
                    && *v <= base.powf(i as f64 + 1.0) * (1.0 + 1e-9)
            );
        }
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), values.len() as u64);
    }
}
