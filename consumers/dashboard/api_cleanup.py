"""API handlers for the cleanup (``docs/lifecycle.md``), plan and apply kept apart as on the
command line:

* ``POST /lifecycle/cleanup/preview``: a retention policy (YAML) in, the plan out, the JSON
  ``registry-consumer cleanup plan --format json`` writes. It reads only the store, so it
  is declared for viewers (:func:`consumers.dashboard.access.viewer`): a viewer sees every
  fact the plan is made of anyway. Being a POST it still passes the CSRF checks.
* ``POST /lifecycle/cleanup/apply``: a plan (that JSON) in, deleted through the registry's
  API by :func:`consumers.lifecycle.apply.apply_plan`, its summary out. Admin only (the
  route list says so), recorded in the audit log before anything is deleted. It needs the
  registry's address (``REGBRIDGE_REGISTRY_URL`` and its credentials); a dashboard without
  it answers 503 and serves everything else.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consumers.dashboard.access import record_admin_action
from consumers.dashboard.params import as_utc
from consumers.lifecycle.apply import apply_plan
from consumers.lifecycle.planfile import PlanFileError, parse_plan, plan_document
from consumers.lifecycle.policy import PolicyError, parse_policy
from consumers.lifecycle.preview import preview
from consumers.registry_api import RegistryClient

MAX_POLICY_BYTES = 64 * 1024
POLICY_SOURCE = "the policy"  # how errors name it: "the policy:3: rules[0].keep_tags: …"
NO_REGISTRY = (
    "cleanup apply needs the registry's API: set REGBRIDGE_REGISTRY_URL (with REGBRIDGE_REGISTRY_USERNAME "
    "and _PASSWORD when it asks for them) for the dashboard and restart it, or run "
    "`registry-consumer cleanup apply PLAN`"
)


def _error(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


async def cleanup_preview(request: Request) -> Response:
    """
    summary: What a retention policy would delete and keep now, and the bytes it would free; changes nothing.
    requestBody:
      required: true
      description: The policy, as `registry-consumer cleanup plan --policy` reads it (at most 64 KiB).
      content:
        application/yaml:
          schema: {type: string}
    responses:
      200:
        description: >
          The plan, as `registry-consumer cleanup plan --format json` writes it: `delete`
          (`repository`, `digest`, `tags`, `reason`, `rule`, `bytes_freed`), `keep`
          (`repository`, `digest`, `tags`, `reason`), `bytes_freed`, and when it was made.
          Send it as it is to `/lifecycle/cleanup/apply`.
      400:
        description: >
          The policy is not valid: `detail` names the line and the field of every problem
          (one a line), `problems` lists them (`line`, `message`).
      413:
        description: The policy is larger than 64 KiB.
    """
    body = await request.body()
    if len(body) > MAX_POLICY_BYTES:
        return _error(413, f"the policy is {len(body)} bytes; at most {MAX_POLICY_BYTES} are accepted")
    try:
        policy = parse_policy(body.decode("utf-8"), POLICY_SOURCE)
    except UnicodeDecodeError:
        return _error(400, f"{POLICY_SOURCE}: not UTF-8 text")
    except PolicyError as exc:
        problems = [{"line": line or None, "message": text} for line, text in exc.problems]
        return JSONResponse({"detail": str(exc), "problems": problems}, status_code=400)
    async with request.state.engine.connect() as conn:
        plan = await preview(conn, policy, as_utc(request.state.clock()))
    return JSONResponse(plan_document(plan))


async def cleanup_apply(request: Request) -> Response:
    """
    summary: Delete exactly the manifests of a previewed plan through the registry's API (admin).
    description: >
      Each digest is checked again first, and anything that changed since the plan (pushed
      again, retagged, gone) is skipped. The deletes are rate-limited and recorded in the
      audit log, with the user, before the first; the registry's garbage collection frees
      the blobs later.
    requestBody:
      required: true
      description: A plan as `/lifecycle/cleanup/preview` answered it.
      content:
        application/json:
          schema: {type: object}
    responses:
      200:
        description: >
          The summary, as `registry-consumer cleanup apply` prints it: `status` (ok, or
          failed when an entry failed), `planned`, `deleted`, `already_gone` (deleted
          before: a rerun deletes nothing twice), `skipped` and `failed` (each entry with
          why), `bytes_freed_planned`; and `audit_event_id`, the audit row of this apply.
      400:
        description: The body is not a plan; `detail` says where.
      502:
        description: >
          The registry stopped the apply (deletes disabled: 405; unreachable; credentials
          refused): `detail` says which, and the summary says what was deleted before.
      503:
        description: >
          The dashboard has no registry to delete from (no `REGBRIDGE_REGISTRY_URL`), or
          the store did not answer.
    """
    registry = request.state.settings.registry
    if registry is None:
        return _error(503, NO_REGISTRY)
    try:
        plan = parse_plan(await request.body(), "the plan")
    except PlanFileError as exc:
        return _error(400, str(exc))
    details = {
        "planned": len(plan.delete),
        "bytes_freed": plan.bytes_freed,
        "policy_sha256": plan.policy_sha256,
        "plan_created_at": plan.created_at.isoformat(),
    }
    event_id = await record_admin_action(request, "cleanup.apply", details=details)
    async with RegistryClient(registry) as client:
        summary = await apply_plan(plan, client, request.state.engine)
    body = {**summary.line(), "audit_event_id": event_id}
    if summary.stopped is not None:
        return JSONResponse({"detail": f"the cleanup stopped: {summary.stopped}", **body}, status_code=502)
    return JSONResponse(body)
