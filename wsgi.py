"""Entry point for gunicorn (`wsgi:app`), `flask --app wsgi` and `python wsgi.py`."""

from dangxiao import create_app

app = create_app()

if __name__ == "__main__":
    from dangxiao.serve import serve

    serve(app)
