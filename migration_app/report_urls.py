"""URLs of the weekly e-mail report: unsubscribe (signed link, no login), preferences and the leads' preview."""

from django.urls import path

from .views import reports

app_name = "reports"

urlpatterns = [
    path("unsubscribe/<str:token>/", reports.unsubscribe, name="unsubscribe"),
    path("preferences/", reports.preferences, name="preferences"),
    path("preview/", reports.preview, name="preview"),
    # The previewed e-mail's HTML alone, framed by the preview page under its own relaxed policy.
    path("preview/html/", reports.preview_html, name="preview_html"),
]
