"""render and the report renderers called directly: escaping of what came from the repository."""

from __future__ import annotations

import json

from srcdiff import render


def test_dumps_escapes_c1_controls_and_stays_valid_json():
    obj = {"subject": "a\x7fb\x85c\x9bd\x9fe é → \x1b", "k\x90": 1}
    for pretty in (True, False):
        text = render.dumps(obj, pretty=pretty)
        assert not any("\x7f" <= ch <= "\x9f" for ch in text), text
        assert "\\u007f" in text and "\\u009b" in text and "\\u0090" in text
        assert "é → " in text  # other non-ASCII stays readable
        assert json.loads(text) == obj
