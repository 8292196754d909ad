"""The source tree never unpickles, evaluates or imports anything a file could name.

Rules, checked on the syntax tree of every module in ``src/scratchnet`` (so that a
docstring explaining why there is no pickle, or ``model.eval()``, is not a hit):

* no import of a serialisation-with-code or dynamic-import module (``pickle``,
  ``dill``, ``marshal``, ``shelve``, ``importlib``, ``runpy``, ...), except
  ``importlib`` in ``cli.py``;
* no call of the built-ins ``eval``, ``exec``, ``compile``, ``__import__``, and no
  ``__import__`` at all;
* no identifier mentioning ``pickle`` except the keyword ``allow_pickle``, which must
  be the literal ``False``; every ``np.load`` passes ``allow_pickle=False`` explicitly;
* ``cli.py`` imports only ``scratchnet.commands.<name>`` for the string literals in its
  fixed ``COMMAND_MODULES`` tuple.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "scratchnet"
FORBIDDEN_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "shelve",
                     "marshal", "copyreg", "importlib", "imp", "runpy", "pydoc", "code",
                     "codeop", "zipimport", "pkgutil"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}


def violations(source: str, filename: str = "<test>", allow_importlib: bool = False) -> list[str]:
    tree = ast.parse(source, filename)
    found = []

    def where(node):
        return f"{filename}:{node.lineno}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in FORBIDDEN_MODULES and not (allow_importlib and top == "importlib"):
                    found.append(f"{where(node)}: imports {name}")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                found.append(f"{where(node)}: calls {node.func.id}()")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (
                        isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where(node)}: allow_pickle is not the literal False")
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "load"
                    and isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy")
                    and not any(kw.arg == "allow_pickle" for kw in node.keywords)):
                found.append(f"{where(node)}: np.load without allow_pickle=False")
        elif isinstance(node, ast.Name) and ("pickle" in node.id.lower()
                                             or node.id == "__import__"):
            found.append(f"{where(node)}: uses name {node.id}")
        elif isinstance(node, ast.Attribute) and ("pickle" in node.attr.lower()
                                                  or node.attr == "__import__"):
            found.append(f"{where(node)}: uses attribute {node.attr}")
    return found


def sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20, f"expected the package sources under {SRC}"
    return files


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_never_unpickles_evaluates_or_imports_by_name(path):
    allow = path == SRC / "cli.py"
    assert violations(path.read_text(encoding="utf-8"), str(path), allow_importlib=allow) == []


def test_cli_imports_only_its_fixed_command_modules():
    tree = ast.parse((SRC / "cli.py").read_text(encoding="utf-8"))
    modules = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "COMMAND_MODULES" for t in node.targets):
            assert isinstance(node.value, ast.Tuple)
            assert all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                       for e in node.value.elts)
            modules = [e.value for e in node.value.elts]
    assert modules, "cli.py must list its commands in a literal COMMAND_MODULES tuple"
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", m) for m in modules)
    for m in modules:
        assert (SRC / "commands" / f"{m}.py").is_file(), m
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "import_module"]
    assert len(calls) == 1
    (arg,) = calls[0].args
    # f"scratchnet.commands.{name}" where name loops over COMMAND_MODULES.
    assert isinstance(arg, ast.JoinedStr)
    assert isinstance(arg.values[0], ast.Constant) and arg.values[0].value == "scratchnet.commands."
    loops = [n for n in ast.walk(tree) if isinstance(n, ast.For)
             and isinstance(n.iter, ast.Name) and n.iter.id == "COMMAND_MODULES"]
    assert loops and any(calls[0] in ast.walk(loop) for loop in loops)


@pytest.mark.parametrize(
    "bad",
    [
        "import pickle",
        "from pickle import loads",
        "import importlib\nimportlib.import_module(x)",
        "import dill as d",
        "eval('1')",
        "exec(code)",
        "f = __import__('os')",
        "np.load(path)",
        "np.load(path, allow_pickle=True)",
        "arr = x.pickled_value",
        "import marshal",
    ],
)
def test_the_checker_catches_each_rule(bad):
    assert violations(bad) != []


def test_the_checker_allows_the_safe_spellings():
    ok = """
model.eval()
np.load(path, allow_pickle=False)
np.lib.format.write_array(f, a, allow_pickle=False)
text = "scratchnet never unpickles files"
"""
    assert violations(ok) == []
