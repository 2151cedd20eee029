"""docs/ci/*.yml: valid for their CI (check-jsonschema's vendored schemas, no network), and
their exact shell lines, run for a tag push, a default-branch push and a merge request,
publish to (or only plan against) a real S3 server (moto).

Each recipe's job conditions are read from the file and checked against what the
recipe promises (lint always; apply on tags and the default branch; plan on merge
requests); then the jobs that run for each event have their lines run in order,
with the CI's variables for that event and the secrets replaced by the test
credentials. `pip install artreg` lines are checked, not run: the test puts this
checkout's artreg on PATH instead (installing the wheel is tested in
tests/packaging_test.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import S3Backend

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "docs" / "ci"
SCHEMAS = {
    "github.yml": "vendor.github-workflows",
    "gitlab-ci.yml": "vendor.gitlab-ci",
    "woodpecker.yml": "vendor.woodpecker-ci",
}
INSTALL = re.compile(r"^python -m pip install artreg$")
EVENTS = ("tag", "branch", "merge_request")


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    found = found or shutil.which("check-jsonschema")
    if found is None:
        pytest.fail("check-jsonschema is missing: pip install -e '.[test]'", pytrace=False)
    return found


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_recipe_is_valid_for_its_ci(name: str, tmp_path: Path) -> None:
    command = [check_jsonschema(), "--builtin-schema", SCHEMAS[name]]
    proc = subprocess.run([*command, str(RECIPES / name)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The schema does reject things: a misspelt key in the first job or step.
    data = yaml.safe_load((RECIPES / name).read_text())
    if name == "github.yml":
        data["jobs"]["lint"]["runs_on"] = data["jobs"]["lint"].pop("runs-on")
    elif name == "gitlab-ci.yml":
        data["lint"]["scripts"] = data["lint"].pop("script")
    else:
        data["steps"][0]["command"] = data["steps"][0].pop("commands")
    broken = tmp_path / name
    broken.write_text(yaml.safe_dump(data))
    proc = subprocess.run([*command, str(broken)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr


@dataclass
class Job:
    name: str
    shell: list[str]
    env: dict[str, str] = field(default_factory=dict)
    lines: list[tuple[str, str | None]] = field(default_factory=list)  # (line, step condition)


@dataclass
class Recipe:
    jobs: dict[str, Job]
    runs: Callable[[str, str], bool]  # (job name, event) -> does the job run
    ci_env: Callable[[str, str, str], dict[str, str]]  # (event, sha, tag) -> CI variables
    step_if: Callable[[str, str], bool] = lambda condition, event: True


def _secret(value: Any, secrets: dict[str, str]) -> str:
    if isinstance(value, dict):
        return secrets[str(value["from_secret"]).upper()]
    text = str(value)
    found = re.fullmatch(r"\$\{\{ secrets\.(\w+) \}\}", text)
    return secrets[found.group(1)] if found else text


def github(secrets: dict[str, str]) -> Recipe:
    data = yaml.safe_load((RECIPES / "github.yml").read_text())
    on = data[True]  # YAML 1.1 reads the key `on` as true
    assert on["push"] == {"branches": ["main"], "tags": ["*"]}
    assert "pull_request" in on
    jobs = {}
    for name, spec in data["jobs"].items():
        env = {k: _secret(v, secrets) for k, v in {**data["env"], **spec.get("env", {})}.items()}
        job = Job(name, ["bash", "-e", "-c"], env)
        for step in spec["steps"]:
            if "run" in step:
                job.lines.append((step["run"].strip(), step.get("if")))
            else:
                assert step["uses"].startswith(("actions/checkout@", "actions/setup-python@"))
        jobs[name] = job
    conditions = {name: spec.get("if") for name, spec in data["jobs"].items()}
    assert conditions == {
        "lint": None,
        "plan": "github.event_name == 'pull_request'",
        "apply": "github.event_name == 'push'",
    }

    def runs(job: str, event: str) -> bool:
        pushed = event in ("tag", "branch")  # `on.push` is main and tags only
        return {"lint": True, "plan": not pushed, "apply": pushed}[job]

    def ci_env(event: str, sha: str, tag: str) -> dict[str, str]:
        ref = {
            "tag": ("tag", tag),
            "branch": ("branch", "main"),
            "merge_request": ("branch", "7/merge"),
        }
        kind, name = ref[event]
        return {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request" if event == "merge_request" else "push",
            "GITHUB_REF_TYPE": kind,
            "GITHUB_REF_NAME": name,
            "GITHUB_SHA": sha,
        }

    def step_if(condition: str, event: str) -> bool:
        assert condition == "github.ref_type == 'tag'"
        return event == "tag"

    return Recipe(jobs, runs, ci_env, step_if)


def gitlab(secrets: dict[str, str]) -> Recipe:
    data = yaml.safe_load((RECIPES / "gitlab-ci.yml").read_text())
    before = data["default"]["before_script"]
    jobs = {}
    for name in ("lint", "plan", "apply"):
        env = {**data["variables"], **secrets}  # masked project variables reach every job
        job = Job(name, ["sh", "-e", "-c"], env)
        job.lines = [(str(line).strip(), None) for line in (*before, *data[name]["script"])]
        jobs[name] = job
    assert "rules" not in data["lint"]
    assert data["plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert data["apply"]["rules"] == [
        {"if": "$CI_COMMIT_TAG"},
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"},
    ]

    def runs(job: str, event: str) -> bool:
        return {"lint": True, "plan": event == "merge_request", "apply": event != "merge_request"}[
            job
        ]

    def ci_env(event: str, sha: str, tag: str) -> dict[str, str]:
        env = {"GITLAB_CI": "true", "CI": "true", "CI_COMMIT_SHA": sha, "CI_DEFAULT_BRANCH": "main"}
        if event == "tag":
            env |= {"CI_COMMIT_TAG": tag, "CI_PIPELINE_SOURCE": "push"}
        elif event == "branch":
            env |= {"CI_COMMIT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push"}
        else:
            env |= {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}
        return env

    return Recipe(jobs, runs, ci_env)


def woodpecker(secrets: dict[str, str]) -> Recipe:
    data = yaml.safe_load((RECIPES / "woodpecker.yml").read_text())
    assert data["when"] == [{"event": ["push", "tag", "pull_request"]}]
    jobs = {}
    for step in data["steps"]:
        env = {k: _secret(v, secrets) for k, v in step.get("environment", {}).items()}
        job = Job(step["name"], ["sh", "-e", "-c"], env)
        job.lines = [(str(line).strip(), None) for line in step["commands"]]
        jobs[step["name"]] = job
    when = {step["name"]: step.get("when") for step in data["steps"]}
    assert when == {
        "lint": None,
        "plan": [{"event": "pull_request"}],
        "apply": [{"event": "tag"}, {"event": "push", "branch": "${CI_REPO_DEFAULT_BRANCH}"}],
    }

    def runs(job: str, event: str) -> bool:
        return {"lint": True, "plan": event == "merge_request", "apply": event != "merge_request"}[
            job
        ]

    def ci_env(event: str, sha: str, tag: str) -> dict[str, str]:
        env = {"CI": "woodpecker", "CI_COMMIT_SHA": sha, "CI_REPO_DEFAULT_BRANCH": "main"}
        if event == "tag":
            env |= {"CI_PIPELINE_EVENT": "tag", "CI_COMMIT_TAG": tag}
        elif event == "branch":
            env |= {"CI_PIPELINE_EVENT": "push", "CI_COMMIT_BRANCH": "main"}
        else:
            env |= {"CI_PIPELINE_EVENT": "pull_request", "CI_COMMIT_PULL_REQUEST": "7"}
        return env

    return Recipe(jobs, runs, ci_env)


PROJECT_MAKEFILE = "dist:\n\tmkdir -p dist\n\tgit rev-parse HEAD > dist/app\n"


@dataclass
class Project:
    root: Path
    env: dict[str, str]  # no CI variables, no credentials: what every job starts from

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit(self, message: str) -> str:
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def run_job(self, recipe: Recipe, job: Job, event: str, sha: str, tag: str) -> int:
        """The job's lines in order, as its CI would: stop at the first failing one."""
        env = {**self.env, **recipe.ci_env(event, sha, tag), **job.env}
        for line, condition in job.lines:
            if condition is not None and not recipe.step_if(condition, event):
                continue
            if INSTALL.match(line):
                continue  # this checkout's artreg is on PATH (see the module docstring)
            proc = subprocess.run(
                [*job.shell, line], cwd=self.root, env=env, capture_output=True, text=True
            )
            if proc.returncode != 0:
                print(f"{job.name}: {line}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
                return proc.returncode
        return 0


@pytest.fixture
def project(tmp_path: Path, moto_backend: S3Backend) -> tuple[Project, S3Backend, str]:
    root = tmp_path / "project"
    root.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "artreg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m artreg "$@"\n')
    (bin_dir / "artreg").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO / "src"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C.UTF-8",
    }
    env |= {
        k: v
        for k, v in moto_backend.env.items()
        if not k.startswith("AWS_ACCESS") and "SECRET" not in k
    }
    target = moto_backend.target(name="web")
    (root / "artreg.toml").write_text(
        '[project]\nname = "demo"\n\n[[artifacts]]\nname = "app"\n'
        'files = [{ platform = "linux/amd64", path = "dist/app" }]\n\n' + moto_backend.toml(target)
    )
    (root / "Makefile").write_text(PROJECT_MAKEFILE)
    (root / ".gitignore").write_text("dist/\n")
    made = Project(root, env)
    made.git("init", "-q", "-b", "main")
    made.git("config", "user.email", "ci@example.org")
    made.git("config", "user.name", "CI")
    made.git("add", ".")
    made.git("commit", "-q", "-m", "first")
    return made, moto_backend, str(target.bucket)


def keys(backend: S3Backend, bucket: str) -> dict[str, str]:
    listed = backend.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed}


@pytest.mark.parametrize("make_recipe", [github, gitlab, woodpecker])
def test_recipe_publishes_tags_and_main_and_plans_merge_requests(
    project: tuple[Project, S3Backend, str], make_recipe: Callable[[dict[str, str]], Recipe]
) -> None:
    repo, backend, bucket = project
    secrets = {
        "AWS_ACCESS_KEY_ID": backend.env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": backend.env["AWS_SECRET_ACCESS_KEY"],
    }
    recipe = make_recipe(secrets)
    for job in recipe.jobs.values():
        assert any(INSTALL.match(line) for line, _ in job.lines), job.name

    def pipeline(event: str, sha: str, tag: str = "") -> dict[str, int]:
        return {
            name: repo.run_job(recipe, job, event, sha, tag)
            for name, job in recipe.jobs.items()
            if recipe.runs(name, event)
        }

    # A release tag: lint, then apply publishes it.
    sha = repo.git("rev-parse", "HEAD")
    repo.git("tag", "v1.0.0")
    assert pipeline("tag", sha, "v1.0.0") == {"lint": 0, "apply": 0}
    assert (
        backend.client().get_object(Bucket=bucket, Key="v1.0.0/linux/amd64/app")["Body"].read()
        == f"{sha}\n".encode()
    )

    # The default branch: its commit is published as a dev build.
    main = repo.commit("second")
    assert pipeline("branch", main) == {"lint": 0, "apply": 0}
    assert f"{main}/linux/amd64/app" in keys(backend, bucket)

    # A merge request: the plan is shown (changes: exit 2, accepted), nothing is written.
    before = keys(backend, bucket)
    feature = repo.commit("feature")
    assert pipeline("merge_request", feature) == {"lint": 0, "plan": 0}
    assert keys(backend, bucket) == before

    # A bad tag fails lint, and apply refuses it as well.
    repo.git("tag", "v1.1")
    failed = pipeline("tag", feature, "v1.1")
    assert failed["lint"] != 0 and failed["apply"] != 0
    assert keys(backend, bucket) == before


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_manual_shows_each_recipe_whole(name: str) -> None:
    """docs/ci.md (`artreg docs ci`) embeds each file verbatim: copy-paste is what is tested."""
    manual = (REPO / "docs" / "ci.md").read_text()
    assert f"```yaml\n{(RECIPES / name).read_text()}```" in manual
