"""Optional single sign-on with OpenID Connect (ID-porten, an agency's Entra ID, any OIDC provider).

Installed only when ``OIDC_ENABLED=1`` (tracker/settings.py). The pieces, in the order a sign-in meets them:

- ``views``: the sign-in link's start (state, nonce, PKCE), the provider's callback, the sign-out.
- ``backend``: the authorisation-code exchange and the ID token's checks (signature, issuer, audience,
  expiry, nonce), built on mozilla-django-oidc; thin, it hands the verified claims on.
- ``claims``: pure rules from claims to a ``SsoProfile``: who the person is, which organisations, which role.
- ``services``: the write: find or create the user and synchronise the memberships single sign-on owns.

docs/sso.md explains the configuration and the mapping, with examples for ID-porten and Entra ID.
"""
