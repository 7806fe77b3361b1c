"""The Function App: creates the Durable Functions app and registers the blueprints. Nothing else."""

import azure.durable_functions as df

from triggers.http import bp as http_triggers

app = df.DFApp()
app.register_functions(http_triggers)
