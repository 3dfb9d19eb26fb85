//! "Perhaps you meant" matching as PostgREST does it for unknown tables, functions and
//! relationships: a fuzzy string set with the defaults of the Haskell `fuzzyset` package it
//! uses (0.2.x).
//!
//! The algorithm:
//! - A name is compared lower-cased. One equal to a candidate (ignoring case) is an exact
//!   match, alone in the answer with score 1.
//! - Otherwise names are cut into n-grams: the lower-cased name keeps only letters, digits,
//!   whitespace and commas (`_`, `(`, `.` go), is enclosed in `-`, and every substring of n
//!   characters is a gram. Trigrams are tried first, then bigrams if trigrams give nothing.
//! - The candidates sharing at least one gram with the name are ranked by the cosine
//!   similarity of their gram-count vectors; the 50 best are then scored again by their
//!   normalized Levenshtein similarity to the name (`1 - distance / longer length`, on the
//!   lower-cased names, all characters kept) and ranked by that score, the cosine order
//!   breaking ties.
//! - Candidates scoring under 0.33 are dropped; table and function names ask for 0.75
//!   ([`NAME_MIN_SCORE`]), so that a near-miss does not reveal the names of the schema.
//!
//! Where the package's order among candidates equal on both scores comes from a hash map's
//! iteration (the candidates' order), ours is the candidates' byte order.

use std::collections::HashMap;

/// Scores under this are no match (`Data.FuzzySet.get`'s minimum).
const MIN_SCORE: f64 = 0.33;
/// The score a table or function name must reach to be suggested (PostgREST 14.6 on; argument
/// lists and relationships keep [`MIN_SCORE`]).
pub const NAME_MIN_SCORE: f64 = 0.75;
/// How many of the best cosine matches are scored again by edit distance.
const RESCORED: usize = 50;

/// A set of candidate names to match names against.
pub struct FuzzySet<'a> {
    /// Distinct (ignoring case) candidates, in byte order: `(name, lower-cased name)`.
    entries: Vec<(&'a str, String)>,
}

impl<'a> FuzzySet<'a> {
    /// The set of `candidates`; of those equal ignoring case, the first in byte order stays.
    pub fn new(candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = candidates.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        let mut entries: Vec<(&str, String)> = Vec::with_capacity(names.len());
        for name in names {
            let lower = name.to_lowercase();
            if !entries.iter().any(|(_, l)| *l == lower) {
                entries.push((name, lower));
            }
        }
        FuzzySet { entries }
    }

    /// The matches for `name`, best first, with their scores.
    pub fn get(&self, name: &str) -> Vec<(f64, &'a str)> {
        self.get_with_min_score(name, MIN_SCORE)
    }

    /// The matches for `name` scoring at least `min`, best first, with their scores.
    pub fn get_with_min_score(&self, name: &str, min: f64) -> Vec<(f64, &'a str)> {
        let key = name.to_lowercase();
        if let Some((found, _)) = self.entries.iter().find(|(_, l)| *l == key) {
            return vec![(1.0, found)];
        }
        [3, 2]
            .into_iter()
            .map(|n| self.matches(&key, n, min))
            .find(|m| !m.is_empty())
            .unwrap_or_default()
    }

    /// The best match for `name`, if any.
    pub fn get_one(&self, name: &str) -> Option<&'a str> {
        self.get(name).first().map(|(_, c)| *c)
    }

    /// The best match for `name` scoring at least `min`, if any.
    pub fn get_one_with_min_score(&self, name: &str, min: f64) -> Option<&'a str> {
        self.get_with_min_score(name, min).first().map(|(_, c)| *c)
    }

    fn matches(&self, key: &str, n: usize, min: f64) -> Vec<(f64, &'a str)> {
        let wanted = gram_vector(key, n);
        let wanted_norm = norm(&wanted);
        let mut ranked: Vec<(f64, &(&'a str, String))> = self
            .entries
            .iter()
            .filter_map(|entry| {
                let grams = gram_vector(&entry.1, n);
                let dot: u64 = wanted
                    .iter()
                    .filter_map(|(g, c)| grams.get(g).map(|o| u64::from(*c) * u64::from(*o)))
                    .sum();
                (dot > 0).then(|| (dot as f64 / (wanted_norm * norm(&grams)), entry))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut rescored: Vec<(f64, &'a str)> = ranked
            .into_iter()
            .take(RESCORED)
            .map(|(_, (name, lower))| (levenshtein_similarity(key, lower), *name))
            .collect();
        rescored.sort_by(|a, b| b.0.total_cmp(&a.0));
        rescored.retain(|(score, _)| *score >= min);
        rescored
    }
}

/// The n-grams of `s` (lower-cased already) with their counts.
fn gram_vector(s: &str, n: usize) -> HashMap<String, u32> {
    let chars: Vec<char> = std::iter::once('-')
        .chain(
            s.chars()
                .filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == ','),
        )
        .chain(std::iter::once('-'))
        .collect();
    let mut grams = HashMap::new();
    for w in chars.windows(n) {
        *grams.entry(w.iter().collect()).or_insert(0) += 1;
    }
    grams
}

fn norm(v: &HashMap<String, u32>) -> f64 {
    (v.values().map(|c| u64::from(*c).pow(2)).sum::<u64>() as f64).sqrt()
}

/// `1 - distance / longer length`, computed as one division so that it rounds as the exact
/// fraction does.
fn levenshtein_similarity(a: &str, b: &str) -> f64 {
    let d = levenshtein(a, b);
    if d == 0 {
        return 1.0;
    }
    let longer = a.chars().count().max(b.chars().count());
    (longer - d) as f64 / longer as f64
}

/// Edit distance (insertions, deletions, substitutions of characters).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
#[path = "fuzzy_tests.rs"]
mod tests;
