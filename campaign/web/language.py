"""The visitor's language: the one chosen with the switch, else the browser's, else French."""

from __future__ import annotations

from flask import current_app, request

# Set by the language switch (pages.language); read on every request.
LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    """The language chosen with the switch, else the browser's preference, else French."""
    languages = list(current_app.config["LANGUAGES"])
    # The embed is framed by other sites, where the language cookie may not reach it: its
    # URL may name the language (?lang=en).
    if request.blueprint == "embed" and request.args.get("lang") in languages:
        return request.args["lang"]
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]
