"""Root URLs: health probes and metrics, the admin, sign-in and sign-out, the language switch, the pages."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from migration_app.views import accounts as account_views
from tracker import health, metrics

urlpatterns = [
    # Operations (README "Operations: health, logs, metrics"): probes for load balancers, open to all and
    # exempt from the https redirect; Prometheus metrics behind METRICS_TOKEN.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # Sign-in restores the user's remembered language (migration_app.views.accounts.TrackerLoginView).
    path("accounts/login/", account_views.TrackerLoginView.as_view(), name="login"),
    # Django's LogoutView accepts POST only, so a link or a prefetch cannot sign anyone out.
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail: Django's views with the tracker's templates (templates/registration/).
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # Django's set_language, which also stores a signed-in user's choice (remembered per user).
    path("i18n/setlang/", account_views.language_set, name="set_language"),
    path("reports/", include("migration_app.report_urls")),
    # The REST API (docs/api.md): OpenAPI schema and Swagger UI open to all, everything else signed in.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from a URL rather than inline, and our template
    # links the page's few style rules: the docs need no exception to the Content-Security-Policy.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path("api/", include("migration_app.api.urls")),
    path("", include("migration_app.urls")),
]

# --- Single sign-on (docs/sso.md): installed only when OIDC_ENABLED -----------------------------------
if settings.OIDC_ENABLED:
    from migration_app.sso import views as sso_views

    urlpatterns = [
        # Matched before Django's sign-out above: the same POST-only sign-out, which after a single
        # sign-on also offers signing out at the provider.
        path("accounts/logout/", sso_views.SsoLogoutView.as_view(), name="logout"),
        path("accounts/sso/", include("migration_app.sso.urls")),
        *urlpatterns,
    ]
