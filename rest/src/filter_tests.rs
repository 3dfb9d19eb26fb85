use super::*;
use crate::cursor::Field;
use rstest::rstest;

fn f(value: &str) -> Result<Filter, RestError> {
    parse_filter(
        vec![],
        Field {
            name: "c".into(),
            json_path: vec![],
        },
        value,
    )
}

#[rstest]
#[case("eq.1", Op::Eq)]
#[case("neq.1", Op::Neq)]
#[case("gt.1", Op::Gt)]
#[case("gte.1", Op::Gte)]
#[case("lt.1", Op::Lt)]
#[case("lte.1", Op::Lte)]
#[case("like.1", Op::Like)]
#[case("ilike.1", Op::Ilike)]
#[case("match.1", Op::Match)]
#[case("imatch.1", Op::Imatch)]
#[case("isdistinct.1", Op::IsDistinct)]
#[case("cs.1", Op::Contains)]
#[case("cd.1", Op::ContainedIn)]
#[case("ov.1", Op::Overlap)]
#[case("sl.1", Op::StrictlyLeft)]
#[case("sr.1", Op::StrictlyRight)]
#[case("nxr.1", Op::NotExtendRight)]
#[case("nxl.1", Op::NotExtendLeft)]
#[case("adj.1", Op::Adjacent)]
fn binary_operators(#[case] value: &str, #[case] op: Op) {
    assert_eq!(
        f(value).expect(value).op,
        Operation::Binary(op, None, "1".into())
    );
}

#[test]
fn values_keep_dots_commas_and_quotes() {
    assert_eq!(
        f("eq.a.b,c(d)\"e\"").expect("ok").op,
        Operation::Binary(Op::Eq, None, "a.b,c(d)\"e\"".into())
    );
    assert_eq!(
        f("eq.").expect("empty").op,
        Operation::Binary(Op::Eq, None, "".into())
    );
}

#[test]
fn negation_quantifiers_is_in_fts() {
    let x = f("not.like(all).{a*,b*}").expect("ok");
    assert!(x.negate);
    assert_eq!(
        x.op,
        Operation::Binary(Op::Like, Some(Quantifier::All), "{a*,b*}".into())
    );
    assert_eq!(
        f("eq(any).{1,2}").expect("ok").op,
        Operation::Binary(Op::Eq, Some(Quantifier::Any), "{1,2}".into())
    );
    assert_eq!(f("is.NULL").expect("ok").op, Operation::Is(IsValue::Null));
    assert_eq!(
        f("is.not_null").expect("ok").op,
        Operation::Is(IsValue::NotNull)
    );
    assert_eq!(
        f("is.unknown").expect("ok").op,
        Operation::Is(IsValue::Unknown)
    );
    assert_eq!(
        f(r#"in.(1,"a,b","say \"hi\"",back\slash)"#).expect("ok").op,
        Operation::In(vec![
            "1".into(),
            "a,b".into(),
            "say \"hi\"".into(),
            "back\\slash".into()
        ])
    );
    assert_eq!(f("in.()").expect("ok").op, Operation::In(vec![]));
    // As PostgREST: spaces after `(` are skipped, and a quote counts as one only when a `,`
    // or `)` follows the closing quote.
    assert_eq!(f("in.(    )").expect("ok").op, Operation::In(vec![]));
    assert_eq!(
        f("in.( ,3)").expect("ok").op,
        Operation::In(vec!["".into(), "3".into()])
    );
    assert_eq!(
        f(r#"in.(")"#).expect("ok").op,
        Operation::In(vec!["\"".into()])
    );
    assert_eq!(
        f(r#"in.("unterminated)"#).expect("ok").op,
        Operation::In(vec!["\"unterminated".into()])
    );
    assert_eq!(
        f("fts(english).cat & dog").expect("ok").op,
        Operation::Fts(Fts::Fts, Some("english".into()), "cat & dog".into())
    );
    assert_eq!(
        f("wfts.a b").expect("ok").op,
        Operation::Fts(Fts::Websearch, None, "a b".into())
    );
    assert!(matches!(
        f("plfts.x").expect("ok").op,
        Operation::Fts(Fts::Plain, None, _)
    ));
    assert!(matches!(
        f("phfts.x").expect("ok").op,
        Operation::Fts(Fts::Phrase, None, _)
    ));
}

#[test]
fn rejects_unknown_operators_and_bad_shapes() {
    for bad in [
        "noop.1",
        "eq",
        "eq1",
        "is.maybe",
        "in.(1,2",
        "in.1,2",
        "cs(any).{1}",
        "not.not.eq.1",
        "",
    ] {
        let e = f(bad).expect_err(bad);
        assert_eq!(e.code(), "PGRST100", "{bad}");
    }
    let e = f("noop.0").expect_err("noop");
    assert_eq!(
        e.message(),
        "\"failed to parse filter (noop.0)\" (line 1, column 1)"
    );
}

#[test]
fn logic_trees() {
    let t = parse_logic(
        vec![],
        false,
        "(a.eq.1,and(b.gt.2,c.not.is.null),not.or(d.in.(1,2),e.eq.\"x,)\"))",
    )
    .expect("parses");
    let LogicTree::Expr {
        and,
        children,
        negate,
    } = t
    else {
        panic!("expr")
    };
    assert!(!and && !negate);
    assert_eq!(children.len(), 3);
    assert!(
        matches!(&children[1], LogicTree::Expr { and: true, children, .. } if children.len() == 2)
    );
    let LogicTree::Expr {
        negate: true,
        children: inner,
        ..
    } = &children[2]
    else {
        panic!("negated or")
    };
    assert!(
        matches!(&inner[1], LogicTree::Leaf(f) if f.op == Operation::Binary(Op::Eq, None, "x,)".into()))
    );
    let t = parse_logic(
        vec![],
        true,
        "(rel.not.is.null,data->a->>b.eq.1,arr.cs.{1,2})",
    )
    .expect("parses");
    let LogicTree::Expr { children, .. } = t else {
        panic!("expr")
    };
    assert!(matches!(&children[0], LogicTree::Leaf(f) if f.field.name == "rel" && f.negate));
    assert!(matches!(&children[1], LogicTree::Leaf(f) if f.field.json_path.len() == 2));
    assert!(
        matches!(&children[2], LogicTree::Leaf(f) if f.op == Operation::Binary(Op::Contains, None, "{1,2}".into()))
    );
    // Leaves belong to the tree's own resource: `rel.or=(…)` scopes a tree to an embed.
    let t = parse_logic(vec!["rel".into()], false, "(a.eq.1,sub.is.null)").expect("scoped");
    let LogicTree::Expr { children, .. } = t else {
        panic!("expr")
    };
    assert!(
        children
            .iter()
            .all(|c| matches!(c, LogicTree::Leaf(f) if f.path == vec!["rel".to_string()]))
    );
}

#[test]
fn a_column_of_an_embed_inside_a_tree_is_a_parse_error_at_its_position() {
    // As PostgREST, which parses `or(sub.col.eq.1)`: the column after `sub.` is where an
    // operator was expected.
    let e = parse_logic(vec![], false, "(sub.col.eq.1)").expect_err("embed column");
    assert_eq!(e.code(), "PGRST100");
    assert_eq!(
        e.message(),
        "\"failed to parse logic tree ((sub.col.eq.1))\" (line 1, column 8)"
    );
    assert_eq!(
        e.details(),
        serde_json::json!("unexpected \"c\" expecting \"not\" or operator (eq, gt, ...)")
    );
    let e = parse_logic(vec![], true, "(a.eq.1,b.c.is.null)").expect_err("nested embed");
    assert_eq!(
        e.message(),
        "\"failed to parse logic tree ((a.eq.1,b.c.is.null))\" (line 1, column 14)"
    );
}

#[test]
fn logic_tree_errors() {
    for bad in [
        "a.eq.1",
        "(a.eq.1",
        "(a.eq.1,)",
        "(a.zz.1)",
        "()",
        "(a.eq.1))",
        "(a.eq.1));drop table x",
        "(and(a.eq.1)",
    ] {
        let e = parse_logic(vec![], false, bad).expect_err(bad);
        assert_eq!(e.code(), "PGRST100", "{bad}");
    }
}

#[test]
fn logic_trees_take_spaces_and_stop_at_their_closing_parenthesis() {
    // As PostgREST's parser: spaces around parentheses and commas, an operator apart from its
    // group.
    for ok in [
        "( and ( id.in.( 1, 2, 3 ) , id.eq.3 ) , or ( id.eq.2 , id.eq.3 ) )",
        "( id.eq.1, not.or(id.eq.2, id.eq.3), id.in.(1,4), or(id.eq.1, id.eq.4) )",
        "(and(id.eq.1,id.eq.1) )",
    ] {
        let t = parse_logic(vec![], true, ok).expect(ok);
        assert!(matches!(t, LogicTree::Expr { .. }), "{ok}");
    }
    // A field named like an operator is still a field.
    let t = parse_logic(vec![], false, "(android.eq.1,order.eq.2)").expect("fields");
    let LogicTree::Expr { children, .. } = t else {
        panic!("expr")
    };
    assert!(matches!(&children[0], LogicTree::Leaf(f) if f.field.name == "android"));
    assert!(matches!(&children[1], LogicTree::Leaf(f) if f.field.name == "order"));
}

#[test]
fn logic_tree_nesting_is_bounded_instead_of_overflowing_the_stack() {
    let nested = |levels: usize| format!("({}a.eq.1{})", "or(".repeat(levels), ")".repeat(levels));
    assert!(parse_logic(vec![], false, &nested(crate::cursor::MAX_NESTING)).is_ok());
    for levels in [crate::cursor::MAX_NESTING + 1, 100_000] {
        let e = parse_logic(vec![], false, &nested(levels)).expect_err("too deep");
        assert_eq!(e.code(), "PGRST100");
        assert!(
            e.details().to_string().contains("levels of nesting"),
            "{}",
            e.details()
        );
    }
    let negated = format!(
        "({}a.eq.1{})",
        "not.and(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(
        parse_logic(vec![], true, &negated)
            .expect_err("too deep")
            .code(),
        "PGRST100"
    );
}

#[test]
fn an_empty_term_expects_any_start_of_one_as_postgrest() {
    for (and, value, column) in [(false, "()", 4), (true, "(a.eq.1,)", 12)] {
        let e = parse_logic(vec![], and, value).expect_err(value);
        assert_eq!(
            e.body()["details"],
            "unexpected \")\" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)",
            "{value}"
        );
        assert_eq!(
            e.body()["message"],
            format!("\"failed to parse logic tree ({value})\" (line 1, column {column})")
        );
    }
}
