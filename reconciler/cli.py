"""The command line: parses options into each command's options dataclass and calls its
``run_<name>`` in `reconciler.commands`, which returns the exit code (`ExitCode`).

This is the only module that imports click. It holds no logic. There is one error boundary
(`main`): a `FleetformError` becomes ``Error: ...`` on stderr and exit 1; a traceback only
with ``-v``. Exit codes: `reconciler.commands.exit_codes` (docs/architecture.md).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.decorators import FC

from reconciler.app import Connection, build_connection
from reconciler.commands.exit_codes import ExitCode, exit_codes_epilog
from reconciler.errors import FleetformError
from reconciler.export import GROUP_KEYS
from reconciler.reporting import LineReporter


def stderr_reporter(verbose: bool = False) -> LineReporter:
    """Plain lines on stderr; commands with progress bars swap in a richer one."""
    return LineReporter(lambda line: click.echo(line, err=True), verbose)


@dataclass
class GlobalOptions:
    verbose: bool = False
    endpoint: str | None = None
    api_key_file: Path | None = None
    on_abort: str | None = None  # said after "Aborted." (Ctrl+C), set by the command

    def connection(self) -> Connection:
        return build_connection(self.endpoint, self.api_key_file)

    def reporter(self) -> LineReporter:
        return stderr_reporter(self.verbose)


def _writer(*, err: bool = False, color: bool | None = None) -> Callable[[str], None]:
    """Text as given (no newline added) on stdout, or on stderr with ``err``."""
    return lambda text: click.echo(text, nl=False, err=err, color=color)


def _terminal() -> tuple[bool, int]:
    """Colour (a terminal, NO_COLOR unset) and the terminal's width (100 without one)."""
    import shutil

    from reconciler.commands.plan import wants_color

    return wants_color(sys.stdout), shutil.get_terminal_size((100, 24)).columns


# Not ``exists=True``: the loader names a missing path, a symlink loop or a broken link as a
# problem beside the other files' problems (file:1:1: ...), before any request.
manifest_paths = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))


def report_format(kind: str, help: str) -> Callable[[FC], FC]:
    """``--format``: the formats the renderer registry has for ``kind`` (plan, apply, drift,
    validate), the first the default."""
    from reconciler.render import formats

    return click.option(
        "--format",
        "output_format",
        type=click.Choice(formats(kind)),
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


def _late_global(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """A global option given after the command: ``fleetform plan --endpoint URL ...``."""
    if value is None or value is False:
        return
    options = ctx.find_object(GlobalOptions)
    if options is not None and param.name is not None:
        setattr(options, param.name, value)


_LATE_GLOBALS: tuple[tuple[list[str], dict[str, Any]], ...] = (
    (["-v", "--verbose"], {"is_flag": True, "help": "Show tracebacks and more detail"}),
    (["--endpoint"], {"metavar": "URL", "help": "SmartHub base URL ending in /v1"}),
    (
        ["--api-key-file"],
        {"type": click.Path(dir_okay=False, path_type=Path), "help": "File holding the API key"},
    ),
)


def _late_global_options() -> list[click.Option]:
    return [
        click.Option(
            decls,
            expose_value=False,
            callback=_late_global,
            **{**spec, "help": f"{spec['help']} (also before the command)."},
        )
        for decls, spec in _LATE_GLOBALS
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
            cmd.epilog = exit_codes_epilog(full or "")
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
    options = ctx.ensure_object(GlobalOptions)
    options.verbose, options.endpoint, options.api_key_file = verbose, endpoint, api_key_file


# ---- validate (issue 3) ----
@cli.command("validate")
@manifest_paths
@report_format(
    "validate", "text: problems on stderr as file:line:column: message; json: a list on stdout."
)
def validate_command(paths: tuple[Path, ...], output_format: str) -> int:
    """Check the manifests under PATHS offline (no API call); exit 0 when valid, else 1."""
    from reconciler.commands.validate import ValidateOptions, run_validate

    return run_validate(
        ValidateOptions(paths, output_format), write=_writer(), write_err=_writer(err=True)
    )


_PLAN_FORMAT_HELP = (
    "text for terminals, markdown for pull-request comments, json = the plan file, "
    "github = annotations and a job summary in GitHub Actions."
)
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
@report_format("plan", _PLAN_FORMAT_HELP)
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
def plan_cli(opts: GlobalOptions, /, output_format: str, **params: Any) -> int:
    """Show what apply would change in the live account, in which order, at what cost.

    A guard that would stop apply fails the plan (exit 1) with the reason, unless lifted here
    with the flag apply takes; a lifted guard is shown in the plan. With -v, the text lists
    every SIM.
    """
    from reconciler.commands.plan import PlanOptions, run_plan
    from reconciler.guard_lift import GuardOverrides

    color, width = _terminal()
    lifted = ("allow_retire", "max_changes", "force", "override_note")
    overrides = GuardOverrides(*(params.pop(name) for name in lifted))
    options = PlanOptions(
        fmt=output_format,
        overrides=overrides,
        color=color,
        width=width,
        verbose=opts.verbose,
        **params,
    )
    write = _writer(color=color)
    return run_plan(options, connection=opts.connection(), reporter=opts.reporter(), write=write)


# ---- show (issue 12) ----
@cli.command("show")
@click.argument("plan_file", type=click.Path(path_type=Path))
@report_format("plan", _PLAN_FORMAT_HELP)
def show_cli(plan_file: Path, output_format: str) -> int:
    """Print a saved plan (plan --out FILE) without any request; exit 1 if it was edited."""
    from reconciler.commands.show import ShowOptions, run_show

    color, width = _terminal()
    options = ShowOptions(plan_file=plan_file, fmt=output_format, color=color, width=width)
    return run_show(options, reporter=stderr_reporter(), write=_writer(color=color))


# ---- init (issue 6) ----
@cli.command("init")
@click.argument(
    "directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--name", help="The fleet's name (default: from the directory's name).")
@click.option("--account", help="The SmartHub account (default: acme, the simulator's demo).")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@pass_globals
def init_command(opts: GlobalOptions, /, **params: Any) -> int:
    """Scaffold a fleet repository in DIRECTORY: Fleet manifest, workflows, .gitignore, README."""
    from reconciler.commands.init import InitOptions, run_init

    return run_init(InitOptions(**params), opts.reporter())


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
def export_command(opts: GlobalOptions, /, **params: Any) -> int:
    """Write manifests from the live fleet; a plan on them right after shows no change."""
    from reconciler.commands.export import ExportOptions, run_export

    options = ExportOptions(**params)
    return run_export(options, connection=opts.connection(), reporter=opts.reporter())


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
    "skew_seconds",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds a push's datePush may differ from this clock.",
)
@click.option(
    "--max-body",
    "max_body_bytes",
    default=65536,
    show_default=True,
    type=click.IntRange(min=256),
    help="Bytes.",
)
@click.option(
    "--debounce",
    "debounce_seconds",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to fold a burst of pushes for one SIM into one re-read.",
)
@click.option(
    "--on-drift", metavar="CMD", help="Shell command run with each drift as JSON on stdin."
)
@click.option(
    "--hook-timeout",
    "hook_timeout_seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
)
@click.option(
    "--max-reads-per-hour",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Cap on SIM re-reads (API requests) an hour; 0: no cap beyond the rate limit.",
)
@pass_globals
def webhook_serve_command(opts: GlobalOptions, /, max_reads_per_hour: int, **params: Any) -> int:
    """Serve POST /push and /push/<eventType>; re-read pushed SIMs and report drift vs PATH...

    Drift goes to .fleetform/drift.jsonl and one line on stdout; GET /healthz, GET /metrics.
    """
    from reconciler.commands.webhook import WebhookServeOptions, run_webhook_serve

    # 0: no cap beyond the rate limit
    options = WebhookServeOptions(max_reads_per_hour=max_reads_per_hour or None, **params)
    return run_webhook_serve(
        options, connection=opts.connection(), reporter=opts.reporter(), emit=click.echo
    )


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
    help="File holding the key that signs pushes (the receiver's SMARTHUB_PUSH_KEY).",
)
@click.option(
    "--enterprise-accounts",
    type=click.Choice(["objects", "names", "none"]),
    default="objects",
    show_default=True,
    help="How GET /enterprise lists accounts: [{name, url}], plain names, or none (shapes "
    "another SmartHub may give; the contract does not say).",
)
def sim_serve_command(rate_limit: str, push_urls: tuple[str, ...], **params: Any) -> int:
    """Serve the SmartHub simulator until Ctrl+C.

    Besides the SmartHub API under /v1 it serves admin endpoints under /admin (same X-API-Key):
    GET/POST /admin/faults, GET /admin/counters, POST /admin/counters/reset,
    POST /admin/rate-limit/reset, GET/PATCH /admin/sims/GICCID, GET /admin/batchJobs
    (see README.md, "The simulator's admin endpoints").
    """
    from reconciler.commands.sim import SimServeOptions, run_sim_serve

    limit, window = _parse_rate_limit(rate_limit)
    options = SimServeOptions(
        rate_limit=limit, rate_window=window, push_urls=_parse_push_urls(push_urls), **params
    )
    return run_sim_serve(options, write=click.echo)


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
@report_format("apply", "Format of the report on stdout (github: annotations and a job summary).")
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
    /,
    arguments: tuple[Path, ...],
    output_format: str,
    reviewed_digest: str | None,
    **params: Any,
) -> int:
    """Make the live account match a plan file or the manifests (PLANFILE | PATH...)."""
    from reconciler.commands.apply import ABORT_NOTE, ApplyOptions, run_apply, split_arguments

    plan_file, paths = split_arguments(arguments)
    if not (plan_file or paths or params["resume"]):
        raise click.UsageError("give a plan file or manifest paths (or --resume)")
    opts.on_abort = ABORT_NOTE
    color, _ = _terminal()
    options = ApplyOptions(
        plan_file=plan_file,
        paths=paths,
        reviewed_digest=reviewed_digest or None,
        fmt=output_format,
        color=color,
        **params,
    )
    return run_apply(
        options,
        connection=opts.connection(),
        write=_writer(color=color),
        write_err=_writer(err=True),
        stderr=sys.stderr,
        stdin_is_tty=sys.stdin.isatty(),
        confirm=_confirm_apply,
    )


def _confirm_apply(plan: object) -> bool:
    answer: str = click.prompt(
        "Apply this plan? Only 'yes' will be accepted", default="", show_default=False
    )
    return answer.strip() == "yes"


@cli.command("drift")
@manifest_paths
@report_format(
    "drift",
    "text for terminals, markdown for an issue body, json for tools, github for "
    "annotations and a job summary in GitHub Actions.",
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
    opts: GlobalOptions, /, paths: tuple[Path, ...], output_format: str, **params: Any
) -> int:
    """Show where the live fleet differs from git (exit 2 when it does, 0 when not)."""
    from reconciler.clock import SystemClock
    from reconciler.commands.drift import DriftOptions, run_drift

    options = DriftOptions(paths, output_format, **params)
    return run_drift(
        options,
        connection=opts.connection(),
        reporter=opts.reporter(),
        write=_writer(),
        clock=SystemClock(),
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point and the one error boundary; commands return their exit code."""
    args = sys.argv[1:] if argv is None else argv
    # filled in as the options are parsed (-v before or after the command)
    options = GlobalOptions(verbose=False, endpoint=None, api_key_file=None)
    try:
        code = cli.main(args=args, prog_name="fleetform", standalone_mode=False, obj=options)
        sys.exit(code if isinstance(code, int) else ExitCode.OK)
    except click.exceptions.Abort:  # click's form of Ctrl+C (and of EOF at a prompt)
        click.echo("Aborted.", err=True)
        if options.on_abort:  # what the command wants said (apply: its journal)
            click.echo(options.on_abort, err=True)
        sys.exit(ExitCode.ERROR)
    except click.ClickException as exc:
        exc.show()
        # click exits 2 on a usage error; fleetform's 2 means "changes pending / drift found",
        # so every error, a mistyped option included, exits 1 (docs/architecture.md).
        sys.exit(ExitCode.ERROR)
    except FleetformError as exc:
        if options.verbose:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(ExitCode.ERROR)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
