use super::*;
use num_bigint::BigInt;

const V38: PythonVersion = PythonVersion::V3_8;
const V311: PythonVersion = PythonVersion::V3_11;
const V313: PythonVersion = PythonVersion::V3_13;

fn folded(src: &str, v: PythonVersion, optimize: u8) -> (ModModule, Folded) {
    let mut module = ruff_python_parser::parse_module(src)
        .expect("valid source")
        .into_syntax();
    let folded = fold(&mut module, src, v, optimize);
    (module, folded)
}

/// The value of `x = <expr>` after folding, or `None` when it is not a constant.
fn value(expr: &str, v: PythonVersion) -> Option<Constant> {
    let src = format!("x = {expr}\n");
    let (module, folded) = folded(&src, v, 0);
    match &module.body[0] {
        Stmt::Assign(a) => folded.value(&a.value, &src),
        _ => None,
    }
}

fn int(i: i64) -> Constant {
    Constant::int(i)
}

fn tuple(items: Vec<Constant>) -> Constant {
    Constant::Tuple(items)
}

#[test]
fn arithmetic() {
    for v in PythonVersion::ALL {
        assert_eq!(value("1 + 2 * 3", v), Some(int(7)));
        assert_eq!(value("-7 // 2", v), Some(int(-4)));
        assert_eq!(value("-7 % 2", v), Some(int(1)));
        assert_eq!(value("7 / 2", v), Some(Constant::Float(3.5)));
        assert_eq!(value("1 / 0", v), None);
        assert_eq!(value("2 ** -1", v), Some(Constant::Float(0.5)));
        assert_eq!(
            value("2 ** 64", v),
            Some(Constant::Int(BigInt::from(1u8) << 64u32))
        );
        assert_eq!(value("2 ** 65", v), None);
        assert_eq!(
            value("1 + 2j", v),
            Some(Constant::Complex { re: 1.0, im: 2.0 })
        );
        assert_eq!(
            value("-0.0", v).map(|c| matches!(c, Constant::Float(f) if f.is_sign_negative())),
            Some(true)
        );
        assert_eq!(value("1e308 * 10", v), Some(Constant::Float(f64::INFINITY)));
        assert_eq!(value("10 ** 400 * 1.0", v), None);
        assert_eq!(value("'ab' * 3", v), Some(Constant::str("ababab")));
        assert_eq!(value("'%s' % 1", v), None);
        assert_eq!(value("not ()", v), Some(Constant::Bool(true)));
        assert_eq!(value("~True", v), Some(int(-2)));
        assert_eq!(value("1 @ 2", v), None);
        assert_eq!(value("-x", v), None);
    }
}

#[test]
fn containers_and_subscripts() {
    let v = V313;
    assert_eq!(
        value("(1, (2, 'a'), None)", v),
        Some(tuple(vec![
            int(1),
            tuple(vec![int(2), Constant::str("a")]),
            Constant::None
        ]))
    );
    assert_eq!(value("(1, x)", v), None);
    assert_eq!(
        value("(1, 2) + (3,)", v),
        Some(tuple(vec![int(1), int(2), int(3)]))
    );
    assert_eq!(value("'abc'[-1]", v), Some(Constant::str("c")));
    assert_eq!(value("b'ab'[0]", v), Some(int(97)));
    assert_eq!(value("(1, 2)[5]", v), None);
    assert_eq!(value("(1, 2)[:1]", v), None);
    assert_eq!(value("[1, 2]", v), None);
    assert_eq!(value("()", v), Some(tuple(vec![])));
}

#[test]
fn debug_follows_optimize() {
    for v in PythonVersion::ALL {
        for (optimize, expected) in [(0, true), (1, false), (2, false)] {
            let src = "x = (__debug__, not __debug__)\n";
            let (module, folded) = folded(src, v, optimize);
            let Stmt::Assign(a) = &module.body[0] else {
                unreachable!()
            };
            assert_eq!(
                folded.value(&a.value, src),
                Some(tuple(vec![
                    Constant::Bool(expected),
                    Constant::Bool(!expected)
                ]))
            );
        }
    }
}

#[test]
fn iterables_become_tuples_and_frozensets() {
    let src = "for a in [1, 2]: pass\nx = a in {1, 2, 1.0}\ny = [a for a in [b, c]]\nasync def f():\n    async for a in [1]: pass\n";
    let (module, folded) = folded(src, V313, 0);
    let Stmt::For(f) = &module.body[0] else {
        unreachable!()
    };
    assert!(matches!(*f.iter, Expr::Tuple(_)));
    assert_eq!(
        folded.value(&f.iter, src),
        Some(tuple(vec![int(1), int(2)]))
    );
    let Stmt::Assign(a) = &module.body[1] else {
        unreachable!()
    };
    let Expr::Compare(c) = &*a.value else {
        unreachable!()
    };
    assert_eq!(
        folded.value(&c.comparators[0], src),
        Some(Constant::FrozenSet(vec![int(1), int(2)]))
    );
    let Stmt::Assign(a) = &module.body[2] else {
        unreachable!()
    };
    let Expr::ListComp(l) = &*a.value else {
        unreachable!()
    };
    assert!(matches!(l.generators[0].iter, Expr::Tuple(_)));
    assert_eq!(folded.value(&l.generators[0].iter, src), None);
    let Stmt::FunctionDef(f) = &module.body[3] else {
        unreachable!()
    };
    let Stmt::For(f) = &f.body[0] else {
        unreachable!()
    };
    assert!(matches!(*f.iter, Expr::List(_)));
}

#[test]
fn not_inverts_comparisons() {
    let src = "x = not (a is b)\ny = not a == b\nz = not (a in b in c)\n";
    let (module, _) = folded(src, V38, 0);
    let op = |i: usize| match &module.body[i] {
        Stmt::Assign(a) => match &*a.value {
            Expr::Compare(c) => Some(c.ops[0]),
            _ => None,
        },
        _ => None,
    };
    assert_eq!(op(0), Some(CmpOp::IsNot));
    assert_eq!(op(1), None);
    assert_eq!(op(2), None);
}

#[test]
fn percent_format_becomes_fstring_from_3_11() {
    let src = "x = 'a%sb%-3r%%' % (y, z)\n";
    let (module, _) = folded(src, V311, 0);
    let Stmt::Assign(a) = &module.body[0] else {
        unreachable!()
    };
    let Expr::FString(f) = &*a.value else {
        panic!("not rewritten: {:?}", a.value)
    };
    assert_eq!(f.range, a.value.range());
    let parts = f.value.as_slice();
    let ast::FStringPart::FString(s) = &parts[0] else {
        unreachable!()
    };
    assert_eq!(s.elements.len(), 5);
    let (module, _) = folded(src, PythonVersion::V3_10, 0);
    let Stmt::Assign(a) = &module.body[0] else {
        unreachable!()
    };
    assert!(matches!(&*a.value, Expr::BinOp(_)));
    // A tuple of constants is folded first and `%` on a str is never folded.
    let (module, folded) = folded("x = '%s' % (1,)\n", V313, 0);
    let Stmt::Assign(a) = &module.body[0] else {
        unreachable!()
    };
    assert!(matches!(&*a.value, Expr::BinOp(_)));
    assert!(folded.constant(&a.value).is_none());
}

#[test]
fn folded_first_string_is_no_docstring() {
    let src = "'a' + 'b'\ndef f():\n    'doc'\n    'c' * 2\n";
    let (module, folded) = folded(src, V38, 0);
    let Stmt::Expr(e) = &module.body[0] else {
        unreachable!()
    };
    assert!(folded.wraps_docstring(e));
    let Stmt::FunctionDef(f) = &module.body[1] else {
        unreachable!()
    };
    let Stmt::Expr(e) = &f.body[1] else {
        unreachable!()
    };
    assert!(!folded.wraps_docstring(e));
}

#[test]
fn future_annotations_stop_annotation_folding_from_3_9() {
    let src = "from __future__ import annotations\ndef f(a: 1 + 1) -> -1: pass\n";
    for (v, folds) in [(V38, true), (PythonVersion::V3_9, false), (V313, false)] {
        let (module, folded) = folded(src, v, 0);
        let Stmt::FunctionDef(f) = &module.body[1] else {
            unreachable!()
        };
        let returns = f.returns.as_deref().expect("annotated");
        assert_eq!(folded.constant(returns).is_some(), folds, "{v}");
    }
    let (module, folded) = folded("def f(a: 1 + 1): pass\n", V313, 0);
    let Stmt::FunctionDef(f) = &module.body[0] else {
        unreachable!()
    };
    let ann = f.parameters.args[0]
        .parameter
        .annotation
        .as_deref()
        .expect("annotated");
    assert_eq!(folded.constant(ann), Some(&int(2)));
}

#[test]
fn patterns_fold() {
    let src = "match x:\n    case -1 | 1+2j: pass\n";
    let (module, folded) = folded(src, PythonVersion::V3_10, 0);
    let Stmt::Match(m) = &module.body[0] else {
        unreachable!()
    };
    let Pattern::MatchOr(or) = &m.cases[0].pattern else {
        unreachable!()
    };
    let Pattern::MatchValue(a) = &or.patterns[0] else {
        unreachable!()
    };
    assert_eq!(folded.constant(&a.value), Some(&int(-1)));
}

#[test]
fn deep_nesting_does_not_overflow() {
    let src = format!("x = {}1\n", "-".repeat(20_000));
    let (_, folded) = folded(&src, V313, 0);
    assert!(folded.len() <= MAX_DEPTH as usize);
}

#[test]
fn type_parameter_defaults_fold_from_3_13() {
    let src = "type T[A: 1 + 1 = 2 + 2] = 1 + 1\n";
    for (v, defaults) in [(PythonVersion::V3_12, false), (V313, true)] {
        let (module, folded) = folded(src, v, 0);
        let Stmt::TypeAlias(t) = &module.body[0] else {
            unreachable!()
        };
        let ast::TypeParam::TypeVar(tv) = &t.type_params.as_ref().expect("params").type_params[0]
        else {
            unreachable!()
        };
        assert_eq!(
            folded.constant(tv.bound.as_deref().expect("bound")),
            Some(&int(2))
        );
        let default = tv.default.as_deref().expect("default");
        assert_eq!(folded.constant(default).is_some(), defaults, "{v}");
        assert_eq!(folded.constant(&t.value), Some(&int(2)));
    }
}

#[test]
fn rewritten_formats_keep_exact_literals() {
    let src = "x = '\\udc80%s%%' % (a,)\n";
    let (module, folded) = folded(src, V313, 0);
    let Stmt::Assign(a) = &module.body[0] else {
        unreachable!()
    };
    let Expr::FString(f) = &*a.value else {
        panic!("not rewritten")
    };
    let exact = folded.format_literals(f).expect("exact literals");
    assert_eq!(
        exact,
        &[
            PyStr::from_code_points([0xdc80]),
            PyStr::from_code_points(['%' as u32])
        ]
    );
}

#[test]
fn python_semantics_for_codegen() {
    assert!(!truth(&Constant::Complex { re: 0.0, im: -0.0 }));
    assert!(truth(&Constant::Float(f64::NAN)));
    assert!(!truth(&Constant::Tuple(vec![])));
    assert_eq!(
        frozenset(vec![Constant::Bool(false), int(0), Constant::Float(-0.0)]),
        Constant::FrozenSet(vec![Constant::Bool(false)])
    );
}
