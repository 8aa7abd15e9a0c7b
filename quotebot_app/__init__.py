"""The chat page, in small modules with one job each; ``app.py`` wires them and serves.

``render``    answers and document lists -> escaped HTML (pure functions, no Gradio)
``assets``    the page's CSS and JavaScript (files in ``static/``) and its theme
``handlers``  what the page's events do: ask, cite, vote, upload, remove
``feedback``  one JSON line per thumbs up or down
``guards``    request size limits, logins, exposure checks
``cli``       flags, settings, bringing the index up to date, launch options
``gradio_import``  Gradio imported without its type-stub writer (half of its import time)

Importing this package imports nothing; Gradio is imported by the modules that need it,
through ``gradio_import``.
"""
