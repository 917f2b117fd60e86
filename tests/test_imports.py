"""No two fastscratch modules import each other, counting imports inside functions (the ones
made lazily to avoid loading Dask or Optuna): each module can be read on its own."""
import ast
from pathlib import Path

import fastscratch

PACKAGE = Path(fastscratch.__file__).parent


def _module_name(root, path):
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def mutual_imports(root):
    """[(a, b)] of the modules of the package at ``root`` that import each other by relative
    imports anywhere in their source."""
    modules = {_module_name(root, f): f for f in root.rglob("*.py")}
    imports = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package[:len(package) - node.level + 1] +
                                ([node.module] if node.module else []))
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                          for a in node.names}
        imports[name] = found - {name}
    return sorted((a, b) for a in imports for b in imports[a] if a < b and a in imports.get(b, ()))


def test_no_two_modules_import_each_other():
    assert mutual_imports(PACKAGE) == []


def test_a_mutual_import_is_found(tmp_path):
    """The check can fail: a lazy import back from the imported module is a cycle."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from .b import thing\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..sub import a\n")
    (pkg / "c.py").write_text("from .sub.a import thing\n")
    assert mutual_imports(pkg) == [("pkg.sub.a", "pkg.sub.b")]
