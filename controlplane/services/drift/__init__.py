"""RuntimeDriftDetectionService: compare live with desired state, keep findings, start and settle remedies.

One drift run (the singleton ``drift`` orchestration) calls, in order:

1. ``scan.scan``: observe every environment of the desired state (``survey``), turn each divergence into a
   finding (a new one emits RuntimeDriftDetected; a known one is only touched), resolve findings no longer
   observed, and return the findings approved for remediation.
2. ``batches``, a batch of approved findings at a time (the orchestration continues as new for the next):
   ``remediation.start_remediation`` per finding: a corrective deployment (one service, RollingHealthGated, in
   the finding's trace), or for an approved unmanaged workload, its removal.
3. ``remediation.settle`` per finding of the batch once its corrective deployment ended: Remediated (and
   RuntimeDriftRemediated) or RemediationFailed.

Operators approve or dismiss findings (``decisions``); the HTTP API reads findings and the dry-run plan
(``views``). Every status change goes through the finding lifecycle in ``controlplane.domain.findings``.

Policy: auto-remediable drift in a non-prod environment is approved on detection; in prod, and for every
review-required finding, an operator approves or dismisses it. Infrastructure that drifted from its stack
(the Provisioner's preview-only refresh) is reported as a review-required finding of the environment; its
repair is ``pulumi up --refresh`` on that stack, so it is dismissed or resolves, never approved here.
A service with a deployment in flight is not compared: its rollout legitimately differs from both old and
new desired state.
"""
