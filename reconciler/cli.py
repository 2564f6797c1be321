"""The command line: parses options, calls one core function, maps the result to an exit code.

This is the only module that imports click. It holds no logic: every command turns its options
into plain values, calls into `reconciler.app` and the core, and prints through a reporter.
There is one error boundary (`main`): a `FleetformError` becomes ``Error: ...`` on stderr and
exit 1; a traceback only with ``-v``.

Exit codes (docs/architecture.md): 0 success and nothing to change; 1 error; 2 changes pending
(``plan --detailed-exitcode``) or drift found (``drift``); 3 apply finished with some steps
failed or stale.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from click.decorators import FC

from reconciler.app import Connection, build_connection
from reconciler.errors import FleetformError
from reconciler.export import GROUP_KEYS
from reconciler.reporting import Progress
from reconciler.wording import counted

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_PARTIAL = 3


class StderrReporter:
    """Plain lines on stderr; commands with progress bars swap in a richer one."""

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def info(self, message: str) -> None:
        click.echo(message, err=True)

    def warn(self, message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    def progress(self, update: Progress) -> None:
        head = (
            f"[{update.steps_done}/{update.steps_total} steps, "
            f"{update.sims_done}/{update.sims_total} SIMs, "
            f"{counted(update.requests_spent, 'request')}]"
        )
        click.echo(f"{head} {update.message}".rstrip(), err=True)


@dataclass
class GlobalOptions:
    verbose: bool
    endpoint: str | None
    api_key_file: Path | None

    def connection(self) -> Connection:
        return build_connection(self.endpoint, self.api_key_file)

    def reporter(self) -> StderrReporter:
        return StderrReporter(self.verbose)


# Not ``exists=True``: the loader names a missing path, a symlink loop or a broken link as a
# problem beside the other files' problems (file:1:1: ...), before any request.
manifest_paths = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))


def report_format(help: str) -> Callable[[FC], FC]:
    """``--format text|markdown|json|github``, the same choice for plan, apply and drift."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "markdown", "json", "github"]),
        default="text",
        show_default=True,
        help=help,
    )


pass_globals = click.make_pass_decorator(GlobalOptions)

changed_from_option = click.option(
    "--changed-from",
    metavar="GITREF",
    help="Read and plan only the SIMs declared differently at GITREF (e.g. origin/main): "
    "the manifests there are read from git. The other SIMs are not read.",
)


# Each command's --help ends with its exit codes (the README's table); a command not listed
# here gets the general table.
EXIT_CODES: dict[str, tuple[str, ...]] = {
    "validate": ("0  the manifests are valid", "1  problems (listed as file:line:column) or error"),
    "plan": (
        "0  nothing to change (or changes, without --detailed-exitcode)",
        "2  changes pending (with --detailed-exitcode)",
        "1  error, or apply would refuse the plan: problems, or a guard that stops",
        "   apply (lift it with --allow-retire, --max-changes N or --force)",
    ),
    "apply": (
        "0  every change done, or nothing (left) to do",
        "3  finished with some steps failed or stale, or stopped at --budget or by a",
        "   rollout check or --gate (all recorded: fleetform apply --resume continues)",
        "1  refused or error: nothing done, or only work recorded in the journal",
    ),
    "show": ("0  the plan printed", "1  error (not a plan file, or an edited one)"),
    "drift": ("0  the live fleet matches git", "2  drift found", "1  error"),
    "export": ("0  manifests written", "1  error (e.g. a file exists, without --force)"),
    "init": ("0  repository scaffolded (or nothing missing)", "1  error"),
    "sim serve": ("0  stopped with Ctrl+C", "1  error (e.g. the port is taken)"),
    "webhook serve": ("0  stopped with Ctrl+C", "1  error (e.g. no push key)"),
}
_GENERAL_EXIT_CODES = (
    "0  success, nothing (left) to change",
    "1  error",
    "2  changes pending or drift found",
    "3  apply finished with some steps failed or stale",
)


def _exit_codes_epilog(name: str) -> str:
    lines = EXIT_CODES.get(name, _GENERAL_EXIT_CODES)
    return "\b\nExit codes:\n" + "\n".join(f"  {line}" for line in lines)


def _late_global(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """A global option given after the command: ``fleetform plan --endpoint URL ...``."""
    if value is None or value is False:
        return
    options = ctx.find_object(GlobalOptions)
    if options is not None and param.name is not None:
        setattr(options, param.name, value)


def _late_global_options() -> list[click.Option]:
    common: dict[str, object] = {"expose_value": False, "callback": _late_global}
    return [
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            help="Show tracebacks and more detail (also before the command).",
            **common,  # type: ignore[arg-type]
        ),
        click.Option(
            ["--endpoint"],
            metavar="URL",
            help="SmartHub base URL ending in /v1 (also before the command).",
            **common,  # type: ignore[arg-type]
        ),
        click.Option(
            ["--api-key-file"],
            type=click.Path(dir_okay=False, path_type=Path),
            help="File holding the API key (also before the command).",
            **common,  # type: ignore[arg-type]
        ),
    ]


class FleetformGroup(click.Group):
    """Adds to every command its exit codes in --help and, except for the simulator's, the
    global options, so they work after the command name as well as before it."""

    group_class = type  # subgroups (sim, webhook) are FleetformGroups too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        if isinstance(cmd, click.Group):
            return
        full = cmd.name if self.parent_names == "" else f"{self.parent_names} {cmd.name}"
        if cmd.epilog is None:
            cmd.epilog = _exit_codes_epilog(full or "")
        if self.name != "sim":
            taken = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
            cmd.params.extend(o for o in _late_global_options() if not set(o.opts) & taken)

    @property
    def parent_names(self) -> str:
        return "" if self.name in (None, "cli") else str(self.name)


@click.group(cls=FleetformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and more detail.")
@click.option(
    "--endpoint",
    envvar="SMARTHUB_ENDPOINT",
    metavar="URL",
    help="SmartHub base URL ending in /v1 (env SMARTHUB_ENDPOINT). Without one, the embedded "
    "simulator is used.",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the API key (default: env SMARTHUB_API_KEY).",
)
@click.version_option(package_name="fleetform")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, endpoint: str | None, api_key_file: Path | None) -> None:
    """fleetform: GitOps for fleets of IoT SIM cards on SmartHub."""
    ctx.obj = GlobalOptions(verbose=verbose, endpoint=endpoint, api_key_file=api_key_file)


# ---- commands are added below, one block each ------------------------------------------


# ---- validate (issue 3) ----
@cli.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: problems on stderr as file:line:column: message; json: a list on stdout.",
)
def validate_command(paths: tuple[Path, ...], output_format: str) -> int:
    """Check the manifests under PATHS offline (no API call); exit 0 when valid, else 1."""
    import json

    from reconciler.manifest import problem_record, validate

    result = validate(paths)
    if output_format == "json":
        click.echo(json.dumps([problem_record(p) for p in result.problems], indent=2))
    else:
        for problem in result.problems:
            click.echo(str(problem), err=True)
        click.echo(result.summary(), err=not result.ok)
    return EXIT_OK if result.ok else EXIT_ERROR


strict_option = click.option(
    "--strict",
    is_flag=True,
    help="Treat SIMs that would be held back (retired outside fleetform, declared but not in "
    "the account) as errors of the whole plan instead of leaving them out of it.",
)


# ---- plan (issue 4) ----
@cli.command("plan")
@manifest_paths
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the plan as fleetform.plan/v1 JSON, for `fleetform apply FILE`.",
)
@report_format(
    "text for terminals, markdown for pull-request comments, json = the plan file, "
    "github = annotations and a job summary in GitHub Actions."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none."
)
@click.option(
    "--markdown-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the markdown rendering (the pull-request comment) to this file.",
)
@click.option(
    "--allow-retire", is_flag=True, help="Lift the allowRetire guard in this plan (shown in it)."
)
@click.option(
    "--max-changes",
    type=click.IntRange(min=0),
    help="Replace maxChanges for this plan (shown in it).",
)
@click.option(
    "--force", is_flag=True, help="Lift the massDisable guard in this plan (shown in it)."
)
@click.option(
    "--override-note",
    metavar="TEXT",
    help="Why guards are lifted, shown beside each lifted guard (e.g. the pull-request label).",
)
@strict_option
@changed_from_option
@pass_globals
def plan_cli(
    opts: GlobalOptions,
    paths: tuple[Path, ...],
    out: Path | None,
    output_format: str,
    detailed_exitcode: bool,
    markdown_out: Path | None,
    allow_retire: bool,
    max_changes: int | None,
    force: bool,
    override_note: str | None,
    strict: bool,
    changed_from: str | None,
) -> int:
    """Show what apply would change in the live account, in which order, at what cost.

    A guard that would stop apply fails the plan (exit 1) with the reason, unless lifted here
    with the flag apply takes; a lifted guard is shown in the plan. With -v, the text lists
    every SIM.
    """
    import shutil

    from reconciler.commands.plan import PlanOptions, plan_command, wants_color
    from reconciler.guard_lift import GuardOverrides

    color = wants_color(sys.stdout)
    options = PlanOptions(
        paths=paths,
        out=out,
        fmt=output_format,
        detailed_exitcode=detailed_exitcode,
        color=color,
        width=shutil.get_terminal_size((100, 24)).columns,
        overrides=GuardOverrides(allow_retire, max_changes, force, override_note),
        verbose=opts.verbose,
        markdown_out=markdown_out,
        strict=strict,
        changed_from=changed_from,
    )

    def write(text: str) -> None:
        click.echo(text, nl=False, color=color)

    return plan_command(
        options, connection=opts.connection(), reporter=opts.reporter(), write=write
    )


# ---- show (issue 12) ----
@cli.command("show")
@click.argument("plan_file", type=click.Path(path_type=Path))
@report_format(
    "text for terminals, markdown for pull-request comments, json = the plan file, "
    "github = annotations and a job summary in GitHub Actions."
)
def show_cli(plan_file: Path, output_format: str) -> int:
    """Print a saved plan (plan --out FILE) without any request; exit 1 if it was edited."""
    import shutil

    from reconciler.commands.plan import wants_color
    from reconciler.commands.show import ShowOptions, run_show

    color = wants_color(sys.stdout)
    options = ShowOptions(
        plan_file=plan_file,
        fmt=output_format,
        color=color,
        width=shutil.get_terminal_size((100, 24)).columns,
    )

    def write(text: str) -> None:
        click.echo(text, nl=False, color=color)

    return run_show(options, reporter=StderrReporter(), write=write)


# ---- init (issue 6) ----
@cli.command("init")
@click.argument(
    "directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--name", help="The fleet's name (default: from the directory's name).")
@click.option("--account", help="The SmartHub account (default: acme, the simulator's demo).")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@pass_globals
def init_command(
    opts: GlobalOptions, directory: Path, name: str | None, account: str | None, force: bool
) -> int:
    """Scaffold a fleet repository in DIRECTORY: Fleet manifest, workflows, .gitignore, README."""
    from reconciler.commands.init import InitOptions, run_init

    options = InitOptions(directory=directory, name=name, account=account, force=force)
    return run_init(options, opts.reporter())


# ---- export (issue 6) ----
@cli.command("export")
@click.option(
    "--out",
    default="manifests",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the manifests into.",
)
@click.option(
    "--group-by",
    default="status",
    show_default=True,
    type=click.Choice(GROUP_KEYS),  # status, or a field kind's value (`reconciler.fields`)
    help="One SimGroup (and file) per value of this field.",
)
@click.option("--account", help="SmartHub account (default: the enterprise's only account).")
@click.option("--name", help="The Fleet's name (default: from the account).")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@pass_globals
def export_command(
    opts: GlobalOptions,
    out: Path,
    group_by: str,
    account: str | None,
    name: str | None,
    force: bool,
) -> int:
    """Write manifests from the live fleet; a plan on them right after shows no change."""
    from reconciler.commands.export import ExportOptions, run_export

    options = ExportOptions(out=out, group_by=group_by, account=account, name=name, force=force)
    run_export(options, opts.connection(), opts.reporter())
    return EXIT_OK


# ---- webhook (issue 7) ----
@cli.group("webhook")
def webhook_group() -> None:
    """Receive SmartHub pushes and report drift as it happens."""


@webhook_group.command("serve")
@manifest_paths
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--push-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the push key (default: env SMARTHUB_PUSH_KEY).",
)
@click.option(
    "--skew",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds a push's datePush may differ from this clock.",
)
@click.option(
    "--max-body", default=65536, show_default=True, type=click.IntRange(min=256), help="Bytes."
)
@click.option(
    "--debounce",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to fold a burst of pushes for one SIM into one re-read.",
)
@click.option(
    "--on-drift", metavar="CMD", help="Shell command run with each drift as JSON on stdin."
)
@click.option("--hook-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1))
@click.option(
    "--max-reads-per-hour",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Cap on SIM re-reads (API requests) an hour; 0: no cap beyond the rate limit.",
)
@pass_globals
def webhook_serve_command(
    opts: GlobalOptions,
    paths: tuple[Path, ...],
    host: str,
    port: int,
    push_key_file: Path | None,
    skew: float,
    max_body: int,
    debounce: float,
    on_drift: str | None,
    hook_timeout: float,
    max_reads_per_hour: int,
) -> int:
    """Serve POST /push and /push/<eventType>; re-read pushed SIMs and report drift vs PATH...

    Drift goes to .fleetform/drift.jsonl and one line on stdout; GET /healthz, GET /metrics.
    """
    from reconciler.webhook import ServeOptions, read_push_key, serve

    options = ServeOptions(
        paths=paths,
        push_key=read_push_key(push_key_file),
        host=host,
        port=port,
        skew_seconds=skew,
        max_body_bytes=max_body,
        debounce_seconds=debounce,
        on_drift=on_drift,
        hook_timeout_seconds=hook_timeout,
        max_reads_per_hour=max_reads_per_hour or None,
    )
    return serve(options, opts.connection(), opts.reporter(), click.echo)


# ---- sim serve (issue 2) ----
@cli.group("sim")
def sim_group() -> None:
    """The SmartHub simulator (a local stand-in for the real API)."""


def _parse_rate_limit(value: str) -> tuple[int, float]:
    count, _, window = value.partition("/")
    try:
        parsed = int(count), float(window) if window else 3600.0
    except ValueError:
        raise click.BadParameter(
            f"expected N or N/SECONDS, got {value!r}", param_hint="--rate-limit"
        ) from None
    if parsed[0] < 1 or not 0 < parsed[1] < 10**9:  # also refuses inf and nan
        raise click.BadParameter(
            f"expected positive numbers, got {value!r}", param_hint="--rate-limit"
        )
    return parsed


def _parse_push_urls(values: tuple[str, ...]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for value in values:
        event, sep, url = value.partition("=")
        if not sep or "://" in event:
            event, url = "*", value
        if not url.startswith(("http://", "https://")):
            raise click.BadParameter(
                f"expected [EVENT=]URL, got {value!r}", param_hint="--push-url"
            )
        urls[event] = url
    return urls


@sim_group.command("serve")
@click.option(
    "--port",
    type=int,
    default=8080,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite database (default: sim.db in the state directory).",
)
@click.option(
    "--sims",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="SIMs of the primary enterprise, seeded when the database is new.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Seed of the generated fleet: the same seed gives the same SIMs.",
)
@click.option("--api-key", help="API key of the primary enterprise (default: stored or generated).")
@click.option("--other-api-key", help="API key of the second enterprise, globex (same default).")
@click.option(
    "--rate-limit",
    default="5000/3600",
    show_default=True,
    metavar="N/SECONDS",
    help="Requests allowed per fixed window of SECONDS, per account (429 beyond).",
)
@click.option(
    "--job-delay",
    type=click.FloatRange(0),
    default=0.5,
    show_default=True,
    help="Seconds a batch job waits before its background worker runs it.",
)
@click.option("--latency", type=click.FloatRange(0), default=0.0, help="Seconds per request.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of 503s.")
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests whose connection is closed without an answer.",
)
@click.option(
    "--batch-failure-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of the SIMs in a batch job that fail (the job finishes partly failed).",
)
@click.option(
    "--push-url",
    "push_urls",
    multiple=True,
    metavar="[EVENT=]URL",
    help="Where to POST push events (EVENT e.g. SIM_STATUS_CHANGE; none: all).",
)
@click.option(
    "--push-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Push key file as `webhook serve` reads it (one key a line, # comments); the first "
    "key signs pushes.",
)
@click.option(
    "--enterprise-accounts",
    type=click.Choice(["objects", "names", "none"]),
    default="objects",
    show_default=True,
    help="How GET /enterprise lists accounts: [{name, url}], plain names, or none (shapes "
    "another SmartHub may give; the contract does not say).",
)
def sim_serve_command(
    port: int,
    host: str,
    db: Path | None,
    sims: int,
    seed: int,
    api_key: str | None,
    other_api_key: str | None,
    rate_limit: str,
    job_delay: float,
    latency: float,
    error_rate: float,
    drop_rate: float,
    batch_failure_rate: float,
    push_urls: tuple[str, ...],
    push_key_file: Path | None,
    enterprise_accounts: str,
) -> int:
    """Serve the SmartHub simulator until Ctrl+C.

    Besides the SmartHub API under /v1 it serves admin endpoints under /admin (same X-API-Key):
    GET/POST /admin/faults, GET /admin/counters, POST /admin/counters/reset,
    POST /admin/rate-limit/reset, GET/PATCH /admin/sims/GICCID, GET /admin/batchJobs
    (see README.md, "The simulator's admin endpoints").
    """
    from reconciler.app import state_dir
    from reconciler.simulator import SimulatorConfig, SimulatorError, serve
    from reconciler.webhook import read_push_key_file

    limit, window = _parse_rate_limit(rate_limit)
    # the file `webhook serve --push-key-file` reads; its first (current) key signs
    push_key = read_push_key_file(push_key_file)[0] if push_key_file is not None else None
    if db is None:
        state_dir().mkdir(parents=True, exist_ok=True)
        db = state_dir() / "sim.db"
    config = SimulatorConfig(
        db_path=db,
        sims=sims,
        seed=seed,
        api_key=api_key,
        other_api_key=other_api_key,
        rate_limit=limit,
        rate_window=window,
        job_delay=job_delay,
        latency=latency,
        error_rate=error_rate,
        drop_rate=drop_rate,
        batch_failure_rate=batch_failure_rate,
        push_urls=_parse_push_urls(push_urls),
        push_key=push_key,
        enterprise_accounts=enterprise_accounts,
    )

    def ready(url: str, key: str, other_key: str) -> None:
        click.echo(f"SmartHub simulator at {url} (database {db})")
        # a generated or stored key is printed: the user has no other way to learn it
        if api_key is None:
            click.echo(f"X-API-Key: {key}")
        if other_api_key is None:
            click.echo(f"X-API-Key of the second enterprise (globex): {other_key}")
        sys.stdout.flush()

    try:
        serve(config, host, port, on_ready=ready)
    except SimulatorError as exc:
        raise click.ClickException(str(exc)) from None
    return EXIT_OK


# ---- apply and drift (issue 5) ----
@cli.command("apply")
@click.argument("arguments", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required without a TTY).")
@click.option("--allow-retire", is_flag=True, help="Allow retiring SIMs (final).")
@click.option("--max-changes", type=click.IntRange(min=0), help="Refuse a plan changing more SIMs.")
@click.option("--force", is_flag=True, help="Lift the mass-disable guard.")
@click.option(
    "--budget", type=click.IntRange(min=1), help="Spend at most N requests, then stop cleanly."
)
@click.option("--resume", is_flag=True, help="Continue the interrupted apply from its journal.")
@click.option(
    "--reviewed-digest",
    metavar="DIGEST",
    help="Refuse unless the plan's changes digest is this one (the plan reviewed on the PR).",
)
@report_format("Format of the report on stdout (github: annotations and a job summary).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Requests in flight at once within a wave.",
)
@click.option(
    "--gate",
    metavar="CMD",
    help="With a rollout: a shell command run after each rollout step with the step's report "
    "as JSON on stdin; exit 0 goes on, anything else stops the apply (exit 3).",
)
@click.option(
    "--gate-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    metavar="S",
    help="Seconds the gate may run; past that it is killed and the rollout stops.",
)
@strict_option
@changed_from_option
@pass_globals
def apply_cli(
    opts: GlobalOptions,
    arguments: tuple[Path, ...],
    auto_approve: bool,
    allow_retire: bool,
    max_changes: int | None,
    force: bool,
    budget: int | None,
    resume: bool,
    output_format: str,
    concurrency: int,
    gate: str | None,
    gate_timeout: float,
    reviewed_digest: str | None,
    strict: bool,
    changed_from: str | None,
) -> int:
    """Make the live account match a plan file or the manifests (PLANFILE | PATH...)."""
    import contextlib
    import threading

    from reconciler.app import open_api, state_dir
    from reconciler.clock import SystemClock
    from reconciler.commands.apply import (
        ApplyOptions,
        apply_exit_code,
        run_apply,
        split_arguments,
        write_apply_report,
    )
    from reconciler.commands.plan import wants_color
    from reconciler.errors import ConfigError
    from reconciler.interrupt import cancel_on_interrupt
    from reconciler.model import Plan
    from reconciler.render import render_plan
    from reconciler.render.apply_progress import PlainApplyReporter, RichApplyReporter

    plan_file, paths = split_arguments(arguments)
    if not (plan_file or paths or resume):
        raise click.UsageError("give a plan file or manifest paths (or --resume)")
    if paths and not auto_approve and not sys.stdin.isatty():
        raise ConfigError(
            "stdin is not a terminal, so apply cannot ask for approval: review the plan and "
            "pass --auto-approve (or apply a saved plan file)"
        )
    clock = SystemClock()
    stderr = sys.stderr
    reporter: PlainApplyReporter | RichApplyReporter = (
        RichApplyReporter(stderr) if stderr.isatty() else PlainApplyReporter(stderr, clock)
    )
    stdout = sys.stdout
    color = wants_color(stdout)

    def show_plan(plan: Plan) -> None:
        if output_format == "text":
            click.echo(render_plan(plan, "text", color=color), nl=False, color=color)
        else:
            click.echo(render_plan(plan, "text"), nl=False, err=True)

    def confirm(plan: Plan) -> bool:
        answer: str = click.prompt(
            "Apply this plan? Only 'yes' will be accepted", default="", show_default=False
        )
        return answer.strip() == "yes"

    options = ApplyOptions(
        plan_file=plan_file,
        paths=paths,
        auto_approve=auto_approve,
        allow_retire=allow_retire,
        max_changes=max_changes,
        force=force,
        budget=budget,
        resume=resume,
        concurrency=concurrency,
        gate=gate,
        gate_timeout=gate_timeout,
        reviewed_digest=reviewed_digest or None,
        strict=strict,
        changed_from=changed_from,
    )
    connection = opts.connection()
    with contextlib.ExitStack() as stack:
        # Ctrl+C also reaches the worker threads: nothing more is sent, no wait goes on
        cancel = stack.enter_context(cancel_on_interrupt(threading.Event()))
        if isinstance(reporter, RichApplyReporter):
            stack.enter_context(reporter)
        api = stack.enter_context(
            open_api(
                connection,
                reporter,
                clock=clock,
                budget=budget,
                on_wait=reporter.waiting,
                cancel=cancel,
            )
        )
        report = run_apply(
            api,
            options,
            reporter,
            state_dir=state_dir(),
            clock=clock,
            embedded=connection.endpoint is None,
            show_plan=show_plan,
            confirm=confirm,
        )
    write_apply_report(report, output_format, lambda text: click.echo(text, nl=False))
    return apply_exit_code(report)


@cli.command("drift")
@manifest_paths
@report_format(
    "text for terminals, markdown for an issue body, json for tools, github for "
    "annotations and a job summary in GitHub Actions."
)
@click.option(
    "--history-days",
    type=click.FloatRange(min=0, max=36_500),  # a century; more overflowed the date maths
    default=30.0,
    show_default=True,
    help="How far back the change history is read to date drifted fields.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Read the whole account instead of the live-state cache, the change history and a "
    "verify slice (the default when a cache exists).",
)
@click.option(
    "--verify-budget",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="List pages an incremental drift re-verifies in rotation  [default: 5% of a full read]",
)
@pass_globals
def drift_cli(
    opts: GlobalOptions,
    paths: tuple[Path, ...],
    output_format: str,
    history_days: float,
    full: bool,
    verify_budget: int | None,
) -> int:
    """Show where the live fleet differs from git (exit 2 when it does, 0 when not)."""
    from reconciler.clock import SystemClock
    from reconciler.commands.drift import drift_command

    return drift_command(
        paths,
        output_format,
        connection=opts.connection(),
        reporter=opts.reporter(),
        write=lambda text: click.echo(text, nl=False),
        clock=SystemClock(),
        history_days=history_days,
        full=full,
        verify_budget=verify_budget,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point and the one error boundary; commands return their exit code."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    try:
        code = cli.main(args=args, prog_name="fleetform", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except click.exceptions.Abort:  # click's form of Ctrl+C (and of EOF at a prompt)
        click.echo("Aborted.", err=True)
        if "apply" in args:
            click.echo(
                "Whatever apply had started is recorded in the journal: "
                "`fleetform apply --resume` continues it (never submitting a batch job twice).",
                err=True,
            )
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        # click exits 2 on a usage error; fleetform's 2 means "changes pending / drift found",
        # so every error, a mistyped option included, exits 1 (docs/architecture.md).
        sys.exit(EXIT_ERROR)
    except FleetformError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
