"""CLI: API tokens for integrations — create (shown once), revoke, list."""

from __future__ import annotations

import click

from engine.types import Actor
from webapp.cli.support import clock, echo_json, local, transactional


@click.group("token")
def token_group() -> None:
    """API tokens (Authorization: Bearer ...) for integrations."""


@token_group.command("create")
@click.option("--user", "login", required=True, help="Login of the professional (or service account).")
@click.option("--name", required=True, help="What uses the token (e.g. 'Laboratoire Biolab').")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Lifetime in days (default: until revoked).")
@click.option("--service-account", is_flag=True,
              help="Create LOGIN as a service account (no role, no patient access) if missing: for provider "
                   "delivery receipts.")
@transactional
def create_command(login: str, name: str, days: int | None, service_account: bool) -> None:
    """Create a token; it is printed once, only its SHA-256 is stored."""
    from engine.services.api_tokens import ensure_service_account, issue_token

    actor = Actor.cli()
    if service_account:
        ensure_service_account(login, clock=clock(), actor=actor)
    issued = issue_token(login, name, clock=clock(), actor=actor, days=days)
    click.echo(f"token {issued.token.id} for {login} ({name})"
               + (f", expires {local(issued.token.expires_at):%Y-%m-%d %H:%M}" if issued.token.expires_at else ""))
    click.echo("copy it now, it will not be shown again:", err=True)
    click.echo(issued.plain)


@token_group.command("revoke")
@click.argument("token_id", type=int)
@transactional
def revoke_command(token_id: int) -> None:
    """Revoke a token for good."""
    from engine.services.api_tokens import revoke_token

    token = revoke_token(token_id, clock=clock(), actor=Actor.cli())
    click.echo(f"token {token.id} revoked")


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@transactional
def list_command(as_json: bool) -> None:
    """List tokens (never their secret)."""
    from engine.services.api_tokens import list_tokens

    now = clock().now()
    rows = list_tokens()
    if as_json:
        echo_json([{"id": r.id, "user": r.login, "name": r.name, "status": r.status(now), "created_at": r.created_at,
                    "last_used_at": r.last_used_at, "expires_at": r.expires_at, "revoked_at": r.revoked_at}
                   for r in rows])
        return
    if not rows:
        click.echo("no API token")
    for r in rows:
        used = f"{local(r.last_used_at):%Y-%m-%d %H:%M}" if r.last_used_at else "never used"
        click.echo(f"{r.id:>5}  {r.status(now):<8} {r.login:<20} {r.name:<30} {used}")


COMMANDS = [token_group]
