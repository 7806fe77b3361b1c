"""The Function App: creates the Durable Functions app and registers the blueprints. Nothing else."""

import azure.durable_functions as df

from activities.deployment import bp as deployment_activities
from orchestrators.deployment import bp as deployment_orchestrator
from triggers.http import bp as http_triggers

app = df.DFApp()
app.register_functions(http_triggers)
app.register_functions(deployment_orchestrator)
app.register_functions(deployment_activities)
