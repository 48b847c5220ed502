from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    serve_line, test_line = [line for line in block.strip().splitlines() if line.strip()]
    assert serve_line.endswith("c2m serve") and test_line.endswith("pytest")
    assert test_line in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_documented() -> None:
    from infra.config import Settings

    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"C2M_{name.upper()}" in readme, f"C2M_{name.upper()} missing from the README"
