//! Text (and Graphviz) renderings of the passes' JSON values.

use std::fmt::Write;

use serde_json::Value;

use super::Pass;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(-1)
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// `OP arg (argrepr)` of an instruction value.
fn instr(i: &Value) -> String {
    let mut out = s(&i["op"]).to_string();
    if let Some(a) = i["arg"].as_i64() {
        let _ = write!(out, " {a}");
    }
    if let Some(t) = i["target"].as_u64() {
        let _ = write!(out, " -> B{t}");
    }
    if !s(&i["argrepr"]).is_empty() {
        let _ = write!(out, " ({})", s(&i["argrepr"]));
    }
    out
}

fn header(out: &mut String, u: &Value) {
    let _ = writeln!(
        out,
        "== {} (line {}) ==",
        s(&u["qualname"]),
        n(&u["firstlineno"])
    );
}

pub(super) fn render(value: &Value, pass: Pass) -> String {
    let mut out = String::new();
    match pass {
        Pass::Tokens => {
            for t in arr(&value["tokens"]) {
                let at = format!(
                    "{}:{}-{}:{}",
                    n(&t["line"]),
                    n(&t["col"]),
                    n(&t["end_line"]),
                    n(&t["end_col"])
                );
                let _ = writeln!(out, "{at:<16} {:<14} {:?}", s(&t["kind"]), s(&t["text"]));
            }
        }
        Pass::Ast | Pass::Fold => {
            for node in arr(&value["nodes"]) {
                let pad = "  ".repeat(node["depth"].as_u64().unwrap_or(0) as usize);
                let _ = write!(
                    out,
                    "{pad}{} {}:{}-{}:{}",
                    s(&node["kind"]),
                    n(&node["line"]),
                    n(&node["col"]),
                    n(&node["end_line"]),
                    n(&node["end_col"])
                );
                if let Some(t) = node["text"].as_str() {
                    let _ = write!(out, " {t}");
                }
                if let Some(c) = node["folded"].as_str() {
                    let _ = write!(out, " => folded to {c}");
                }
                out.push('\n');
            }
        }
        Pass::Symtable => out.push_str(s(&value["text"])),
        Pass::Codegen | Pass::Cfg => {
            for (k, u) in arr(&value["units"]).iter().enumerate() {
                if k > 0 {
                    out.push('\n');
                }
                header(&mut out, u);
                for b in arr(&u["blocks"]) {
                    let _ = write!(out, "B{}:", n(&b["id"]));
                    if let Some(d) = b["startdepth"].as_i64() {
                        let _ = write!(out, "  (stack depth {d} at entry)");
                    }
                    out.push('\n');
                    for i in arr(&b["instrs"]) {
                        let at = match i["loc"].as_array() {
                            Some(l) => format!("{}:{}", n(&l[0]), n(&l[2])),
                            None => "-".to_string(),
                        };
                        let mut line = format!("  {at:>7}  {}", instr(i));
                        if let Some(h) = i["except"].as_u64() {
                            let _ = write!(line, "   [handler B{h}]");
                        }
                        if i["pseudo"].as_bool() == Some(true) {
                            line.push_str("   <pseudo>");
                        }
                        let _ = writeln!(out, "{line}");
                    }
                    if let Some(next) = b["next"].as_u64() {
                        let _ = writeln!(out, "  -> next B{next}");
                    }
                }
            }
        }
        Pass::Stack => {
            for (k, u) in arr(&value["units"]).iter().enumerate() {
                if k > 0 {
                    out.push('\n');
                }
                header(&mut out, u);
                let _ = writeln!(out, "offset  line  depth      instruction");
                for i in arr(&u["instrs"]) {
                    let d = |v: &Value| v.as_i64().map_or("?".to_string(), |x| x.to_string());
                    let bar = "#".repeat(i["after"].as_u64().unwrap_or(0) as usize);
                    let line = i["line"].as_i64().map_or(String::new(), |l| l.to_string());
                    let depth = format!("{:>2} -> {:<2}", d(&i["before"]), d(&i["after"]));
                    let text = instr(i);
                    let row = format!(
                        "{:>6}  {line:>4}  {depth}  {text:<40} {bar}",
                        n(&i["offset"])
                    );
                    let _ = writeln!(out, "{}", row.trim_end());
                }
                let _ = writeln!(
                    out,
                    "maximum depth {} (co_stacksize {}): reached {}",
                    n(&u["max"]),
                    n(&u["co_stacksize"]),
                    s(&u["reason"])
                );
                if n(&u["max"]) < n(&u["co_stacksize"]) {
                    out.push_str(
                        "co_stacksize is larger: the compiler's stackdepth() also counted code that \
                         no path reaches in the final bytecode (instructions shown with ?), such as \
                         the handler of a try body that cannot raise\n",
                    );
                }
            }
        }
        Pass::Lines => {
            for (k, u) in arr(&value["units"]).iter().enumerate() {
                if k > 0 {
                    out.push('\n');
                }
                header(&mut out, u);
                let source: std::collections::HashMap<i64, &str> = arr(&u["source_lines"])
                    .iter()
                    .map(|l| (n(&l["line"]), s(&l["text"])))
                    .collect();
                let mut last: Option<i64> = None;
                for i in arr(&u["instrs"]) {
                    let p: Vec<Option<i64>> =
                        arr(&i["positions"]).iter().map(Value::as_i64).collect();
                    let line = p.first().copied().flatten();
                    if line != last {
                        match line.and_then(|l| source.get(&l).map(|t| (l, t))) {
                            Some((l, t)) => {
                                let _ = writeln!(out, "{l:>5} | {t}");
                            }
                            None => {
                                let _ = writeln!(out, "    - | (no line)");
                            }
                        }
                        last = line;
                    }
                    let span = match p.as_slice() {
                        [Some(l), Some(el), Some(c), Some(ec)] => format!("{l}:{c}-{el}:{ec}"),
                        [Some(l), ..] => format!("{l}:?"),
                        _ => "-".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "        {:>4} {:<36} {span}",
                        n(&i["offset"]),
                        instr(i)
                    );
                    // Underline the columns of single-line positions.
                    if let [Some(l), Some(el), Some(c), Some(ec)] = p.as_slice() {
                        if l == el && ec > c && *ec < 200 {
                            let (c, ec) = (*c as usize, *ec as usize);
                            let _ =
                                writeln!(out, "      | {}{}", " ".repeat(c), "^".repeat(ec - c));
                        }
                    }
                }
            }
        }
        Pass::Exceptions => {
            for (k, u) in arr(&value["units"]).iter().enumerate() {
                if k > 0 {
                    out.push('\n');
                }
                header(&mut out, u);
                let entries = arr(&u["entries"]);
                if entries.is_empty() {
                    out.push_str("  (no exception table entries)\n");
                }
                for e in entries {
                    let _ = writeln!(
                        out,
                        "  {} to {} -> {} [{}]{}   {}..{} handled by {} at depth {}",
                        n(&e["start"]),
                        n(&e["end"]),
                        n(&e["target"]),
                        n(&e["depth"]),
                        if e["lasti"].as_bool() == Some(true) {
                            " lasti"
                        } else {
                            ""
                        },
                        s(&e["first_op"]),
                        s(&e["last_op"]),
                        s(&e["handler_op"]),
                        n(&e["handler_depth"])
                    );
                }
            }
        }
        Pass::Marshal => {
            let _ = writeln!(out, "{} bytes", n(&value["size"]));
            for r in arr(&value["rows"]) {
                let pad = "  ".repeat(r["depth"].as_u64().unwrap_or(0).min(40) as usize);
                let _ = writeln!(
                    out,
                    "{:06x}  {:<47}  {pad}{}",
                    n(&r["offset"]),
                    s(&r["hex"]),
                    s(&r["what"])
                )
                .map(|_| ());
            }
        }
    }
    out
}

/// Escapes text for a Graphviz label.
fn dot_escape(t: &str) -> String {
    t.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('{', "\\{")
        .replace('}', "\\}")
}

/// The cfg pass as a Graphviz digraph: one cluster per code object, one box per block,
/// fall-through edges solid, jumps bold, exception edges dashed.
pub(super) fn dot(value: &Value) -> String {
    let mut out =
        String::from("digraph cfg {\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
    for (k, u) in arr(&value["units"]).iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{k} {{\n    label=\"{}\";",
            dot_escape(s(&u["qualname"]))
        );
        for b in arr(&u["blocks"]) {
            let id = n(&b["id"]);
            let mut label = format!("B{id}");
            if let Some(d) = b["startdepth"].as_i64() {
                let _ = write!(label, " (depth {d})");
            }
            label.push_str("\\l");
            for i in arr(&b["instrs"]) {
                label.push_str(&dot_escape(&instr(i)));
                label.push_str("\\l");
            }
            let _ = writeln!(out, "    u{k}b{id} [label=\"{label}\"];");
        }
        for b in arr(&u["blocks"]) {
            let id = n(&b["id"]);
            let mut handlers = std::collections::BTreeSet::new();
            let ins = arr(&b["instrs"]);
            for i in ins {
                if let Some(t) = i["target"].as_i64() {
                    let _ = writeln!(
                        out,
                        "    u{k}b{id} -> u{k}b{t} [style=bold, label=\"{}\"];",
                        s(&i["op"])
                    );
                }
                if let Some(h) = i["except"].as_i64() {
                    handlers.insert(h);
                }
            }
            for h in handlers {
                let _ = writeln!(
                    out,
                    "    u{k}b{id} -> u{k}b{h} [style=dashed, label=\"exception\"];"
                );
            }
            let ends = ins.last().is_some_and(|i| {
                matches!(
                    s(&i["op"]),
                    "RETURN_VALUE"
                        | "RAISE_VARARGS"
                        | "RERAISE"
                        | "JUMP"
                        | "JUMP_NO_INTERRUPT"
                        | "JUMP_FORWARD"
                        | "JUMP_BACKWARD"
                        | "JUMP_BACKWARD_NO_INTERRUPT"
                )
            });
            if let (Some(next), false) = (b["next"].as_i64(), ends) {
                let _ = writeln!(out, "    u{k}b{id} -> u{k}b{next};");
            }
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}
