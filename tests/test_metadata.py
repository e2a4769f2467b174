"""The files GitHub and Docker read before any code runs pass the checks their users would
run: the Dockerfile (hadolint), action.yml (the published action metadata schema), every
workflow in .github/workflows and in the README (actionlint's checks, via jactionlint),
and the shell scripts (shellcheck). All offline: the linters come from the dev lock."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's linters, and shellcheck for jactionlint
OWN_ACTION = re.compile(r"uses:\s*playcanvas-backup/playcanvas-backup@\S+")


def lint(tool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(BIN / tool), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


# -- the Dockerfile ------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint() -> None:
    done = lint("hadolint", "Dockerfile")
    assert done.returncode == 0, explain(done)


def test_the_dockerfile_keeps_what_the_runner_and_the_container_test_rely_on() -> None:
    instructions = [
        line.split(maxsplit=1)
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    keywords = [words[0].upper() for words in instructions]
    assert ["ARG", "BASE_IMAGE=python:3.11-slim"] in instructions  # the real base by default
    assert ["FROM", "${BASE_IMAGE}"] in instructions  # a stand-in where no registry is
    assert "USER" not in keywords  # root owns the runner's mounted workspace
    assert "WORKDIR" not in keywords  # the runner sets /github/workspace
    entrypoint = [words[1] for words in instructions if words[0].upper() == "ENTRYPOINT"]
    assert len(entrypoint) == 1
    assert isinstance(json.loads(entrypoint[0]), list)  # exec form: signals reach Python


# -- action.yml ------------------------------------------------------------------------------


def test_action_yml_matches_the_published_action_metadata_schema() -> None:
    done = lint("check-jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml")
    assert done.returncode == 0, explain(done)


def test_the_schema_check_rejects_a_broken_action_yml(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    broken.write_text(
        (ROOT / "action.yml").read_text().replace("using: docker", "using: dockerfile")
    )
    done = lint("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(broken))
    assert done.returncode != 0, explain(done)


def expressions_outside_input_defaults(metadata: object) -> list[str]:
    """Key paths of every key or string value holding ``${{`` outside an input's
    ``default``: the runner (and act) refuse to load such an action.yml, and the schema
    check does not notice."""
    found: list[str] = []

    def is_input_default(path: tuple[str, ...]) -> bool:
        return len(path) == 3 and path[0] == "inputs" and path[2] == "default"

    def walk(node: object, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if "${{" in str(key):
                    found.append(".".join((*path, str(key))) + " (key)")
                walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, f"[{index}]"))
        elif isinstance(node, str) and "${{" in node and not is_input_default(path):
            found.append(".".join(path))

    walk(metadata, ())
    return found


def test_action_yml_has_no_expression_outside_an_input_default() -> None:
    metadata = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    assert expressions_outside_input_defaults(metadata) == []


def test_the_expression_check_finds_one_in_a_description() -> None:
    text = (ROOT / "action.yml").read_text()
    metadata = YAML(typ="safe").load(text)
    metadata["inputs"]["access-token"]["description"] += " ${{ secrets.X }}"
    metadata["inputs"]["project-id"]["default"] = "${{ github.run_id }}"
    assert expressions_outside_input_defaults(metadata) == ["inputs.access-token.description"]


# -- workflows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadmeWorkflow:
    """A ```yaml block of the README that is a workflow, or its ``jobs:`` part."""

    line: int
    text: str

    def __str__(self) -> str:
        return f"README.md:{self.line}"

    def as_workflow(self) -> str:
        """The block as a workflow file; this action is used from the checkout (``./``), so
        that the linter checks the ``with:`` inputs against action.yml."""
        text = OWN_ACTION.sub("uses: ./", self.text)
        has_trigger = re.search(r"^on:", text, re.M)
        return text if has_trigger else "on: workflow_dispatch\n" + text


def readme_workflows() -> list[ReadmeWorkflow]:
    """Whole workflows, and blocks that are a workflow's ``jobs:``; indented snippets (steps
    or keys of a job) are left out."""
    readme = (ROOT / "README.md").read_text()
    return [
        ReadmeWorkflow(readme.count("\n", 0, block.start(1)) + 1, block.group(1))
        for block in re.finditer(r"^```ya?ml\n(.*?)^```", readme, re.S | re.M)
        if re.search(r"^jobs:", block.group(1), re.M)
    ]


def jactionlint_readme_workflow(block: ReadmeWorkflow, folder: Path) -> str | None:
    """Lint a README workflow in a scratch repository holding this action; None if clean."""
    shutil.copy(ROOT / "action.yml", folder / "action.yml")
    shutil.copy(ROOT / "Dockerfile", folder / "Dockerfile")
    (folder / ".git").mkdir()
    workflows = folder / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "readme.yml").write_text(block.as_workflow())
    done = lint(
        "jactionlint",
        "--profile", "correctness",
        "--ignore", "local-action-checkout",  # "./" stands in for the published action
        "--no-color",
        "--no-hints",
        ".github/workflows/readme.yml",
        cwd=folder,
    )  # fmt: skip
    return None if done.returncode == 0 else explain(done)


def test_the_readme_has_workflows_to_check() -> None:
    blocks = readme_workflows()
    assert len(blocks) >= 2
    assert any(re.search(r"^on:", block.text, re.M) for block in blocks)


@pytest.mark.parametrize("block", readme_workflows(), ids=str)
def test_a_readme_workflow_passes_actionlint(block: ReadmeWorkflow, tmp_path: Path) -> None:
    problems = jactionlint_readme_workflow(block, tmp_path)
    assert problems is None, f"{block} (as {tmp_path}/.github/workflows/readme.yml):\n{problems}"


def test_actionlint_rejects_a_readme_workflow_with_an_unknown_input(tmp_path: Path) -> None:
    block = ReadmeWorkflow(
        1,
        "jobs:\n  backup:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: playcanvas-backup/playcanvas-backup@v1\n"
        "        with:\n          access-token: x\n          project-id: 1\n"
        "          project-ids: 2\n",
    )
    problems = jactionlint_readme_workflow(block, tmp_path)
    assert problems is not None
    assert '"project-ids" is not defined' in problems


@pytest.mark.parametrize(
    "workflow", sorted((ROOT / ".github" / "workflows").glob("*.y*ml")), ids=lambda p: p.name
)
def test_a_repository_workflow_passes_actionlint(workflow: Path) -> None:
    done = lint(
        "jactionlint", "--no-color", "--no-hints", str(workflow.relative_to(ROOT))
    )  # the default profile: correctness, plus pinned actions and token permissions
    assert done.returncode == 0, explain(done)


# -- shell scripts -----------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["scripts/container-test", "scripts/act-test", ".ci/run"])
def test_a_shell_script_passes_shellcheck(script: str) -> None:
    done = lint("shellcheck", script)
    assert done.returncode == 0, explain(done)


# -- the inputs: one table, three places -------------------------------------------------------


def action_yml_inputs() -> dict[str, dict[str, object]]:
    from ruamel.yaml import YAML  # noqa: PLC0415 - a dev dependency, only here

    document = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    return dict(document["inputs"])


def test_action_yml_declares_exactly_the_inputs_of_the_code() -> None:
    from playcanvas_backup.config import INPUTS  # noqa: PLC0415

    assert list(action_yml_inputs()) == [spec.name for spec in INPUTS]


def test_action_yml_defaults_are_the_codes_except_upload_artifact() -> None:
    from playcanvas_backup.config import INPUTS  # noqa: PLC0415

    declared = action_yml_inputs()
    for spec in INPUTS:
        default = declared[spec.name].get("default")
        if spec.name == "upload-artifact":
            # Documented exception: the code's default depends on where it runs (true in
            # GitHub Actions, false elsewhere); action.yml can only say the Actions one.
            assert default == "true"
        elif spec.name == "github-token":
            # The job's token, an expression only the runner can fill in (under docker://
            # nothing fills it: no token, and visibility comes from the event alone).
            assert default == "${{ github.token }}"
            assert spec.default == ""
        elif spec.default is None:
            assert declared[spec.name].get("required") is True, spec.name
        else:
            assert str(default) == spec.default, spec.name


def test_help_lists_every_input_of_the_table() -> None:
    from playcanvas_backup.cli import build_parser  # noqa: PLC0415
    from playcanvas_backup.config import INPUTS  # noqa: PLC0415

    text = build_parser().format_help()
    for spec in INPUTS:
        assert spec.flag in text, spec.flag
