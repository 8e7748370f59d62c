"""WSGI entry point: `flask` finds `app` here; gunicorn serves `app:app`."""

from campaign import create_app

app = create_app()
