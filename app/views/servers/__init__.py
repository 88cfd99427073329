"""The Servers window: saved lab servers, their live status, adding, testing, importing;
saved Slurm clusters with their queues. Every action calls
:mod:`app.application.servers` or :mod:`app.application.clusters`."""

from __future__ import annotations

from app.views.servers.clusters import ClusterPanel
from app.views.servers.connection_test import ConnectionTest
from app.views.servers.dialog import ServersDialog
from app.views.servers.form import ServerForm

__all__ = ["ClusterPanel", "ConnectionTest", "ServerForm", "ServersDialog"]
