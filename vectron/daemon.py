"""`vectrond`: the Vectron server daemon.

The services (gateway, auth, placement, worker) arrive in later issues; until
then the daemon only explains itself.
"""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--role", default="all", show_default=True, help="gateway,auth,placement,worker (any comma list) or all")
def main(role: str) -> None:
    """Run a Vectron node (the services are not built yet: use the embedded store, `vectron.open`)."""
    raise click.ClickException(
        f"role {role!r}: the server roles are not implemented yet; "
        "use the embedded store (`import vectron; vectron.open(path)`) or `vectron local --help`"
    )
