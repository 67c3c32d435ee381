"""The README's command-line examples work as written, reached the way the README says.

The quick commands of the README's ```bash blocks (models, summary, runs, check, predict) run
verbatim in one bash shell that first runs the README's own activation line (in the checkout),
then changes to a folder holding the files the examples name: `model.onnx` (the bundled model)
and `my7.png` (a drawn sample 7). Before that line, `digitlab-cli` is not on the PATH, as in a
newcomer's shell after `./scripts/start.sh`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="bash and .venv/bin")
QUICK = ("models", "summary", "runs", "check", "predict")  # seconds each; no training
MARK = "=== README command exit status: "


def _bash_blocks(readme: str) -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"```bash\n(.*?)```", readme, re.S)]


def _command(line: str) -> str:
    """The command of a README line, without its trailing `# comment`."""
    return re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()


def readme_cli_commands() -> tuple[str, list[str]]:
    """(the activation line of the command-line section, its quick `digitlab-cli` commands)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The command line", 1)[1]
    first_block = _bash_blocks(section)[0]
    activate = next((_command(line) for line in first_block
                     if _command(line).startswith("source ")), "")
    commands = [_command(line) for block in _bash_blocks(readme) for line in block
                if _command(line).startswith("digitlab-cli ")
                and _command(line).split()[1] in QUICK]
    return activate, commands


def _path_without_digitlab() -> str:
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not (Path(p) / "digitlab-cli").exists())


def test_the_readme_says_how_to_reach_the_cli_and_has_each_quick_example() -> None:
    activate, commands = readme_cli_commands()
    assert activate == "source .venv/bin/activate"
    assert {c.split()[1] for c in commands} == set(QUICK), commands
    assert "digitlab-cli predict my7.png" in commands
    assert "digitlab-cli check model.onnx" in commands


@pytest.mark.slow
def test_the_readme_cli_examples_run_as_written(tmp_path: Path, digitlab_home: Path) -> None:
    if not (REPO / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the checkout: ./scripts/start.sh makes it")
    activate, commands = readme_cli_commands()
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "resources" / "models" / "default.onnx", work / "model.onnx")
    shutil.copy(REPO / "resources" / "samples" / "drawn_7.png", work / "my7.png")
    lines = ["set -u", 'command -v digitlab-cli && { echo "already on the PATH"; exit 3; }',
             f"cd {REPO}", activate, f"cd {work}"]
    for command in commands:
        lines += [command, f'echo "{MARK}$?"']
    env = {**os.environ, "PATH": _path_without_digitlab(), "DIGITLAB_HOME": str(digitlab_home)}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(["bash", "-c", "\n".join(lines)], env=env, text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = proc.stdout.split(MARK)
    assert len(outputs) == len(commands) + 1, proc.stdout + proc.stderr
    results = {}
    for i, command in enumerate(commands):
        out = outputs[i] if i == 0 else outputs[i].split("\n", 1)[1]  # after the last status
        status = outputs[i + 1].split("\n", 1)[0]
        assert status == "0", f"`{command}` exited {status}:\n{out}\n{proc.stderr}"
        results[command] = out
    assert "dl-dilated-8k" in results["digitlab-cli models"]
    assert "Total trainable parameters: 7,544" in results["digitlab-cli summary s6-model3-se"]
    assert "No runs yet" in results["digitlab-cli runs"]
    assert "digitlab.output: logits" in results["digitlab-cli check model.onnx"]
    for command in ("digitlab-cli predict my7.png", "digitlab-cli predict model.onnx my7.png"):
        assert results[command].strip().startswith("my7.png: 7 "), results[command]
