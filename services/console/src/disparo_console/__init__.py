"""The console: the recruiting team's web pages, in pt-BR.

It owns only its users, sessions, login attempts and import results (schema ``console``) and
reaches everything else through the services' HTTP APIs, one client module per service in
``clients/``. ``auth/`` holds who may log in and do what; ``pages/`` one module per page group,
each rendering one Jinja template from ``templates/`` with text from ``catalogue/``.
"""
