"""App Service Authentication ("Easy Auth", authsettingsV2) on the Function App, with Entra ID as the provider.

Every request must be signed in, the API and the Runtime Center page (``/api/center``) alike; the platform
validates the token or session before the Functions host sees the request and passes the caller on as
``X-MS-CLIENT-PRINCIPAL``, whose ``roles`` claims (the app registration's app roles Reader, Deployer,
Approver, Operator) the app enforces per route. An unauthenticated browser is sent to the Entra ID sign-in
(``RedirectToLoginPage``; App Service answers 401 instead of the redirect to requests marked
``X-Requested-With: XMLHttpRequest``); a pipeline or the remote CLI sends a bearer token for the app's
audience (``api://<client id>`` or the client id), obtained with its managed identity or service principal.

A function key opens nothing: the product's routes are anonymous at the Functions host (which grants function
level only to a key, never to a signed-in caller) and check the caller's app roles themselves. The paths in
``authExcludedPaths`` skip sign-in, so their callers reach the app with no principal and get its 401; none are
excluded by default.

Sign-in uses the OpenID Connect implicit grant (ID tokens), which needs no client secret: no secret is stored.
The token store stays off: a file-system store is not shared by Flex Consumption's instances and a blob store
needs a SAS URL (a key); the app reads the caller from ``X-MS-CLIENT-PRINCIPAL``, which App Service sets
without it (App Service's ``/.auth/me`` needs the store, so the page must not depend on it in Azure).
Reference: https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad and
https://learn.microsoft.com/rest/api/appservice/web-apps/update-auth-settings-v2.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import web

from infra.settings import PlatformSettings

# The app roles the app registration declares (value = the `roles` claim); the app enforces them per route.
# As controlplane/domain/access.py's ALLOWED_ROLES; every role may read.
APP_ROLES = {
    "Reader": "read deployments, findings, events and the Runtime Center",
    "Deployer": "start deployments (pipelines) and roll them back",
    "Approver": "approve a canary pause or a promotion (prod: not the requester), abort",
    "Operator": "abort, roll back, approve or dismiss drift findings, start drift runs",
}
PROVIDER = "azureactivedirectory"


def build_easy_auth(
    settings: PlatformSettings,
    resource_group: pulumi.Input[str],
    site: web.WebApp,
    tenant_id: pulumi.Input[str],
    parent: pulumi.Resource,
) -> web.WebAppAuthSettingsV2:
    client_id = settings.auth_client_id
    issuer = pulumi.Output.concat("https://login.microsoftonline.com/", settings.auth_tenant_id or tenant_id, "/v2.0")
    return web.WebAppAuthSettingsV2(
        f"{settings.name_prefix}-functions-auth",
        resource_group_name=resource_group,
        name=site.name,
        platform=web.AuthPlatformArgs(enabled=True, runtime_version="~1"),
        global_validation=web.GlobalValidationArgs(
            require_authentication=True,
            unauthenticated_client_action=web.UnauthenticatedClientActionV2.REDIRECT_TO_LOGIN_PAGE,
            redirect_to_provider=PROVIDER,
            excluded_paths=list(settings.auth_excluded_paths),
        ),
        http_settings=web.HttpSettingsArgs(require_https=True),
        identity_providers=web.IdentityProvidersArgs(
            azure_active_directory=web.AzureActiveDirectoryArgs(
                enabled=True,
                registration=web.AzureActiveDirectoryRegistrationArgs(client_id=client_id, open_id_issuer=issuer),
                validation=web.AzureActiveDirectoryValidationArgs(
                    allowed_audiences=[f"api://{client_id}", client_id],
                ),
            )
        ),
        login=web.LoginArgs(token_store=web.TokenStoreArgs(enabled=False)),
        opts=pulumi.ResourceOptions(parent=parent),
    )
