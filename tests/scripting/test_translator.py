"""The RTOC script language translator: token rewrites, AST rewrites, line numbers kept."""

from __future__ import annotations

import ast

import pytest

from rtoc_tui.scripting import translator as tr
from rtoc_tui.scripting.translator import TranslationError, translate

KNOWN = frozenset(
    {"print", "np", "math", "rtoc", "stream", "plot", "event", "signal", "device", "sleep"}
)


def rewritten(source: str) -> str:
    """The Python the translator compiles, as text (for asserting the rewrites)."""
    text, _ = tr._rewrite_tokens(source)
    tree = ast.parse(text)
    tree = tr._Transformer(tr._bound_names(tree), KNOWN).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def test_global_and_trig_keep_line_numbers() -> None:
    src = "global count = 0\ncount += 1\ntrig count > 2:\n    print('Hello')\nx = 1\n"
    text, trigs = tr._rewrite_tokens(src)
    assert trigs == 1
    assert text.count("\n") == src.count("\n")
    assert text.splitlines()[0].startswith(tr.GLOBAL_MARK)
    assert text.splitlines()[2].startswith(f"if {tr.TRIG}(")
    assert text.splitlines()[4] == "x = 1"


def test_global_declaration_initialises_once() -> None:
    out = rewritten("global count = 0\ncount += 1\n")
    assert f"if 'count' not in {tr.GSTATE}:" in out
    assert translate("global count = 0\nglobal b=2\n", known=KNOWN).globals == ("count", "b")


def test_rtoc_global_dot_name_reads_the_variable() -> None:
    assert "print(count)" in rewritten("global count = 0\nprint(global.count)\n")


def test_python_global_statement_is_left_alone() -> None:
    src = "global n = 0\ndef bump():\n    global n\n    n += 1\nbump()\n"
    out = rewritten(src)
    assert "global n\n" in out


def test_trig_used_as_a_variable_is_not_a_trig_statement() -> None:
    for src in (
        "trig = 5\n",
        "trig += 1\n",
        "trig.x = 1\n",
        "trig(1)\n",
        "trig[0] = 1\n",
        "trig: int = 1\n",
    ):
        text, trigs = tr._rewrite_tokens(src)
        assert trigs == 0 and text == src, src


def test_trig_with_parentheses_and_one_liner() -> None:
    out = rewritten("trig(a > 1):\n    pass\ntrig b < 2: print('x')\n").splitlines()
    assert out[0] == f"if {tr.TRIG}('0:( a > 1 )', a > 1):"
    assert out[2] == f"if {tr.TRIG}('1:b < 2', b < 2):"
    assert out[3].strip() == "print('x')"


def test_trig_inside_strings_and_comments_is_untouched() -> None:
    src = "s = 'trig x:'  # trig y:\n"
    assert tr._rewrite_tokens(src) == (src, 0)


def test_device_attributes_become_runtime_references() -> None:
    out = rewritten(
        "a = Generator.Square.latest\nGenerator.gen_level = 1\nGenerator.setFrequency(2)\n"
    )
    assert f"a = {tr.LATEST}('Generator', 'Square')" in out
    assert f"{tr.DEV}('Generator').gen_level = 1" in out
    assert f"{tr.REF}('Generator', 'setFrequency')(2)" in out


def test_bound_names_and_modules_are_not_devices() -> None:
    out = rewritten("import os\nv = np.pi + math.e + os.sep.count('/')\nclass A:\n    b = 1\nA.b\n")
    assert tr.REF not in out


def test_rtoc_list_unpacking_binds_whole_arrays() -> None:
    out = rewritten(
        "[x], [y] = Generator.Square\n[x] = Generator.Square.x\n[y] = signal('My Dev.T 1').y\n[z] = [5]\n"
    )
    lines = out.splitlines()
    assert lines[0].startswith("x, y = ")
    assert lines[1].startswith("x = ")
    assert lines[2].startswith("y = ")
    assert lines[3] == "[z] = [5]"  # ordinary Python unpacking stays Python


def test_clock_reads_the_clock_unless_the_script_binds_it() -> None:
    assert f"t = {tr.CLOCK}()" in rewritten("t = clock\n")
    assert tr.CLOCK not in rewritten("clock = 5\nt = clock\n")


def test_checkpoints_in_loops_functions_handlers_and_comprehensions() -> None:
    out = rewritten(
        "while True:\n    pass\nfor i in range(3):\n    pass\ndef f():\n    'doc'\n    return 1\n"
        "try:\n    pass\nexcept:\n    pass\nz = [i for i in range(3)]\n"
    )
    assert out.count(f"if {tr.STOP}:") == 4
    assert f"if not {tr.STOP} or {tr.HALT}()" in out
    assert 'def f():\n    """doc"""\n    if __rtoc_stop__:' in out  # the docstring stays first


def test_refs_collects_signal_candidates() -> None:
    t = translate(
        "a = Generator.Square.latest\nb = signal('My Dev.Temp 1')\nc = signal('D', 'S')\n",
        known=KNOWN,
    )
    assert t.refs == {("Generator", "Square"), ("My Dev", "Temp 1"), ("D", "S")}


def test_condition_mode() -> None:
    t = translate("Generator.Square.latest >= 2", "ev", mode="eval", known=KNOWN)
    assert t.mode == "eval" and t.refs == {("Generator", "Square")}
    with pytest.raises(TranslationError):
        translate("x = 1", "ev", mode="eval", known=KNOWN)
    with pytest.raises(TranslationError, match="empty"):
        translate("  ", "ev", mode="eval", known=KNOWN)


@pytest.mark.parametrize(
    ("src", "line"),
    [
        ("a = 1\nb = (\n", 2),
        ("a = 1\n\ntrig x >:\n    pass\n", 3),
        ("x = 1\ndef f():\n    global y = 2\n", 3),
        ("ok = 1\n__rtoc_stop__ = True\n", 2),
        ("a = 1\nreturn 5\n", 2),
    ],
)
def test_errors_carry_the_users_line(src: str, line: int) -> None:
    with pytest.raises(TranslationError) as info:
        translate(src, known=KNOWN)
    assert info.value.lineno == line
    assert str(info.value).startswith(f"line {line}: ")


def test_line_text() -> None:
    t = translate("a = 1\n  \nb = 2\n", known=KNOWN)
    assert t.line_text(3) == "b = 2"
    assert t.line_text(9) == ""
