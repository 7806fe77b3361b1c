"""The Function App: creates the Durable Functions app and registers the blueprints. Nothing else."""

import azure.durable_functions as df

from activities.analysis import bp as analysis_activities
from activities.deployment import bp as deployment_activities
from activities.drift import bp as drift_activities
from activities.hooks import bp as hook_activities
from activities.loop_ticks import bp as loop_tick_activities
from orchestrators.deployment import bp as deployment_orchestrator
from orchestrators.drift import bp as drift_orchestrator
from orchestrators.loop_ticks import bp as loop_tick_orchestrator
from orchestrators.service_group import bp as service_group_orchestrator
from orchestrators.service_rollout import bp as service_rollout_orchestrator
from triggers.center_api import bp as center_api
from triggers.drift_api import bp as drift_api
from triggers.events_api import bp as events_api
from triggers.http import bp as http_triggers
from triggers.me_api import bp as me_api
from triggers.notifications import bp as notification_triggers
from triggers.openapi_api import bp as openapi_api
from triggers.reconcile import bp as reconcile_triggers
from triggers.relay import bp as event_relay
from triggers.retention import bp as event_retention
from triggers.servicebus import bp as servicebus_triggers
from triggers.services_api import bp as services_api
from triggers.timers import bp as timer_triggers

app = df.DFApp()
for blueprint in (
    http_triggers,
    drift_api,
    events_api,
    services_api,
    openapi_api,
    me_api,
    center_api,
    timer_triggers,
    reconcile_triggers,
    event_relay,
    event_retention,
    servicebus_triggers,
    notification_triggers,
    deployment_orchestrator,
    drift_orchestrator,
    loop_tick_orchestrator,
    service_rollout_orchestrator,
    service_group_orchestrator,
    deployment_activities,
    analysis_activities,
    drift_activities,
    hook_activities,
    loop_tick_activities,
):
    app.register_functions(blueprint)
