"""The control plane's error family: callers decide by type alone."""

from __future__ import annotations

from controlplane.errors import ControlPlaneError, PermanentError, Refused, TransientError
from controlplane.services.deployments import NotRollbackable, ServiceBusy
from controlplane.services.drift.decisions import Undecidable


def test_the_three_refusals_are_control_plane_errors_that_no_retry_handler_takes_for_its_own() -> None:
    for refusal in (ServiceBusy, NotRollbackable, Undecidable):
        assert issubclass(refusal, Refused) and issubclass(refusal, ControlPlaneError)
        assert not issubclass(refusal, TransientError | PermanentError)
