"""Signing in and out, and choosing one's own password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.errors import InvalidInput, SignInRefused
from scheduler.services.accounts import Accounts
from scheduler.web.admin.common import PostedForm, Staff, field, safe_next, see
from scheduler.web.pages import flash, page
from scheduler.web.security import end_session, start_session


def routes(router: APIRouter) -> None:
    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", None, title="Sign in", next=safe_next(next), email="", error=None)

    @router.post("/login")
    async def login(request: Request, form: PostedForm) -> Response:
        email, password, target = field(form, "email", 254), field(form, "password"), field(form, "next")
        accounts: Accounts = request.app.state.accounts
        address = request.client.host if request.client else ""
        try:
            user = await run_in_threadpool(accounts.sign_in, email, password, address)
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
        await run_in_threadpool(start_session, request, user)
        if user.must_change_password:
            return see(f"/password?next={safe_next(target)}")
        return see(safe_next(target))

    @router.post("/logout")
    async def logout(request: Request, user: Staff, form: PostedForm) -> Response:
        await run_in_threadpool(end_session, request)
        return see("/login")

    @router.get("/password", response_class=HTMLResponse)
    def password_form(request: Request, user: Staff, next: str = "/") -> Response:
        return page(
            request, "password.html", user, title="Choose a password", next=safe_next(next), problems={}
        )

    @router.post("/password", response_class=HTMLResponse)
    def change_password(request: Request, user: Staff, form: PostedForm) -> Response:
        current, new, again = field(form, "current"), field(form, "new"), field(form, "again")
        target = safe_next(field(form, "next") or "/")
        accounts: Accounts = request.app.state.accounts
        try:
            if new != again:
                raise InvalidInput("the two new passwords differ", field="again")
            accounts.change_password(user.id, current, new)
        except InvalidInput as exc:
            return page(
                request, "password.html", user, status_code=400, title="Choose a password", next=target,
                problems=exc.problems,
            )  # fmt: skip
        # Every session of this user ended with the change, this one too: it starts anew.
        changed = accounts.user(user.id)
        if changed is not None:
            start_session(request, changed)
        flash(request, "Password changed; other sign-ins of this account have ended.")
        return see(target)
