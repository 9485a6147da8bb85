"""The CSV export format (DESIGN.md, Outputs): its columns and the rules the export and the
import must agree on so that export → import gives the same messages back.
"""

from __future__ import annotations

from store.events import MAX_COMMENTS_CHARS, MAX_ERROR_CODE_CHARS, MAX_PAYLOAD_CHARS

# The seed's CSV export columns, in the seed's order and spelling (contract).
CSV_COLUMNS: tuple[str, ...] = (
    "BotId",
    "UserId",
    "Source",
    "Status",
    "IP Address",
    "Message ID",
    "Workflow ID",
    "Custom payload",
    "Template ID",
    "Notification Sent By",
    "Comments",
    "Created Time",
    "Scheduled Time",
    "Updated Time",
)
# The longest cells the export writes: Comments holds "{error code} {comments}", and Custom
# payload the compact JSON (with a leading ' when it is guarded).
MAX_COMMENTS_CELL = MAX_ERROR_CODE_CHARS + 1 + MAX_COMMENTS_CHARS
MAX_FIELD_CHARS = MAX_PAYLOAD_CHARS + 1
# A cell starting with one of these runs as a formula in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = frozenset(FORMULA_PREFIXES)


def guard_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (``=1+1`` → ``'=1+1``)."""
    if not value:
        return value
    first = value[0]
    if first in _FORMULA_START:
        return "'" + value
    # A value that already looks guarded (''…'=…) gets one more quote, so that taking one
    # off on import gives it back whole.
    if first == "'" and value.lstrip("'")[:1] in _FORMULA_START:
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """Undo ``guard_cell``: ``'=1+1`` → ``=1+1``."""
    if value[:1] == "'" and value.lstrip("'")[:1] in _FORMULA_START:
        return value[1:]  # the export adds one quote to text that already looks guarded, too
    return value


def comments_cell(error_code: str | None, comments: str | None) -> str:
    """``"1408 Not a WhatsApp number"``: the code and the comment, whichever are present.

    The seed has no error-code column, so the Comments cell carries both; it is also the
    text a failed message is grouped under in the failure reasons.
    """
    if error_code and comments:
        return f"{error_code} {comments}"
    return error_code or comments or ""
