"""Glue between domain errors and WTForms fields."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict
from wtforms.fields.choices import SelectChoice

from dangxiao.errors import DomainError
from dangxiao.transactions import atomic

SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Form(FlaskForm):
    """Base form: WTForms' built-in messages in Simplified Chinese (no Babel needed).

    Page forms read the submitted form fields only. Flask-WTF would also read a JSON
    body and crash on one that is not an object (``[1]``), so JSON posted to a page is
    treated as an empty submission: the form fails validation with its usual 400.
    """

    class Meta:
        locales = ["zh"]

        def wrap_formdata(self, form, formdata):
            if formdata is _Auto:
                if request.method not in SUBMIT_METHODS:
                    return None
                if request.files:
                    return CombinedMultiDict((request.files, request.form))
                return request.form
            return formdata


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show the error next to its field when the form has one, else as a page message."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def options(pairs) -> list[SelectChoice]:
    """SelectField choices in the form WTForms 3.3+ wants (tuples are deprecated there)."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


def run_and_flash(run: Callable[[], object], done: str, back: str):
    """A one-button POST: run the service in its own transaction, flash the outcome, go `back`."""
    try:
        with atomic():
            run()
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(done, "success")
    return redirect(back)
