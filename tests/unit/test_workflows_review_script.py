"""The review loop of the workflows' ``actions/github-script`` steps, run in node against a fake
GitHub API (issue 15): a failed plan's comment keeps the plan's problems; apply on merge finds
the merged pull request's labels and reviewed changes digest, and posts its result back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
DIGEST = "sha256:" + "ab" * 32

FAKE = r"""
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.env.FAKE_STATE, 'utf8'));
state.outputs = {}; state.warnings = []; state.calls = [];
const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    repos: { listPullRequestsAssociatedWithCommit: async (p) => ({ data: state.pulls }) },
    issues: {
      listComments: async (p) => ({
        data: state.comments.filter((c) => c.issue_number === p.issue_number),
      }),
      createComment: async (p) => { state.calls.push(['createComment', p]); },
      updateComment: async (p) => { state.calls.push(['updateComment', p]); },
    },
  },
};
const core = {
  setOutput: (k, v) => { state.outputs[k] = v; },
  warning: (m) => { state.warnings.push(m); },
};
const context = {
  sha: 'feedbeef0123', repo: { owner: 'acme', repo: 'fleet' }, issue: { number: 7 },
  payload: { pull_request: { head: { sha: 'abcdef0123' } } },
};
(async () => {
  SCRIPT
})().then(() => fs.writeFileSync(process.env.FAKE_STATE, JSON.stringify(state)),
  (err) => { console.error(err); process.exit(1); });
"""


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed")
    return found


def _script(workflow: str, step_name: str) -> str:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
    steps = [s for job in data["jobs"].values() for s in job.get("steps", [])]
    step = next(s for s in steps if s.get("name") == step_name)
    script = step["with"]["script"]
    assert isinstance(script, str)
    return script


def _run(node: str, script: str, cwd: Path, state: dict[str, Any], **env: str) -> dict[str, Any]:
    (cwd / "state.json").write_text(json.dumps({"pulls": [], "comments": [], **state}))
    program = cwd / "run.js"
    program.write_text(FAKE.replace("SCRIPT", script), encoding="utf-8")
    result = subprocess.run(
        [node, str(program)],
        cwd=cwd,
        env={**os.environ, "FAKE_STATE": str(cwd / "state.json"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads((cwd / "state.json").read_text())
    return out


def test_a_failed_plan_comment_keeps_the_reason_and_the_plans_problems(
    node: str, tmp_path: Path
) -> None:
    script = _script("fleetform-plan.yml", "Post or update the plan comment")
    (tmp_path / "plan.log").write_text(
        "Reading account 'acme' ...\n::error title=x::noise\nError: the plan has 2 problems; "
        "apply would refuse it\n  fleet.yaml:13:48: unknown rate plan 'IoT-2GB'\n"
    )
    (tmp_path / "plan.md").write_text("#### ❌ Problems (2): apply refuses this plan\n- one\n")
    state = _run(node, script, tmp_path, {}, PLAN_EXIT="1", RUN_URL="u")
    ((name, params),) = state["calls"]
    body = params["body"]
    assert name == "createComment" and body.startswith("<!-- fleetform-plan -->")
    assert "**The plan failed** (exit 1)" in body
    assert "fleet.yaml:13:48: unknown rate plan 'IoT-2GB'" in body
    assert "#### ❌ Problems (2)" in body  # the plan itself, not only "listed above"
    assert "Reading account" not in body and "::error" not in body


def test_apply_finds_the_merged_pull_requests_labels_and_reviewed_digest(
    node: str, tmp_path: Path
) -> None:
    script = _script("fleetform-apply.yml", "Find the reviewed pull request")
    pulls = [
        {
            "number": 12,
            "merged_at": "2026-12-01T10:00:00Z",
            "labels": [{"name": "fleetform:allow-retire"}, {"name": "docs"}],
        },
    ]
    comments = [
        {"issue_number": 12, "body": "lgtm"},
        {
            "issue_number": 12,
            "body": f"<!-- fleetform-plan -->\n### plan\n"
            f"<!-- fleetform-changes-digest: {DIGEST} -->\n",
        },
    ]
    state = _run(node, script, tmp_path, {"pulls": pulls, "comments": comments})
    assert state["outputs"] == {
        "number": "12",
        "allow_retire": "true",
        "allow_mass_disable": "false",
        "digest": DIGEST,
    }
    none = _run(node, script, tmp_path, {"pulls": []})
    assert none["outputs"] == {} and "no pull request found" in none["warnings"][0]


def test_apply_posts_its_result_back_to_the_pull_request(node: str, tmp_path: Path) -> None:
    script = _script("fleetform-apply.yml", "Post the apply result to the pull request")
    (tmp_path / "apply-report.txt").write_text("::notice::x\nApply complete: 6 SIM changes done\n")
    done = _run(
        node, script, tmp_path, {}, PR_NUMBER="12", PLAN_EXIT="0", APPLY_EXIT="0", RUN_URL="u"
    )
    ((name, params),) = done["calls"]
    assert name == "createComment" and params["issue_number"] == 12
    assert params["body"].startswith("<!-- fleetform-apply -->\n### fleetform apply of feedbee")
    assert "✅ applied" in params["body"] and "Apply complete" in params["body"]
    (tmp_path / "apply.log").write_text(
        "Error: the plan to apply is not the plan that was reviewed\n"
    )
    refused = _run(
        node, script, tmp_path, {}, PR_NUMBER="12", PLAN_EXIT="0", APPLY_EXIT="1", RUN_URL="u"
    )
    body = refused["calls"][0][1]["body"]
    assert "❌ not applied (exit 1)" in body and "not the plan that was reviewed" in body
