"""Translates RTOC's script language into a Python code object, keeping every line number.

RTOC rewrote scripts with str.replace (so `Generator.Square` inside a string or a longer name
was rewritten too). Here the work is done in two passes over real syntax:

1. Tokens (tokenize): the two statements Python does not have are rewritten in place, on the
   same lines: `global NAME = value` becomes `__rtoc_global__. NAME = value` and
   `trig COND:` becomes `if __rtoc_trig__(K, COND):`; RTOC's `global.NAME` becomes `NAME`.
2. AST: `Device.NAME` with a Device name the script never binds becomes
   `__rtoc_ref__("Device", "NAME")` (a signal, parameter value or device function, resolved at
   run time), `Device.NAME = v` goes through `__rtoc_dev__("Device")`, `clock` reads the clock,
   `[x], [y] = Device.Signal` binds whole arrays as RTOC shows it, global declarations become
   "initialise once" blocks, and stop checkpoints are added to every loop body, function body,
   except handler and comprehension so a stop request ends even an endless loop.

No line is added or removed, so a line number in a traceback is the line in the user's text.
"""

from __future__ import annotations

import ast
import builtins
import io
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from types import CodeType

RESERVED = "__rtoc"
STOP = "__rtoc_stop__"  # bool in the run's namespace; set from another thread to stop
HALT = "__rtoc_halt__"  # raises ScriptStopped
REF = "__rtoc_ref__"  # (device, name) -> signal ref | parameter value | device function
LATEST = "__rtoc_latest__"  # (device, signal) -> newest y: the fast path of Device.Signal.latest
DEV = "__rtoc_dev__"  # device -> proxy whose attribute assignment sets parameters
CLOCK = "__rtoc_clock__"  # () -> current time
ARGS = "__rtoc_args__"  # (device, name) -> (x, y) of a signal, else (value,): call arguments
SET_LATEST = "__rtoc_set_latest__"  # (device, signal, value): `Device.Signal.latest = value`
TRIG = "__rtoc_trig__"  # (k, value) -> True on a False -> True change
GSTATE = "__rtoc_gstate__"  # dict of `global` variables kept across runs
GLOBAL_MARK = "__rtoc_global__"
SIGNAL_FUNC = "signal"

_BUILTINS = frozenset(dir(builtins))
_NOT_TRIG_FOLLOWERS = frozenset(
    {"=", ".", ",", ":", ")", "]", "}", ";", "->", ":="}
    | {op + "=" for op in ("+", "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", ">>", "<<")}
)


class TranslationError(Exception):
    """The script or condition does not compile; `lineno` is in the user's own text."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno

    def __str__(self) -> str:
        return f"line {self.lineno}: {self.message}" if self.lineno else self.message


@dataclass(frozen=True)
class Translation:
    """A compiled script or condition and what it references."""

    source: str
    python: str  # the token-rewritten text (same line numbers as source)
    code: CodeType
    filename: str
    mode: str  # "exec" (script) or "eval" (condition)
    globals: tuple[str, ...]  # names declared with `global NAME = value`
    refs: frozenset[tuple[str, str]]  # (device, name) pairs: signals, parameters or functions
    trigs: int

    def line_text(self, lineno: int | None) -> str:
        """The user's text of a line (empty when out of range)."""
        lines = self.source.splitlines()
        if lineno is None or not 1 <= lineno <= len(lines):
            return ""
        return lines[lineno - 1].strip()


# -- pass 1: tokens ------------------------------------------------------------------------------
def _logical_lines(source: str) -> tuple[list[list[tokenize.TokenInfo]], list[tokenize.TokenInfo]]:
    """Tokens grouped by logical line (without NL/COMMENT/INDENT/DEDENT), and all NAME tokens.

    Stops quietly at a tokenize error: the parser reports that error with its line later.
    """
    lines: list[list[tokenize.TokenInfo]] = []
    names: list[tokenize.TokenInfo] = []
    current: list[tokenize.TokenInfo] = []
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME:
                names.append(tok)
            if tok.type == tokenize.NEWLINE:
                if current:
                    lines.append(current)
                current = []
            elif tok.type not in skip:
                current.append(tok)
    except (tokenize.TokenError, SyntaxError):
        pass
    return lines, names


def _rewrite_tokens(source: str) -> tuple[str, int]:
    """Rewrite `global NAME = v`, `global.NAME` and `trig COND:`; returns (text, trig count)."""
    lines, names = _logical_lines(source)
    for tok in names:
        if tok.string.startswith(RESERVED):
            raise TranslationError(
                f"names starting with {RESERVED} are reserved: {tok.string}", tok.start[0]
            )
    edits: list[tuple[tuple[int, int], tuple[int, int], str]] = []
    trigs = 0
    for toks in lines:
        first = toks[0]
        if (
            first.type == tokenize.NAME
            and first.string == "global"
            and len(toks) >= 3
            and toks[1].type == tokenize.NAME
            and toks[2].string == "="
        ):
            edits.append((first.start, first.end, GLOBAL_MARK + "."))
        elif first.type == tokenize.NAME and first.string == "trig" and len(toks) >= 2:
            if toks[1].type == tokenize.OP and toks[1].string in _NOT_TRIG_FOLLOWERS:
                continue  # trig used as a variable: trig = 1, trig.x, trig += 1, ...
            # `trig(a)` may be a call of a variable named trig: only a colon at bracket
            # depth 0 makes the line a trig statement
            colon = _depth0_colon(toks[1:])
            if colon is None:
                continue
            # the state key names the condition too, so editing a script does not inherit
            # another trig's state
            cond = " ".join(t.string for t in toks[1 : toks.index(colon)])
            edits.append((first.start, first.end, f"if {TRIG}({f'{trigs}:{cond}'!r},"))
            edits.append((colon.start, colon.end, "):"))
            trigs += 1
        for a, b in zip(toks, toks[1:], strict=False):
            if a.type == tokenize.NAME and a.string == "global" and b.string == ".":
                edits.append((a.start, b.end, ""))
    if not edits:
        return source, 0
    text_lines = source.splitlines(keepends=True)
    for (r0, c0), (r1, c1), repl in sorted(edits, reverse=True):
        head = text_lines[r0 - 1][:c0]
        tail = text_lines[r1 - 1][c1:]
        text_lines[r0 - 1 : r1] = [head + repl + tail] + [""] * (r1 - r0)
    return "".join(text_lines), trigs


def _depth0_colon(toks: Iterable[tokenize.TokenInfo]) -> tokenize.TokenInfo | None:
    depth = 0
    for tok in toks:
        if tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
        elif tok.string == ":" and depth == 0:
            return tok
    return None


# -- pass 2: AST -----------------------------------------------------------------------------------
def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the script binds anywhere (such a name is never treated as a device)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    out.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            out.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
    return out


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


def _checkpoint(at: ast.AST) -> ast.stmt:
    """`if __rtoc_stop__: __rtoc_halt__()`: about 7 ns a pass (bench/bench_scripting.py)."""
    stmt = ast.If(test=_name(STOP), body=[ast.Expr(_call(HALT))], orelse=[])
    return ast.copy_location(stmt, at)


class _Transformer(ast.NodeTransformer):
    def __init__(self, bound: set[str], known: frozenset[str]) -> None:
        self.bound = bound
        self.known = known
        self.refs: set[tuple[str, str]] = set()
        self.globals: list[str] = []
        self.function_depth = 0

    def is_device(self, name: str) -> bool:
        return not (
            name in self.bound
            or name in self.known
            or name in _BUILTINS
            or name.startswith(RESERVED)
            or name == "clock"
        )

    # -- signals, parameters, functions ---------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        base = node.value
        if (
            node.attr == "latest"
            and isinstance(node.ctx, ast.Load)
            and isinstance(base, ast.Attribute)
            and isinstance(base.value, ast.Name)
            and self.is_device(base.value.id)
        ):
            # Device.Signal.latest is what most conditions read: one call instead of three
            self.refs.add((base.value.id, base.attr))
            call = _call(LATEST, ast.Constant(base.value.id), ast.Constant(base.attr))
            return ast.copy_location(call, node)
        if isinstance(base, ast.Name) and self.is_device(base.id):
            self.refs.add((base.id, node.attr))
            if isinstance(node.ctx, ast.Load):
                return ast.copy_location(
                    _call(REF, ast.Constant(base.id), ast.Constant(node.attr)), node
                )
            node.value = ast.copy_location(_call(DEV, ast.Constant(base.id)), base)
            return node
        if isinstance(base, ast.Name) and base.id == GLOBAL_MARK:
            raise TranslationError(
                "`global NAME = value` must be a statement of its own", node.lineno
            )
        self.generic_visit(node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "clock" and isinstance(node.ctx, ast.Load) and "clock" not in self.bound:
            return ast.copy_location(_call(CLOCK), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # RTOC replaced `Device.Signal` by `x, y` in the text, so a signal passed to a function
        # is two arguments: rtoc.resample(Generator.Square, 100), plot(Generator.Square, "n").
        # A parameter passed the same way stays one argument (decided at run time).
        for i, arg in enumerate(node.args):
            if (
                isinstance(arg, ast.Attribute)
                and isinstance(arg.value, ast.Name)
                and self.is_device(arg.value.id)
            ):
                self.refs.add((arg.value.id, arg.attr))
                expand = _call(ARGS, ast.Constant(arg.value.id), ast.Constant(arg.attr))
                node.args[i] = ast.copy_location(
                    ast.Starred(value=ast.copy_location(expand, arg), ctx=ast.Load()), arg
                )
        func = node.func
        if isinstance(func, ast.Name) and func.id == SIGNAL_FUNC and SIGNAL_FUNC not in self.bound:
            consts = [
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if len(consts) == len(node.args) == 1 and "." in consts[0]:
                dname, _, sname = consts[0].partition(".")
                self.refs.add((dname, sname))
            elif len(consts) == len(node.args) == 2:
                self.refs.add((consts[0], consts[1]))
        self.generic_visit(node)
        return node

    def is_signal_expr(self, node: ast.expr) -> bool:
        """Device.Signal, Device.Signal.x/.y or signal(...)(.x/.y): RTOC's `[x], [y] =` form."""
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("x", "y")
            and not (isinstance(node.value, ast.Name) and self.is_device(node.value.id))
        ):
            node = node.value
        if isinstance(node, ast.Attribute):
            return isinstance(node.value, ast.Name) and self.is_device(node.value.id)
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == SIGNAL_FUNC
        )

    def latest_target(self, target: ast.expr) -> tuple[str, str] | None:
        """(device, signal) when target is `Device.Signal.latest`."""
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "latest"
            and isinstance(target.value, ast.Attribute)
            and isinstance(target.value.value, ast.Name)
            and self.is_device(target.value.value.id)
        ):
            return target.value.value.id, target.value.attr
        return None

    def set_latest(self, node: ast.stmt, key: tuple[str, str], value: ast.expr) -> ast.stmt:
        """`Device.Signal.latest = v`: RTOC's way to write a value; here it appends a sample."""
        self.refs.add(key)
        call = _call(SET_LATEST, ast.Constant(key[0]), ast.Constant(key[1]), self.visit(value))
        return ast.copy_location(ast.Expr(call), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        key = self.latest_target(node.target)
        if key is not None:
            current = _call(LATEST, ast.Constant(key[0]), ast.Constant(key[1]))
            value = ast.copy_location(ast.BinOp(left=current, op=node.op, right=node.value), node)
            return self.set_latest(node, key, value)
        self.generic_visit(node)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        if len(node.targets) == 1:
            key = self.latest_target(node.targets[0])
            if key is not None:
                return self.set_latest(node, key, node.value)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute):
            target = node.targets[0]
            if isinstance(target.value, ast.Name) and target.value.id == GLOBAL_MARK:
                return self.global_declaration(node, target.attr)
        if self.is_signal_expr(node.value):
            node.targets = [_unwrap_single(t) for t in node.targets]
        self.generic_visit(node)
        return node

    def global_declaration(self, node: ast.Assign, name: str) -> ast.stmt:
        if self.function_depth:
            raise TranslationError(
                "`global NAME = value` is only allowed outside functions", node.lineno
            )
        if name not in self.globals:
            self.globals.append(name)
        value = self.visit(node.value)
        store = ast.Subscript(value=_name(GSTATE), slice=ast.Constant(name), ctx=ast.Store())
        body: list[ast.stmt] = [
            ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value),
            ast.Assign(targets=[store], value=_name(name)),
        ]
        test = ast.Compare(left=ast.Constant(name), ops=[ast.NotIn()], comparators=[_name(GSTATE)])
        # fix_missing_locations gives the new nodes the declaration's line
        return ast.copy_location(ast.If(test=test, body=body, orelse=[]), node)

    # -- stop checkpoints -------------------------------------------------------------------------
    def _loop(self, node: ast.While | ast.For | ast.AsyncFor) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, _checkpoint(node))
        return node

    visit_While = _loop
    visit_For = _loop
    visit_AsyncFor = _loop

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self.function_depth += 1
        try:
            self.generic_visit(node)
        finally:
            self.function_depth -= 1
        body = node.body
        has_doc = (
            bool(body)
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        )
        body.insert(1 if has_doc else 0, _checkpoint(node))
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.function_depth += 1
        try:
            self.generic_visit(node)
        finally:
            self.function_depth -= 1
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        # A handler (even a bare `except:`) must not swallow the stop request.
        self.generic_visit(node)
        node.body.insert(0, _checkpoint(node))
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        # `not __rtoc_stop__ or __rtoc_halt__()`: True until a stop is requested
        check = ast.BoolOp(
            op=ast.Or(), values=[ast.UnaryOp(op=ast.Not(), operand=_name(STOP)), _call(HALT)]
        )
        node.ifs.append(ast.copy_location(check, node.iter))
        return node


def _unwrap_single(target: ast.expr) -> ast.expr:
    """`[x]` -> `x` and `[x], [y]` -> `x, y` (RTOC writes signal assignments that way)."""
    if isinstance(target, (ast.List, ast.Tuple)):
        if len(target.elts) == 1 and isinstance(target.elts[0], ast.Name):
            return target.elts[0]
        target.elts = [
            e.elts[0]
            if isinstance(e, (ast.List, ast.Tuple))
            and len(e.elts) == 1
            and isinstance(e.elts[0], ast.Name)
            else e
            for e in target.elts
        ]
    return target


def translate(
    source: str, name: str = "script", *, mode: str = "exec", known: Iterable[str] = ()
) -> Translation:
    """Compile a script (mode "exec") or a global-event condition (mode "eval").

    `known` are the names the runtime namespace provides (math, np, stream, ...); they and
    Python's builtins are never taken for device names.
    Raises TranslationError with the line number in `source`.
    """
    if mode not in ("exec", "eval"):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if mode == "exec":
        python, trigs = _rewrite_tokens(source)
    else:
        _rewrite_tokens(source.strip())  # only for the reserved-name check
        python, trigs = source.strip(), 0
        if not python:
            raise TranslationError("the condition is empty", 1)
    filename = f"<rtoc {'script' if mode == 'exec' else 'condition'} {name}>"
    try:
        tree = ast.parse(python, filename=filename, mode=mode)
    except SyntaxError as exc:
        raise TranslationError(f"SyntaxError: {exc.msg}", exc.lineno) from None
    bound = _bound_names(tree)
    transformer = _Transformer(bound, frozenset(known))
    tree = transformer.visit(tree)
    ast.fix_missing_locations(tree)
    try:
        code = compile(tree, filename, mode)
    except SyntaxError as exc:  # e.g. `return` outside a function
        raise TranslationError(f"SyntaxError: {exc.msg}", exc.lineno) from None
    except ValueError as exc:
        raise TranslationError(str(exc)) from None
    return Translation(
        source=source,
        python=python,
        code=code,
        filename=filename,
        mode=mode,
        globals=tuple(transformer.globals),
        refs=frozenset(transformer.refs),
        trigs=trigs,
    )
