"""URLs of the REST API, mounted at /api/ (the schema and docs pages are in tracker/urls.py).

Version 1 lives under /api/v1/; a later incompatible version would get its own prefix beside it.
"""

from __future__ import annotations

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from . import results, tokens, transfer, views

app_name = "api"

router = DefaultRouter()
# No ".json" suffix routes: the format is JSON (or the browsable API for a browser); exports have
# their own URLs below.
router.include_format_suffixes = False
router.register("owners", views.OwnerViewSet, basename="owner")
router.register("services", views.ServiceViewSet, basename="service")
router.register("capabilities", views.CapabilityViewSet, basename="capability")
router.register("dependencies", views.DependencyViewSet, basename="dependency")
router.register("milestones", views.MilestoneViewSet, basename="milestone")

service_by_key = views.ServiceViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"})
service_by_key_transition = views.ServiceViewSet.as_view({"post": "transition"})

v1 = [
    path("services/import/", transfer.ServiceImportView.as_view(), name="service-import"),
    path("services/export.csv", transfer.ServiceExportCSVView.as_view(), name="service-export-csv"),
    path("services/export.xlsx", transfer.ServiceExportXLSXView.as_view(), name="service-export-xlsx"),
    # Altinn II's natural key, e.g. /services/by-key/3906/2/ or /services/by-key/AppId:64/1/.
    path("services/by-key/<str:service_code>/<int:edition_code>/", service_by_key, name="service-by-key"),
    path(
        "services/by-key/<str:service_code>/<int:edition_code>/transition/",
        service_by_key_transition,
        name="service-by-key-transition",
    ),
    path("services/<int:pk>/readiness/", views.ServiceReadinessView.as_view(), name="service-readiness"),
    path("services/<int:pk>/history/", views.ServiceHistoryView.as_view(), name="service-history"),
    path("history/", views.HistoryView.as_view(), name="history"),
    path("leverage/", results.LeverageView.as_view(), name="leverage"),
    path("slip-impact/", results.SlipImpactView.as_view(), name="slip-impact"),
    path("waves/", results.WavesView.as_view(), name="waves"),
    path("progress/", results.ProgressView.as_view(), name="progress"),
    path("progress/history/", results.ProgressHistoryView.as_view(), name="progress-history"),
    path("forecast/", results.ForecastView.as_view(), name="forecast"),
    path("tokens/", tokens.TokenView.as_view(), name="token"),
    path("", include(router.urls)),
    # Last: what nothing above matched. Only paths ending in "/", so a missing slash is still added by
    # Django's APPEND_SLASH redirect before this answers 404.
    re_path(r"^.*/$", views.not_found),
]

urlpatterns = [path("v1/", include(v1))]
