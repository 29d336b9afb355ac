"""schemathesis hooks for tests/schemathesis/run.sh (loaded through SCHEMATHESIS_HOOKS).

Only what the OpenAPI document cannot say, kept out of the generated requests, so that the
server refusing it is not reported as "schema-valid request rejected" while every other 422
of the operation still is.
"""

import schemathesis

# What Rust's str::trim removes (the Unicode White_Space characters): the server trims names
# with it before comparing them (crates/pikube-movies/src/api/text.rs, SPACE).
WHITE_SPACE = (
    "\t\n\u000b\f\r \u0085\u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


@schemathesis.hook("filter_body").apply_to(method="POST", path="/api/cinemas")
def distinct_hall_names(context, body):
    """A cinema's halls have distinct names regardless of letter case ("Hall 1" and "hall 1"
    are one hall, a 422). JSON Schema's uniqueItems compares whole hall objects exactly, so
    the document cannot say it; drop the bodies it would refuse for that alone."""
    if not isinstance(body, dict) or not isinstance(body.get("halls"), list):
        return True
    names = [
        hall["name"].strip(WHITE_SPACE).lower()
        for hall in body["halls"]
        if isinstance(hall, dict) and isinstance(hall.get("name"), str)
    ]
    return len(names) == len(set(names))
