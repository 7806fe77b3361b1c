"""Pulumi entry point: read the stack config, build the platform, export its outputs."""

import sys
from pathlib import Path

# Pulumi runs this folder as a script: put the project root first, so `infra.*` (and controlplane.config's
# SCHEDULE_DEFAULTS) import the same way here as in the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.control_plane_platform import ControlPlanePlatform
from infra.settings import read_settings

control_plane = ControlPlanePlatform("controlplane", read_settings())
for name, value in control_plane.stack_outputs.items():
    pulumi.export(name, value)
