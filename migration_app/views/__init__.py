"""The pages, one module per page family. ``urls.py`` imports the modules themselves; nothing is
re-exported here.

- ``catalog``: the service list (filters, search, sort, paging, htmx) and its CSV export;
- ``service``: one service (its page, the edit form, the status change, its dependency trees, the
  Altinn II key lookup);
- ``dependencies``: adding and removing one dependency edge from the service page;
- ``programme``: the dashboard, the start page (choose an organisation) and the capabilities;
- ``owners``: one organisation's page;
- ``accounts``: the language switch and the sign-in that restores a user's language;
- ``reports``: the weekly e-mail's unsubscribe link, preferences and the leads' preview;
- ``htmx`` and ``sorting``: what several pages share (fragment answers, sortable column headers).

Views only gather and render. Reads come from ``selectors`` and the shared FilterSet; every write goes
through a service function (``service_update``, ``service_change_status``, ``dependency_add`` and
``dependency_remove``, ``user_language_set``, ``report_preferences_update``, ``report_unsubscribe``),
called directly or by the form that validated the input. What a template shows of a model instance
(its name in the active language, the colour of its status) comes from the ``tracker`` template tags,
never from attributes set on the instance here.
"""
