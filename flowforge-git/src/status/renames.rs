//! Rename and copy detection exactly as `git status` does it (git's `diffcore-rename` with its
//! defaults: 50% minimum similarity, rename limit 1000): exact matches first, then (renames
//! only) unique-basename pairs at 75%, then the best-scoring pairs by git's `spanhash`
//! similarity estimate. libgit2's own similarity metric disagrees with git's near the
//! threshold, so it is not used.
//!
//! With copies (`status.renames=copies`), modified paths are sources too, and a source may
//! serve several destinations: git first pairs destinations with sources nobody used yet, then
//! lets the rest copy from any source. A source that stays (modified) makes every pair a copy;
//! a deleted source used by several destinations is copied into all but the last (in path
//! order), which is its rename (git's `diff_resolve_rename_copy`).

use std::collections::HashMap;

use git2::{Oid, Repository};

use super::types::Change;

/// One side of a candidate pair: an added (destination) or deleted (source) path.
pub(crate) struct Candidate {
    pub path: Vec<u8>,
    pub oid: Oid,
    pub mode: u32,
    /// The content when it is not a blob in the object database (a work-tree file).
    pub content: Option<Vec<u8>>,
    /// A source that stays (a modified path, a copy source only).
    pub stays: bool,
}

const MAX_SCORE: u64 = 60_000;
const MINIMUM_SCORE: u64 = 30_000;
const MIN_BASENAME_SCORE: u64 = MINIMUM_SCORE + (MAX_SCORE - MINIMUM_SCORE) / 2;
const CANDIDATES_PER_DST: usize = 4;
const RENAME_LIMIT: usize = 1000;
/// How many identical unused sources git weighs for one destination before it picks one.
const IDENTICAL_CANDIDATES: usize = 100;

/// Pairs destinations with sources: `(dst index, src index, Renamed or Copied)` for each pair
/// found, `copies` as with `status.renames=copies`. Destinations must be in path order.
pub(crate) fn detect(
    repo: &Repository,
    sources: &[Candidate],
    dests: &[Candidate],
    copies: bool,
) -> Result<Vec<(usize, usize, Change)>, git2::Error> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    if sources.is_empty() || dests.is_empty() {
        return Ok(Vec::new());
    }
    // git's `rename_used`: a source that stays counts as its own user.
    let mut used: Vec<usize> = sources.iter().map(|s| usize::from(s.stays)).collect();
    let mut matched = vec![false; dests.len()];

    // Exact renames: same id (and same mode unless both are regular files); an unused source
    // with the same basename is preferred, among the first 100 candidates only (git's
    // `find_identical_files` stops there and keeps the best so far). Without copies a used
    // source is no candidate.
    for (d, dst) in dests.iter().enumerate() {
        let mut best: Option<(usize, u8)> = None;
        let mut left = IDENTICAL_CANDIDATES;
        for (s, src) in sources.iter().enumerate() {
            if src.oid != dst.oid
                || (!(regular(src) && regular(dst)) && src.mode != dst.mode)
                || (used[s] > 0 && !copies)
            {
                continue;
            }
            let score =
                u8::from(used[s] == 0) + u8::from(basename(&src.path) == basename(&dst.path));
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((s, score));
                if score == 2 {
                    break;
                }
            }
            left -= 1;
            if left == 0 {
                break;
            }
        }
        if let Some((s, _)) = best {
            used[s] += 1;
            matched[d] = true;
            pairs.push((d, s));
        }
    }

    let mut estimator = Estimator {
        repo,
        counts: HashMap::new(),
    };

    // Unique basenames on both sides: a rename if at least 75% similar (not with copies).
    if !copies {
        let mut src_names: HashMap<&[u8], Option<usize>> = HashMap::new();
        for (s, src) in sources.iter().enumerate().filter(|(s, _)| used[*s] == 0) {
            src_names
                .entry(basename(&src.path))
                .and_modify(|e| *e = None)
                .or_insert(Some(s));
        }
        let mut dst_names: HashMap<&[u8], Option<usize>> = HashMap::new();
        for (d, dst) in dests.iter().enumerate().filter(|(d, _)| !matched[*d]) {
            dst_names
                .entry(basename(&dst.path))
                .and_modify(|e| *e = None)
                .or_insert(Some(d));
        }
        for (s, src) in sources.iter().enumerate() {
            if used[s] > 0 {
                continue;
            }
            let Some(Some(d)) = dst_names.get(basename(&src.path)).copied() else {
                continue;
            };
            if src_names.get(basename(&src.path)).copied().flatten() != Some(s) || matched[d] {
                continue;
            }
            if estimator.score(src, &dests[d])? >= MIN_BASENAME_SCORE {
                used[s] += 1;
                matched[d] = true;
                pairs.push((d, s));
            }
        }
    }

    // The rest: each destination's best candidates (every source with copies, the unused
    // ones otherwise), then the best pairs overall.
    let remaining_dsts: Vec<usize> = (0..dests.len()).filter(|&d| !matched[d]).collect();
    let remaining_srcs: Vec<usize> = (0..sources.len())
        .filter(|&s| copies || used[s] == 0)
        .collect();
    if remaining_dsts.is_empty()
        || remaining_srcs.is_empty()
        || too_many(remaining_dsts.len(), remaining_srcs.len())
    {
        return Ok(letters(sources, dests, pairs, used));
    }
    // (score, name score, dst, src)
    let mut candidates: Vec<(u64, u8, usize, usize)> = Vec::new();
    for &d in &remaining_dsts {
        let mut best: Vec<(u64, u8, usize, usize)> = Vec::with_capacity(CANDIDATES_PER_DST + 1);
        for &s in &remaining_srcs {
            let score = estimator.score(&sources[s], &dests[d])?;
            let name = u8::from(basename(&sources[s].path) == basename(&dests[d].path));
            best.push((score, name, d, s));
            // Keep the best few; a later candidate replaces one only if strictly better.
            best.sort_by_key(|c| std::cmp::Reverse((c.0, c.1)));
            best.truncate(CANDIDATES_PER_DST);
        }
        candidates.extend(best);
    }
    candidates.sort_by_key(|c| std::cmp::Reverse((c.0, c.1)));
    // git's `find_renames`: renames from unused sources first, then (copies) any source.
    for reuse in [false, true].into_iter().take(1 + usize::from(copies)) {
        for &(score, _, d, s) in &candidates {
            if score < MINIMUM_SCORE {
                break;
            }
            if matched[d] || (used[s] > 0 && !reuse) {
                continue;
            }
            matched[d] = true;
            used[s] += 1;
            pairs.push((d, s));
        }
    }
    Ok(letters(sources, dests, pairs, used))
}

/// git's `diff_resolve_rename_copy`: in destination path order, each pair takes one use of
/// its source; it is a copy while uses remain (the source stays, or later destinations use
/// it), else the rename.
fn letters(
    sources: &[Candidate],
    dests: &[Candidate],
    mut pairs: Vec<(usize, usize)>,
    mut used: Vec<usize>,
) -> Vec<(usize, usize, Change)> {
    pairs.sort_by(|a, b| dests[a.0].path.cmp(&dests[b.0].path));
    debug_assert_eq!(used.len(), sources.len());
    pairs
        .into_iter()
        .map(|(d, s)| {
            used[s] -= 1;
            let change = if used[s] > 0 {
                Change::Copied
            } else {
                Change::Renamed
            };
            (d, s, change)
        })
        .collect()
}

fn regular(side: &Candidate) -> bool {
    side.mode & 0o170000 == 0o100000
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

fn too_many(dsts: usize, srcs: usize) -> bool {
    (dsts > RENAME_LIMIT || srcs > RENAME_LIMIT)
        && (dsts as u64) * (srcs as u64) > (RENAME_LIMIT as u64).pow(2)
}

/// git's `spanhash` counts of a blob: bytes per hashed chunk, plus its size.
struct Counts {
    size: u64,
    spans: HashMap<u32, u64>,
}

struct Estimator<'r> {
    repo: &'r Repository,
    counts: HashMap<Oid, std::rc::Rc<Counts>>,
}

impl Estimator<'_> {
    fn counts(&mut self, side: &Candidate) -> Result<std::rc::Rc<Counts>, git2::Error> {
        let oid = side.oid;
        if let Some(counts) = self.counts.get(&oid) {
            return Ok(counts.clone());
        }
        let counts = match &side.content {
            Some(content) => std::rc::Rc::new(hash_chars(content)),
            None => std::rc::Rc::new(hash_chars(self.repo.find_blob(oid)?.content())),
        };
        self.counts.insert(oid, counts.clone());
        Ok(counts)
    }

    /// git's `estimate_similarity`: the share (of 60,000) of the larger file's bytes that the
    /// destination copies from the source; 0 for non-regular files or sizes too different.
    fn score(&mut self, src: &Candidate, dst: &Candidate) -> Result<u64, git2::Error> {
        if !regular(src) || !regular(dst) {
            return Ok(0);
        }
        let (a, b) = (self.counts(src)?, self.counts(dst)?);
        let max_size = a.size.max(b.size);
        let delta = max_size - a.size.min(b.size);
        if max_size * (MAX_SCORE - MINIMUM_SCORE) < delta * MAX_SCORE || b.size == 0 {
            return Ok(0);
        }
        let copied: u64 = a
            .spans
            .iter()
            .map(|(hash, &n)| n.min(b.spans.get(hash).copied().unwrap_or(0)))
            .sum();
        Ok(copied * MAX_SCORE / max_size)
    }
}

/// git's `hash_chars`: chunks end at a newline or after 64 bytes; a CR before an LF is skipped
/// in text (no NUL in the first 8,000 bytes).
fn hash_chars(data: &[u8]) -> Counts {
    const HASHBASE: u32 = 107_927;
    let is_text = !data[..data.len().min(8000)].contains(&0);
    let mut spans: HashMap<u32, u64> = HashMap::new();
    let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        i += 1;
        if is_text && c == b'\r' && data.get(i) == Some(&b'\n') {
            continue;
        }
        let old1 = accum1;
        accum1 = (accum1 << 7) ^ (accum2 >> 25);
        accum2 = (accum2 << 7) ^ (old1 >> 25);
        accum1 = accum1.wrapping_add(u32::from(c));
        n += 1;
        if n < 64 && c != b'\n' {
            continue;
        }
        let hash = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
        *spans.entry(hash).or_default() += n;
        (accum1, accum2, n) = (0, 0, 0);
    }
    if n > 0 {
        let hash = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
        *spans.entry(hash).or_default() += n;
    }
    Counts {
        size: data.len() as u64,
        spans,
    }
}
