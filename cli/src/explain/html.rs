//! `explain --html`: one self-contained page (no external resources) with the source on the
//! left and every code object's bytecode on the right. Each instruction carries its position
//! from the location table; pointing at (or clicking) a source line highlights its
//! instructions and the reverse, underlining the instruction's columns. Each code object's
//! optimised flow graph is drawn as SVG whose instructions highlight the same way. The page
//! opens with `#line=N` or `#ins=ID` in its address already selecting that line or
//! instruction.

use std::fmt::Write;

use pyc_assembler::{dis, lines};
use pyc_compiler::explain::{code_objects_postorder, SnapBlock};

use super::{code_objects, ExplainError, Input};

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 0; }
header { padding: 6px 12px; background: #223; color: #eee; }
#status { font-family: monospace; }
main { display: flex; height: calc(100vh - 40px); }
#source, #bytecode { overflow: auto; padding: 8px; font-family: monospace; font-size: 13px; }
#source { flex: 1; border-right: 1px solid #ccc; }
#bytecode { flex: 1.2; }
.src, .ins { white-space: pre; cursor: pointer; padding: 0 4px; }
.ln { color: #999; display: inline-block; width: 4em; }
.off { color: #999; display: inline-block; width: 4em; text-align: right; margin-right: 1em; }
.hl { background: #ffe066; }
text.hl { fill: #c00; font-weight: bold; }
.ins.nolines { color: #888; }
mark { background: #ff9f43; }
h3 { font-size: 14px; margin: 12px 0 4px; }
svg text { font-family: monospace; font-size: 11px; }
"#;

const SCRIPT: &str = r#"
(function () {
  var pinned = false;
  function clear() {
    document.querySelectorAll('.hl').forEach(function (e) { e.classList.remove('hl'); });
    document.querySelectorAll('.src .code').forEach(function (e) {
      if (e.dataset.text !== undefined) { e.textContent = e.dataset.text; }
    });
  }
  function markColumns(pos) {
    var p = pos.split(',').map(Number);
    if (p.length !== 4 || p[0] !== p[1] || p[2] < 0) { return; }
    var code = document.querySelector('.src[data-line="' + p[0] + '"] .code');
    if (!code) { return; }
    var t = code.dataset.text;
    code.textContent = '';
    code.appendChild(document.createTextNode(t.slice(0, p[2])));
    var m = document.createElement('mark');
    m.textContent = t.slice(p[2], p[3]);
    code.appendChild(m);
    code.appendChild(document.createTextNode(t.slice(p[3])));
  }
  function selectLine(line) {
    clear();
    document.querySelectorAll('[data-line="' + line + '"]').forEach(function (e) { e.classList.add('hl'); });
    document.getElementById('status').textContent = 'line ' + line;
  }
  function selectIns(el) {
    clear();
    var line = el.dataset.line;
    if (line) {
      document.querySelectorAll('.src[data-line="' + line + '"]').forEach(function (e) { e.classList.add('hl'); });
    }
    document.querySelectorAll('[data-id="' + el.dataset.id + '"]').forEach(function (e) { e.classList.add('hl'); });
    if (el.dataset.pos) { markColumns(el.dataset.pos); }
    document.getElementById('status').textContent = el.dataset.id + ' at ' + (el.dataset.pos || 'no location');
  }
  document.querySelectorAll('.src .code').forEach(function (e) { e.dataset.text = e.textContent; });
  function handler(pin) {
    return function (ev) {
      var el = ev.target.closest('.src, .ins');
      if (!el || (pinned && !pin)) { return; }
      if (pin) { pinned = true; }
      if (el.classList.contains('src')) { selectLine(el.dataset.line); } else { selectIns(el); }
    };
  }
  document.addEventListener('mouseover', handler(false));
  document.addEventListener('click', handler(true));
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') { pinned = false; clear(); } });
  var m = /#(line|ins)=([^&]+)/.exec(location.hash);
  if (m && m[1] === 'line') { selectLine(m[2]); }
  if (m && m[1] === 'ins') {
    var el = document.querySelector('.ins[data-id="' + m[2] + '"]');
    if (el) { selectIns(el); }
  }
})();
"#;

/// The page for `input`.
pub(super) fn page(input: &Input) -> Result<String, ExplainError> {
    let (code, snaps) = input.compile()?;
    let v = input.target;
    let text = input.text();
    let name = input.filename();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>pyc-build explain: {}</title><style>{STYLE}</style></head><body>\
         <header>pyc-build explain — {} — Python {v} — <span id=\"status\">point at a line or an instruction</span></header><main>\n<div id=\"source\">\n",
        esc(&name),
        esc(&name)
    );
    for (i, line) in text.lines().enumerate() {
        let _ = writeln!(
            out,
            "<div class=\"src\" data-line=\"{}\"><span class=\"ln\">{}</span><span class=\"code\">{}</span></div>",
            i + 1,
            i + 1,
            esc(line)
        );
    }
    out.push_str("</div>\n<div id=\"bytecode\">\n");
    // Snapshots pair with code objects in post-order.
    let post = code_objects_postorder(&code);
    for (k, c) in code_objects(&code).into_iter().enumerate() {
        let q = c.qualname_or_name().to_string_lossy();
        let _ = writeln!(out, "<h3>{} (line {})</h3>", esc(&q), c.firstlineno);
        let instrs = dis::instructions(c, v).map_err(|e| ExplainError::Usage(e.to_string()))?;
        let positions =
            lines::co_positions(c, v).map_err(|e| ExplainError::Usage(e.to_string()))?;
        for i in &instrs {
            let p = positions
                .get(i.offset as usize / 2)
                .copied()
                .unwrap_or_default();
            let num = |x: Option<u32>| x.map_or(-1, i64::from);
            let pos = format!(
                "{},{},{},{}",
                num(p.lineno),
                num(p.end_lineno),
                num(p.col),
                num(p.end_col)
            );
            let line = p
                .lineno
                .map_or(String::new(), |l| format!(" data-line=\"{l}\""));
            let arg = match (&i.arg, i.argrepr.is_empty()) {
                (Some(a), true) => format!(" {a}"),
                (Some(a), false) => format!(" {a} ({})", esc(&i.argrepr)),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "<div class=\"ins\" data-id=\"u{k}o{}\" data-pos=\"{pos}\"{line}><span class=\"off\">{}</span>{}{arg}</div>",
                i.offset, i.offset, i.opname
            );
        }
        let snap = post
            .iter()
            .position(|p| std::ptr::eq(*p, c))
            .and_then(|i| snaps.get(i))
            .and_then(|s| s.cfg.as_ref());
        if let Some(blocks) = snap {
            out.push_str(&svg(blocks, k));
        }
    }
    let _ = write!(
        out,
        "</div></main>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    Ok(out)
}

/// The flow graph of one code object: blocks stacked in emission order, fall-through arrows
/// between neighbours, jumps as arcs on the right and exception edges dashed on the left.
fn svg(blocks: &[SnapBlock], unit: usize) -> String {
    const LINE: i64 = 14;
    const W: i64 = 340;
    const X: i64 = 60;
    const GAP: i64 = 18;
    let mut y = 10;
    let mut tops = std::collections::HashMap::new();
    let mut body = String::new();
    for b in blocks {
        let h = LINE * (b.instrs.len() as i64 + 1) + 6;
        tops.insert(b.id, (y, h));
        let _ = write!(
            body,
            "<rect x=\"{X}\" y=\"{y}\" width=\"{W}\" height=\"{h}\" fill=\"#f4f6fb\" stroke=\"#557\"/>\
             <text x=\"{}\" y=\"{}\" font-weight=\"bold\">B{}{}</text>",
            X + 4,
            y + LINE,
            b.id,
            b.startdepth
                .map_or(String::new(), |d| format!("  depth {d}"))
        );
        for (j, i) in b.instrs.iter().enumerate() {
            let mut t = i.op.to_string();
            if let Some(a) = i.arg {
                let _ = write!(t, " {a}");
            }
            if let Some(tg) = i.target {
                let _ = write!(t, " → B{tg}");
            }
            if !i.argrepr.is_empty() {
                let r: String = i.argrepr.chars().take(24).collect();
                let _ = write!(t, " ({r})");
            }
            let line = if i.lineno > 0 {
                format!(" data-line=\"{}\"", i.lineno)
            } else {
                String::new()
            };
            let _ = write!(
                body,
                "<text class=\"ins cfg\" data-id=\"u{unit}b{}i{j}\"{line} data-pos=\"{},{},{},{}\" x=\"{}\" y=\"{}\">{}</text>",
                b.id,
                i.lineno,
                i.end_lineno,
                i.col_offset,
                i.end_col_offset,
                X + 12,
                y + LINE * (j as i64 + 2),
                esc(&t)
            );
        }
        y += h + GAP;
    }
    let mut edges = String::new();
    let mut lane = 0;
    for b in blocks {
        let Some(&(top, h)) = tops.get(&b.id) else {
            continue;
        };
        let ends = b.instrs.last().is_some_and(|i| {
            matches!(
                i.op,
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
        if let (Some(next), false) = (b.next, ends) {
            if let Some(&(nt, _)) = tops.get(&next) {
                let _ = write!(
                    edges,
                    "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{nt}\" stroke=\"#557\" marker-end=\"url(#arrow{unit})\"/>",
                    X + W / 2,
                    top + h
                );
            }
        }
        let mut handlers = std::collections::BTreeSet::new();
        for (j, i) in b.instrs.iter().enumerate() {
            let from = top + LINE * (j as i64 + 2) - 4;
            if let Some(&(tt, _)) = i.target.and_then(|t| tops.get(&t)) {
                lane += 1;
                let x = X + W + 10 + 8 * (lane % 12);
                let _ = write!(
                    edges,
                    "<path d=\"M{} {from} L{x} {from} L{x} {} L{} {}\" fill=\"none\" stroke=\"#36c\" marker-end=\"url(#arrow{unit})\"/>",
                    X + W,
                    tt + 8,
                    X + W,
                    tt + 8
                );
            }
            if let Some(h) = i.except {
                handlers.insert(h);
            }
        }
        for hb in handlers {
            if let Some(&(ht, _)) = tops.get(&hb) {
                lane += 1;
                let x = X - 10 - 4 * (lane % 10);
                let _ = write!(
                    edges,
                    "<path d=\"M{X} {} L{x} {} L{x} {} L{X} {}\" fill=\"none\" stroke=\"#c63\" stroke-dasharray=\"4 3\" marker-end=\"url(#arrow{unit})\"/>",
                    top + 8,
                    top + 8,
                    ht + 8,
                    ht + 8
                );
            }
        }
    }
    format!(
        "<svg class=\"cfg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{y}\">\
         <defs><marker id=\"arrow{unit}\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\">\
         <path d=\"M0 0 L8 4 L0 8 z\" fill=\"#557\"/></marker></defs>{body}{edges}</svg>\n",
        X + W + 120
    )
}
