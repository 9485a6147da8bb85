"""``GET /reports/<token>``: a rendered report file behind a signed, expiring link.

``HEAD`` answers the same (status and headers, no body): link checkers and mail scanners ask
before they fetch.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from bot.http.deps import SettingsDep
from scheduler.links import LinkExpired, LinkInvalid, read_token, resolve_report_file

router = APIRouter()
MEDIA_TYPES = {".csv": "text/csv; charset=utf-8", ".pdf": "application/pdf"}


@router.api_route("/reports/{token}", methods=["GET", "HEAD"], include_in_schema=False)
def download_report(token: str, settings: SettingsDep) -> FileResponse:
    """Serve the file a valid token names; 404 for bad or unknown tokens, 410 once expired."""
    secret = settings.SECRET_KEY.get_secret_value() if settings.SECRET_KEY else ""
    if not secret:
        raise HTTPException(status_code=404, detail="Not found")
    try:
        filename = read_token(secret, token, settings.REPORT_LINK_TTL)
    except LinkExpired:
        raise HTTPException(status_code=410, detail="This link has expired.") from None
    except LinkInvalid:
        raise HTTPException(status_code=404, detail="Not found") from None
    path = resolve_report_file(settings.REPORTS_DIR, filename)
    if path is None:
        # Deleted by the retention job: the link outlived its file.
        raise HTTPException(status_code=410, detail="This report is no longer available.")
    media_type = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    # FileResponse writes a quoted, RFC 5987-encoded Content-Disposition; the name is ours.
    return FileResponse(path, media_type=media_type, filename=path.name)
