"""The layout a newcomer can see: every .py directly in src/ is a script; every folder is a method folder or a
library package; library imports go one way, downwards (common < data < modeling < train < teachers < runs <
serve), never up and never into a script; and functions stay short. Read from the source, nothing imported."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
METHODS = ("distill_task_specific_bert", "tinybert")  # their stage scripts and that method's own helpers
LEVELS = ["common", "data", "modeling", "train", "teachers", "runs", "serve"]  # a package imports only below
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    return ".".join(("src", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def is_script(path: Path) -> bool:
    """A file with `def main` and an `if __name__ == "__main__":` block."""
    text = path.read_text(encoding="utf-8")
    return "\ndef main(" in text and '\nif __name__ == "__main__":' in text


def imports(path: Path) -> set[str]:
    """The project modules a file imports, at any depth (`from src.x import y` counts src.x.y when that is a
    module, else src.x)."""
    known, out = modules(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("src"):
            for alias in node.names:
                out.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("src.")}
    return out - {"src"}


def test_the_top_of_src_holds_scripts_only_and_folders_are_methods_or_packages():
    top = [p for p in SRC.glob("*.py") if p.name != "__init__.py"]
    assert top and all(is_script(p) for p in top), [p.name for p in top if not is_script(p)]
    folders = {p.name for p in SRC.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(METHODS) | set(LEVELS), folders ^ (set(METHODS) | set(LEVELS))
    for package in LEVELS:
        assert not [p.name for p in (SRC / package).glob("*.py") if is_script(p)], f"a script in src/{package}/"


def test_library_imports_go_down_and_never_into_a_script():
    scripts = {name for name, path in modules().items() if is_script(path)}
    wrong = []
    for name, path in modules().items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in LEVELS + list(METHODS):
            continue
        for target in imports(path):
            if target in scripts:
                wrong.append(f"{name} imports the script {target}")
            tparts = target.split(".")
            if parts[1] in LEVELS and len(tparts) > 1 and (tparts[1] in METHODS or (
                    tparts[1] in LEVELS and LEVELS.index(tparts[1]) > LEVELS.index(parts[1]))):
                wrong.append(f"{name} imports {target}, above it")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = {name: {t for t in imports(path) if t in modules()} for name, path in modules().items()}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join([*trail[trail.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def code_lines(node: ast.FunctionDef) -> int:
    """A function's lines from its signature to its end, its docstring left out."""
    body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
    return node.end_lineno - node.lineno + 1 - (body[0].lineno - node.body[0].lineno)


def test_functions_stay_short():
    """Argument parsers aside (a flag a line or two), no function has more than MAX_FUNCTION_LINES lines of code."""
    long = [f"{path.relative_to(SRC)}:{node.name} ({code_lines(node)} lines)"
            for path in SRC.rglob("*.py") for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef) and node.name != "parse_args" and not node.name.startswith("add_")
            and code_lines(node) > MAX_FUNCTION_LINES]
    assert not long, long
