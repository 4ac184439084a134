"""Page URLs of the tracker (the REST API has its own urls module)."""

from django.contrib.auth.decorators import login_required
from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

from . import views

app_name = "migration_app"

urlpatterns = [
    path(
        "",
        login_required(RedirectView.as_view(url=reverse_lazy("migration_app:service_list"))),
        name="home",
    ),
    path("services/", views.service_list, name="service_list"),
    path("services/<int:pk>/", views.service_detail, name="service_detail"),
    # Altinn II's natural key, e.g. /services/3906/2/ or /services/AppId:64/1/.
    path("services/<str:service_code>/<int:edition_code>/", views.service_by_key, name="service_by_key"),
    path("programme/", views.programme, name="programme"),
]
