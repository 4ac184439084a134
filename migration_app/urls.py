"""Page URLs of the tracker (the REST API has its own urls module)."""

from django.urls import path

from .views import catalog, dependencies, owners, programme, service

app_name = "migration_app"

urlpatterns = [
    # An owner lands on their organisation's page; leads and members of several choose one.
    path("", programme.home, name="home"),
    path("organisations/<slug:code>/", owners.owner_page, name="owner_page"),
    path("services/", catalog.service_list, name="service_list"),
    path("services/export.csv", catalog.service_export, name="service_export"),
    path("services/<int:pk>/", service.service_detail, name="service_detail"),
    path("services/<int:pk>/edit/", service.service_edit, name="service_edit"),
    path("services/<int:pk>/status/", service.service_status, name="service_status"),
    path("services/<int:pk>/dependencies/", service.service_dependencies, name="service_dependencies"),
    path("services/<int:pk>/dependencies/add/", dependencies.dependency_add, name="dependency_add"),
    path(
        "services/<int:pk>/dependencies/<int:dependency_pk>/remove/",
        dependencies.dependency_remove,
        name="dependency_remove",
    ),
    # Altinn II's natural key, e.g. /services/3906/2/ or /services/AppId:64/1/.
    path("services/<str:service_code>/<int:edition_code>/", service.service_by_key, name="service_by_key"),
    path("capabilities/", programme.capabilities, name="capabilities"),
    path("programme/", programme.programme, name="programme"),
]
