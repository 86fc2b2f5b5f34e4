"""The workspace on the API's app: its pages, static files, session cookies and the answer
to a signed-out browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from leadflow.api.web import report_pages, routing_pages, signing, thread_pages
from leadflow.api.web.pages import HERE, router
from leadflow.api.web.session import SESSION_COOKIE, SESSION_HOURS, SignedOut


def install(app: FastAPI, secret: bytes) -> None:
    """The workspace on `app`: its pages, its static files, its session cookies."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret.hex(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        path="/app",
        same_site="lax",  # a link from the CRM or an email arrives signed in; forms carry CSRF
        https_only=True,  # Secure: browsers keep it for https and for localhost
    )
    app.mount("/app/static", StaticFiles(directory=HERE / "static"), name="app-static")
    app.include_router(signing.router)
    app.include_router(router)
    app.include_router(routing_pages.router)
    app.include_router(thread_pages.router)
    app.include_router(report_pages.router)

    async def signed_out(request: Request, exc: Exception) -> Response:
        wanted = request.url.path if request.method == "GET" else "/app/"
        to = f"/app/sign-in?next={quote(wanted)}"
        if request.headers.get("HX-Request"):  # htmx follows this header, not a redirect
            return Response(status_code=204, headers={"HX-Redirect": to})
        return RedirectResponse(to, status_code=303)

    @app.middleware("http")
    async def private(request: Request, call_next: Any) -> Response:
        """Workspace pages hold leads' details: no cache keeps them after sign-out."""
        response: Response = await call_next(request)
        if request.url.path.startswith("/app/") and not request.url.path.startswith("/app/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    app.add_exception_handler(SignedOut, signed_out)
