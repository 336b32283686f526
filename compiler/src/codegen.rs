//! Code generation: the AST (folded) and its symbol table to code objects, as CPython 3.11's
//! `Python/compile.c` does it. The structure mirrors `compile.c` so the two can be read side
//! by side:
//!
//! - this module: the compiler state ([`Compiler`], one [`Unit`] per code object being
//!   built), adding instructions (`compiler_addop*`), constants and names, `compiler_nameop`,
//!   entering and leaving scopes, and the module body (`compiler_mod`, `compiler_body`);
//! - [`ir`]: instructions, pseudo-instructions and basic blocks;
//! - `expr`: expressions (`compiler_visit_expr` and the helpers it uses, conditions with
//!   `compiler_jump_if`, calls, displays, f-strings);
//! - `stmt`: statements, frame blocks and their unwinding (`compiler_visit_stmt`, loops,
//!   `try`, `with`, imports, assignments);
//! - `func`: functions, lambdas, classes, comprehensions, closures and annotations;
//! - `pattern`: `match` statements;
//! - `flow`: the 3.11 optimiser and assembler on the block graph (`assemble()` and the
//!   passes it calls): jump threading, dead code, line propagation, stack depth, exception
//!   table, cold blocks, and the final code object.
//!
//! A construct not compiled yet is an [`CodegenError::Unsupported`] naming it and its
//! position: never a wrong code object.

use std::borrow::Cow;
use std::cell::Cell;

use indexmap::IndexSet;
use num_traits::ToPrimitive;
use pyc_assembler::{CodeObject, Constant, PyStr, PythonVersion};
use ruff_python_ast::{self as ast, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::fold::Folded;
use crate::parse::LineIndex;
use crate::symtable::{self, Access, ScopeId, SymbolTable};

pub mod ir;

mod expr;
mod flow;
mod func;
mod pattern;
mod stmt;
mod trace;

use ir::{Block, BlockId, Instr, Loc, Op};

/// Why code generation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    /// A construct code generation does not handle yet, and where it starts (1-based line,
    /// 0-based byte column).
    Unsupported {
        what: String,
        line: u32,
        column: u32,
    },
    /// An error CPython's compiler raises at this stage (`compiler_error`): the exception
    /// type's name, the message, 1-based line and 1-based column.
    Source {
        kind: &'static str,
        message: String,
        line: u32,
        column: u32,
    },
}

/// The result of a code generation step.
pub type CResult<T = ()> = Result<T, CodegenError>;

/// What a unit compiles (`COMPILER_SCOPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeType {
    Module,
    Class,
    Function,
    AsyncFunction,
    Lambda,
    Comprehension,
}

/// How a name is used (`expr_context_ty`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    Load,
    Store,
    Del,
}

impl From<ast::ExprContext> for Ctx {
    fn from(c: ast::ExprContext) -> Ctx {
        match c {
            ast::ExprContext::Store => Ctx::Store,
            ast::ExprContext::Del => Ctx::Del,
            _ => Ctx::Load,
        }
    }
}

/// Kinds of frame blocks (`enum fblocktype`): what `break`, `continue` and `return` must
/// unwind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FBlockType {
    WhileLoop,
    ForLoop,
    TryExcept,
    FinallyTry,
    FinallyEnd,
    With,
    AsyncWith,
    HandlerCleanup,
    PopValue,
    ExceptionHandler,
    ExceptionGroupHandler,
    AsyncComprehensionGenerator,
}

/// A frame block (`struct fblockinfo`). `datum` is what CPython keeps in `fb_datum`: the
/// `finally` body of a `try` (a statement index path is not needed: the statement itself), the
/// `with` statement, or the bound name of an `except ... as name` handler.
#[derive(Clone, Copy, Debug)]
pub struct FBlock<'a> {
    pub kind: FBlockType,
    pub block: BlockId,
    pub exit: Option<BlockId>,
    pub datum: FBlockDatum<'a>,
}

/// What a frame block needs to unwind (`fb_datum`).
#[derive(Clone, Copy, Debug)]
pub enum FBlockDatum<'a> {
    None,
    /// A `try` statement's `finally` body.
    Finally(&'a [Stmt]),
    /// A `with`/`async with` statement (for the location of its exit call).
    With(TextRange),
    /// The name an `except ... as name` handler binds.
    Name(&'a str),
}

/// Writes the identity of a constant as CPython's `_PyCode_ConstantKey` distinguishes them
/// to `out`: exact type and value, floats by bits, frozensets as sets. Code objects are never
/// merged.
fn const_key(c: &Constant, out: &mut Vec<u8>) {
    fn len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    match c {
        Constant::None => out.push(b'N'),
        Constant::StopIteration => out.push(b'S'),
        Constant::Ellipsis => out.push(b'.'),
        Constant::Bool(b) => out.extend_from_slice(&[b'B', *b as u8]),
        // Most ints fit a machine word: no allocation for their bytes.
        Constant::Int(i) => match i.to_i64() {
            Some(small) => {
                out.push(b'i');
                out.extend_from_slice(&small.to_le_bytes());
            }
            None => {
                let bytes = i.to_signed_bytes_le();
                out.push(b'I');
                len(out, bytes.len());
                out.extend_from_slice(&bytes);
            }
        },
        Constant::Float(f) => {
            out.push(b'f');
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Constant::Complex { re, im } => {
            out.push(b'c');
            out.extend_from_slice(&re.to_bits().to_le_bytes());
            out.extend_from_slice(&im.to_bits().to_le_bytes());
        }
        Constant::Str(s) => {
            out.push(b'u');
            len(out, s.as_bytes().len());
            out.extend_from_slice(s.as_bytes());
        }
        Constant::Bytes(b) => {
            out.push(b'b');
            len(out, b.len());
            out.extend_from_slice(b);
        }
        Constant::Tuple(items) => {
            out.push(b't');
            len(out, items.len());
            for item in items {
                const_key(item, out);
            }
        }
        Constant::FrozenSet(items) => {
            let mut keys: Vec<Vec<u8>> = items
                .iter()
                .map(|item| {
                    let mut k = Vec::new();
                    const_key(item, &mut k);
                    k
                })
                .collect();
            keys.sort();
            out.push(b'F');
            len(out, keys.len());
            for k in keys {
                out.extend_from_slice(&k);
            }
        }
        Constant::Slice(parts) => {
            out.push(b':');
            for part in parts.iter() {
                const_key(part, out);
            }
        }
        // Callers never key code objects.
        Constant::Code(_) => out.push(b'C'),
    }
}

/// Whether a constant holds a float NaN anywhere (CPython never merges those).
fn has_nan(c: &Constant) -> bool {
    match c {
        Constant::Float(f) => f.is_nan(),
        Constant::Complex { re, im } => re.is_nan() || im.is_nan(),
        Constant::Tuple(items) | Constant::FrozenSet(items) => items.iter().any(has_nan),
        _ => false,
    }
}

/// CPython's equality of code objects (`code_richcompare`): all but the qualified name,
/// filename and stack size.
fn same_code(a: &CodeObject, b: &CodeObject) -> bool {
    a.name == b.name
        && a.argcount == b.argcount
        && a.posonlyargcount == b.posonlyargcount
        && a.kwonlyargcount == b.kwonlyargcount
        && a.flags == b.flags
        && a.firstlineno == b.firstlineno
        && a.code == b.code
        && a.consts == b.consts
        && a.names == b.names
        && a.locals == b.locals
        && a.linetable == b.linetable
        && a.exceptiontable == b.exceptiontable
}

/// A unit's table of names (`u_names`, `u_varnames`, …): index order is the oparg order.
pub type NameSet = IndexSet<String, FxBuildHasher>;

/// The state of one code object being compiled (`struct compiler_unit`).
pub struct Unit<'a> {
    /// Its scope in the symbol table (`u_ste`).
    pub scope: ScopeId,
    pub name: PyStr,
    pub qualname: Option<PyStr>,
    pub scope_type: ScopeType,
    /// `co_consts` in order (`u_consts`); see [`Compiler::add_const`].
    pub consts: Vec<Constant>,
    const_index: FxHashMap<Box<[u8]>, u32>,
    /// `u_names`, `u_varnames`, `u_cellvars` (sorted cells, then an implicit `__class__`),
    /// `u_freevars` (sorted) — indices are the opargs codegen emits; the flow graph turns cell
    /// and free indices into `co_localsplusnames` slots.
    pub names: NameSet,
    pub varnames: NameSet,
    pub cellvars: NameSet,
    pub freevars: NameSet,
    /// For each symbol of the scope (by its index among the scope's symbols), the index
    /// [`Compiler::nameop`] found for it in `varnames` or `names` once it has, so that later
    /// uses of the name skip that lookup (`u32::MAX` until then; never for cells and free
    /// names, whose indices depend on how many cells there are yet).
    name_slots: Vec<u32>,
    /// The class whose private names are mangled here (`u_private`).
    pub private: Option<String>,
    pub argcount: u32,
    pub posonlyargcount: u32,
    pub kwonlyargcount: u32,
    /// Blocks in allocation order; `entry` is the first.
    pub blocks: Vec<Block>,
    pub entry: BlockId,
    pub cur: BlockId,
    pub fblocks: Vec<FBlock<'a>>,
    pub firstlineno: u32,
    /// The location of the statement or expression being compiled (`u_lineno` …).
    pub loc: Loc,
    need_new_implicit_block: bool,
}

/// The compiler (`struct compiler`): the module being compiled and the stack of units.
pub struct Compiler<'a> {
    pub v: PythonVersion,
    pub source: &'a str,
    pub lines: &'a LineIndex,
    pub table: &'a SymbolTable,
    pub folded: &'a Folded,
    pub filename: PyStr,
    /// `-O` level (`c_optimize`).
    pub optimize: u8,
    /// The unit being compiled (`c->u`), and the enclosing ones (`c_stack`).
    pub u: Unit<'a>,
    stack: Vec<Unit<'a>>,
    /// `c_nestlevel`.
    pub nestlevel: u32,
    /// Whether an `await` at module level is allowed (never, for files).
    pub interactive: bool,
    /// Snapshots of each unit's blocks for `pyc-build explain`, when asked for.
    pub(crate) trace: Option<Vec<crate::explain::UnitSnapshot>>,
    /// The lines [`Compiler::line_col`] found last.
    line_cache: LineCache,
    /// Scratch space for building constant keys, kept to spare an allocation per constant.
    key_buf: Vec<u8>,
}

/// The two lines looked up last, most recent first: nodes that follow each other mostly
/// share their lines, which spares a binary search over the line starts per location.
#[derive(Debug, Default)]
struct LineCache(Cell<[LineSpan; 2]>);

/// A line of the source: its 1-based number and the byte offsets it spans, `\n` included.
#[derive(Clone, Copy, Debug, Default)]
struct LineSpan {
    line: u32,
    start: u32,
    end: u32,
}

impl LineCache {
    /// `lines.line_col(offset)` for `source`, from the cache when it holds the line.
    fn line_col(&self, lines: &LineIndex, source: &str, offset: TextSize) -> (u32, u32) {
        let o = offset.to_u32();
        let [recent, older] = self.0.get();
        for span in [recent, older] {
            if (span.start..span.end).contains(&o) {
                return (span.line, o - span.start);
            }
        }
        let (line, col) = lines.line_col(offset);
        // The line runs to its `\n` (included), or past the end of the text for the last.
        let rest = source.as_bytes().get(o as usize..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(source.len() + 1, |i| o as usize + i + 1);
        let span = LineSpan {
            line,
            start: o - col,
            end: u32::try_from(end).unwrap_or(u32::MAX),
        };
        self.0.set([span, recent]);
        (line, col)
    }
}

/// Compiles a folded module to its code object for 3.11.
#[allow(clippy::too_many_arguments)]
pub fn compile_module<'a>(
    module: &'a ast::ModModule,
    source: &'a str,
    lines: &'a LineIndex,
    table: &'a SymbolTable,
    folded: &'a Folded,
    filename: &str,
    v: PythonVersion,
    optimize: u8,
) -> CResult<CodeObject> {
    let (code, _) = compile_module_traced(
        module, source, lines, table, folded, filename, v, optimize, false,
    )?;
    Ok(code)
}

/// [`compile_module`], also returning a snapshot of every unit's blocks after codegen and
/// after optimisation when `trace` is set (children before their parent).
#[allow(clippy::too_many_arguments)]
pub fn compile_module_traced<'a>(
    module: &'a ast::ModModule,
    source: &'a str,
    lines: &'a LineIndex,
    table: &'a SymbolTable,
    folded: &'a Folded,
    filename: &str,
    v: PythonVersion,
    optimize: u8,
    trace: bool,
) -> CResult<(CodeObject, Vec<crate::explain::UnitSnapshot>)> {
    let u = Unit::new(
        table,
        SymbolTable::ROOT,
        PyStr::from("<module>"),
        ScopeType::Module,
        1,
        None,
    );
    let mut c = Compiler {
        v,
        source,
        lines,
        table,
        folded,
        filename: PyStr::from(filename),
        optimize,
        u,
        stack: Vec::new(),
        nestlevel: 0,
        interactive: false,
        trace: trace.then(Vec::new),
        line_cache: LineCache::default(),
        key_buf: Vec::new(),
    };
    c.start_unit();
    c.u.loc.lineno = 1;
    c.body(&module.body)?;
    let code = c.assemble(true)?;
    Ok((code, c.trace.unwrap_or_default()))
}

impl<'a> Unit<'a> {
    fn new(
        table: &SymbolTable,
        scope: ScopeId,
        name: PyStr,
        scope_type: ScopeType,
        firstlineno: u32,
        private: Option<String>,
    ) -> Unit<'a> {
        let ste = table.scope(scope);
        // A function's locals are among its symbols: room for all at once.
        let mut varnames = NameSet::with_capacity_and_hasher(
            if ste.is_function_like() {
                ste.symbols.len()
            } else {
                ste.varnames.len()
            },
            FxBuildHasher,
        );
        varnames.extend(ste.varnames.iter().cloned());
        let mut cells: Vec<&str> = ste
            .symbols
            .iter()
            .filter(|(_, s)| s.scope == symtable::NameScope::Cell)
            .map(|(n, _)| n.as_str())
            .collect();
        cells.sort_unstable();
        let mut cellvars: NameSet = cells.into_iter().map(String::from).collect();
        if ste.flags.needs_class_closure {
            cellvars.insert("__class__".to_string());
        }
        let freevars: NameSet = ste.freevars().into_iter().map(String::from).collect();
        let lineno = firstlineno as i32;
        Unit {
            scope,
            name,
            qualname: None,
            scope_type,
            consts: Vec::new(),
            const_index: FxHashMap::with_capacity_and_hasher(16, FxBuildHasher),
            names: NameSet::with_capacity_and_hasher(16, FxBuildHasher),
            varnames,
            cellvars,
            freevars,
            name_slots: vec![u32::MAX; ste.symbols.len()],
            private,
            argcount: 0,
            posonlyargcount: 0,
            kwonlyargcount: 0,
            blocks: vec![new_block()],
            entry: BlockId(0),
            cur: BlockId(0),
            fblocks: Vec::new(),
            firstlineno,
            loc: Loc {
                lineno,
                end_lineno: lineno,
                col_offset: 0,
                end_col_offset: 0,
            },
            need_new_implicit_block: false,
        }
    }

    /// The unit's scope in the symbol table.
    pub fn ste<'t>(&self, table: &'t SymbolTable) -> &'t symtable::Scope {
        table.scope(self.scope)
    }
}

impl<'a> Compiler<'a> {
    /// The symbol table scope of the current unit (`c->u->u_ste`).
    pub fn ste(&self) -> &'a symtable::Scope {
        self.table.scope(self.u.scope)
    }

    /// `compiler_enter_scope`: starts a new unit for `scope` and makes it current.
    pub fn enter_scope(
        &mut self,
        name: &str,
        scope_type: ScopeType,
        scope: ScopeId,
        lineno: u32,
    ) -> CResult {
        let private = self.u.private.clone();
        let u = Unit::new(
            self.table,
            scope,
            PyStr::from(name),
            scope_type,
            lineno,
            private,
        );
        let parent = std::mem::replace(&mut self.u, u);
        self.stack.push(parent);
        self.set_qualname();
        self.start_unit();
        Ok(())
    }

    /// `compiler_exit_scope`: returns the finished unit's code object (after `assemble`) and
    /// makes the enclosing unit current again. Use [`Compiler::finish_scope`].
    fn pop_unit(&mut self) -> Unit<'a> {
        let parent = self.stack.pop().expect("exit_scope without enter_scope");
        self.nestlevel -= 1;
        std::mem::replace(&mut self.u, parent)
    }

    /// Assembles the current unit (`assemble(c, add_none)`) and leaves its scope, returning its
    /// code object.
    pub fn finish_scope(&mut self, add_none: bool) -> CResult<CodeObject> {
        let code = self.assemble(add_none);
        self.pop_unit();
        code
    }

    /// Leaves the current scope after an error, discarding it.
    pub fn abandon_scope(&mut self) {
        self.pop_unit();
    }

    /// The end of `compiler_enter_scope`: the `RESUME` that starts every code object.
    fn start_unit(&mut self) {
        self.nestlevel += 1;
        if self.u.scope_type == ScopeType::Module {
            self.u.loc.lineno = 0;
        }
        self.addop_i(Op::RESUME, 0);
        if self.u.scope_type == ScopeType::Module {
            self.u.loc.lineno = -1;
        }
    }

    /// `compiler_set_qualname`.
    fn set_qualname(&mut self) {
        let parent = self.stack.last().expect("set_qualname needs a parent unit");
        let name = text(&self.u.name);
        let parent_qualname = text(parent.qualname.as_ref().unwrap_or(&parent.name));
        let mut qualname =
            String::with_capacity(parent_qualname.len() + ".<locals>.".len() + name.len());
        if self.stack.len() > 1 {
            let force_global = matches!(
                self.u.scope_type,
                ScopeType::Function | ScopeType::AsyncFunction | ScopeType::Class
            ) && parent
                .ste(self.table)
                .resolve(&mangle(parent.private.as_deref(), &name))
                == Some(symtable::NameScope::GlobalExplicit);
            if !force_global {
                qualname.push_str(&parent_qualname);
                if matches!(
                    parent.scope_type,
                    ScopeType::Function | ScopeType::AsyncFunction | ScopeType::Lambda
                ) {
                    qualname.push_str(".<locals>");
                }
                qualname.push('.');
            }
        }
        qualname.push_str(&name);
        self.u.qualname = Some(PyStr::from(qualname));
    }

    // ---- Locations -------------------------------------------------------------------

    /// The location of a node as CPython's AST has it.
    pub fn loc_of(&self, range: TextRange) -> Loc {
        let (lineno, col) = self.line_col(range.start());
        let (end_lineno, end_col) = self.line_col(range.end());
        Loc {
            lineno: lineno as i32,
            end_lineno: end_lineno as i32,
            col_offset: col as i32,
            end_col_offset: end_col as i32,
        }
    }

    /// `(line, column)` of byte `offset` as [`LineIndex::line_col`] has it (see
    /// [`LineCache`]).
    pub fn line_col(&self, offset: TextSize) -> (u32, u32) {
        self.line_cache.line_col(self.lines, self.source, offset)
    }

    /// `SET_LOC(c, node)`.
    pub fn set_loc(&mut self, node: &impl Ranged) {
        self.u.loc = self.loc_of(node.range());
    }

    /// `UNSET_LOC(c)`: following instructions have no location (all four fields -1, which
    /// matters once the flow graph gives such an instruction a line).
    pub fn unset_loc(&mut self) {
        self.u.loc = Loc {
            lineno: -1,
            end_lineno: -1,
            col_offset: -1,
            end_col_offset: -1,
        };
    }

    /// An error for a construct not compiled yet.
    pub fn unsupported(&self, what: &str, node: &impl Ranged) -> CodegenError {
        let (line, column) = self.lines.line_col(node.range().start());
        CodegenError::Unsupported {
            what: what.to_string(),
            line,
            column,
        }
    }

    /// `compiler_error`: a `SyntaxError` at `node`.
    pub fn error(&self, message: impl Into<String>, node: &impl Ranged) -> CodegenError {
        let (line, column) = self.lines.line_char_col(self.source, node.range().start());
        CodegenError::Source {
            kind: "SyntaxError",
            message: message.into(),
            line,
            column,
        }
    }

    /// The source text of a node.
    pub fn text(&self, node: &impl Ranged) -> &'a str {
        &self.source[node.range()]
    }

    // ---- Blocks and instructions -----------------------------------------------------

    /// `compiler_new_block`.
    pub fn new_block(&mut self) -> BlockId {
        self.u.blocks.push(new_block());
        BlockId(self.u.blocks.len() as u32 - 1)
    }

    /// A new block after one that ended in a jump, return or raise (the implicit block of
    /// `compiler_addop`): rare, and kept out of [`Compiler::push_instr`]'s fast path.
    #[cold]
    fn use_implicit_block(&mut self) {
        let b = self.new_block();
        self.use_next_block(b);
    }

    /// `compiler_use_next_block`: `block` follows the current block and becomes current.
    pub fn use_next_block(&mut self, block: BlockId) {
        let cur = self.u.cur;
        self.u.blocks[cur.0 as usize].next = Some(block);
        self.u.cur = block;
        self.u.need_new_implicit_block = false;
    }

    /// The block being filled.
    pub fn cur_block(&self) -> &Block {
        &self.u.blocks[self.u.cur.0 as usize]
    }

    fn push_instr(&mut self, op: Op, arg: u32, target: Option<BlockId>, loc: Loc) {
        if self.u.need_new_implicit_block {
            self.use_implicit_block();
        }
        self.u.blocks[self.u.cur.0 as usize].instrs.push(Instr {
            op,
            arg,
            target,
            except: None,
            loc,
        });
        if op.ends_block() {
            self.u.need_new_implicit_block = true;
        }
    }

    /// `ADDOP`: an instruction without argument at the current location.
    pub fn addop(&mut self, op: Op) {
        self.push_instr(op, 0, None, self.u.loc);
    }

    /// `ADDOP_NOLINE`.
    pub fn addop_noline(&mut self, op: Op) {
        self.push_instr(op, 0, None, Loc::NONE);
    }

    /// `ADDOP_I`.
    pub fn addop_i(&mut self, op: Op, arg: u32) {
        self.push_instr(op, arg, None, self.u.loc);
    }

    /// `ADDOP_I_NOLINE`.
    pub fn addop_i_noline(&mut self, op: Op, arg: u32) {
        self.push_instr(op, arg, None, Loc::NONE);
    }

    /// `ADDOP_JUMP`: a jump or `SETUP_*` to `target`.
    pub fn addop_j(&mut self, op: Op, target: BlockId) {
        self.push_instr(op, 0, Some(target), self.u.loc);
    }

    /// `ADDOP_JUMP_NOLINE`.
    pub fn addop_j_noline(&mut self, op: Op, target: BlockId) {
        self.push_instr(op, 0, Some(target), Loc::NONE);
    }

    /// An instruction at an explicit location (`compiler_addop_i_line`).
    pub fn addop_i_loc(&mut self, op: Op, arg: u32, loc: Loc) {
        self.push_instr(op, arg, None, loc);
    }

    // ---- Constants and names ---------------------------------------------------------

    /// `compiler_add_const`: the index of `c` in `co_consts`, adding it if new. Equal constants
    /// (by CPython's constant key) share an index, and so do equal code objects; constants
    /// holding a NaN never do.
    pub fn add_const(&mut self, c: Constant) -> u32 {
        let fresh = match &c {
            // A code object's key is its contents (`code_richcompare`): a body compiled twice
            // (a `while` test, a `finally` block) makes one constant of its functions.
            Constant::Code(code) => {
                let same = |k: &Constant| matches!(k, Constant::Code(k) if same_code(k, code));
                if let Some(i) = self.u.consts.iter().position(same) {
                    return i as u32;
                }
                true
            }
            // A NaN is unequal to every other object, so nothing holding one is merged.
            c => has_nan(c),
        };
        if fresh {
            self.u.consts.push(c);
            return self.u.consts.len() as u32 - 1;
        }
        let mut key = std::mem::take(&mut self.key_buf);
        key.clear();
        const_key(&c, &mut key);
        let index = match self.u.const_index.get(key.as_slice()) {
            Some(&i) => i,
            None => {
                let i = self.u.consts.len() as u32;
                self.u.const_index.insert(key.as_slice().into(), i);
                self.u.consts.push(c);
                i
            }
        };
        self.key_buf = key;
        index
    }

    /// `ADDOP_LOAD_CONST`.
    pub fn load_const(&mut self, c: Constant) {
        let i = self.add_const(c);
        self.addop_i(Op::LOAD_CONST, i);
    }

    /// `_Py_Mangle` with the current class.
    pub fn mangle<'n>(&self, name: &'n str) -> Cow<'n, str> {
        mangle(self.u.private.as_deref(), name)
    }

    /// `compiler_add_o(u_names, name)` without mangling.
    pub fn add_name(&mut self, name: &str) -> u32 {
        match self.u.names.get_index_of(name) {
            Some(i) => i as u32,
            None => self.u.names.insert_full(name.to_string()).0 as u32,
        }
    }

    /// `ADDOP_NAME(c, op, name, names)`: mangles `name` and adds it to `co_names`.
    pub fn addop_name(&mut self, op: Op, name: &str) {
        let mangled = self.mangle(name);
        let i = self.add_name(&mangled);
        self.addop_i(op, i);
    }

    /// `ADDOP_N(c, op, name, names)`: an unmangled name.
    pub fn addop_name_raw(&mut self, op: Op, name: &str) {
        let i = self.add_name(name);
        self.addop_i(op, i);
    }

    /// `compiler_nameop`: loads, stores or deletes `name` with the opcode family its scope
    /// needs.
    pub fn nameop(&mut self, name: &str, ctx: Ctx) {
        let mangled = self.mangle(name);
        let ste = self.ste();
        let (symbol, access) = ste.access_full(&mangled);
        let (op, arg) = match access {
            Access::Deref => {
                let index =
                    if symbol.map(|i| ste.symbols[i].scope) == Some(symtable::NameScope::Free) {
                        self.u.cellvars.len() + insert(&mut self.u.freevars, &mangled)
                    } else {
                        insert(&mut self.u.cellvars, &mangled)
                    };
                let op = match ctx {
                    Ctx::Load if self.u.scope_type == ScopeType::Class => Op::LOAD_CLASSDEREF,
                    Ctx::Load => Op::LOAD_DEREF,
                    Ctx::Store => Op::STORE_DEREF,
                    Ctx::Del => Op::DELETE_DEREF,
                };
                (op, index as u32)
            }
            Access::Fast => {
                let op = match ctx {
                    Ctx::Load => Op::LOAD_FAST,
                    Ctx::Store => Op::STORE_FAST,
                    Ctx::Del => Op::DELETE_FAST,
                };
                let u = &mut self.u;
                (
                    op,
                    slot(&mut u.name_slots, symbol, &mut u.varnames, &mangled),
                )
            }
            Access::Global => {
                let u = &mut self.u;
                let i = slot(&mut u.name_slots, symbol, &mut u.names, &mangled);
                match ctx {
                    Ctx::Load => (Op::LOAD_GLOBAL, i << 1),
                    Ctx::Store => (Op::STORE_GLOBAL, i),
                    Ctx::Del => (Op::DELETE_GLOBAL, i),
                }
            }
            Access::Name => {
                let op = match ctx {
                    Ctx::Load => Op::LOAD_NAME,
                    Ctx::Store => Op::STORE_NAME,
                    Ctx::Del => Op::DELETE_NAME,
                };
                let u = &mut self.u;
                (op, slot(&mut u.name_slots, symbol, &mut u.names, &mangled))
            }
        };
        self.addop_i(op, arg);
    }

    // ---- Module ----------------------------------------------------------------------

    /// The docstring of a body (`_PyAST_GetDocString`): its first statement when that is an
    /// expression statement holding a string constant.
    pub fn docstring(&self, body: &[Stmt]) -> Option<Constant> {
        let Some(Stmt::Expr(e)) = body.first() else {
            return None;
        };
        if self.folded.wraps_docstring(e) {
            return None;
        }
        match self.folded.value(&e.value, self.source) {
            Some(c @ Constant::Str(_)) => Some(c),
            _ => None,
        }
    }

    /// `compiler_body`: a module or class body, with its docstring stored as `__doc__`.
    pub fn body(&mut self, stmts: &'a [Stmt]) -> CResult {
        if self.u.scope_type == ScopeType::Module {
            if let Some(first) = stmts.first() {
                self.set_loc(first);
            }
        }
        if find_ann(stmts) {
            self.addop(Op::SETUP_ANNOTATIONS);
        }
        if stmts.is_empty() {
            return Ok(());
        }
        let mut rest = stmts;
        if self.optimize < 2 {
            if let Some(doc) = self.docstring(stmts) {
                rest = &stmts[1..];
                if let Stmt::Expr(e) = &stmts[0] {
                    self.set_loc(&*e.value);
                }
                self.load_const(doc);
                self.unset_loc();
                self.nameop("__doc__", Ctx::Store);
            }
        }
        for s in rest {
            self.visit_stmt(s)?;
        }
        Ok(())
    }
}

/// `_Py_Mangle`: `name` as written in class `private`, borrowed when it is not a private name
/// (`__spam`) inside a class, which is the common case.
fn mangle<'n>(private: Option<&str>, name: &'n str) -> Cow<'n, str> {
    match private {
        Some(private) if name.starts_with("__") => {
            Cow::Owned(symtable::mangle(Some(private), name))
        }
        _ => Cow::Borrowed(name),
    }
}

/// A name or qualified name as text: borrowed unless it holds a lone surrogate (which names
/// from source never do).
pub(crate) fn text(s: &PyStr) -> Cow<'_, str> {
    s.as_str()
        .map_or_else(|| Cow::Owned(s.to_string_lossy()), Cow::Borrowed)
}

/// An empty block with room for `DEFAULT_BLOCK_SIZE` (16) instructions, a typical block's
/// worth, so that filling it does not reallocate in four steps.
fn new_block() -> Block {
    Block {
        instrs: Vec::with_capacity(16),
        ..Block::default()
    }
}

/// Index of `name` in `set`, inserting it at the end if missing (`compiler_add_o`).
fn insert(set: &mut NameSet, name: &str) -> usize {
    match set.get_index_of(name) {
        Some(i) => i,
        None => set.insert_full(name.to_string()).0,
    }
}

/// Index of `name`, the symbol numbered `symbol` in its scope, in `set` (inserting it if
/// missing), remembered in `slots` so that later uses of the symbol need no lookup. A symbol
/// goes to one set only: its access is fixed for the scope.
fn slot(slots: &mut [u32], symbol: Option<usize>, set: &mut NameSet, name: &str) -> u32 {
    let cached = symbol.and_then(|i| slots.get_mut(i));
    match cached {
        Some(&mut c) if c != u32::MAX => c,
        cached => {
            let index = insert(set, name) as u32;
            if let Some(c) = cached {
                *c = index;
            }
            index
        }
    }
}

/// `find_ann`: whether a body has an annotated assignment outside nested scopes (which makes
/// the module or class set up `__annotations__`).
pub fn find_ann(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::AnnAssign(_) => true,
        Stmt::For(f) => find_ann(&f.body) || find_ann(&f.orelse),
        Stmt::While(w) => find_ann(&w.body) || find_ann(&w.orelse),
        Stmt::If(i) => find_ann(&i.body) || i.elif_else_clauses.iter().any(|c| find_ann(&c.body)),
        Stmt::With(w) => find_ann(&w.body),
        Stmt::Try(t) => {
            t.handlers.iter().any(|h| {
                let ast::ExceptHandler::ExceptHandler(h) = h;
                find_ann(&h.body)
            }) || find_ann(&t.body)
                || find_ann(&t.finalbody)
                || find_ann(&t.orelse)
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached lookup agrees with the line index for every offset, in any order.
    #[test]
    fn line_cache_matches_line_index() {
        for source in ["", "a", "a\n", "a\nbc\n\nd", "x\n\n", "\n\nlong line\nz"] {
            let lines = LineIndex::new(source);
            let cache = LineCache::default();
            let n = source.len() as u32;
            let forward = 0..=n;
            let backward = (0..=n).rev();
            let zigzag = (0..=n).flat_map(|i| [i, n - i]);
            for o in forward.chain(backward).chain(zigzag) {
                let offset = TextSize::new(o);
                assert_eq!(
                    cache.line_col(&lines, source, offset),
                    lines.line_col(offset),
                    "{source:?} at {o}"
                );
            }
        }
    }
}
