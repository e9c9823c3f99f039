"""The layer contract (README, "Layout"): which package may import which, checked on every
import statement of the source, those inside functions included, so a new cycle or an upward
import fails CI. ``python -m tests.test_layers`` prints the package graph the README draws."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Import name of each source folder (setup.py maps them the same way).
FOLDERS = {"lebench": "lebench", "manifests": "lebench.manifests", "pretrain": "lebench.pretrain",
           "downstream": "lebench.downstream", "slurm": "lebench.slurm", "fairseq_ext": "fairseq_ext"}
# Bottom to top: a package may import its own layer's packages and those below, never above.
LAYERS = (
    ("primitives", ("lebench.core",)),
    ("data", ("lebench.manifests",)),
    ("models", ("lebench.pretrain",)),
    ("evaluation", ("lebench.downstream",)),
    ("fairseq plugin", ("fairseq_ext",)),
    ("cluster", ("lebench.slurm",)),
    ("entry points", ("lebench.demo", "lebench.cli", "lebench")),
)
# The plugin is loaded by fairseq from ``common.user_dir``; it uses the library layers, never
# what drives runs.
PLUGIN_MAY_NOT_IMPORT = ("lebench.downstream.run", "lebench.downstream.suite", "lebench.downstream.results",
                         "lebench.pretrain.launch", "lebench.pretrain.continued", "lebench.pretrain.check",
                         "lebench.pretrain.hf.convert")
GENERIC_NAMES = ("manifests", "pretrain", "downstream", "slurm", "configs")


def modules() -> dict[str, Path]:
    out = {}
    for folder, name in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            module = ".".join((name, *parts)).removesuffix(".__init__")
            out[module] = path
    return out


def imported(path: Path, module: str) -> set[str]:
    """Every module named by an import statement of ``path``, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            names |= {base, *(f"{base}.{a.name}" for a in node.names)}
    return names


def graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports."""
    ours = modules()
    out = {}
    for module, path in ours.items():
        targets = set()
        for name in imported(path, module):
            while name and name not in ours:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        out[module] = targets
    return out


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest declared package that holds ``module``."""
    best = max(((len(p), i) for i, (_, packages) in enumerate(LAYERS) for p in packages
                if module == p or module.startswith(p + ".")), default=None)
    assert best is not None, f"{module} belongs to no layer of LAYERS"
    return best[1]


def package_of(module: str) -> str:
    declared = [p for _, packages in LAYERS for p in packages if module == p or module.startswith(p + ".")]
    return max(declared, key=len)


def package_graph() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, targets in graph().items():
        edges = out.setdefault(package_of(module), set())
        edges |= {package_of(t) for t in targets} - {package_of(module)}
    return out


def cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``g`` as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(g.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        state[v] = 2
        stack.pop()
        return None
    return next((c for v in sorted(g) if v not in state and (c := visit(v))), None)


def mermaid() -> str:
    """The package graph, bottom to top, in mermaid (GitHub renders it)."""
    g = package_graph()
    node = {p: p.replace(".", "_") for p in g}
    lines = ["flowchart BT"] + [f'    {node[p]}["{p}"]' for p in sorted(g, key=lambda p: (layer_of(p), p))]
    for package, targets in sorted(g.items()):
        lines += [f"    {node[package]} --> {node[t]}" for t in sorted(targets)]
    return "\n".join(lines)


def test_every_module_belongs_to_a_layer_and_imports_only_downward():
    upward = []
    for module, targets in graph().items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                upward.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                              f"({LAYERS[layer_of(target)][0]})")
    assert not upward, "imports against the layer order:\n" + "\n".join(sorted(upward))


def test_no_import_cycle_between_modules_nor_packages():
    assert cycle(graph()) is None, " -> ".join(cycle(graph()))
    assert cycle(package_graph()) is None, " -> ".join(cycle(package_graph()))


def test_the_library_never_imports_the_plugin_and_the_plugin_no_driver():
    g = graph()
    assert not [m for m, t in g.items() if not m.startswith("fairseq_ext")
                and any(x.startswith("fairseq_ext") for x in t)]
    assert not [(m, x) for m, t in g.items() if m.startswith("fairseq_ext")
                for x in t if x.startswith(PLUGIN_MAY_NOT_IMPORT)]


def test_no_generic_top_level_names_anywhere():
    """``import manifests`` would only work from the repository root, as another module."""
    offenders = []
    for path in [*ROOT.glob("*/**/*.py"), *ROOT.glob("*.py")]:
        hidden = any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        if hidden or path.name == "setup.py":  # .venv, .venv-hear (bench/hear_env.sh), ...
            continue
        for name in imported(path, "x.y"):
            if name.split(".")[0] in GENERIC_NAMES:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_readme_draws_the_package_graph_as_it_is():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid()}\n```" in readme, f"update README.md's drawing:\n{mermaid()}"
    for name, packages in LAYERS:
        assert name in readme and all(f"`{p}`" in readme for p in packages), name


if __name__ == "__main__":
    print(mermaid())
