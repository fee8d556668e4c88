"""The staff's web pages. Every route here but /login needs a signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.services.accounts import Accounts, SignInRefused, StaffUser
from scheduler.web.pages import page
from scheduler.web.security import check_csrf, staff_user

Staff = Annotated[StaffUser, Depends(staff_user)]


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would let a link send staff elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else "/"


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", None, title="Sign in", next=_safe_next(next), email="", error=None)

    @router.post("/login")
    async def login(
        request: Request,
        email: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        check_csrf(request, csrf)
        accounts: Accounts = request.app.state.accounts
        try:
            user = await run_in_threadpool(accounts.sign_in, email, password)
        except SignInRefused as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            response = page(
                request,
                "login.html",
                None,
                status_code=429 if exc.retry_after else 401,
                title="Sign in",
                next=_safe_next(next),
                email=email,
                error=str(exc),
            )
            if headers:
                response.headers.update(headers)
            return response
        request.session.clear()
        request.session["user_id"] = user.id
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.post("/logout")
    async def logout(request: Request, user: Staff, csrf: Annotated[str, Form()] = "") -> Response:
        check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @router.get("/", response_class=HTMLResponse)
    def today(request: Request, user: Staff) -> Response:
        return page(request, "today.html", user, title="Today")

    return router
