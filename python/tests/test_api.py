"""The public API: what the stub promises exists, and everything says what it does."""

import ast
import inspect
import os

import pgcopyman

STUB = os.path.join(os.path.dirname(pgcopyman.__file__), "__init__.pyi")


def stub_names():
    with open(STUB) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_") or n == "__version__"}


def test_the_stub_and_the_module_name_the_same_things():
    assert stub_names() == set(pgcopyman.__all__)
    for name in pgcopyman.__all__:
        assert hasattr(pgcopyman, name), name


def test_everything_public_has_a_docstring():
    missing = []
    for name in pgcopyman.__all__:
        obj = getattr(pgcopyman, name)
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__ == "pgcopyman":
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and not inspect.getdoc(member):
                    missing.append("%s.%s" % (name, attr))
    assert missing == []


def test_signatures_are_visible():
    assert str(inspect.signature(pgcopyman.ConnectionReceiver)) == (
        "(connection, copy_from, *, label=None)")
    assert "stall_timeout" in str(inspect.signature(pgcopyman.CopyManager))
    assert str(inspect.signature(pgcopyman.CopyManager.reconcile)) == "(self, receiver, /)"


def test_py_postgresql_names():
    assert pgcopyman.ReceiverFault is pgcopyman.Fault
    assert pgcopyman.IteratorProducer is pgcopyman.IterableProducer
    assert pgcopyman.CallReceiver is pgcopyman.CallableReceiver
