"""Known sandbox-escape and resource-exhaustion attempts, one row each.

A row is either refused when the contract is deployed (``DEPLOY``) or deploys
and then stops at run time (``RUN``), always with the exact error class given.
``code`` is the body of ``@invoke def run(ctx)``, or module-level code
(``module=True``) placed between the SDK import and a valid method, so that
the attempt itself is the only thing wrong with the contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinglian.types.errors import (
    ContractFailed,
    InvalidInput,
    JinglianError,
    OutOfGas,
    PermissionDenied,
    SandboxViolation,
    TooLarge,
)

DEPLOY, RUN = "deploy", "run"


@dataclass(frozen=True)
class Case:
    """One attempt."""

    id: str
    code: str
    phase: str
    error: type[JinglianError] = SandboxViolation
    module: bool = False


def deploy(id: str, code: str, error: type[JinglianError] = SandboxViolation) -> Case:
    return Case(id, code, DEPLOY, error)


def module(id: str, code: str, error: type[JinglianError] = SandboxViolation) -> Case:
    return Case(id, code, DEPLOY, error, module=True)


def run(id: str, code: str, error: type[JinglianError] = SandboxViolation) -> Case:
    return Case(id, code, RUN, error)


CASES: list[Case] = [
    # Reaching object internals
    deploy("subclasses_walk", "return ().__class__.__bases__[0].__subclasses__()"),
    deploy("type_builtin", "return type(ctx)"),
    deploy("generator_gi_frame", "def gen():\n    yield 1\nreturn gen().gi_frame"),
    deploy("generator_expression_frame", "return (x for x in [1]).gi_frame.f_back"),
    deploy("generator_gi_code", "return ctx.gi_code"),
    deploy(
        "traceback_frame",
        "try:\n    1 // 0\nexcept Exception as e:\n    return e.__traceback__.tb_frame",
    ),
    deploy("tb_frame_attribute", "return ctx.tb_frame.f_globals"),
    deploy("str_format_attribute", 'return "{0.__class__}".format(ctx)'),
    deploy("str_format_bound_later", 'f = "{0.state}".format\nreturn f(ctx)'),
    deploy("str_format_map", 'return "{x}".format_map({"x": ctx})'),
    deploy("builtins_dict", 'return __builtins__["eval"]("1")'),
    deploy("dunder_import", 'return __import__("os").system("true")'),
    deploy("import_os", "import os\nreturn os.getcwd()"),
    module("module_import_os", "import os\n"),
    module("from_os_import_system", "from os import system\n"),
    module("importlib", "from importlib import import_module\n"),
    module("import_runtime_internals", "from jinglian.execution import runtime\n"),
    module("import_contract_alias", "from jinglian.contract import invoke as i\n"),
    deploy("getattr_concat", 'return getattr(ctx, "__cl" + "ass__")'),
    deploy("vars_call", "return vars(ctx)"),
    deploy("globals_call", 'return globals()["_getattr_"]'),
    deploy("locals_call", "return locals()"),
    deploy("dir_call", "return dir(ctx)"),
    module(
        "decorator_smuggling",
        "def deco(f):\n    return f\n\n@deco\n@invoke\ndef run(ctx):\n    return 1\n",
    ),
    deploy("lambda_default_smuggling", "f = lambda g=ctx: g.state\nreturn f()"),
    deploy("fstring_dunder", 'return f"{ctx.__class__}"'),
    deploy("dunder_dict", "return ctx.__dict__"),
    deploy("function_globals", "def helper():\n    return 1\nreturn helper.__globals__"),
    deploy("function_code", "def helper():\n    return 1\nreturn helper.__code__"),
    module("metaclass", "class Meta(type):\n    pass\n"),
    module("class_definition", "class A:\n    pass\n"),
    deploy("super_call", "return super()"),
    deploy("object_builtin", "return object()"),
    deploy("id_builtin", "return id(ctx)"),
    deploy("hash_builtin", 'return hash("a")'),
    deploy("attribute_assignment", "ctx.state = None"),
    deploy("dunder_name", "return __name__"),
    # Catching the runtime's own errors
    deploy(
        "except_out_of_gas",
        "try:\n    while True:\n        pass\nexcept Exception:\n    return 1",
    ),
    deploy("bare_except", "try:\n    while True:\n        pass\nexcept:\n    return 1"),
    deploy("finally_swallows", "try:\n    while True:\n        pass\nfinally:\n    return 1"),
    deploy("raise_statement", 'raise ValueError("x")'),
    deploy("with_statement", "with ctx:\n    pass"),
    # Nondeterminism
    deploy("set_literal", "return list({3, 1, 2})"),
    deploy("set_comprehension", 'return list({x for x in ["a", "b"]})'),
    deploy("set_builtin", "return list(set([1]))"),
    deploy("frozenset_builtin", "return frozenset()"),
    deploy("float_literal", "return 0.1 + 0.2"),
    deploy("true_division", "return 1 / 3"),
    deploy("float_builtin", 'return float("1")'),
    deploy("format_spec_width", 'return f"{1:>1000000000}"'),
    # Language features that bypass guards or scope rules
    deploy("global_statement", "global X\nX = 1"),
    deploy("nonlocal_statement", "x = 1\ndef f():\n    nonlocal x\n    x = 2\nf()"),
    deploy("async_function", "async def f():\n    pass"),
    deploy("yield_from", "def g():\n    yield from [1]\nreturn 1"),
    deploy("star_args", "return max(*range(10 ** 18))"),
    deploy("star_list_display", "return [*range(10 ** 18)]"),
    deploy("double_star_dict", "return {**ctx}"),
    deploy("double_star_call", "return dict(**{'a': 1})"),
    deploy("list_unpack_target", "[a, b] = [1, 2]\nreturn a"),
    deploy("annotated_assignment", "x: int = 5\nreturn x"),
    deploy("match_statement", "match ctx:\n    case _:\n        return 1"),
    deploy("print_call", 'print("hi")'),
    deploy("open_call", 'return open("/etc/passwd").read()'),
    deploy("eval_call", 'return eval("1")'),
    deploy("exec_call", 'exec("x = 1")'),
    deploy("compile_call", 'return compile("1", "f", "eval")'),
    deploy("iter_next", "return next(iter([1]))"),
    deploy("unknown_builtin", "return chr(65)"),
    deploy("mutable_default", "def f(x=[]):\n    x.append(1)\n    return x\nreturn f()"),
    deploy("huge_int_literal", "return 1" + "0" * 1300),
    deploy("deep_expression", "return " + "1 + " * 200 + "1"),
    deploy("parser_overflow", "return " + "-" * 20000 + "1"),
    module("module_level_loop", "for i in range(10 ** 9):\n    pass\n"),
    module("module_level_call", "X = sorted(range(10 ** 9))\n"),
    module("nul_character", "X = 1\x00\n"),
    module("lone_surrogate_in_source", 'X = "\ud800"\n', InvalidInput),
    module("oversized_source", "X = 1\n" + "#" * (64 * 1024), TooLarge),
    # Resource exhaustion, stopped at run time
    run("while_true", "while True:\n    pass", OutOfGas),
    run("for_range_huge", "for i in range(10 ** 18):\n    pass", OutOfGas),
    run("power_tower", "return 10 ** 10 ** 10"),
    run("negative_power_float", "return 2 ** -1"),
    run("string_repeat", 'return "a" * 10 ** 10'),
    run("list_repeat", "return [0] * 10 ** 10"),
    run("left_shift", "return 1 << 10 ** 9"),
    run("deep_recursion", "def f(n):\n    return f(n + 1)\nreturn f(0)"),
    run("recursion_through_sort_key", "def k(x):\n    return sorted([x], key=k)\nreturn k(1)"),
    run("dict_comprehension_huge", "return len({i: i for i in range(10 ** 9)})", OutOfGas),
    run("list_comprehension_huge", "return len([0 for i in range(10 ** 9)])", OutOfGas),
    run("append_forever", "x = []\nwhile True:\n    x.append(x)", OutOfGas),
    run("sorted_huge", "return sorted(range(10 ** 9))"),
    run("ljust_huge", 'return "x".ljust(10 ** 10)'),
    run("zfill_huge", 'return "1".zfill(10 ** 9)'),
    run("bytes_huge", "return bytes(10 ** 10)"),
    run("to_bytes_huge", 'return (1).to_bytes(10 ** 9, "big")'),
    run(
        "replace_blowup",
        's = "a" * 1000\nfor i in range(20):\n    s = s.replace("a", "aaaa")\nreturn len(s)',
    ),
    run("join_blowup", 'return "".join(["x" * 1000000] * 2)'),
    run("string_doubling", 's = "ab"\nwhile True:\n    s = s + s'),
    run("sum_range_huge", "return sum(range(10 ** 12))"),
    run("sum_of_lists_quadratic", "return sum([[1]] * 1000, [])"),
    run("int_from_long_text", 'return int("9" * 5000)'),
    run("int_to_text_over_bound", "return str(2 ** 4000 * 2 ** 200)"),
    run(
        "aliased_compare_quadratic",
        "big = [0] * 100000\nx = [big] * 100\ny = [list(big)] * 100\n"
        "for i in range(1000):\n    x == y",
        OutOfGas,
    ),
    run(
        "membership_quadratic",
        "big = list(range(100000))\nfor i in range(100000):\n    -1 in big",
        OutOfGas,
    ),
    run("nested_text_blowup", "x = [[0] * 500] * 1000\nreturn str(x)"),
    run("deeply_nested_compare", "x = []\nfor i in range(100):\n    x = [x]\nreturn x == x"),
    run("cyclic_list_text", "a = []\na.append(a)\nreturn str(a)"),
    run("percent_format", 'return "%s" % 5'),
    run("dict_view_set_operation", 'return {"a": 1}.keys() & {"a": 2}.keys()'),
    run("tuple_dict_key", "d = {}\nd[(1, 2)] = 3"),
    run("dict_of_non_pairs", "return dict([range(10 ** 9)])"),
    run("fstring_function_address", "def f():\n    pass\nreturn f'{f}'"),
    run("str_of_context", "return str(ctx)"),
    run("fail_with_object_text", "ctx.fail(ctx.state)"),
    run("method_attribute", "return ctx.emit.im_self"),
    run("str_maketrans", 'return "a".maketrans("a", "b")'),
    run("codec_import", 'return "a".encode("idna")'),
    run("isinstance_with_object", "return isinstance(1, ctx)"),
    run("state_value_huge", 'ctx.state.set("k", "a" * 1000000)', TooLarge),
    run("unpack_huge_range", "a, b = range(10 ** 18)", ContractFailed),
    run("lone_surrogate_escape_stored", 'ctx.state.set("k", "\\ud800")', ContractFailed),
    run("lone_surrogate_escape_key", 'ctx.state.set("\\ud800", 1)', ContractFailed),
    run(
        "confused_deputy_deploy",
        'return ctx.call("contracts", "deploy", {"name": "evil", "source": "X = 1"})',
        PermissionDenied,
    ),
]
