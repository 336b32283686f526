//! Calls: `compiler_call`, `maybe_optimize_method_call`, `compiler_call_helper` and the
//! keyword helpers (3.11 `compile.c`). Repeated and forbidden keywords were reported by the
//! front end (`validate_keywords`).

use pyc_assembler::{Constant, PyStr};
use ruff_python_ast::{self as ast, Expr, ExprContext};
use ruff_text_size::TextRange;

use super::{STACK_USE_GUIDELINE, TUPLE};
use crate::codegen::ir::Op;
use crate::codegen::{CResult, Compiler};

impl<'a> Compiler<'a> {
    /// `compiler_call`.
    pub(super) fn call(&mut self, call: &'a ast::ExprCall, e: &'a Expr) -> CResult {
        if self.maybe_optimize_method_call(call)? {
            return Ok(());
        }
        self.set_loc(&*call.func);
        self.addop(Op::PUSH_NULL);
        self.set_loc(e);
        self.visit_expr(&call.func)?;
        self.call_helper(0, &call.arguments.args, &call.arguments.keywords, e)
    }

    /// `is_import_originated`: a name the module imports (only the module's own symbols are
    /// looked at, as CPython does).
    fn is_import_originated(&self, e: &Expr) -> bool {
        let Expr::Name(n) = e else {
            return false;
        };
        self.table
            .root()
            .symbol(n.id.as_str())
            .is_some_and(|s| s.is_imported())
    }

    /// `maybe_optimize_method_call`: `obj.meth(args)` as `LOAD_METHOD` and `CALL` when no
    /// argument unpacks; `false` when the call does not qualify.
    fn maybe_optimize_method_call(&mut self, e: &'a ast::ExprCall) -> CResult<bool> {
        let Expr::Attribute(meth) = &*e.func else {
            return Ok(false);
        };
        if meth.ctx != ExprContext::Load || self.is_import_originated(&meth.value) {
            return Ok(false);
        }
        let args = &e.arguments.args;
        let keywords = &e.arguments.keywords;
        let (argsl, kwdsl) = (args.len(), keywords.len());
        if argsl + kwdsl + usize::from(kwdsl != 0) >= STACK_USE_GUIDELINE
            || args.iter().any(Expr::is_starred_expr)
            || keywords.iter().any(|k| k.arg.is_none())
        {
            return Ok(false);
        }
        self.visit_expr(&meth.value)?;
        self.set_loc(meth);
        self.update_start_location_to_match_attr(meth);
        self.addop_name(Op::LOAD_METHOD, meth.attr.as_str());
        self.visit_args(args, Some(e.arguments.range))?;
        if kwdsl > 0 {
            for k in keywords {
                self.visit_expr(&k.value)?;
            }
            self.call_simple_kw_helper(keywords);
        }
        self.set_loc(e);
        self.update_start_location_to_match_attr(meth);
        let n = (argsl + kwdsl) as u32;
        self.addop_i(Op::PRECALL, n);
        self.addop_i(Op::CALL, n);
        Ok(true)
    }

    /// The positional arguments of a call without unpacking; `parens` is the range of the
    /// call's parentheses, where CPython places a generator expression that is the only
    /// argument.
    fn visit_args(&mut self, args: &'a [Expr], parens: Option<TextRange>) -> CResult {
        for arg in args {
            match (arg, parens) {
                (Expr::Generator(g), Some(range)) if !g.parenthesized => {
                    self.visit_expr_at(arg, range)?
                }
                _ => self.visit_expr(arg)?,
            }
        }
        Ok(())
    }

    /// The keyword names of a call as a constant tuple.
    fn keyword_names(keywords: &[ast::Keyword]) -> Constant {
        Constant::Tuple(
            keywords
                .iter()
                .map(|k| Constant::Str(PyStr::from(k.arg.as_ref().map_or("", |a| a.as_str()))))
                .collect(),
        )
    }

    /// `compiler_call_simple_kw_helper`: `KW_NAMES` before `CALL`.
    fn call_simple_kw_helper(&mut self, keywords: &[ast::Keyword]) {
        let names = Self::keyword_names(keywords);
        let i = self.add_const(names);
        self.addop_i(Op::KW_NAMES, i);
    }

    /// `compiler_call_helper`: the arguments of a call after `n` values already pushed (the
    /// class-definition call uses it for bases and keywords), then `PRECALL`/`CALL` or
    /// `CALL_FUNCTION_EX`.
    pub fn call_helper(
        &mut self,
        n: u32,
        args: &'a [Expr],
        keywords: &'a [ast::Keyword],
        node: &'a Expr,
    ) -> CResult {
        let _ = node;
        let (nelts, nkwelts) = (args.len(), keywords.len());
        let ex_call = nelts + nkwelts * 2 > STACK_USE_GUIDELINE
            || args.iter().any(Expr::is_starred_expr)
            || keywords.iter().any(|k| k.arg.is_none());
        if !ex_call {
            let parens = match node {
                Expr::Call(c) => Some(c.arguments.range),
                _ => None,
            };
            self.visit_args(args, parens)?;
            if nkwelts > 0 {
                for k in keywords {
                    self.visit_expr(&k.value)?;
                }
                self.call_simple_kw_helper(keywords);
            }
            let total = n + (nelts + nkwelts) as u32;
            self.addop_i(Op::PRECALL, total);
            self.addop_i(Op::CALL, total);
            return Ok(());
        }
        // Positional arguments.
        match args {
            [Expr::Starred(s)] if n == 0 => self.visit_expr(&s.value)?,
            _ => self.starunpack_helper(args, n, TUPLE)?,
        }
        // Keyword arguments.
        if nkwelts > 0 {
            let mut have_dict = false;
            let mut nseen = 0;
            for (i, k) in keywords.iter().enumerate() {
                if k.arg.is_some() {
                    nseen += 1;
                    continue;
                }
                if nseen > 0 {
                    self.subkwargs(&keywords[i - nseen..i])?;
                    if have_dict {
                        self.addop_i(Op::DICT_MERGE, 1);
                    }
                    have_dict = true;
                    nseen = 0;
                }
                if !have_dict {
                    self.addop_i(Op::BUILD_MAP, 0);
                    have_dict = true;
                }
                self.visit_expr(&k.value)?;
                self.addop_i(Op::DICT_MERGE, 1);
            }
            if nseen > 0 {
                self.subkwargs(&keywords[nkwelts - nseen..])?;
                if have_dict {
                    self.addop_i(Op::DICT_MERGE, 1);
                }
            }
        }
        self.addop_i(Op::CALL_FUNCTION_EX, u32::from(nkwelts > 0));
        Ok(())
    }

    /// `compiler_subkwargs`: named keyword arguments as a dict.
    fn subkwargs(&mut self, keywords: &'a [ast::Keyword]) -> CResult {
        let n = keywords.len();
        let big = n * 2 > STACK_USE_GUIDELINE;
        if n > 1 && !big {
            for k in keywords {
                self.visit_expr(&k.value)?;
            }
            self.load_const(Self::keyword_names(keywords));
            self.addop_i(Op::BUILD_CONST_KEY_MAP, n as u32);
            return Ok(());
        }
        if big {
            self.addop_i_noline(Op::BUILD_MAP, 0);
        }
        for k in keywords {
            let name = k.arg.as_ref().map_or("", |a| a.as_str());
            self.load_const(Constant::Str(PyStr::from(name)));
            self.visit_expr(&k.value)?;
            if big {
                self.addop_i_noline(Op::MAP_ADD, 1);
            }
        }
        if !big {
            self.addop_i(Op::BUILD_MAP, n as u32);
        }
        Ok(())
    }
}
