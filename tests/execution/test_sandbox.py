"""The contract language: what compiles, what it computes, and how refusals read."""

from __future__ import annotations

import pytest

from jinglian.execution import compile_contract, validate_source
from jinglian.execution.sandbox import MethodInfo
from jinglian.execution.testing import ContractHarness
from jinglian.types.errors import SandboxViolation

from .conftest import EXAMPLES, contract, method


@pytest.mark.parametrize("name", ["kv.py", "asset.py"])
def test_examples_are_valid(name: str) -> None:
    validate_source((EXAMPLES / name).read_text())


def test_compile_reports_methods() -> None:
    compiled = compile_contract(
        "t",
        contract(
            """
            @invoke
            def put(ctx, key, value=None):
                pass

            @query
            def get(ctx):
                pass

            def private(ctx):
                pass
            """
        ),
    )
    assert dict(compiled.methods) == {
        "put": MethodInfo("invoke", ("key", "value"), 1),
        "get": MethodInfo("query", (), 0),
    }
    assert compiled.methods["put"].required_params == ("key",)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (contract("X = 1\n"), "at least one"),
        (contract("@invoke\ndef run(self):\n    pass\n"), "ctx as its first"),
        (contract("@invoke\ndef run(ctx):\n    pass\n@invoke\ndef run(ctx):\n    pass\n"), "twice"),
        (contract("@invoke\ndef run(ctx, *args):\n    pass\n"), "plain names"),
        ("@invoke\ndef run(ctx):\n    pass\n", "imported from"),
        (method("x = 1 +"), "Line 5: syntax error"),
        (method("return 1 / 2"), "Line 5: only integer arithmetic"),
        (method("y = 1\ny[0] = y.z = 2"), "Line 6"),
        (method("for x[0] in [1]:\n    pass"), "items may only be assigned"),
    ],
)
def test_refusals_say_where_and_why(source: str, message: str) -> None:
    with pytest.raises(SandboxViolation, match=message):
        validate_source(source)


LANGUAGE = [
    (
        "return [1 + 2, 7 // 2, -7 // 2, 7 % 3, 2 ** 10, 1 << 5, -3 >> 1, 6 & 3, 6 | 1, 6 ^ 2]",
        [3, 3, -4, 1, 1024, 32, -2, 2, 7, 4],
    ),
    (
        "x = 5\nreturn [0 < x < 10, 0 < x > 10, 1 == 1 != 2, x is not None, not x]",
        [True, False, True, True, False],
    ),
    (
        "x = {'a': [1, b'z']}\nreturn f'v={x} {x!r} n={3} s={\"q\"!r}'",
        "v={'a': [1, b'z']} {'a': [1, b'z']} n=3 s='q'",
    ),
    ("return [i * i for i in range(6) if i % 2 == 0]", [0, 4, 16]),
    ("return {k: v * 2 for k, v in [('a', 1), ('b', 2)]}", {"a": 2, "b": 4}),
    ("return [(i, j) for i in range(2) for j in 'ab']", [[0, "a"], [0, "b"], [1, "a"], [1, "b"]]),
    (
        "a, (b, c) = 1, (2, 3)\nfor k, v in {'x': 4}.items():\n    a = a + v\nreturn [a, b, c]",
        [5, 2, 3],
    ),
    (
        "s = 'Hello, World'\nreturn [s.lower(), s.split(', '), s.replace('l', 'L', 2), s[7:], s[-1]]",
        ["hello, world", ["Hello", "World"], "HeLLo, World", "World", "d"],
    ),
    (
        "return ['-'.join(['a', 'b']), 'ab'.encode().hex(), bytes.fromhex('ff00'), 'x'.zfill(3)]",
        ["a-b", "6162", b"\xff\x00", "00x"],
    ),
    (
        "return [int.from_bytes(b'\\x01\\x00', 'big'), (258).to_bytes(2, 'little'), (5).bit_length()]",
        [256, b"\x02\x01", 3],
    ),
    (
        "l = [3, 1, 2]\nl.append(4)\nl.sort(reverse=True)\nl.extend((0,))\nl[0] = 9\ndel l[1]\n"
        "l += [7]\nreturn [l, l.index(7), l.count(9), l.pop(), l[1:3]]",
        [[9, 2, 1, 0], 4, 1, 7, [2, 1]],
    ),
    (
        "def size(w):\n    return len(w)\nreturn [sorted(['ccc', 'a', 'bb'], key=size), "
        "min([3, 1, 2]), max('ab', 'c'), max([], default=0), min([[2], [1]])]",
        [["a", "bb", "ccc"], 1, "c", 0, [1]],
    ),
    (
        "d = {'a': 1}\nd['b'] = 2\nd.update({'c': 3})\nx = d.get('z', 0)\ndel d['a']\n"
        "return [d, list(d), list(d.values()), 'b' in d, x, d.pop('b'), dict(a=1), d | {'q': 1}]",
        [{"c": 3}, ["b", "c"], [2, 3], True, 0, 2, {"a": 1}, {"c": 3, "q": 1}],
    ),
    (
        "return [isinstance(1, int), isinstance('a', (int, str)), isinstance(True, bool), "
        "isinstance([], dict)]",
        [True, True, True, False],
    ),
    (
        "return [str(12), int('42'), int('ff', 16), bytes(3), bytes([1, 2]), bytes('hi', 'utf-8'), "
        "abs(-3), bool(0), any([0, 1]), all([]), list(enumerate('ab', 1)), list(zip([1, 2], 'ab')), "
        "list(reversed([1, 2])), tuple([1]), list(range(3)), sum([1, 2, 3])]",
        [
            "12",
            42,
            255,
            b"\x00\x00\x00",
            b"\x01\x02",
            b"hi",
            3,
            False,
            True,
            True,
            [[1, "a"], [2, "b"]],
            [[1, "a"], [2, "b"]],
            [2, 1],
            [1],
            [0, 1, 2],
            6,
        ],
    ),
    (
        "def outer(n):\n    def inner(m):\n        return m + n\n    return inner(1)\nreturn outer(2)",
        3,
    ),
    ("def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nreturn fib(15)", 610),
    (
        "n = 0\nwhile True:\n    n += 1\n    if n > 5:\n        break\nelse:\n    n = -1\nreturn n",
        6,
    ),
    ("for i in range(3):\n    pass\nelse:\n    i = 99\nreturn i", 99),
    ("if (n := 3) > 2:\n    return n\nreturn 0", 3),
    ("total = 0\nfor _ in range(4):\n    total += 2\nreturn total", 8),
    ("return 'a' * 3 + 'b' if 1 in [1] and 'x' not in 'abc' else None", "aaab"),
    ("return [LIMIT, NAMES[1]]", [10, "b"]),
]


@pytest.mark.parametrize(("body", "expected"), LANGUAGE)
def test_language(body: str, expected: object) -> None:
    chain = ContractHarness()
    source = "LIMIT = 10\nNAMES = ('a', 'b')\n\n" + method(body)
    chain.deploy("t1", source)
    assert chain.invoke("t1", "run").value == expected


def test_module_constants_are_shared_but_read_only() -> None:
    chain = ContractHarness()
    chain.deploy(
        "t1",
        "ITEMS = (1, 2)\n\n"
        + method("items = list(ITEMS)\nitems.append(3)\nreturn [items, ITEMS]"),
    )
    assert chain.invoke("t1", "run").value == [[1, 2, 3], [1, 2]]
    assert chain.invoke("t1", "run").value == [[1, 2, 3], [1, 2]]
