"""`crawler web`: the inventory, the review queue and the board's report in a browser, with login and roles.

    app.py        the ASGI app (Starlette): every route and middleware in one place
    auth.py       roles and the one permission rule, passwords (argon2id), login names, the login throttle
    sessions.py   signed session cookies, server-side sessions, CSRF tokens, the client's address
    users.py      managing users (the rules of `crawler users` and of the admin's page)
    views/        one module per role's pages: review, analysts (inventory, accounts, report), ops, admin
    metrics.py    /metrics in the Prometheus text format (prometheus-client)

Templates are in crawler/templates/web/ (extending the report's base.html); messages in the shared
catalogs (crawler/locale).
"""
