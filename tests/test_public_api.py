"""Every public module of keras_prelu states its public names in `__all__`.

A public module is one whose dotted name has no part starting with an underscore
(`keras_prelu._compat` and `keras_prelu.cli._common` are private). Its `__all__`
lists the functions, classes and constants that users and the package's other
modules use; a plain module lists only what it defines, a package `__init__` what
it re-exports from its own modules (and what it defines or imports when first used).
The modules are imported by the tests, not when the file is collected.
"""

import ast
import functools
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

# `__all__` is the same on every backend: it is read in the TensorFlow session only,
# where every module imports (the pipelines import TensorFlow).
pytestmark = pytest.mark.backend("tensorflow")

PACKAGE = "keras_prelu"


def _raise(name):
    raise ImportError(f"cannot import {name} while walking {PACKAGE}")


@functools.cache
def public_modules():
    """`{name: module}` of every public module of keras_prelu, imported."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    names += [
        info.name for info in pkgutil.walk_packages(package.__path__, PACKAGE + ".", onerror=_raise)
    ]
    return {
        name: importlib.import_module(name)
        for name in names
        if not any(part.startswith("_") for part in name.split("."))
    }


def _is_package(module):
    return hasattr(module, "__path__")


def _is_dunder(name):
    return name.startswith("__") and name.endswith("__")


def _top_level(module):
    """`(imported, defined)`: what the module's own source binds at its top level.

    `imported` maps each name bound by `from X import Y` to `X` (a relative import's
    `X` made absolute); `defined` holds the names of its functions, classes and
    assignments.
    """
    tree = ast.parse(Path(module.__file__).read_text())
    imported, defined = {}, set()
    package = module.__name__ if _is_package(module) else module.__name__.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{source}" if source else base
            for alias in node.names:
                imported[alias.asname or alias.name] = source
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    defined.discard("__all__")
    return imported, defined


def _failures(check):
    """`check(name, module)` for every public module: the problems it returns, per module."""
    problems = {}
    for name, module in public_modules().items():
        found = check(name, module)
        if found:
            problems[name] = found
    return problems


def test_walk_finds_the_public_modules():
    modules = public_modules()
    assert len(modules) >= 60
    for name in (PACKAGE, "keras_prelu.saving", "keras_prelu.saving.atomic", "keras_prelu.cli"):
        assert name in modules
    assert not any(name.endswith(("._compat", "._version", "._common")) for name in modules)


def test_every_public_module_defines_all():
    def check(name, module):
        if "__all__" not in vars(module):
            return "no __all__"
        names = module.__all__
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            return f"__all__ is not a list of strings: {names!r}"
        if len(set(names)) != len(names):
            return f"names listed twice: {sorted(n for n in set(names) if names.count(n) > 1)}"
        return None

    assert not _failures(check)


def test_every_name_in_all_exists():
    def check(name, module):
        return [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]

    assert not _failures(check)


def test_no_name_in_all_is_private():
    # Dunder names such as `__version__` are public, not private.
    def check(name, module):
        return [
            n for n in getattr(module, "__all__", ()) if n.startswith("_") and not _is_dunder(n)
        ]

    assert not _failures(check)


def test_a_package_lists_what_it_reexports():
    """A package `__init__`'s `__all__` holds exactly the names it imports from its own
    modules (besides what it defines, and what its `__getattr__` imports when first used).
    """

    def check(name, module):
        if not _is_package(module):
            return None
        imported, defined = _top_level(module)
        reexported = {
            alias
            for alias, source in imported.items()
            if (source == name or source.startswith(name + "."))
            and not inspect.ismodule(getattr(module, alias))
        }
        listed = set(getattr(module, "__all__", ()))
        lazy = {n for n in listed if n not in vars(module)}
        differences = {
            "imported, not listed": sorted(reexported - listed),
            "listed, not imported": sorted(listed - reexported - defined - lazy),
        }
        return {key: value for key, value in differences.items() if value}

    assert not _failures(check)


def test_a_plain_module_lists_only_what_it_defines():
    def check(name, module):
        if _is_package(module):
            return None
        _, defined = _top_level(module)
        return sorted(set(getattr(module, "__all__", ())) - defined)

    assert not _failures(check)
