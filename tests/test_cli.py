import json

from click.testing import CliRunner

from vectron.cli import main


def test_local_demo_list_and_search(tmp_path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "d")
    result = runner.invoke(main, ["local", "demo", "--data-dir", data, "--points", "300"])
    assert result.exit_code == 0, result.output
    assert "stored 300 points" in result.output and '"color": "blue"' in result.output
    result = runner.invoke(main, ["local", "list", "--data-dir", data])
    assert result.output.startswith("demo\t300 points\t64-d cosine")
    query = json.dumps([0.1] * 64)
    flt = json.dumps({"must": [{"key": "color", "match": {"value": "red"}}]})
    result = runner.invoke(main, ["local", "search", "--data-dir", data, "demo", query, "-k", "2", "--filter", flt])
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert len(hits) == 2 and all(h["payload"]["color"] == "red" for h in hits)


def test_errors_are_one_line_without_traceback(tmp_path) -> None:
    result = CliRunner().invoke(main, ["local", "search", "--data-dir", str(tmp_path), "nope", "[1]"])
    assert result.exit_code == 1
    assert "collection_not_found" in result.output and "Traceback" not in result.output
