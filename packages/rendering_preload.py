"""Imported by the description renderers' fork server only (rendering._context),
before it forks any renderer: each renderer then starts warm."""

from packages.rendering import warm_up

warm_up()
