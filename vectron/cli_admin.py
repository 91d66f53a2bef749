"""`vectron admin ...`: account administration with the session of an admin (a user named by
the nodes' ``--admin-emails``): list users, set a user's plan, disable, enable, delete."""

from __future__ import annotations

import click

from vectron.cli_common import RemoteGroup, client, emit, say

__all__ = ["admin"]


@click.group(cls=RemoteGroup)
def admin() -> None:
    """Administer accounts (needs `vectron login` as an admin named by the node's --admin-emails)."""


@admin.group("users", cls=RemoteGroup)
def admin_users() -> None:
    """List users, set their plan, disable, enable or delete them (USER: an id or an email)."""


@admin_users.command("list")
@click.option("--after", default="", help="the last email of the previous page")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.pass_context
def admin_users_list(ctx: click.Context, after: str, limit: int) -> None:
    """One page of users, in email order (the next page's --after is printed last)."""
    with client(ctx, session=True) as c:
        users, nxt = c.list_users(after, limit)
    rows = [{"id": u.id, "email": u.email, "plan": u.plan, "status": "disabled" if u.disabled else "active",
             "created_at": u.created_at} for u in users]
    emit(ctx, rows, ["id", "email", "plan", "status", "created_at"], empty="no users")
    if nxt:
        click.echo(f"more: --after {nxt}", err=True)


@admin_users.command("set-plan")
@click.argument("user")
@click.argument("plan", type=click.Choice(["free", "pro", "unlimited"]))
@click.pass_context
def admin_users_set_plan(ctx: click.Context, user: str, plan: str) -> None:
    """Give USER's account a plan (all its keys have it)."""
    with client(ctx, session=True) as c:
        u = c.set_plan(user, plan)
    say(ctx, f"{u.email}: plan {u.plan}", email=u.email, plan=u.plan)


@admin_users.command("disable")
@click.argument("user")
@click.pass_context
def admin_users_disable(ctx: click.Context, user: str) -> None:
    """Disable USER: no login, no session, no API key works until enabled."""
    with client(ctx, session=True) as c:
        u = c.set_disabled(user, True)
    say(ctx, f"{u.email}: disabled", email=u.email, disabled=True)


@admin_users.command("enable")
@click.argument("user")
@click.pass_context
def admin_users_enable(ctx: click.Context, user: str) -> None:
    """Enable USER again."""
    with client(ctx, session=True) as c:
        u = c.set_disabled(user, False)
    say(ctx, f"{u.email}: enabled", email=u.email, disabled=False)


@admin_users.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="do not ask")
@click.pass_context
def admin_users_delete(ctx: click.Context, user: str, yes: bool) -> None:
    """Delete USER, their keys and every collection they own (files removed)."""
    if not yes:
        click.confirm(f"delete user {user!r}, their keys and all their collections?", abort=True)
    with client(ctx, session=True) as c:
        u, dropped = c.delete_user(user)
    say(ctx, f"deleted {u.email} and {len(dropped)} collection(s){': ' + ', '.join(dropped) if dropped else ''}",
        email=u.email, collections_dropped=dropped)
