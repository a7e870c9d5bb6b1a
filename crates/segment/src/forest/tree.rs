//! A binary classification tree (CART, Gini impurity) grown on quantile-binned features.
//!
//! Hand-written rather than smartcore/linfa: split search over ≤ 64 quantile bins per feature is
//! O(samples) per node and feature instead of a sort, which trains a 200 k × 10 forest in
//! seconds; the trees serialise as a flat node array (serde) that is validated on load, and
//! prediction needs no binning (thresholds are raw feature values).

use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Maximum number of quantile bins per feature.
pub const MAX_BINS: usize = 64;

/// One node of a tree stored in a flat array; children always come after their parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// Go to `left` when `features[feature] <= threshold`, else to `right`.
    Split {
        /// Feature column.
        feature: u32,
        /// Raw feature value.
        threshold: f32,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
    },
    /// Bone probability (fraction of bone training samples) in 0..=1.
    Leaf {
        /// Probability of bone.
        probability: f32,
    },
}

/// A trained tree. Invariant (checked by [`Tree::validate`]): node 0 is the root, children
/// indices are larger than their parent's and inside the array, features `< columns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    nodes: Vec<Node>,
}

/// Features mapped to quantile bins: `bins[row * columns + column]`, and per column the bin upper
/// edges (bin `b` holds values `<= edges[b]` and `> edges[b - 1]`; the last bin is unbounded).
pub struct BinnedFeatures {
    columns: usize,
    bins: Vec<u8>,
    edges: Vec<Vec<f32>>,
}

impl BinnedFeatures {
    /// Bins `values` (row-major, `columns` per row) by per-column quantiles.
    pub fn new(columns: usize, values: &[f32]) -> Self {
        use rayon::prelude::*;
        let rows = values.len() / columns;
        let edges: Vec<Vec<f32>> = (0..columns)
            .into_par_iter()
            .map(|c| {
                let mut column: Vec<f32> = (0..rows).map(|r| values[r * columns + c]).collect();
                column.sort_unstable_by(f32::total_cmp);
                let mut edges: Vec<f32> = (1..MAX_BINS)
                    .filter_map(|q| column.get(q * rows / MAX_BINS).copied())
                    .collect();
                edges.dedup();
                edges
            })
            .collect();
        let mut bins = vec![0u8; values.len()];
        bins.par_chunks_mut(columns)
            .zip(values.par_chunks(columns))
            .for_each(|(b, v)| {
                for c in 0..columns {
                    b[c] = edges[c].partition_point(|&e| e < v[c]) as u8;
                }
            });
        Self { columns, bins, edges }
    }
}

/// Tree growth limits.
pub struct GrowLimits {
    /// Maximum depth (root = 0).
    pub max_depth: usize,
    /// Minimum samples in each leaf.
    pub min_samples_leaf: usize,
    /// Features tried per split.
    pub features_per_split: usize,
}

impl Tree {
    /// Grows a tree on the rows `rows` (may repeat: bootstrap) of `data` with labels
    /// (nonzero = bone).
    pub fn grow(
        data: &BinnedFeatures,
        labels: &[u8],
        mut rows: Vec<u32>,
        limits: &GrowLimits,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut nodes = Vec::new();
        // Depth-first with an explicit stack: (node index, row range, depth).
        nodes.push(Node::Leaf { probability: 0.0 });
        let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
        while let Some((node, start, end, depth)) = stack.pop() {
            let slice = &mut rows[start..end];
            let positives = slice.iter().filter(|&&r| labels[r as usize] != 0).count();
            let n = slice.len();
            let probability = positives as f32 / n.max(1) as f32;
            let pure = positives == 0 || positives == n;
            let split = if pure || depth >= limits.max_depth || n < 2 * limits.min_samples_leaf {
                None
            } else {
                best_split(data, labels, slice, positives, limits, rng)
            };
            let Some((feature, bin)) = split else {
                nodes[node] = Node::Leaf { probability };
                continue;
            };
            // Partition rows: bin <= split bin to the left.
            let mut left_end = 0;
            for i in 0..n {
                if data.bins[slice[i] as usize * data.columns + feature] <= bin {
                    slice.swap(i, left_end);
                    left_end += 1;
                }
            }
            let left = nodes.len();
            nodes.push(Node::Leaf { probability });
            nodes.push(Node::Leaf { probability });
            nodes[node] = Node::Split {
                feature: feature as u32,
                threshold: data.edges[feature][bin as usize],
                left: left as u32,
                right: left as u32 + 1,
            };
            stack.push((left + 1, start + left_end, end, depth + 1));
            stack.push((left, start, start + left_end, depth + 1));
        }
        Self { nodes }
    }

    /// Bone probability (0..=1) of one feature row.
    #[inline]
    pub fn predict(&self, row: &[f32]) -> f32 {
        let mut i = 0usize;
        loop {
            match self.nodes[i] {
                Node::Leaf { probability } => return probability,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if row[feature as usize] <= threshold {
                        left
                    } else {
                        right
                    } as usize
                }
            }
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the tree has no node (never for a grown or validated tree).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Checks the invariants of a tree read from a file, so [`Tree::predict`] cannot index out
    /// of bounds or loop.
    pub fn validate(&self, columns: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("empty tree".into());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            match *node {
                Node::Leaf { probability } => {
                    if !(0.0..=1.0).contains(&probability) {
                        return Err(format!("node {i}: probability {probability} outside 0..=1"));
                    }
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    let child_ok = |c: u32| (c as usize) > i && (c as usize) < self.nodes.len();
                    if feature as usize >= columns || threshold.is_nan() || !child_ok(left) || !child_ok(right) {
                        return Err(format!("node {i}: invalid split"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Best (feature, bin) split by Gini impurity among `features_per_split` random features, or
/// `None` when no split leaves `min_samples_leaf` rows on both sides and lowers the impurity.
fn best_split(
    data: &BinnedFeatures,
    labels: &[u8],
    rows: &[u32],
    positives: usize,
    limits: &GrowLimits,
    rng: &mut ChaCha8Rng,
) -> Option<(usize, u8)> {
    let n = rows.len() as f64;
    let tried = limits.features_per_split.clamp(1, data.columns);
    let features = sample(rng, data.columns, tried);
    // Minimise the weighted Gini impurity n_l·g_l + n_r·g_r = n − (p_l² + q_l²)/n_l − … ; i.e.
    // maximise Σ_side (pos² + neg²) / n_side.
    let parent_score = {
        let p = positives as f64;
        (p * p + (n - p) * (n - p)) / n
    };
    let mut best: Option<(f64, usize, u8)> = None;
    let mut histogram = [[0u32; 2]; MAX_BINS];
    for feature in features.iter() {
        histogram.iter_mut().for_each(|h| *h = [0, 0]);
        for &r in rows {
            let r = r as usize;
            let b = data.bins[r * data.columns + feature] as usize;
            histogram[b][usize::from(labels[r] != 0)] += 1;
        }
        let (mut left_neg, mut left_pos) = (0f64, 0f64);
        let total_pos = positives as f64;
        for (bin, h) in histogram.iter().enumerate().take(data.edges[feature].len()) {
            left_neg += f64::from(h[0]);
            left_pos += f64::from(h[1]);
            let left_n = left_neg + left_pos;
            let right_n = n - left_n;
            if left_n < limits.min_samples_leaf as f64 || right_n < limits.min_samples_leaf as f64 {
                continue;
            }
            let (right_pos, right_neg) = (total_pos - left_pos, right_n - (total_pos - left_pos));
            let score = (left_pos * left_pos + left_neg * left_neg) / left_n
                + (right_pos * right_pos + right_neg * right_neg) / right_n;
            if score > parent_score + 1e-9 && best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, feature, bin as u8));
            }
        }
    }
    best.map(|(_, f, b)| (f, b))
}
