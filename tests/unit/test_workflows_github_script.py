"""The ``actions/github-script`` steps, run in node against a fake GitHub API: one plan comment
per pull request (updated, never duplicated), one drift issue per fleet (opened, updated,
closed). Node ships with the machine image; without node these tests skip (the workflow schema,
actionlint and our own rules in test_workflows.py still run)."""

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

FAKE = r"""
const fs = require('fs');
const statePath = process.env.FAKE_STATE;
const state = fs.existsSync(statePath)
  ? JSON.parse(fs.readFileSync(statePath, 'utf8'))
  : { comments: [], issues: [], calls: [] };
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 1));
const call = (name, params) => state.calls.push([name, params]);
const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: { issues: {
    listComments: async (p) => ({
      data: state.comments.filter((c) => c.issue_number === p.issue_number),
    }),
    createComment: async (p) => {
      call('createComment', p);
      state.comments.push({ id: state.comments.length + 1, issue_number: p.issue_number,
        body: p.body, user: { type: 'Bot', login: 'github-actions[bot]' } });
    },
    updateComment: async (p) => {
      call('updateComment', p);
      state.comments.find((c) => c.id === p.comment_id).body = p.body;
    },
    listForRepo: async (p) => ({ data: state.issues.filter((i) => i.state === p.state) }),
    create: async (p) => {
      call('create', p);
      const number = state.issues.length + 1;
      state.issues.push({ number, title: p.title, body: p.body, state: 'open' });
    },
    update: async (p) => {
      call('update', p);
      const fields = Object.entries(p).filter(([k]) => ['body', 'state', 'title'].includes(k));
      const issue = state.issues.find((i) => i.number === p.issue_number);
      Object.assign(issue, Object.fromEntries(fields));
    },
  } },
};
const context = {
  repo: { owner: 'acme', repo: 'fleet' },
  issue: { number: 7 },
  payload: { pull_request: { head: { sha: process.env.HEAD_SHA || 'abcdef0123' } } },
};
(async () => {
  SCRIPT
})().then(save, (err) => { console.error(err); process.exit(1); });
"""


def _script(workflow: str, step_name: str) -> tuple[str, dict[str, str]]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
    steps = [s for job in data["jobs"].values() for s in job.get("steps", [])]
    step = next(s for s in steps if s.get("name") == step_name)
    assert step["uses"].startswith("actions/github-script@")
    env = {k: v for k, v in step.get("env", {}).items()}
    return step["with"]["script"], env


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed")
    return found


def _run(node: str, script: str, cwd: Path, **env: str) -> dict[str, Any]:
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
    state: dict[str, Any] = json.loads((cwd / "state.json").read_text())
    return state


def test_one_plan_comment_per_pull_request_updated_on_each_push(node: str, tmp_path: Path) -> None:
    script, env = _script("fleetform-plan.yml", "Post or update the plan comment")
    assert set(env) == {"PLAN_EXIT", "RUN_URL"}
    (tmp_path / "plan.md").write_text("first plan: 3 SIMs to change\n")
    state = _run(node, script, tmp_path, PLAN_EXIT="2", RUN_URL="https://run/1")
    (tmp_path / "plan.md").write_text("second plan: 1 SIM to change\n")
    state = _run(node, script, tmp_path, PLAN_EXIT="2", RUN_URL="https://run/2", HEAD_SHA="1234567")
    assert [name for name, _ in state["calls"]] == ["createComment", "updateComment"]
    (comment,) = state["comments"]
    assert comment["body"].startswith("<!-- fleetform-plan -->\n### fleetform plan for 1234567")
    assert "second plan" in comment["body"] and "first plan" not in comment["body"]
    assert "https://run/2" in comment["body"]


def test_a_failed_plan_comments_the_error_and_a_huge_plan_is_cut(node: str, tmp_path: Path) -> None:
    script, _ = _script("fleetform-plan.yml", "Post or update the plan comment")
    (tmp_path / "plan.log").write_text("Error: 401 Invalid api key\n")
    state = _run(node, script, tmp_path, PLAN_EXIT="1", RUN_URL="u")
    assert "**The plan failed** (exit 1)" in state["comments"][0]["body"]
    assert "401 Invalid api key" in state["comments"][0]["body"]
    (tmp_path / "plan.md").write_text("x" * 100_000)
    state = _run(node, script, tmp_path, PLAN_EXIT="2", RUN_URL="u")
    body = state["comments"][0]["body"]
    assert len(state["comments"]) == 1
    assert len(body) < 65_536 and "Cut short" in body


def test_one_drift_issue_opened_updated_and_closed(node: str, tmp_path: Path) -> None:
    script, env = _script("fleetform-drift.yml", "Open, update or close the drift issue")
    assert set(env) == {"DRIFT_EXIT", "FLEET_NAME", "RUN_URL"}
    common = {"FLEET_NAME": "acme-trackers", "RUN_URL": "u"}
    (tmp_path / "drift.md").write_text("2 SIMs differ\n")
    _run(node, script, tmp_path, DRIFT_EXIT="2", **common)
    (tmp_path / "drift.md").write_text("1 SIM differs\n")
    state = _run(node, script, tmp_path, DRIFT_EXIT="2", **common)
    (issue,) = state["issues"]
    assert issue["title"] == "fleetform drift: acme-trackers"
    assert issue["state"] == "open" and "1 SIM differs" in issue["body"]
    state = _run(node, script, tmp_path, DRIFT_EXIT="0", **common)
    assert state["issues"][0]["state"] == "closed"
    assert [name for name, _ in state["calls"]] == [
        "create",
        "update",
        "createComment",
        "update",
    ]
    state = _run(node, script, tmp_path, DRIFT_EXIT="0", **common)
    assert len(state["calls"]) == 4  # no drift, no open issue: nothing to do
    (tmp_path / "drift.md").write_text("again\n")
    state = _run(node, script, tmp_path, DRIFT_EXIT="2", **common)
    assert [i["state"] for i in state["issues"]] == ["closed", "open"]  # a new issue
