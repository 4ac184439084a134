"""Single sign-on's URLs, included by tracker/urls.py under accounts/sso/ only when OIDC_ENABLED."""

from django.urls import path

from . import views

app_name = "sso"

urlpatterns = [
    # The sign-in page's "Log in with ID-porten" link.
    path("start/", views.SsoStartView.as_view(), name="start"),
    # The redirect URI to register at the provider: https://<host>/accounts/sso/callback/
    path("callback/", views.SsoCallbackView.as_view(), name="callback"),
]
