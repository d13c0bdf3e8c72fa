"""Text from files and users, made safe for ``st.markdown``.

Streamlit renders markdown: an image ``![](http://…)`` makes every reader's browser fetch
that address, and ``[text](url)`` shows a link. Everything that comes from an ECG file
(statements, pseudonym, device, model names) or from a user (names, comments) goes
through :func:`escape_markdown` before it is put in markdown; or it is shown with
``st.text``/``st.dataframe``, which do not interpret it.
"""

from __future__ import annotations

import re

__all__ = ["escape_markdown"]

#: Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of
#: them also disarms Streamlit's own syntax (``:red[…]`` directives, ``$…$`` LaTeX, emoji
#: shortcodes) and HTML.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: object) -> str:
    """``text`` with every markdown-active character escaped and line breaks flattened to spaces.

    Parameters
    ----------
    text : object
        Any value; ``str()`` of it is escaped.

    Returns
    -------
    str
        Markdown that renders as exactly ``text`` (on one line).
    """
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", flat)
