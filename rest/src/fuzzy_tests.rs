use super::*;
use rstest::rstest;

/// The best match, worked out by hand from the algorithm (see the module's description).
#[rstest]
// Exact ignoring case, whatever else is close.
#[case(&["Films", "film_roles"], "films", Some("Films"))]
// "todo": trigrams -to tod odo do-; only "todos" shares any (3): distance 1 of 5, 0.8.
#[case(&["todos", "users", "projects"], "todo", Some("todos"))]
// Underscores leave the grams (both have those of "userroles") but count for the distance:
// user_roles 1 - 1/10 = 0.9, userroles 1 - 2/9 = 0.78.
#[case(&["userroles", "user_roles"], "user_role", Some("user_roles"))]
// Equal distance (1 of 5, 0.8): the higher cosine wins, "zabcd" sharing abc bcd cd- (3/(2√5))
// where "abxcd" shares -ab cd- (2/(2√5)), though it comes first in byte order.
#[case(&["abxcd", "zabcd"], "abcd", Some("zabcd"))]
// Equal on both scores (shares 2 of 4 trigrams, distance 1 of 4): byte order.
#[case(&["xbcd", "abce"], "abcd", Some("abce"))]
// The distance decides over the cosine: "abcdabcd" (cosine 6/(2√12) = 0.87, distance 4 of 8,
// 0.5) loses to "abxd" (cosine 0.25, distance 1 of 4, 0.75).
#[case(&["abcdabcd", "abxd"], "abcd", Some("abxd"))]
// 1 - 4/6 = 1/3 is at least 0.33.
#[case(&["abcdef"], "ab", Some("abcdef"))]
// 1 - 5/7 = 0.29 is not, with trigrams as with bigrams.
#[case(&["abcdefg"], "ab", None)]
// No gram in common, however short the distance: "(x)" has the grams of "-x-", "(a, b)" those
// of "-a, b-" (commas and spaces stay, parentheses go).
#[case(&["(a, b)"], "(x)", None)]
// Bigrams only ("b-"): distance 3 of 6, 0.5.
#[case(&["(a, b)"], "(b)", Some("(a, b)"))]
// Trigrams first: "zzzzcd" shares cd- and scores 1 - 4/6 = 1/3, so bigrams, by which "axcx"
// (sharing only -a) would score 0.5, are never tried.
#[case(&["zzzzcd", "axcx"], "abcd", Some("zzzzcd"))]
#[case(&["axcx"], "abcd", Some("axcx"))]
#[case(&[], "abcd", None)]
fn best_match(#[case] candidates: &[&str], #[case] name: &str, #[case] want: Option<&str>) {
    assert_eq!(
        FuzzySet::new(candidates.iter().copied()).get_one(name),
        want
    );
}

#[test]
fn scores_and_order() {
    let set = FuzzySet::new(["abxcd", "zabcd", "abcdabcd"]);
    // By distance, then (0.8 each) by cosine; "abcdabcd" at 0.5.
    assert_eq!(
        set.get("abcd"),
        vec![(0.8, "zabcd"), (0.8, "abxcd"), (0.5, "abcdabcd")]
    );
    assert_eq!(FuzzySet::new(["Films"]).get("FILMS"), vec![(1.0, "Films")]);
    // Duplicates, also ignoring case, are one candidate.
    assert_eq!(
        FuzzySet::new(["todos", "todos", "Todos"]).get("todo"),
        vec![(0.8, "Todos")]
    );
}

#[test]
fn only_the_fifty_best_cosines_are_scored_by_distance() {
    // "abxd" scores 0.75 by distance but its cosine (0.25) is under that of every "abcdNN"
    // (3/(2√6) = 0.61), which score 1 - 2/6 = 0.67.
    let many: Vec<String> = (10..60).map(|n| format!("abcd{n}")).collect();
    let with = |n: usize| {
        let mut names: Vec<&str> = many.iter().take(n).map(String::as_str).collect();
        names.push("abxd");
        FuzzySet::new(names).get_one("abcd").map(str::to_string)
    };
    assert_eq!(with(49).as_deref(), Some("abxd"));
    assert_eq!(with(50).as_deref(), Some("abcd10"));
}

/// Table and function names are suggested from a score of 0.75 only, exact matches always.
#[rstest]
#[case(&["members"], "mem", None)]
#[case(&["members"], "membes", Some("members"))]
// 1 - 1/4 = 0.75 is enough.
#[case(&["adds"], "add", Some("adds"))]
#[case(&["add"], "ad", None)]
#[case(&["Users"], "users", Some("Users"))]
fn names_need_the_higher_score(
    #[case] candidates: &[&str],
    #[case] name: &str,
    #[case] want: Option<&str>,
) {
    let set = FuzzySet::new(candidates.iter().copied());
    assert_eq!(set.get_one_with_min_score(name, NAME_MIN_SCORE), want);
}
