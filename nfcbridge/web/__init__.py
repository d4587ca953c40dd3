"""``nfcbridge web``: the desk's and the coordinators' browser front end.

Server-rendered pages (Flask, Jinja2), in Swedish with English available (message
catalogues in ``translations/``), on loopback by default behind a TLS proxy. It is one more
front end beside the CLI: it calls the same registry and batch functions
(``provisioning``), never the CLI, and every change it makes is audited under the logged-in
account (``web:<username>``), never under a free-text operator.
"""
