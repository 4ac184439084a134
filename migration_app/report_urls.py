"""URLs of the weekly e-mail report: unsubscribe (signed link, no login), preferences and the leads' preview."""

from django.urls import path

from . import report_views

app_name = "reports"

urlpatterns = [
    path("unsubscribe/<str:token>/", report_views.unsubscribe, name="unsubscribe"),
    path("preferences/", report_views.preferences, name="preferences"),
    path("preview/", report_views.preview, name="preview"),
    # The previewed e-mail's HTML alone, framed by the preview page under its own relaxed policy.
    path("preview/html/", report_views.preview_html, name="preview_html"),
]
