"""How readable the package's structure is, as numbers: the check issue 23 names.

    python scripts/structure_check.py            # prints the figures, exit 1 if a limit is passed
    python scripts/structure_check.py --report   # prints the figures only, always exit 0

Figures: the longest module and function (lines), the functions that take more than 5
positional parameters, the subpackages with more than 10 modules, and every upward import.

Upward imports: each top-level part of emotion_batch has a layer (LAYERS below, lowest first).
A module may import its own part and any part of a lower layer, never a higher one: the stages
never reach into the pipeline, the pipeline never into the run layer, models never into the
stages that feed them. A lazy import inside a function counts the same as one at the top.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "emotion_batch"

# Lowest layer first. Parts in one layer do not import each other's layer-mates only by
# convention; the check enforces direction between layers.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("labels", "schemas", "config", "errors", "fs", "timing", "samples", "words"),
    ("media", "models"),
    ("vision", "audio", "sync"),
    ("fusion", "identity"),
    ("explain",),
    ("pipeline",),
    ("training", "query", "sql", "resolve", "report", "results", "lanes", "summary"),
    ("run",),
    ("api", "cli"),
)
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}

LIMITS = {"module_lines": 400, "function_lines": 60, "wide_functions": 8, "subpackage_modules": 10,
          "upward_imports": 0}


@dataclass(frozen=True)
class Figures:
    longest_module: tuple[str, int]
    longest_function: tuple[str, int]
    wide_functions: list[str]          # "module:function (n)" with n > 5 positional parameters
    big_subpackages: list[str]         # "subpackage (n modules)" with n > 10
    upward_imports: list[str]          # "module: imported (layer a -> layer b)"
    unranked: list[str]                # top-level parts LAYERS does not name

    def over_limits(self) -> list[str]:
        over = []
        if self.longest_module[1] > LIMITS["module_lines"]:
            over.append(f"module {self.longest_module[0]} has {self.longest_module[1]} lines")
        if self.longest_function[1] > LIMITS["function_lines"]:
            over.append(f"function {self.longest_function[0]} has {self.longest_function[1]} lines")
        if len(self.wide_functions) > LIMITS["wide_functions"]:
            over.append(f"{len(self.wide_functions)} functions take more than 5 positional parameters")
        over += [f"subpackage {s}" for s in self.big_subpackages]
        over += [f"upward import {u}" for u in self.upward_imports]
        over += [f"part {p} has no layer in scripts/structure_check.py LAYERS" for p in self.unranked]
        return over


def part_of(module: str) -> str | None:
    """The top-level part of emotion_batch a dotted module name belongs to, or None."""
    bits = module.split(".")
    return bits[1] if bits[0] == "emotion_batch" and len(bits) > 1 else None


def imported_modules(path: Path, pkg: Path = PKG) -> list[str]:
    """Absolute names of the emotion_batch modules a file imports (relative imports resolved)."""
    here = ["emotion_batch", *path.relative_to(pkg).parts[:-1]]  # the package the file is in
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                names.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.append(node.module)
    return [n for n in names if n == "emotion_batch" or n.startswith("emotion_batch.")]


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _positional(fn: ast.FunctionDef) -> int:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    return len([n for n in names if n not in ("self", "cls")])


def measure(pkg: Path = PKG) -> Figures:
    modules = sorted(pkg.rglob("*.py"))
    longest_module, longest_function = ("", 0), ("", 0)
    wide, upward, unranked = [], [], set()
    for f in modules:
        rel = f.relative_to(pkg).as_posix()
        tree = ast.parse(f.read_text())
        n = len(f.read_text().splitlines())
        longest_module = max(longest_module, (rel, n), key=lambda t: t[1])
        for fn in _functions(tree):
            length = fn.end_lineno - fn.lineno + 1
            longest_function = max(longest_function, (f"{rel}:{fn.name}", length), key=lambda t: t[1])
            if _positional(fn) > 5:
                wide.append(f"{rel}:{fn.name} ({_positional(fn)})")
        src = f.relative_to(pkg).parts[0].removesuffix(".py")
        if src == "__init__":
            continue  # the package's front door re-exports from above
        if src not in RANK:
            unranked.add(src)
            continue
        for name in imported_modules(f, pkg):
            dst = part_of(name)
            if dst is None or dst == src:
                continue
            if dst not in RANK:
                unranked.add(dst)
            elif RANK[dst] > RANK[src]:
                upward.append(f"{rel}: {name} (layer {RANK[src]} -> {RANK[dst]})")
    big = []
    for sub in sorted(p for p in pkg.rglob("*") if p.is_dir() and (p / "__init__.py").exists()):
        count = len([m for m in sub.glob("*.py") if m.name != "__init__.py"])
        if count > LIMITS["subpackage_modules"]:
            big.append(f"{sub.relative_to(pkg.parent).as_posix()} ({count} modules)")
    return Figures(longest_module, longest_function, sorted(wide), big, sorted(upward), sorted(unranked))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", action="store_true", help="print the figures, never fail")
    args = ap.parse_args(argv)
    fig = measure()
    print(f"longest module:    {fig.longest_module[0]} ({fig.longest_module[1]} lines; limit {LIMITS['module_lines']})")
    print(f"longest function:  {fig.longest_function[0]} ({fig.longest_function[1]} lines; limit {LIMITS['function_lines']})")
    print(f"> 5 positional:    {len(fig.wide_functions)} functions (limit {LIMITS['wide_functions']})")
    for w in fig.wide_functions:
        print(f"    {w}")
    print(f"> 10 modules:      {len(fig.big_subpackages)} subpackages {fig.big_subpackages}")
    print(f"upward imports:    {len(fig.upward_imports)}")
    for u in fig.upward_imports:
        print(f"    {u}")
    if fig.unranked:
        print(f"parts with no layer: {fig.unranked}")
    over = fig.over_limits()
    print("within every limit" if not over else f"{len(over)} over a limit")
    return 0 if args.report or not over else 1


if __name__ == "__main__":
    sys.exit(main())
