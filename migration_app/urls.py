"""Page URLs of the tracker (the REST API has its own urls module)."""

from django.urls import path

from . import views

app_name = "migration_app"

urlpatterns = [
    # An owner lands on their organisation's page; leads and members of several choose one.
    path("", views.home, name="home"),
    path("organisations/<slug:code>/", views.owner_page, name="owner_page"),
    path("services/", views.service_list, name="service_list"),
    path("services/export.csv", views.service_export, name="service_export"),
    path("services/<int:pk>/", views.service_detail, name="service_detail"),
    path("services/<int:pk>/edit/", views.service_edit, name="service_edit"),
    path("services/<int:pk>/status/", views.service_status, name="service_status"),
    path("services/<int:pk>/dependencies/", views.service_dependencies, name="service_dependencies"),
    path("services/<int:pk>/dependencies/add/", views.dependency_add, name="dependency_add"),
    path(
        "services/<int:pk>/dependencies/<int:dependency_pk>/remove/",
        views.dependency_remove,
        name="dependency_remove",
    ),
    # Altinn II's natural key, e.g. /services/3906/2/ or /services/AppId:64/1/.
    path("services/<str:service_code>/<int:edition_code>/", views.service_by_key, name="service_by_key"),
    path("capabilities/", views.capabilities, name="capabilities"),
    path("programme/", views.programme, name="programme"),
]
