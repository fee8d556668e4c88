"""Signing in and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.errors import SignInRefused
from scheduler.services.accounts import Accounts
from scheduler.web.admin.common import PostedForm, Staff, field, safe_next, see
from scheduler.web.pages import page


def routes(router: APIRouter) -> None:
    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", None, title="Sign in", next=safe_next(next), email="", error=None)

    @router.post("/login")
    async def login(request: Request, form: PostedForm) -> Response:
        email, password, target = field(form, "email", 254), field(form, "password"), field(form, "next")
        accounts: Accounts = request.app.state.accounts
        try:
            user = await run_in_threadpool(accounts.sign_in, email, password)
        except SignInRefused as exc:
            response = page(
                request,
                "login.html",
                None,
                status_code=429 if exc.retry_after else 401,
                title="Sign in",
                next=safe_next(target),
                email=email,
                error=str(exc),
            )
            if exc.retry_after:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        request.session.clear()
        request.session["user_id"] = user.id
        return see(safe_next(target))

    @router.post("/logout")
    async def logout(request: Request, user: Staff, form: PostedForm) -> Response:
        request.session.clear()
        return see("/login")
