"""Code lines of a Python tree: lines holding a token other than a comment, excluding docstrings
and blank lines (what "the source does not grow" is measured in).

    python3 tools/code_lines.py src/boltzkit          # total, then per file

Compare with a release: ``git archive 738dd80 src | tar -x -C /tmp/base`` then run it on
``/tmp/base/src/boltzkit``.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}


def code_lines(source: str) -> int:
    """Lines of ``source`` that hold code (docstrings, comments and blank lines excluded)."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _SKIPPED:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(lines)


def main(root: str) -> None:
    counts = {str(p.relative_to(root)): code_lines(p.read_text()) for p in sorted(Path(root).rglob("*.py"))}
    print(f"{sum(counts.values())} code lines in {len(counts)} files")
    for name, n in counts.items():
        print(f"{n:6d}  {name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "src/boltzkit")
