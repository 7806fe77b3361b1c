"""``cpctl``: deploy a release and follow it, read and steer deployments and drift findings, over the public API.

Exit codes (a pipeline step branches on them):

| code | meaning |
|------|---------|
| 0    | done; with ``--wait``/``watch`` the deployment Completed |
| 1    | the deployment ended RolledBack or Failed |
| 2    | the request was refused as invalid (400/413/415/422: a refused manifest, a bad field), or bad usage |
| 3    | anything else: no credentials, 404, 409 (busy, finished), the network, a ``--timeout`` |
| 4    | not allowed: 401 (no or a refused token) or 403 (the caller's app roles do not allow it; the problem's |
|      | detail names the roles needed) |

Credentials: a bearer token, never a function key (the app's routes are anonymous at the host and check the
caller's app roles; a key names no one, so it opens no route). Either ``--token``/``CONTROLPLANE_TOKEN``, a token
you have (Azure: ``az account get-access-token --scope api://<client id>/.default``; the local host:
``python -m controlplane token --name ci --roles Deployer``), or ``--audience``/``CONTROLPLANE_AUDIENCE``, for which
``DefaultAzureCredential`` (the ``[entra]`` extra) gets one: a pipeline's managed identity, workload identity
federation or service principal. A token given wins over the audience.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from controlplane_client.api import (
    Api,
    ApiError,
    Credentials,
    CredentialsUnavailable,
    InvalidToken,
    Unreachable,
    entra_credentials,
    token_credentials,
)
from controlplane_client.explain import explained_lines
from controlplane_client.timeline import TimedOut, follow

OK, ENDED_BADLY, REFUSED, ERROR, DENIED = 0, 1, 2, 3, 4
REFUSED_STATUSES = (400, 413, 415, 422)
DENIED_STATUSES = (401, 403)
YAML_SUFFIXES = (".yaml", ".yml")


NOT_SIGNED_IN = (
    "the app took no caller from the credentials: a token that expired, or one not issued for the app's audience "
    "(api://<client id>); get a new one (--token) or let DefaultAzureCredential get it (--audience)"
)


class UsageError(Exception):
    """The command line or its environment cannot work (exit 2 or 3 as ``code`` says)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; the exit code of the table above."""
    environ = os.environ if env is None else env
    stdout = out or sys.stdout
    args = parser(environ).parse_args(argv)
    try:
        if not args.url:
            raise UsageError("no app URL: set CONTROLPLANE_URL (--url)", ERROR)
        api = Api(args.url, _credentials(args, environ))
        return int(args.command(api, args, environ, stdout))
    except UsageError as error:
        print(f"cpctl: {error}", file=sys.stderr)
        return error.code
    except ApiError as error:
        print(f"cpctl: {error.describe()}", file=sys.stderr)
        if error.status == 401 and not error.problem.get("detail"):  # App Service's own 401: the token was refused
            print(f"cpctl: {NOT_SIGNED_IN}", file=sys.stderr)
        if error.status in DENIED_STATUSES:
            return DENIED
        return REFUSED if error.status in REFUSED_STATUSES else ERROR
    except (Unreachable, CredentialsUnavailable, TimedOut) as error:
        print(f"cpctl: {error}", file=sys.stderr)
        return ERROR


def parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cpctl",
        description="The runtime control plane's remote CLI (exit codes: 0 Completed or done, 1 RolledBack/Failed, "
        "2 refused request or manifest, 3 other errors, 4 not allowed: 401/403).",
    )
    root.add_argument("--url", default=env.get("CONTROLPLANE_URL"), help="the app's root URL (CONTROLPLANE_URL)")
    root.add_argument(
        "--token",
        default=env.get("CONTROLPLANE_TOKEN"),
        help="a bearer token for the app (CONTROLPLANE_TOKEN; prefer the variable: a command line shows in process "
        "lists). Azure: az account get-access-token --scope api://<client id>/.default; the local host: "
        "python -m controlplane token --name NAME --roles Deployer",
    )
    root.add_argument(
        "--audience",
        default=env.get("CONTROLPLANE_AUDIENCE"),
        help="the app's Entra ID audience (api://<client id>) for a DefaultAzureCredential token, when no token is "
        "given (CONTROLPLANE_AUDIENCE; needs the [entra] extra)",
    )
    commands = root.add_subparsers(required=True, metavar="COMMAND")

    deploy = commands.add_parser("deploy", help="POST a release manifest (YAML or JSON file, - for stdin)")
    deploy.add_argument("release", help="the manifest file")
    _add_key_and_wait(deploy)
    deploy.set_defaults(command=deploy_release)

    get = commands.add_parser("get", help="a deployment's state, transitions and services")
    get.add_argument("deployment")
    get.add_argument("--json", action="store_true", help="print the API's JSON as it is")
    get.set_defaults(command=get_deployment)

    explain = commands.add_parser("explain", help="why a deployment's gates passed, failed or held")
    explain.add_argument("deployment")
    explain.add_argument("--json", action="store_true", help="print the API's explanation JSON as it is")
    explain.set_defaults(command=explain_deployment)

    watch = commands.add_parser("watch", help="print a deployment's timeline until it ends")
    watch.add_argument("deployment")
    _add_follow_options(watch)
    watch.set_defaults(command=watch_deployment)

    for name, verb in (("approve", "release a pause or approval wait of"), ("abort", "roll back at the next pause")):
        signal = commands.add_parser(name, help=f"{verb} a deployment (as the token's caller)")
        signal.add_argument("deployment")
        _add_reason(signal)
        signal.set_defaults(command=signal_deployment, signal=name)

    rollback = commands.add_parser("rollback", help="deploy again the last Completed release before this one")
    rollback.add_argument("deployment")
    _add_reason(rollback)
    _add_key_and_wait(rollback)
    rollback.set_defaults(command=rollback_deployment)

    findings = commands.add_parser("findings", help="list drift findings")
    findings.add_argument("--status", help="Open, Approved, Dismissed, ... (default: every status)")
    findings.add_argument("--json", action="store_true", help="print the API's JSON as it is")
    findings.set_defaults(command=list_findings)

    for name, decision in (("approve-finding", "approve"), ("dismiss-finding", "dismiss")):
        decide = commands.add_parser(name, help=f"{decision} a drift finding")
        decide.add_argument("finding")
        _add_reason(decide)
        decide.set_defaults(command=decide_finding, decision=decision)
    return root


def _add_reason(command: argparse.ArgumentParser) -> None:
    command.add_argument("--reason", required=True, help="why (kept with the caller's name in the audit trail)")


def _add_key_and_wait(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--idempotency-key",
        help="repeat-safe key (default in CI: the run id, its attempt and the manifest's digest)",
    )
    command.add_argument("--wait", action="store_true", help="follow the deployment to its end; exit by its outcome")
    _add_follow_options(command)


def _add_follow_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--interval", type=_seconds, default=2.0, help="seconds between polls (default 2)")
    command.add_argument("--timeout", type=_seconds, default=3600.0, help="give up waiting after this (default 3600)")


def _seconds(text: str) -> float:
    """A number of seconds, 0 or more (argparse names the option when this raises)."""
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise ValueError(text)
    return value


def deploy_release(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    body, content_type = read_manifest(args.release)
    key = args.idempotency_key or ci_idempotency_key(env, body)
    headers = {"Idempotency-Key": key} if key else {}
    accepted = api.call(
        "POST", "/api/deployments", body=body, content_type=content_type, headers=headers, repeatable=bool(key)
    )
    return _accepted(api, accepted, args, out)


def rollback_deployment(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    key = args.idempotency_key or ci_idempotency_key(env, f"rollback {args.deployment}".encode())
    headers = {"Idempotency-Key": key} if key else {}
    path = f"{_deployment_path(args.deployment)}/rollback"
    accepted = api.post_json(path, {"reason": args.reason}, headers=headers, repeatable=bool(key))
    return _accepted(api, accepted, args, out)


def _accepted(api: Api, accepted: Mapping[str, Any], args: argparse.Namespace, out: TextIO) -> int:
    print(f"deployment {accepted['deploymentId']} {accepted['state']} (traceId {accepted['traceId']})", file=out)
    return _follow(api, accepted["deploymentId"], args, out) if args.wait else OK


def watch_deployment(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    return _follow(api, args.deployment, args, out)


def _follow(api: Api, deployment_id: str, args: argparse.Namespace, out: TextIO) -> int:
    ended = follow(api, deployment_id, out, interval=args.interval, timeout=args.timeout)
    last = ended["transitions"][-1] if ended.get("transitions") else {}
    reason = f": {last['reason']}" if last.get("reason") else ""
    print(f"deployment {ended['id']} ended {ended['state']}{reason}", file=out)
    return OK if ended["state"] == "Completed" else ENDED_BADLY


def get_deployment(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    deployment = api.get(_deployment_path(args.deployment))
    if args.json:
        print(json.dumps(deployment, indent=2), file=out)
        return OK
    release = (deployment.get("release") or {}).get("metadata", {}).get("name", "")
    fields = {"deployment": deployment["id"], "release": release, "environment": deployment["environment"]}
    for name, value in {**fields, "state": deployment["state"], "traceId": deployment["traceId"]}.items():
        print(f"{name:<13}{value}", file=out)
    print("transitions", file=out)
    for transition in deployment.get("transitions") or []:
        reason = f"  ({transition['reason']})" if transition.get("reason") else ""
        print(f"  {transition['at']}  {transition.get('from') or '-'} -> {transition['to']}{reason}", file=out)
    print("services", file=out)
    for name, progress in (deployment.get("services") or {}).items():
        revision = progress.get("revision") or "-"
        print(f"  {name}  {progress['phase']}  {revision}  {progress['trafficPercent']}%", file=out)
    return OK


def explain_deployment(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    explanation = api.get(_deployment_path(args.deployment)).get("explanation")
    if explanation is None:
        raise UsageError("the app's deployment detail has no explanation (an app older than cpctl explain)", ERROR)
    if args.json:
        print(json.dumps(explanation, indent=2), file=out)
        return OK
    print("\n".join(explained_lines(explanation)), file=out)
    return OK


def signal_deployment(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    answer = api.post_json(f"{_deployment_path(args.deployment)}/{args.signal}", {"reason": args.reason})
    print(f"{args.signal} sent to deployment {answer['deploymentId']}{_by(answer)}", file=out)
    return OK


def _by(answer: Mapping[str, Any]) -> str:
    """`` by <name>``: who the app says acted (its ``actor``, the token's caller); nothing if it names none."""
    actor = answer.get("actor")
    name = actor.get("name") if isinstance(actor, Mapping) else None
    return f" by {name}" if name else ""


def list_findings(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    query = {"top": "200", **({"status": args.status} if args.status else {})}
    found: list[dict[str, Any]] = []
    while True:  # the listing answers a page at a time; the last page's continuation is null
        page = api.get("/api/drift/findings", query)
        found.extend(page["findings"])
        if not page.get("continuation"):
            break
        query = {**query, "continuation": page["continuation"]}
    if args.json:
        print(json.dumps(found, indent=2), file=out)
        return OK
    for finding in found:
        pointers = ",".join(finding.get("diff") or {}) or "-"
        columns = (finding["id"], finding["status"], finding["environment"], finding["service"], finding["kind"])
        print("  ".join((*columns, finding["remedy"], pointers)), file=out)
    print(f"{len(found)} finding(s)", file=out)
    return OK


def decide_finding(api: Api, args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    path = f"/api/drift/findings/{quote(args.finding, safe='')}/{args.decision}"
    finding = api.post_json(path, {"reason": args.reason})
    remediation = f"; {finding['remediation']}" if finding.get("remediation") else ""
    print(f"finding {finding['id']} {finding['status']}{remediation}", file=out)
    return OK


def read_manifest(name: str) -> tuple[bytes, str]:
    """The manifest's bytes and media type: YAML by a .yaml/.yml suffix, JSON by .json, else by its first byte."""
    try:
        body = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise UsageError(f"release {name}: {error.strerror or error}", REFUSED) from None
    suffix = Path(name).suffix.lower()
    if suffix in YAML_SUFFIXES or (suffix != ".json" and not body.lstrip().startswith((b"{", b"["))):
        return body, "application/yaml"
    return body, "application/json"


def ci_idempotency_key(env: Mapping[str, str], body: bytes) -> str | None:
    """A key that makes a retried CI step return the deployment its first try started: the run id and attempt of
    GitHub Actions or Azure Pipelines plus the request's digest (two releases in one run get two keys; a new
    attempt of the run deploys anew). None outside CI."""
    digest = hashlib.sha256(body).hexdigest()[:16]
    if env.get("GITHUB_RUN_ID"):
        return f"gh-{env['GITHUB_RUN_ID']}-{env.get('GITHUB_RUN_ATTEMPT', '1')}-{digest}"
    if env.get("BUILD_BUILDID"):
        return f"ado-{env['BUILD_BUILDID']}-{env.get('SYSTEM_JOBATTEMPT', '1')}-{digest}"
    return None


def _credentials(args: argparse.Namespace, env: Mapping[str, str]) -> Credentials:
    if args.token:
        try:
            return token_credentials(args.token)
        except InvalidToken as invalid:
            raise UsageError(f"--token (CONTROLPLANE_TOKEN): {invalid}", REFUSED) from None
    if args.audience:
        return entra_credentials(args.audience)
    message = "no credentials: set CONTROLPLANE_TOKEN (--token) or CONTROLPLANE_AUDIENCE (--audience)"
    if env.get("CONTROLPLANE_KEY"):  # what cpctl took before tokens: say why it no longer does
        message += "; CONTROLPLANE_KEY is not used: a function key names no one, so it opens no route"
    raise UsageError(message, ERROR)


def _deployment_path(deployment_id: str) -> str:
    return f"/api/deployments/{quote(deployment_id, safe='')}"
