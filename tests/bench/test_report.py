"""Report files (JSON, Markdown, PNG) and ``jinglian bench compare``; bad input is one error line."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jinglian.bench.config import BenchConfig
from jinglian.bench.report import (
    RESULT_FORMAT,
    build_result,
    compare_results,
    load_result,
    write_report,
)
from jinglian.cli import cli
from jinglian.types.errors import InvalidInput
from tests.bench.conftest import fake_target, run_against
from tests.bench.fake_chain import FakeChain, serve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(keys_net: Path) -> dict[str, Any]:
    """A short fixed run against the fake chain, as ``jinglian bench`` documents it."""
    with serve(FakeChain(commit_delay_s=0.05)) as chain:
        options = {"rate": 100.0, "duration_s": 1.0, "warmup_s": 0.2}
        runner, outcome = run_against(keys_net, chain.url, **options)
        config = BenchConfig(endpoint=chain.url, workers=1, **options)  # type: ignore[arg-type]
        target = fake_target(keys_net, chain.url)
    return build_result(config, target, runner.steps, outcome, time.time(), runner.signing_cpu_s)


def test_report_files_exist_and_parse(result: dict[str, Any], tmp_path: Path) -> None:
    written = write_report(result, tmp_path / "run.json")
    assert set(written) == {"json", "markdown", "throughput", "latency", "resources"}
    document = load_result(written["json"])
    assert document["format"] == RESULT_FORMAT
    assert document["headline"]["committed_tps"] > 0
    assert document["machine"]["cores"] >= 1
    markdown = written["markdown"].read_text()
    assert markdown.startswith("# jinglian bench: kv, fixed")
    assert "| committed tx/s |" in markdown and "run-latency.png" in markdown
    from matplotlib import image

    for name in ("throughput", "latency", "resources"):
        data = written[name].read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert image.imread(written[name]).shape[1] > 500


def test_compare_prints_the_ratios(result: dict[str, Any], tmp_path: Path) -> None:
    faster = copy.deepcopy(result)
    faster["headline"]["committed_tps"] = result["headline"]["committed_tps"] * 2
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(result))
    second.write_text(json.dumps(faster))
    rows = {r.name: r for r in compare_results(result, faster)}
    assert rows["committed_tps"].ratio == pytest.approx(2.0)
    assert rows["latency_ms_p50"].ratio == pytest.approx(1.0)
    out = CliRunner().invoke(cli, ["bench", "compare", str(first), str(second)])
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("committed_tps"))
    assert line.split()[-1] == "2.000"
    out = CliRunner().invoke(cli, ["bench", "compare", str(first), str(second), "--json"])
    figures = {row["figure"]: row for row in json.loads(out.output)}
    assert figures["committed_tps"]["ratio"] == pytest.approx(2.0)


def _one_error_line(args: list[str], exit_code: int = 1) -> str:
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == exit_code, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.output
    assert "Traceback" not in out.output
    return lines[0]


def test_compare_refuses_unreadable_files(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": RESULT_FORMAT, "headline": {}}))
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    cases = {
        "missing.json": "cannot read",
        "garbage.json": "is not JSON",
        "other.json": "is not a `jinglian bench` result",
    }
    for name, message in cases.items():
        line = _one_error_line(["bench", "compare", str(tmp_path / name), str(good)])
        assert message in line and "(invalid_input)" in line
    with pytest.raises(InvalidInput):
        load_result(tmp_path)


def test_bench_refuses_bad_options_with_one_line() -> None:
    cases = [
        (["--workload", "nope"], "unknown workload 'nope'"),
        (["--rate", "-3"], "--rate must be a number"),
        (["--rate", "0"], "--rate must be a number"),
        (["--nodes", "2"], "at least 4 nodes"),
        (["--mode", "forever"], "unknown mode"),
        (["--crypto", "rsa"], "unknown crypto suite"),
        (["--duration", "0"], "--duration must be"),
    ]
    for args, message in cases:
        assert message in _one_error_line(["bench", *args])
    assert "usage_error" in _one_error_line(["bench", "--rate", "fast"], exit_code=2)
